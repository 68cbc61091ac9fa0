//! One owned events partition: poll, react per root, commit reaction + offset.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use angzarr_connectors::{DeadLetter, EventPartition, EventTx, LogError, StoredEvent};
use angzarr_proto::angzarr::EventBook;
use uuid::Uuid;

use super::poison::{OnPoison, PoisonPolicy, is_outage};
use super::{Reaction, Reactor, Run};
use crate::Shutdown;
use crate::backoff::until_ok;
use crate::supervisor::{Supervisor, TaskStates};
use crate::telemetry::DEAD_LETTERS;
use crate::upcast::Upcasters;

/// The reactor's calls for a batch. By root: every event of a root in the
/// batch, in order, as one book (one call per root; roots keep their order
/// of first appearance). Otherwise one book per event, in log order.
fn runs(events: &[StoredEvent], by_root: bool) -> Vec<Run> {
    if !by_root {
        return events.iter().map(|e| (e.book.clone(), vec![e.clone()])).collect();
    }
    let mut out: Vec<Run> = Vec::new();
    let mut index: HashMap<(&str, Uuid), usize> = HashMap::new();
    for e in events {
        match index.get(&(e.domain.as_str(), e.root)) {
            Some(&i) => {
                out[i].0.pages.extend(e.book.pages.iter().cloned());
                out[i].1.push(e.clone());
            }
            None => {
                index.insert((e.domain.as_str(), e.root), out.len());
                out.push((e.book.clone(), vec![e.clone()]));
            }
        }
    }
    out
}

/// What became of one reactor call.
enum Called {
    /// It answered.
    Reacted(Box<Reaction>),
    /// Its handler answered with an error `attempts` times in a row under a
    /// policy that gives up (`dead_letter`, `stop`).
    Poison(String),
    /// `stop` came first.
    Stopped,
}

/// One call, retried until it is answered (or, under a policy that gives
/// up, until it is poison); outages are retried under every policy.
async fn react(
    reactor: &dyn Reactor,
    book: &EventBook,
    evs: &[StoredEvent],
    id: &angzarr_connectors::PartitionId,
    stop: &Shutdown,
    on_poison: OnPoison,
) -> Called {
    let answered_errors = std::sync::atomic::AtomicU32::new(0);
    let gives_up = on_poison.policy != PoisonPolicy::Retry;
    let called = until_ok(
        stop,
        || async {
            match reactor.react(book, evs).await {
                Ok(r) => Ok(Called::Reacted(Box::new(r))),
                Err(status) if is_outage(status.code()) => Err(status),
                Err(status) => {
                    let n = answered_errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    if gives_up && n >= on_poison.attempts.max(1) {
                        Ok(Called::Poison(format!("{:?}: {}", status.code(), status.message())))
                    } else {
                        Err(status)
                    }
                }
            }
        },
        |status, backoff| {
            tracing::error!(group = reactor.group(), partition = %id, offset = evs[0].offset, code = ?status.code(),
                message = status.message(), ?backoff, "reaction failed; retrying (the offset does not move past it)")
        },
    )
    .await;
    called.unwrap_or(Called::Stopped)
}

/// What became of a whole batch's reactions.
enum Batch {
    /// One reaction per run.
    Reacted(Vec<Reaction>),
    /// The handler answered with an error: isolate it run by run.
    Refused,
    /// `stop` came first.
    Stopped,
}

/// All of a batch's runs at once ([`Reactor::react_all`]); outages are
/// retried with backoff, an answered error hands the batch to the run-by-run
/// path, which knows which run is poison.
async fn react_batch(
    reactor: &dyn Reactor,
    runs: &[Run],
    id: &angzarr_connectors::PartitionId,
    stop: &Shutdown,
) -> Batch {
    let called = until_ok(
        stop,
        || async {
            match reactor.react_all(runs).await {
                Ok(reactions) => Ok(Batch::Reacted(reactions)),
                Err(status) if is_outage(status.code()) => Err(status),
                Err(status) => {
                    tracing::warn!(group = reactor.group(), partition = %id, offset = runs[0].1[0].offset, code = ?status.code(),
                        message = status.message(), "batch refused; handing it over run by run to find the run that fails");
                    Ok(Batch::Refused)
                }
            }
        },
        |status, backoff| {
            tracing::error!(group = reactor.group(), partition = %id, offset = runs[0].1[0].offset, code = ?status.code(),
                message = status.message(), ?backoff, "reaction failed; retrying (the offset does not move past it)")
        },
    )
    .await;
    called.unwrap_or(Batch::Stopped)
}

/// Adds a run's reaction to the batch's transaction: its commands, and its
/// notice for each gateway waiting on one of the run's events (none when
/// nobody waits).
fn record(tx: &mut EventTx, reacted: &mut Vec<(Uuid, u32)>, reaction: Reaction, evs: &[StoredEvent]) {
    tx.commands.extend(reaction.commands);
    if let Some(notice) = reaction.notice {
        let mut waiting: Vec<&String> = evs.iter().filter_map(|e| e.reply_to.as_ref()).collect();
        waiting.sort();
        waiting.dedup();
        tx.notices.extend(waiting.into_iter().map(|to| (to.clone(), notice.clone())));
    }
    reacted.push((evs[0].root, evs.last().unwrap().sequence));
}

/// Per-step timers of one batch, logged at `debug` (the profile of a
/// replay: `RUST_LOG=angzarr_coordinators::event_consumer=debug`).
struct StepTimer {
    last: std::time::Instant,
    events: usize,
    steps: Vec<(&'static str, Duration)>,
}

impl StepTimer {
    fn new(started: std::time::Instant, events: usize) -> Self {
        StepTimer { last: std::time::Instant::now(), events, steps: vec![("polled", started.elapsed())] }
    }

    fn step(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        self.steps.push((name, now - self.last));
        self.last = now;
    }

    fn report(&self, reactor: &dyn Reactor, id: &angzarr_connectors::PartitionId, written: usize) {
        if tracing::enabled!(tracing::Level::DEBUG) {
            let steps: Vec<String> =
                self.steps.iter().map(|(n, d)| format!("{n} {:.2} ms", d.as_secs_f64() * 1e3)).collect();
            tracing::debug!(group = reactor.group(), partition = %id, events = self.events, written, steps = steps.join(", "), "batch");
        }
    }
}

/// A record the policy stops the process for.
fn fatal(reactor: &dyn Reactor, e: &StoredEvent, why: &str) -> LogError {
    LogError::Corrupt {
        location: format!("{} of {}[{}]@{}", reactor.group(), e.domain, e.partition, e.offset),
        reason: format!("poison record (on_poison: stop): {why}"),
    }
}

/// Runs until `stop` (revocation or shutdown), restarting after any failure
/// as the [`Supervisor`] decides.
/// A `stop` policy ends it with `Err` (the process must stop).
pub async fn run(
    mut partition: Box<dyn EventPartition>,
    reactor: Arc<dyn Reactor>,
    upcasters: Upcasters,
    on_poison: OnPoison,
    tuning: super::Tuning,
    stop: Shutdown,
    states: TaskStates,
) -> Result<(), LogError> {
    let id = partition.id().clone();
    let mut supervisor = Supervisor::new(&reactor.group(), id.clone(), states, stop.clone(), tuning.fenced_grace);
    loop {
        let ended = serve(
            partition.as_mut(),
            reactor.as_ref(),
            &upcasters,
            on_poison,
            tuning.max_batch,
            &stop,
            &mut supervisor,
        )
        .await;
        match ended {
            Err(Ended::Stop(e)) => return Err(e),
            Err(Ended::Failed(e)) => {
                if !supervisor.restart_after(Err(e)).await {
                    return Ok(());
                }
            }
            Ok(()) => return Ok(()),
        }
    }
}

/// Why one life of the task ended early.
enum Ended {
    /// Restart it (re-initialise, rewind), as the supervisor decides.
    Failed(LogError),
    /// Stop the process: the `stop` policy met a poison record.
    Stop(LogError),
}

impl From<LogError> for Ended {
    fn from(e: LogError) -> Self {
        Ended::Failed(e)
    }
}

/// An undecodable record the task cannot pass: restart and meet it again
/// (retry), or stop the process.
fn hold(reactor: &dyn Reactor, poison: &StoredEvent, reason: &str, on_poison: OnPoison) -> Ended {
    if on_poison.policy == PoisonPolicy::Stop {
        return Ended::Stop(fatal(reactor, poison, &format!("undecodable: {reason}")));
    }
    Ended::Failed(LogError::Corrupt {
        location: format!("{}[{}]@{}", poison.domain, poison.partition, poison.offset),
        reason: format!("undecodable event, held (on_poison: retry): {reason}"),
    })
}

/// A record whose handler keeps refusing it: a dead letter, or the end.
fn poisoned(reactor: &dyn Reactor, e: &StoredEvent, why: &str, on_poison: OnPoison) -> Result<DeadLetter, Ended> {
    match on_poison.policy {
        PoisonPolicy::Stop => Err(Ended::Stop(fatal(reactor, e, why))),
        _ => Ok(DeadLetter::of(e, why)),
    }
}

/// One life of the task: start (fence, rewind), then react and commit
/// until `stop` (`Ok`) or a failure that needs a fresh start (`Err`).
async fn serve(
    partition: &mut dyn EventPartition,
    reactor: &dyn Reactor,
    upcasters: &Upcasters,
    on_poison: OnPoison,
    max_batch: usize,
    stop: &Shutdown,
    supervisor: &mut Supervisor,
) -> Result<(), Ended> {
    let id = partition.id().clone();
    supervisor.restoring();
    // A revocation must not wait for a start that waits for the broker.
    tokio::select! {
        _ = stop.wait() => return Ok(()),
        started = partition.start() => started.map_err(Ended::Failed)?,
    }
    tracing::info!(partition = %id, group = reactor.group(), "event partition started");
    supervisor.serving();
    // Last sequence reacted to per root: a redelivery is not applied twice.
    let mut applied: HashMap<Uuid, u32> = HashMap::new();
    let mut aborts = 0u32;
    loop {
        let polling = std::time::Instant::now();
        let events = tokio::select! {
            _ = stop.wait() => return Ok(()),
            polled = partition.poll(max_batch.max(1), Duration::from_millis(250)) => polled.map_err(Ended::Failed)?,
        };
        let Some(mut last) = events.last().map(|e| e.offset) else { continue };
        let mut timer = StepTimer::new(polling, events.len());
        // An undecodable record: dead-lettered in this batch's transaction,
        // or the batch ends before it and, once what precedes it is
        // committed, the task holds there (retry: restarts, with backoff,
        // until it decodes) or the process stops.
        let mut held = None;
        let mut dead_letters = Vec::new();
        let mut events = events;
        if let Some(i) = events.iter().position(|e| e.undecodable.is_some()) {
            if on_poison.policy == PoisonPolicy::DeadLetter {
                events.retain(|e| match &e.undecodable {
                    Some(u) => {
                        dead_letters.push(DeadLetter::of(e, format!("undecodable: {}", u.reason)));
                        false
                    }
                    None => true,
                });
            } else {
                let poison = events.split_off(i).swap_remove(0);
                let reason = poison.undecodable.as_ref().map_or(String::new(), |u| u.reason.clone());
                held = Some((poison, reason));
                match events.last() {
                    Some(e) => last = e.offset,
                    None => {
                        let (poison, reason) = held.take().unwrap();
                        return Err(hold(reactor, &poison, &reason, on_poison));
                    }
                }
            }
        }
        // Most domains have no upcaster: no copy of the batch for them.
        let events = if events.iter().any(|e| upcasters.covers(&e.domain)) {
            let upcast = until_ok(
                stop,
                || upcasters.events(events.clone()),
                |status: &tonic::Status, backoff| {
                    tracing::error!(group = reactor.group(), partition = %id, offset = events[0].offset, code = ?status.code(),
                        message = status.message(), ?backoff, "upcasting failed; retrying (the offset does not move past it)")
                },
            );
            let Some(events) = upcast.await else { return Ok(()) };
            events
        } else {
            events
        };
        let fresh: Vec<StoredEvent> = events
            .into_iter()
            .filter(|e| !e.isolated && !e.root.is_nil() && applied.get(&e.root).is_none_or(|s| e.sequence > *s))
            .collect();
        let mut tx = EventTx { consumed_through: Some(last), dead_letters, ..Default::default() };
        let mut reacted = Vec::new();
        timer.step("prepared");
        let all = runs(&fresh, reactor.batches_by_root());
        // The whole batch at once; only a refusal takes the run-by-run path.
        let mut pending: std::collections::VecDeque<Run> = std::collections::VecDeque::new();
        if !all.is_empty() {
            match react_batch(reactor, &all, &id, stop).await {
                Batch::Reacted(reactions) => {
                    for (reaction, (_, evs)) in reactions.into_iter().zip(&all) {
                        record(&mut tx, &mut reacted, reaction, evs);
                    }
                }
                Batch::Refused => pending = all.into(),
                Batch::Stopped => return Ok(()),
            }
        }
        timer.step("reacted");
        while let Some((book, evs)) = pending.pop_front() {
            let reaction = match react(reactor, &book, &evs, &id, stop, on_poison).await {
                Called::Reacted(r) => *r,
                Called::Stopped => return Ok(()),
                // Several events of a root: which one is poison? Each alone, once.
                Called::Poison(_) if evs.len() > 1 => {
                    let once = OnPoison { attempts: 1, ..on_poison };
                    for e in evs.iter().rev() {
                        pending.push_front((e.book.clone(), vec![e.clone()]));
                    }
                    let (book, evs) = pending.pop_front().unwrap();
                    match react(reactor, &book, &evs, &id, stop, once).await {
                        Called::Reacted(r) => *r,
                        Called::Stopped => return Ok(()),
                        Called::Poison(why) => match poisoned(reactor, &evs[0], &why, on_poison) {
                            Ok(letter) => {
                                tx.dead_letters.push(letter);
                                continue;
                            }
                            Err(e) => return Err(e),
                        },
                    }
                }
                Called::Poison(why) => match poisoned(reactor, &evs[0], &why, on_poison) {
                    Ok(letter) => {
                        tx.dead_letters.push(letter);
                        continue;
                    }
                    Err(e) => return Err(e),
                },
            };
            record(&mut tx, &mut reacted, reaction, &evs);
        }
        if !tx.dead_letters.is_empty() {
            metrics::counter!(DEAD_LETTERS, "group" => reactor.group()).increment(tx.dead_letters.len() as u64);
            for d in &tx.dead_letters {
                tracing::warn!(group = reactor.group(), partition = %id, offset = d.offset, error = d.error,
                    "record moved to the dead-letter log (on_poison: dead_letter)");
            }
        }
        let written = tx.commands.len() + tx.notices.len() + tx.dead_letters.len();
        let committed = partition.commit(tx).await;
        timer.step("committed");
        timer.report(reactor, &id, written);
        match committed {
            Ok(()) => {
                aborts = 0;
                for (root, seq) in reacted {
                    applied.insert(root, seq);
                }
                if let Some((poison, reason)) = held {
                    return Err(hold(reactor, &poison, &reason, on_poison));
                }
            }
            Err(e @ LogError::Aborted(..)) => {
                aborts += 1;
                let backoff = Duration::from_millis(100 * 2u64.pow(aborts.min(6)));
                tracing::warn!(partition = %id, error = %e, ?backoff, "transaction aborted; the batch will be retried");
                tokio::select! {
                    _ = stop.wait() => return Ok(()),
                    _ = tokio::time::sleep(backoff) => {}
                }
            }
            // Fenced, or an outcome nobody can tell: the supervisor decides.
            Err(e) => return Err(e.into()),
        }
    }
}
