//! Step 4: the partition owner.
//!
//! A task owns one partition of a domain: it is the only writer of
//! `events[p]` while it holds it. It restores the partition's aggregates,
//! then repeatedly takes the commands waiting in `commands[p]` (whatever has
//! accumulated — adaptive batching: the slower the commits, the bigger the
//! batches), decides each one against the in-memory books, and commits the
//! whole batch — events, due snapshots, the consumed offset, the replies —
//! in one atomic step.
//!
//! A failed commit is classified by the log ([`PartitionLog::commit`]): an
//! abort means nothing happened — the staged changes are dropped and the
//! same commands decided again; anything else (an outcome nobody can tell,
//! a broken producer, a lost restore) ends the attempt, and the
//! [`Supervisor`] restarts it: re-initialise, restore from the log, decide
//! again. A command taken from the log is never dropped because the
//! business logic cannot be reached: the partition holds and retries until
//! it answers ([`execute`]). A request id seen before gets its original
//! answer ([`Dedupe`]).

use std::time::{Duration, Instant};

use angzarr_connectors::{
    CommandEnvelope, CommandOutcome, EventRecord, LogError, PartitionLog, Rejection, Reply, RestoreStream,
    SnapshotRecord, TxBatch,
};
use angzarr_proto::angzarr::{
    CommandBook, ContextualCommand, EventBook, EventPage, PageHeader, Snapshot, SyncMode, business_response,
};
use angzarr_proto::type_name;
use prost::Message;
use tonic::Code;

use super::aggregate::{Book, Books, CacheConfig, RestoreError, Staged, sequence_mismatch};
use super::dedupe::{Dedupe, Seen};
use super::execute::{RetryPolicy, execute};
use super::route::{Answer, Direct, Owners};
use tracing::Instrument as _;

use crate::Shutdown;
use crate::backoff::until_ok;
use crate::handlers::Handlers;
use crate::supervisor::{Supervisor, TaskStates};

/// How a task works.
#[derive(Clone, Debug)]
pub struct TaskConfig {
    /// Most commands in one commit.
    pub max_batch: usize,
    /// How long one poll waits before checking for shutdown again.
    pub poll_wait: Duration,
    /// Business-logic retry policy.
    pub retry: RetryPolicy,
    /// When to store snapshots.
    pub snapshots: SnapshotPolicy,
    /// Where decisions are announced in-process (for CASCADE).
    pub hub: crate::hub::Hub,
    /// How many events restore may have to read behind the head before idle
    /// aggregates are snapshotted so restore can start later.
    pub max_restore_lag: i64,
    /// Largest stored event record, bytes. Kafka refuses records above the
    /// topic's `max.message.bytes` (1 MB by default); refusing the command up
    /// front keeps one oversized event from failing its whole batch forever.
    pub max_event_bytes: usize,
    /// How long a request id's outcome is remembered (retries within it get
    /// the original answer).
    pub dedupe_window: Duration,
    /// At most this many request ids remembered per partition.
    pub dedupe_max: usize,
    /// Every task's state, for readiness and metrics.
    pub states: TaskStates,
    /// How long a fenced task waits for its revocation before re-initialising.
    pub fenced_grace: Duration,
    /// At most this many aggregates per partition in memory (the rest spilled); `None` = all.
    pub cache: Option<CacheConfig>,
    /// Where a serving task opens its inbox for commands handed to it
    /// directly ([`super::route`]); `None`: the commands log only.
    pub owners: Option<Owners>,
    /// At most this many aggregates of a batch decided at once (their
    /// business-logic calls in flight together).
    pub concurrent_roots: usize,
}

/// Snapshot cadence: store one when this many events accumulated since the
/// last (and the handler returned its state). 0 = never. Keeps both restore
/// time and the in-memory book of each aggregate bounded.
#[derive(Clone, Debug)]
pub struct SnapshotPolicy {
    /// Cadence of domains not listed.
    pub default_every: u32,
    /// Cadence per domain.
    pub per_domain: std::collections::HashMap<String, u32>,
}

impl SnapshotPolicy {
    /// The cadence of `domain`.
    pub fn every(&self, domain: &str) -> u32 {
        self.per_domain.get(domain).copied().unwrap_or(self.default_every)
    }
}

impl Default for SnapshotPolicy {
    fn default() -> Self {
        SnapshotPolicy { default_every: 100, per_domain: Default::default() }
    }
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig {
            max_batch: 512,
            poll_wait: Duration::from_millis(250),
            retry: RetryPolicy::default(),
            snapshots: SnapshotPolicy::default(),
            hub: crate::hub::Hub::default(),
            max_restore_lag: 10_000,
            max_event_bytes: 900 * 1024,
            dedupe_window: Duration::from_secs(300),
            dedupe_max: 100_000,
            states: TaskStates::default(),
            fenced_grace: Duration::from_secs(30),
            cache: None,
            owners: None,
            concurrent_roots: 64,
        }
    }
}

/// What one command produced, before commit.
struct Decided {
    events: Vec<EventRecord>,
    snapshot: Option<SnapshotRecord>,
    /// Commands a process manager emitted with its events.
    commands: Vec<CommandEnvelope>,
    outcome: CommandOutcome,
}

/// Where restore starts, and the upkeep that keeps it close to the head.
struct RestorePoint {
    /// Offset after the last event this task appended; unknown until it
    /// appended one, and until then nothing is written (never a regression).
    head: Option<i64>,
    /// The last `restore_from` written.
    written: Option<i64>,
}

impl RestorePoint {
    /// Adds due upkeep to `batch`: snapshots of idle aggregates that hold
    /// restore back too far, and the new restore point when it moved.
    fn upkeep(&mut self, books: &Books, staged: &mut Staged<'_>, batch: &mut TxBatch, max_lag: i64) {
        let Some(head) = self.head else { return };
        let from = books.restore_from().unwrap_or(head);
        if head - from > max_lag {
            for root in books.laggards(head - max_lag / 2, 1000) {
                if let Some(snapshot) = staged.get_mut(&root).snapshot_now() {
                    batch.snapshots.push(SnapshotRecord { root, snapshot });
                }
            }
        }
        if self.written != Some(from) {
            batch.restore_from = Some(from);
        }
    }
}

fn rejected(code: Code, message: impl Into<String>) -> CommandOutcome {
    CommandOutcome::Rejected { code: code as i32, message: message.into() }
}

fn now() -> prost_types::Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::now())
}

/// Runs the partition task until `stop` (revocation or shutdown), restarting
/// it after any failure as the [`Supervisor`] decides.
pub async fn run(
    mut log: Box<dyn PartitionLog>,
    handlers: Handlers,
    config: TaskConfig,
    stop: Shutdown,
) -> Result<(), LogError> {
    let id = log.id().clone();
    let mut supervisor =
        Supervisor::new(super::GROUP, id.clone(), config.states.clone(), stop.clone(), config.fenced_grace);
    loop {
        let ended = serve(log.as_mut(), &handlers, &config, &stop, &mut supervisor).await;
        if !supervisor.restart_after(ended).await {
            tracing::info!(partition = %id, "partition task stopped");
            return Ok(());
        }
    }
}

/// One life of the task: restore, then decide and commit batches until
/// `stop` (`Ok`) or a failure that needs a restore (`Err`).
async fn serve(
    log: &mut dyn PartitionLog,
    handlers: &Handlers,
    config: &TaskConfig,
    stop: &Shutdown,
    supervisor: &mut Supervisor,
) -> Result<(), LogError> {
    let id = log.id().clone();
    let started = Instant::now();
    supervisor.restoring();
    // A revocation must not wait for a restore that waits for the broker.
    let restored = tokio::select! {
        _ = stop.wait() => return Ok(()),
        restored = restore(log, handlers, config.cache.as_ref(), stop) => restored?,
    };
    let Some(mut books) = restored else { return Ok(()) };
    let mut dedupe = Dedupe::new(config.dedupe_window, config.dedupe_max);
    let recent = tokio::select! {
        _ = stop.wait() => return Ok(()),
        recent = log.recent_requests(config.dedupe_window) => recent?,
    };
    dedupe.seed(recent);
    if tracing::enabled!(tracing::Level::TRACE) {
        for (root, next) in books.next_sequences() {
            tracing::trace!(partition = %id, %root, next, "restored book");
        }
    }
    metrics::histogram!(crate::telemetry::RESTORE_DURATION, "domain" => id.domain.to_string())
        .record(started.elapsed().as_secs_f64());
    tracing::info!(partition = %id, aggregates = books.len(), in_memory = books.cached(), recent_requests = dedupe.len(), elapsed = ?started.elapsed(), "partition restored");
    supervisor.serving();

    // Commands handed to us directly (DECISION and stronger) arrive here
    // from now on; the registration ends with this life of the task.
    let (keep_open, mut inbox) = tokio::sync::mpsc::channel::<Direct>(1);
    let _registration = config.owners.as_ref().map(|o| {
        let (registration, rx) = o.register(&id, config.max_batch);
        inbox = rx;
        registration
    });
    drop(keep_open);
    let mut point = RestorePoint { head: None, written: None };
    let mut aborts = 0u32;
    // Direct commands of an aborted batch, decided again first.
    let mut carried: Vec<Direct> = Vec::new();
    loop {
        let (commands, directs) = tokio::select! {
            _ = stop.wait() => return Ok(()),
            next = next_batch(log, &mut inbox, &mut carried, config) => next?,
        };
        let decide_started = Instant::now();
        let work: Vec<(&CommandEnvelope, bool)> =
            commands.iter().map(|c| (c, false)).chain(directs.iter().map(|d| (&d.cmd, true))).collect();
        books.load(work.iter().map(|(c, _)| c.root)).map_err(spill_failed)?;
        let mut batch = TxBatch::default();
        let mut staged = books.stage();
        let mut appended = Vec::new();
        let mut outcomes = Vec::with_capacity(work.len());
        let mut direct_outcomes = Vec::with_capacity(directs.len());
        // Each root's commands in order; distinct roots concurrently.
        let Some(decisions) = decide_batch(&work, &mut staged, &dedupe, handlers, config, stop).await else {
            // Stopped while the business logic or a process manager was
            // being retried — nothing of this batch is committed; the next
            // owner (or this one, restarted) redoes it, and direct callers,
            // whose answers are dropped, put their commands on the commands log.
            return Ok(());
        };
        // Request ids decided in this batch, remembered once it committed.
        let mut remembered: Vec<(String, uuid::Uuid, CommandOutcome)> = Vec::new();
        for (&(cmd, direct), (decided, fresh)) in work.iter().zip(decisions) {
            if fresh && !cmd.request_id.is_empty() {
                remembered.push((cmd.request_id.clone(), cmd.root, decided.outcome.clone()));
            }
            if !fresh {
                tracing::debug!(partition = %id, request_id = cmd.request_id, "repeated request id: original outcome, nothing written");
                metrics::counter!("angzarr.commands.deduplicated", "domain" => id.domain.to_string()).increment(1);
            }
            if let CommandOutcome::Rejected { code, message } = &decided.outcome
                && cmd.reply_to.is_none()
                && fresh
            {
                // Nobody waits for this answer (ASYNC, saga, process manager):
                // say it where an operator finds it.
                tracing::warn!(partition = %id, offset = cmd.offset, request_id = cmd.request_id, correlation_id = cmd.correlation_id,
                    code, message, "command rejected with nobody waiting for the answer");
                metrics::counter!("angzarr.commands.rejected_unwaited", "domain" => id.domain.to_string()).increment(1);
                batch.rejections.push(Rejection {
                    domain: cmd.domain.clone(),
                    root: cmd.root,
                    request_id: cmd.request_id.clone(),
                    correlation_id: cmd.correlation_id.clone(),
                    code: *code,
                    message: message.clone(),
                    command: cmd.book.clone(),
                });
            }
            appended.extend(decided.events.iter().map(|e| (e.root, e.sequence)));
            batch.events.extend(decided.events);
            batch.snapshots.extend(decided.snapshot);
            batch.commands.extend(decided.commands);
            if direct {
                // Answered in memory once the batch committed.
                direct_outcomes.push(decided.outcome.clone());
            } else {
                if let Some(reply_to) = &cmd.reply_to {
                    batch.replies.push(Reply {
                        reply_to: reply_to.clone(),
                        request_id: cmd.request_id.clone(),
                        outcome: decided.outcome.clone(),
                    });
                }
                batch.consumed_through = Some(cmd.offset);
            }
            outcomes.push((cmd.request_id.clone(), decided.outcome));
        }
        drop(work);
        point.upkeep(&books, &mut staged, &mut batch, config.max_restore_lag);
        if batch.is_empty() {
            // Nothing to write (rejections, repeats): the answers stand as decided.
            answer(directs, direct_outcomes);
            continue;
        }
        let changes = staged.into_changes();
        let (n_cmds, n_direct, n_events, restore_from) =
            (commands.len(), directs.len(), batch.events.len(), batch.restore_from);
        let decided_in = decide_started.elapsed();
        let commit_started = Instant::now();
        match log.commit(batch).await {
            Ok(offsets) => {
                aborts = 0;
                let first_offset = offsets.first().copied();
                if let Some(last) = offsets.last() {
                    point.head = Some(last + 1);
                }
                if restore_from.is_some() {
                    point.written = restore_from;
                }
                books.apply(changes, &appended, &offsets);
                answer(directs, direct_outcomes);
                books.evict().map_err(spill_failed)?;
                for (request_id, root, outcome) in remembered {
                    dedupe.insert(&request_id, root, outcome);
                }
                for (request_id, outcome) in outcomes {
                    config.hub.publish(crate::hub::Signal::Decided { request_id, outcome });
                }
                tracing::debug!(partition = %id, commands = n_cmds, direct = n_direct, events = n_events, ?decided_in, committed_in = ?commit_started.elapsed(), first_offset = ?first_offset, ?appended, "batch committed");
            }
            Err(e @ LogError::Aborted(..)) => {
                // Nothing of the batch happened; the log rewound to our last
                // commit, so the same commands come again, and the direct
                // ones are decided again first.
                carried = directs;
                aborts += 1;
                let backoff = Duration::from_millis(100 * 2u64.pow(aborts.min(6)));
                tracing::warn!(partition = %id, error = %e, ?backoff, "transaction aborted; the batch will be decided again");
                tokio::select! {
                    _ = stop.wait() => return Ok(()),
                    _ = tokio::time::sleep(backoff) => {}
                }
            }
            // Fenced, or an outcome nobody can tell: the supervisor decides.
            Err(e) => {
                for d in directs {
                    let _ = d.answer.send(Answer::Unknown(format!("the commit of {id} failed: {e}")));
                }
                return Err(e);
            }
        }
    }
}

/// The next commands to decide: those carried over from an aborted batch,
/// or whatever is waiting — in the commands log, in the direct inbox, or
/// the first of either to arrive within the poll wait.
async fn next_batch(
    log: &mut dyn PartitionLog,
    inbox: &mut tokio::sync::mpsc::Receiver<Direct>,
    carried: &mut Vec<Direct>,
    config: &TaskConfig,
) -> Result<(Vec<CommandEnvelope>, Vec<Direct>), LogError> {
    let max = config.max_batch.max(1);
    let mut directs = std::mem::take(carried);
    let commands = if directs.is_empty() {
        // Both sources are cancel-safe: whichever loses the race keeps its
        // commands for the next batch.
        tokio::select! {
            polled = log.poll(max, config.poll_wait) => polled?,
            Some(first) = inbox.recv() => {
                directs.push(first);
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    while directs.len() + commands.len() < max {
        match inbox.try_recv() {
            Ok(d) => directs.push(d),
            Err(_) => break,
        }
    }
    if commands.is_empty() && directs.len() < max {
        // Commands that arrived in the log meanwhile join this batch.
        let polled = log.poll(max - directs.len(), Duration::ZERO).await?;
        return Ok((polled, directs));
    }
    Ok((commands, directs))
}

/// Answers direct callers with what their commands' batch decided.
fn answer(directs: Vec<Direct>, outcomes: Vec<CommandOutcome>) {
    for (d, outcome) in directs.into_iter().zip(outcomes) {
        let _ = d.answer.send(Answer::Decided(outcome));
    }
}

/// A spill file that failed fails the task; its supervisor restores it from the log.
fn spill_failed(e: super::spill::SpillError) -> LogError {
    LogError::Unavailable(e.to_string())
}

/// The answer to a request id already used for another aggregate.
fn reused_id(request_id: &str, root: &uuid::Uuid) -> CommandOutcome {
    rejected(
        Code::InvalidArgument,
        format!("request id `{request_id}` was already used for aggregate {root}; a request id names one command"),
    )
}

/// Builds the partition's books from the log's restore stream, upcast
/// first when upcasters cover the domain. An upcaster that fails is
/// retried with backoff — the partition is not served meanwhile, and says
/// why in the log; `None` if stopped first.
async fn restore(
    log: &mut dyn PartitionLog,
    handlers: &Handlers,
    cache: Option<&CacheConfig>,
    stop: &Shutdown,
) -> Result<Option<Books>, LogError> {
    let stream = log.restore().await?;
    let id = log.id().clone();
    let stream = if handlers.upcasters.covers(&id.domain) {
        // Upcasters take whole histories: gathered first, so a domain with
        // upcasters holds its partition twice while they run.
        let histories = stream.histories().await?;
        let upcast = until_ok(
            stop,
            || handlers.upcasters.histories(&id.domain, histories.clone()),
            |status, backoff| {
                tracing::error!(partition = %id, code = ?status.code(), message = status.message(), ?backoff,
                    "upcasting the restored history failed; retrying (the partition is not served meanwhile)")
            },
        );
        let Some(upcast) = upcast.await else { return Ok(None) };
        RestoreStream::from_histories(upcast)
    } else {
        stream
    };
    match Books::restore(stream, cache).await {
        Ok(books) => Ok(Some(books)),
        Err(RestoreError::Log(e)) => Err(e),
        Err(RestoreError::Spill(e)) => Err(spill_failed(e)),
    }
}

/// Decides a batch: each root's commands in order, distinct roots
/// concurrently (at most [`TaskConfig::concurrent_roots`] business-logic
/// calls at once), so a batch of many aggregates costs about one call's
/// time, not one per command. Returns each command's decision, in the
/// batch's order, with whether it was decided now (`false`: a repeated
/// request id, answered with the original outcome); `None` if stopped.
async fn decide_batch(
    work: &[(&CommandEnvelope, bool)],
    staged: &mut Staged<'_>,
    dedupe: &Dedupe,
    handlers: &Handlers,
    config: &TaskConfig,
    stop: &Shutdown,
) -> Option<Vec<(Decided, bool)>> {
    use futures::StreamExt as _;
    // A request id names one command: the first root it came with in this
    // batch owns it.
    let mut first_root: std::collections::HashMap<&str, uuid::Uuid> = Default::default();
    let mut chains: Vec<(uuid::Uuid, Vec<usize>)> = Vec::new();
    let mut chain_of: std::collections::HashMap<uuid::Uuid, usize> = Default::default();
    for (i, (cmd, _)) in work.iter().enumerate() {
        if !cmd.request_id.is_empty() {
            first_root.entry(cmd.request_id.as_str()).or_insert(cmd.root);
        }
        let c = *chain_of.entry(cmd.root).or_insert_with(|| {
            chains.push((cmd.root, Vec::new()));
            chains.len() - 1
        });
        chains[c].1.push(i);
    }
    let first_root = &first_root;
    let runs = chains.into_iter().map(|(root, indices)| {
        let book = staged.get(&root).cloned();
        async move {
            let mut book = book;
            let mut touched = false;
            let mut seen_here: std::collections::HashMap<&str, CommandOutcome> = Default::default();
            let mut out = Vec::with_capacity(indices.len());
            for i in indices {
                let cmd = work[i].0;
                let id = cmd.request_id.as_str();
                let repeat = if id.is_empty() {
                    None
                } else if let Some(owner) = first_root.get(id).filter(|r| **r != cmd.root) {
                    Some(reused_id(id, owner))
                } else if let Some(outcome) = seen_here.get(id) {
                    Some(outcome.clone())
                } else {
                    match dedupe.seen(id, &cmd.root) {
                        Seen::New => None,
                        Seen::Decided(outcome) => Some(outcome.clone()),
                        Seen::OtherRoot(owner) => Some(reused_id(id, &owner)),
                    }
                };
                let decided = match repeat {
                    Some(outcome) => {
                        (Decided { events: Vec::new(), snapshot: None, commands: Vec::new(), outcome }, false)
                    }
                    None => {
                        let d = decide(cmd, &mut book, handlers, config, stop).instrument(handle_span(cmd)).await?;
                        touched |= !d.events.is_empty() || d.snapshot.is_some();
                        if !id.is_empty() {
                            seen_here.insert(id, d.outcome.clone());
                        }
                        (d, true)
                    }
                };
                out.push((i, decided));
            }
            Some((root, book.filter(|_| touched), out))
        }
    });
    let finished: Vec<_> = futures::stream::iter(runs).buffer_unordered(config.concurrent_roots.max(1)).collect().await;
    let mut decisions: Vec<Option<(Decided, bool)>> = (0..work.len()).map(|_| None).collect();
    for run in finished {
        let (root, book, out) = run?;
        if let Some(book) = book {
            *staged.get_mut(&root) = book;
        }
        for (i, d) in out {
            decisions[i] = Some(d);
        }
    }
    Some(decisions.into_iter().map(|d| d.expect("every command of the batch was decided")).collect())
}

/// Decides one command against the staged books. Never fails: every
/// problem becomes a rejection the caller reads. `None` only when `stop`
/// came while a process manager was being retried.
///
/// Runs in [`handle_span`]: the events it decides carry that span's trace
/// context, so the consumers of the events continue the command's trace.
async fn decide(
    cmd: &CommandEnvelope,
    aggregate: &mut Option<Book>,
    handlers: &Handlers,
    config: &TaskConfig,
    stop: &Shutdown,
) -> Option<Decided> {
    let nothing = |outcome| Some(Decided { events: Vec::new(), snapshot: None, commands: Vec::new(), outcome });
    let book = match CommandBook::decode(cmd.book.as_slice()) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(domain = cmd.domain, offset = cmd.offset, error = %e, "command record does not decode; skipped");
            metrics::counter!(crate::telemetry::UNDECODABLE_RECORDS, "kind" => "command").increment(1);
            return nothing(rejected(Code::InvalidArgument, format!("command record does not decode: {e}")));
        }
    };
    let Some(cover) = book.cover.clone() else {
        return nothing(rejected(Code::InvalidArgument, "command book has no cover"));
    };
    use angzarr_proto::angzarr::page_header::SequenceType;
    let next = aggregate.as_ref().map_or(0, |b| b.next_sequence());
    match book.pages.first().and_then(|p| p.header.as_ref()).and_then(|h| h.sequence_type.as_ref()) {
        Some(SequenceType::Sequence(e)) if *e != next => {
            return nothing(rejected(Code::FailedPrecondition, sequence_mismatch(&cmd.domain, &cmd.root, *e, next)));
        }
        Some(SequenceType::Sequence(_)) => {}
        // A saga's command: taken at the aggregate's current sequence. Its
        // producer committed it exactly once, so there is nothing to dedupe.
        Some(SequenceType::AngzarrDeferred(_)) => {}
        Some(SequenceType::ExternalDeferred(_)) => {
            return nothing(rejected(Code::Unimplemented, "externally deferred sequences are not supported yet"));
        }
        None => return nothing(rejected(Code::InvalidArgument, "command page has no sequence")),
    }

    let history = aggregate
        .as_ref()
        .map(|b| b.to_event_book(cover.clone()))
        .unwrap_or_else(|| EventBook { cover: Some(cover.clone()), ..Default::default() });
    let (produced, commands) = if let Some(pm) = handlers.process_manager(&cmd.domain) {
        let reaction = pm.orchestrate_until_done(cmd, &book, history, stop).await?;
        (reaction.events, reaction.commands)
    } else {
        let request = ContextualCommand { events: Some(history), command: Some(book) };
        let response = match execute(handlers, &cmd.domain, &cmd.correlation_id, request, &config.retry, stop).await? {
            Ok(r) => r,
            Err(status) => return nothing(rejected(status.code(), status.message())),
        };
        match response.result {
            Some(business_response::Result::Events(b)) => (b, Vec::new()),
            Some(business_response::Result::Revocation(r)) => {
                return nothing(rejected(Code::FailedPrecondition, format!("revoked by business logic: {}", r.reason)));
            }
            Some(business_response::Result::Notification(_)) | None => (EventBook::default(), Vec::new()),
        }
    };

    let isolated = cmd.sync_mode == angzarr_proto::angzarr::SyncMode::Isolated as i32;
    let (pages, records) = stamp(cmd, &cover, next, produced.pages, isolated);
    if let Some(big) = records.iter().find(|r| prost::Message::encoded_len(&r.book) > config.max_event_bytes) {
        return nothing(rejected(
            Code::ResourceExhausted,
            format!(
                "event {} (sequence {}) is {} bytes, the limit is {}; nothing was written",
                big.type_name,
                big.sequence,
                prost::Message::encoded_len(&big.book),
                config.max_event_bytes
            ),
        ));
    }
    let book = aggregate.get_or_insert_with(Book::default);
    let every = config.snapshots.every(&cmd.domain) as usize;
    let latest_state = produced.snapshot.and_then(|s| s.state);
    let snapshot = match (latest_state.clone(), pages.last()) {
        (Some(state), Some(last)) if every > 0 && book.since_snapshot() + pages.len() >= every => Some(Snapshot {
            sequence: last.seq().unwrap_or(next),
            state: Some(state),
            created_at: Some(now()),
            ..Default::default()
        }),
        _ => None,
    };
    if !pages.is_empty() {
        // The state after these pages, or unknown: never an older one.
        book.latest_state = latest_state.map(Box::new);
    }
    book.advance(&pages, snapshot.clone());
    let next_sequence = book.next_sequence();
    Some(Decided {
        events: records,
        snapshot: snapshot.map(|snapshot| SnapshotRecord { root: cmd.root, snapshot }),
        commands,
        outcome: CommandOutcome::Accepted(EventBook { cover: Some(cover), snapshot: None, pages, next_sequence }),
    })
}

/// Stamps what the coordinator owns on each new page — sequence, time — and
/// builds the records to append. Handlers may leave these unset (upstream's
/// clients do); whatever they set is overwritten, because only the partition
/// owner knows the next sequence.
/// The `aggregate.handle` span of `cmd`: a child of the span that sent it
/// (the gateway's, a saga's, a process manager's), in whatever process.
fn handle_span(cmd: &CommandEnvelope) -> tracing::Span {
    let span = tracing::info_span!(
        crate::telemetry::SPAN_AGGREGATE_HANDLE,
        domain = %cmd.domain,
        root = %cmd.root,
        correlation_id = %cmd.correlation_id,
        request_id = %cmd.request_id,
    );
    crate::telemetry::traces::follow(&span, cmd.trace.as_deref());
    span
}

fn stamp(
    cmd: &CommandEnvelope,
    cover: &angzarr_proto::angzarr::Cover,
    next: u32,
    pages: Vec<EventPage>,
    isolated: bool,
) -> (Vec<EventPage>, Vec<EventRecord>) {
    let created = now();
    let edition = cover.edition.as_ref().map(|e| e.name.clone()).unwrap_or_default();
    // Downstream coordinators notify the waiting gateway of SIMPLE and
    // CASCADE commands through the log, wherever they run.
    let waits_downstream = [SyncMode::Simple as i32, SyncMode::Cascade as i32].contains(&cmd.sync_mode);
    let reply_to = cmd.reply_to.clone().filter(|_| waits_downstream);
    let mut stamped = Vec::with_capacity(pages.len());
    let mut records = Vec::with_capacity(pages.len());
    let trace = crate::telemetry::traces::current();
    for (i, mut page) in pages.into_iter().enumerate() {
        let sequence = next + i as u32;
        page.header = Some(PageHeader::sequence(sequence));
        if page.created_at.is_none() {
            page.created_at = Some(created);
        }
        let type_name = page.event().map(|a| type_name(&a.type_url).to_string()).unwrap_or_default();
        records.push(EventRecord {
            trace: trace.clone(),
            root: cmd.root,
            sequence,
            type_name,
            correlation_id: cmd.correlation_id.clone(),
            request_id: cmd.request_id.clone(),
            edition: edition.clone(),
            isolated,
            reply_to: reply_to.clone(),
            book: EventBook { cover: Some(cover.clone()), pages: vec![page.clone()], ..Default::default() },
        });
        stamped.push(page);
    }
    (stamped, records)
}
