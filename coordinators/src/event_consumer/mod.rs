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
        Tuning { max_batch: 4096, fenced_grace: std::time::Duration::from_secs(30) }
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

    /// Reacts to a whole batch of runs (log order), one reaction per run, or
    /// fails as a whole (the task then isolates the run that fails, one
    /// [`Reactor::react`] at a time). The default calls `react` for distinct
    /// roots concurrently, each root's runs in order: a root's reactions
    /// still see its events in sequence, and a batch of a thousand roots
    /// costs a few round trips of latency instead of a thousand.
    async fn react_all(&self, runs: &[Run]) -> Result<Vec<Reaction>, Status> {
        concurrently_by_root(self, runs, CONCURRENT_CALLS).await
    }
}

/// What one reactor call gets: a book and the stored events behind its pages.
pub type Run = (EventBook, Vec<StoredEvent>);

/// Most calls in flight at once for one partition's batch (unary handlers).
pub const CONCURRENT_CALLS: usize = 64;

/// `react` for every run: distinct roots concurrently (at most `limit`
/// calls in flight), each root's runs one after another in log order.
/// Reactions come back in the order of `runs`.
pub async fn concurrently_by_root<R: Reactor + ?Sized>(
    reactor: &R,
    runs: &[Run],
    limit: usize,
) -> Result<Vec<Reaction>, Status> {
    use futures::StreamExt as _;
    if runs.len() == 1 {
        return Ok(vec![reactor.react(&runs[0].0, &runs[0].1).await?]);
    }
    // Each root's runs, by index, in log order.
    let mut chains: Vec<Vec<usize>> = Vec::new();
    let mut by_root: std::collections::HashMap<(&str, uuid::Uuid), usize> = std::collections::HashMap::new();
    for (i, (_, events)) in runs.iter().enumerate() {
        let key = (events[0].domain.as_str(), events[0].root);
        let chain = *by_root.entry(key).or_insert_with(|| {
            chains.push(Vec::new());
            chains.len() - 1
        });
        chains[chain].push(i);
    }
    let mut reactions: Vec<Option<Reaction>> = std::iter::repeat_with(|| None).take(runs.len()).collect();
    let mut calls = futures::stream::iter(chains.into_iter().map(|chain| async move {
        let mut out = Vec::with_capacity(chain.len());
        for i in chain {
            out.push((i, reactor.react(&runs[i].0, &runs[i].1).await?));
        }
        Ok::<_, Status>(out)
    }))
    .buffer_unordered(limit.max(1));
    while let Some(chain) = calls.next().await {
        for (i, reaction) in chain? {
            reactions[i] = Some(reaction);
        }
    }
    Ok(reactions.into_iter().map(|r| r.expect("every run reacted to")).collect())
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
