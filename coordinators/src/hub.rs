//! In-process signals between coordinators of one process, so a gateway
//! can answer SIMPLE and CASCADE: sync projectors say what they projected,
//! sagas which commands they produced, partition owners what they decided.
//!
//! They are signals, not the source of truth (that is the log): a gateway
//! in a process without the projectors or sagas it waits for times out with
//! a clear error instead of guessing.

use std::sync::Arc;

use angzarr_connectors::CommandOutcome;
use angzarr_proto::angzarr::Projection;
use tokio::sync::broadcast;
use uuid::Uuid;

/// Something that happened downstream.
#[derive(Clone, Debug)]
pub enum Signal {
    /// A projector applied a root's events up to `sequence`.
    Projected { projector: String, domain: String, root: Uuid, sequence: u32, events: usize, projection: Projection },
    /// A saga reacted to a root's events up to `sequence`, producing these command request ids.
    SagaReacted { saga: String, domain: String, root: Uuid, sequence: u32, commands: Vec<String> },
    /// A command was decided.
    Decided { request_id: String, outcome: CommandOutcome },
}

/// The process's signal bus. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Hub {
    tx: broadcast::Sender<Arc<Signal>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub { tx: broadcast::channel(16 * 1024).0 }
    }
}

impl Hub {
    /// Publishes a signal; nobody listening is fine.
    pub fn publish(&self, s: Signal) {
        let _ = self.tx.send(Arc::new(s));
    }

    /// Listens from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Signal>> {
        self.tx.subscribe()
    }
}
