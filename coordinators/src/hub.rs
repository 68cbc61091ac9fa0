//! The signals a gateway waits on to answer SIMPLE and CASCADE: sync
//! projectors say what they projected, sagas which commands they produced,
//! partition owners what they decided.
//!
//! Coordinators of this process publish here directly; coordinators of
//! other processes send the same as notices through the log (the replies
//! topic, addressed to the waiting gateway), which [`bridge`] republishes
//! here. In one process a signal may therefore arrive twice; waiters treat
//! signals as idempotent facts. They are signals, not the source of truth
//! (that is the log): a gateway that hears nothing times out with a clear
//! error instead of guessing.

use std::sync::Arc;

use angzarr_connectors::{CommandOutcome, Log, Notice};
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

impl From<&Notice> for Signal {
    fn from(n: &Notice) -> Self {
        match n.clone() {
            // `events` counts what this process projected (replay progress); a
            // notice from elsewhere adds nothing to it.
            Notice::Projected { projector, domain, root, sequence, projection } => {
                Signal::Projected { projector, domain, root, sequence, events: 0, projection }
            }
            Notice::Reacted { saga, domain, root, sequence, commands } => {
                Signal::SagaReacted { saga, domain, root, sequence, commands }
            }
            Notice::Decided { request_id, outcome } => Signal::Decided { request_id, outcome },
        }
    }
}

/// Republishes the notices the log delivers to this gateway on `hub`, until `stop`.
pub async fn bridge(log: Arc<dyn Log>, hub: Hub, stop: crate::Shutdown) -> Result<(), crate::CoordinatorError> {
    let mut notices = log.notices();
    loop {
        tokio::select! {
            _ = stop.wait() => return Ok(()),
            notice = notices.recv() => match notice {
                Ok(n) => hub.publish(Signal::from(n.as_ref())),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "gateway missed downstream notices; waiting SIMPLE/CASCADE calls may time out");
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
        }
    }
}
