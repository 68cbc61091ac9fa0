//! What projectors and sagas share: a consumer-group member of the events
//! logs, one task per owned partition, calling a [`Reactor`] for each run of
//! consecutive events of one root and committing what it produced together
//! with the consumed offset.
//!
//! - Events of ISOLATED commands are consumed without reacting.
//! - A reactor that fails (down, erroring) is retried with backoff; the
//!   offset does not move past an event until its reaction is committed, so
//!   nothing is skipped — the group's lag grows and the log says why.
//! - A record it cannot get past — undecodable, or refused by the handler
//!   again and again — follows the consumer's [`poison`] policy: held,
//!   dead-lettered in the transaction that moves past it, or the process stops.

pub mod poison;
mod task;
mod worker;

use angzarr_connectors::{CommandEnvelope, Notice, StoredEvent};
use angzarr_proto::angzarr::EventBook;
use tonic::Status;

pub use poison::{OnPoison, PoisonPolicy};
pub use worker::EventWorker;

/// How a downstream partition task works (YAML `downstream:`; every key
/// optional).
#[derive(Clone, Copy, Debug, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Tuning {
    /// Most events polled, reacted to and committed in one transaction.
    pub max_batch: usize,
    /// How long a fenced task waits for its revocation before it starts over.
    #[serde(with = "crate::config::humantime_serde")]
    pub fenced_grace: std::time::Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning { max_batch: 512, fenced_grace: std::time::Duration::from_secs(30) }
    }
}

/// A downstream role's reaction to events.
#[tonic::async_trait]
pub trait Reactor: Send + Sync + 'static {
    /// The consumer group (`projector.<name>`, `saga.<name>`).
    fn group(&self) -> String;
    /// Domains whose events it consumes.
    fn domains(&self) -> Vec<String>;
    /// Whether consecutive events of one root may be handed over together.
    /// Sagas say no: each command they return must be attributable to one
    /// triggering event (its request id and deferred sequence name it).
    fn batches_by_root(&self) -> bool {
        true
    }
    /// Reacts to `source` (cover + consecutive pages of one root, already
    /// filtered to what was not applied yet).
    async fn react(&self, source: &EventBook, events: &[StoredEvent]) -> Result<Reaction, Status>;
}

/// What a reaction commits with the consumed offset.
#[derive(Default)]
pub struct Reaction {
    /// Commands to append to their domains' commands logs.
    pub commands: Vec<CommandEnvelope>,
    /// What to tell gateways waiting on these events (SIMPLE, CASCADE),
    /// sent to each `reply_to` among them with the commit. (Reactors also
    /// announce it on this process's hub at once.)
    pub notice: Option<Notice>,
}
