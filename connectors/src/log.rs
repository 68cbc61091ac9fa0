//! The interface every log implements.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::Result;
use crate::record::{AggregateHistory, CommandEnvelope, CommandOutcome, EventTx, PartitionId, StoredEvent, TxBatch};

/// What [`Log::submit`] returns once the command is durably in the commands log.
#[derive(Debug)]
pub struct Submitted {
    /// The commands partition it landed in.
    pub partition: u32,
    /// Its offset there.
    pub offset: i64,
    /// Resolves with the outcome once the owner committed it, when a reply was asked for.
    pub reply: Option<oneshot::Receiver<CommandOutcome>>,
}

/// The log: partitioned commands/events/snapshots per domain, consumer groups,
/// and reply routing. Shared by every coordinator of a process.
#[async_trait]
pub trait Log: Send + Sync + 'static {
    /// The domains this log has topics for.
    fn domains(&self) -> Vec<String>;

    /// This process's gateway identity, used as `reply_to`.
    fn instance_id(&self) -> &str;

    /// Durably appends a command to its domain's commands log. With
    /// `want_reply`, the returned receiver resolves with the outcome — the
    /// waiter is registered before the append, so no reply can be missed.
    async fn submit(&self, cmd: CommandEnvelope, want_reply: bool) -> Result<Submitted>;

    /// Joins `group` as a consumer of the commands logs of `domains`.
    async fn join(&self, group: &str, domains: &[String]) -> Result<Box<dyn Membership<dyn PartitionLog>>>;

    /// Joins `group` as a consumer of the events logs of `domains` — the
    /// door of projectors, sagas and process managers.
    async fn join_events(&self, group: &str, domains: &[String]) -> Result<Box<dyn Membership<dyn EventPartition>>>;

    /// Every event committed from now on, as it is committed (for event
    /// streams). A receiver that falls behind loses the oldest events and is
    /// told so by the channel.
    fn tail(&self) -> tokio::sync::broadcast::Receiver<std::sync::Arc<StoredEvent>>;

    /// Notices addressed to this gateway instance by downstream
    /// coordinators (in any process), and decisions of commands it did not
    /// wait for itself — what SIMPLE and CASCADE wait on.
    fn notices(&self) -> tokio::sync::broadcast::Receiver<std::sync::Arc<crate::record::Notice>>;

    /// Reads an aggregate's committed history: latest snapshot and pages after it.
    async fn read_book(&self, domain: &str, root: &Uuid) -> Result<AggregateHistory>;
}

/// A worker's membership in a consumer group: a stream of assignment
/// changes, each carrying the partition handle `P` its role works with.
#[async_trait]
pub trait Membership<P: ?Sized + Send>: Send {
    /// The next change; `None` once the membership ended.
    async fn next(&mut self) -> Option<Assignment<P>>;

    /// Leaves the group cleanly (revoking every partition first).
    async fn leave(self: Box<Self>);
}

/// A change of what this worker owns.
pub enum Assignment<P: ?Sized> {
    /// A partition is now ours: restore it, then process it.
    Assigned(Box<P>),
    /// A partition is being taken away: stop its task, then acknowledge so
    /// the group can hand it over.
    Revoked(PartitionId, oneshot::Sender<()>),
}

/// One owned partition: the task's only door to the log.
#[async_trait]
pub trait PartitionLog: Send {
    /// Which partition this is.
    fn id(&self) -> &PartitionId;

    /// Reads the partition's aggregates: per root, the latest snapshot and the
    /// events after it. Proportional to live roots plus the uncovered tail.
    async fn restore(&mut self) -> Result<Vec<AggregateHistory>>;

    /// Waits for at least one command after the last committed position and
    /// returns up to `max` of them, in order; waits at most `wait`, returning
    /// an empty batch on timeout.
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<CommandEnvelope>>;

    /// Atomically appends the batch's events and snapshots and advances the
    /// consumed position; then delivers its replies. Returns the log offsets
    /// of the appended events, in order.
    ///
    /// On error nothing of the batch is visible, and the next poll starts
    /// again after the last successful commit: the task drops its staged
    /// changes and may retry — unless the error is [`LogError::Fenced`], when
    /// the partition belongs to another worker and the task must stop.
    ///
    /// [`LogError::Fenced`]: crate::LogError::Fenced
    async fn commit(&mut self, batch: TxBatch) -> Result<Vec<i64>>;
}

/// One owned events partition, as a projector, saga or process manager sees it.
#[async_trait]
pub trait EventPartition: Send {
    /// Which partition this is.
    fn id(&self) -> &PartitionId;

    /// Takes ownership: fences any previous owner, then starts fetching
    /// after the group's committed position.
    async fn start(&mut self) -> Result<()>;

    /// Waits for at least one event after the last committed position and
    /// returns up to `max`, in order; an empty batch after `wait`.
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<StoredEvent>>;

    /// Atomically appends `tx.commands` to their domains' commands logs and
    /// advances the consumed position: a reaction happens exactly once. On
    /// error nothing happened and the next poll starts after the last commit.
    async fn commit(&mut self, tx: EventTx) -> Result<()>;
}
