//! The interface every log implements.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::record::{
    AggregateHistory, CommandEnvelope, CommandOutcome, DeadLetter, EventTx, PartitionId, RecentRequest, StoredEvent,
    TxBatch,
};
use crate::{RestoreStream, Result};

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

    /// Stops waiting for the reply to `request_id` (the caller gave up or
    /// timed out), so abandoned waiters do not pile up.
    fn forget(&self, _request_id: &str) {}

    /// The commands (and events) partition of `root` in `domain`; `None`
    /// when this log cannot say, and then commands always take the commands log.
    fn partition_of(&self, _domain: &str, _root: &Uuid) -> Option<u32> {
        None
    }

    /// Tells other processes that this one owns `id` now and takes commands
    /// for it at `endpoint` (a `PartitionOwnerService`). A hint: the owner
    /// checks ownership itself, and a log that keeps no directory (the
    /// embedded one runs in one process) ignores it.
    async fn announce_owner(&self, _id: &PartitionId, _endpoint: &str) -> Result<()> {
        Ok(())
    }

    /// Where the owner of `domain`'s `partition` was last announced, if anywhere.
    fn owner_endpoint(&self, _domain: &str, _partition: u32) -> Option<String> {
        None
    }

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

    /// Recorded rejections of commands nobody waited for, oldest first; only
    /// those of `correlation_id` when given.
    async fn rejections(&self, correlation_id: Option<&str>) -> Result<Vec<crate::record::Rejection>>;

    /// Reads an aggregate's committed history: latest snapshot and pages after it.
    async fn read_book(&self, domain: &str, root: &Uuid) -> Result<AggregateHistory>;

    /// Reads an aggregate's **whole** committed history: every page from its
    /// first event, no snapshot — for reads of its past that a snapshot
    /// hides (a range below it, the state as of a sequence or a time). The
    /// events log keeps every event, so the past is always there; on Kafka
    /// this is a scan of the root's events partition.
    async fn read_history(&self, domain: &str, root: &Uuid) -> Result<AggregateHistory>;

    /// Roots of `domain` with events, in UUID order, after `after`, at most
    /// `limit` (a listing for people: the console, `angzarr roots`).
    async fn roots(&self, domain: &str, after: Option<Uuid>, limit: usize) -> Result<Vec<Uuid>>;

    /// How far consumer group `group` (as named to [`Log::join`] or
    /// [`Log::join_events`]) is behind on the commands or events of
    /// `domains`, per partition. For monitoring: a snapshot, not a promise.
    async fn lag(&self, _group: &str, _domains: &[String], _stream: Stream) -> Result<Vec<PartitionLag>> {
        Ok(Vec::new())
    }

    /// The dead letters of consumer group `group` not yet replayed or
    /// dropped, oldest first.
    async fn dead_letters(&self, group: &str) -> Result<Vec<DeadLetter>>;

    /// Settles one of `group`'s dead letters: removes it — dropped (`None`)
    /// or replayed (`Some`: the commands replaying it produced, appended
    /// atomically with its removal, so a replayed saga reaction happens
    /// once). `false` if the letter was not (or no longer) there.
    async fn settle_dead_letter(
        &self,
        group: &str,
        letter: &DeadLetter,
        replayed: Option<Vec<CommandEnvelope>>,
    ) -> Result<bool>;
}

/// Which stream of a domain a consumer group reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// The commands (partition owners).
    Commands,
    /// The events (projectors, sagas, process managers).
    Events,
}

/// A consumer group's position on one partition beside the partition's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionLag {
    /// The domain.
    pub domain: String,
    /// The partition.
    pub partition: u32,
    /// The group's committed position (the next offset it will read); `None`
    /// when it never committed one.
    pub committed: Option<i64>,
    /// Where the partition starts (the earliest offset still stored).
    pub start: i64,
    /// The partition's end (the offset of the next record written).
    pub end: i64,
    /// Nothing a consumer can read lies between the group's position and
    /// the end. On Kafka the offsets there may still hold records no
    /// `read_committed` consumer ever sees — the marker that ends each
    /// transaction, aborted records — so `end - committed` of a caught-up
    /// group is often 1; a probe read from the position says which.
    pub drained: bool,
}

impl PartitionLag {
    /// Offsets between the group's position and the end: 0 when
    /// [`drained`](Self::drained). An upper bound of the records still to
    /// read (markers and aborted records among them count).
    pub fn lag(&self) -> i64 {
        if self.drained {
            return 0;
        }
        (self.end - self.committed.unwrap_or(self.start)).max(0)
    }
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
    /// The member's assignment is complete — after every join or
    /// rebalance, even when it brought no partition (more members than
    /// partitions): from here on the member is part of the group.
    Settled,
}

/// One owned partition: the task's only door to the log.
#[async_trait]
pub trait PartitionLog: Send {
    /// Which partition this is.
    fn id(&self) -> &PartitionId;

    /// Takes (or takes again) ownership, then reads the partition's
    /// aggregates: per root, the latest snapshot and the events after it,
    /// streamed as they are read ([`RestoreStream`]: the caller builds its
    /// state from the chunks and never holds the partition twice).
    /// Proportional to live roots plus the uncovered tail.
    ///
    /// Called again after a failure whose outcome is unknown: it must then
    /// re-initialise (on Kafka: a new producer, which fences our own earlier
    /// one so the log's answer is final), rewind the commands position to
    /// the last commit, and read the state afresh.
    async fn restore(&mut self) -> Result<RestoreStream>;

    /// Commands decided in roughly the last `window` that carried a request
    /// id, with the events they appended — so a retried request gets its
    /// original answer from a new owner. A log that cannot tell returns
    /// none (retries are then deduplicated only within one owner's life).
    async fn recent_requests(&mut self, _window: Duration) -> Result<Vec<RecentRequest>> {
        Ok(Vec::new())
    }

    /// Waits for at least one command after the last committed position and
    /// returns up to `max` of them, in order; waits at most `wait`, returning
    /// an empty batch on timeout.
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<CommandEnvelope>>;

    /// Atomically appends the batch's events and snapshots and advances the
    /// consumed position; then delivers its replies. Returns the log offsets
    /// of the appended events, in order.
    ///
    /// Errors are classified:
    /// - [`LogError::Aborted`]: nothing of the batch is visible and the next
    ///   poll starts again after the last commit: drop the staged changes and
    ///   decide again;
    /// - [`LogError::Fenced`]: the partition belongs to another worker;
    /// - anything else, [`LogError::OutcomeUnknown`] first: the batch may or
    ///   may not be in the log. Nothing may be decided until [`restore`] ran
    ///   again.
    ///
    /// [`LogError::Aborted`]: crate::LogError::Aborted
    /// [`LogError::Fenced`]: crate::LogError::Fenced
    /// [`LogError::OutcomeUnknown`]: crate::LogError::OutcomeUnknown
    /// [`restore`]: PartitionLog::restore
    async fn commit(&mut self, batch: TxBatch) -> Result<Vec<i64>>;
}

/// One owned events partition, as a projector, saga or process manager sees it.
#[async_trait]
pub trait EventPartition: Send {
    /// Which partition this is.
    fn id(&self) -> &PartitionId;

    /// Takes ownership: fences any previous owner, then starts fetching
    /// after the group's committed position. Called again after a failure
    /// whose outcome is unknown: re-initialises and rewinds to the last commit.
    async fn start(&mut self) -> Result<()>;

    /// Waits for at least one event after the last committed position and
    /// returns up to `max`, in order; an empty batch after `wait`.
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<StoredEvent>>;

    /// Atomically appends `tx.commands` to their domains' commands logs and
    /// advances the consumed position: a reaction happens exactly once.
    /// Errors are classified as for [`PartitionLog::commit`]: after
    /// `Aborted` the next poll starts after the last commit; after anything
    /// but `Fenced`, call [`start`](EventPartition::start) again.
    async fn commit(&mut self, tx: EventTx) -> Result<()>;
}
