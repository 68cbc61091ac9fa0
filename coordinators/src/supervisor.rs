//! The supervisor: the one place that decides what a partition task's
//! failure means.
//!
//! Every partition task — command handler, process manager, projector,
//! saga, router — lives assigned → restoring → serving → (failed →
//! restarting) → revoked. A task attempt that ends for any reason other
//! than revocation or shutdown is **restarted** here, with backoff, after
//! re-initialising and re-restoring (the log's `restore`/`start` do both):
//! a process never keeps running with a partition nobody serves. A fenced
//! task waits for the revocation that normally follows; if none comes in
//! the grace period the fencing was not another owner's, and it restarts.
//! A task that panics stops the whole process ([`Died`]), which exits
//! non-zero — it is never left half-alive.
//!
//! The states are kept in [`TaskStates`], shared by the process, for
//! readiness and metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use angzarr_connectors::{LogError, PartitionId};
use dashmap::DashMap;

use crate::Shutdown;

/// First delay before a restart; doubles up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(100);
/// Longest delay between restarts.
const MAX_DELAY: Duration = Duration::from_secs(10);
/// A task that served this long before failing starts again from [`FIRST_DELAY`].
const HEALTHY_FOR: Duration = Duration::from_secs(60);

/// Where a partition task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Taking ownership and reading its state from the log.
    Restoring,
    /// Processing.
    Serving,
    /// Failed; restarts after a delay (or waits for its revocation if fenced).
    Failed,
}

impl TaskState {
    /// Lower-case name, for logs, metrics and readiness.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Restoring => "restoring",
            TaskState::Serving => "serving",
            TaskState::Failed => "failed",
        }
    }
}

/// One task as the process reports it.
#[derive(Clone, Debug)]
pub struct TaskStatus {
    /// Its state.
    pub state: TaskState,
    /// Since when.
    pub since: Instant,
    /// Restarts so far.
    pub restarts: u32,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

/// Every partition task of a process, by (group, partition), and whether
/// each consumer group the process is a member of has handed it its
/// assignment yet. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct TaskStates {
    by_task: Arc<DashMap<(String, PartitionId), TaskStatus>>,
    /// Groups joined or joining: `true` once their assignment settled.
    groups: Arc<DashMap<String, bool>>,
}

impl TaskStates {
    /// The process is joining `group`: not ready until its assignment settles.
    pub fn joining(&self, group: &str) {
        self.groups.insert(group.to_string(), false);
    }

    /// `group` handed this process its assignment (maybe no partition).
    pub fn settled(&self, group: &str) {
        self.groups.insert(group.to_string(), true);
    }

    /// Groups whose assignment has not arrived yet, sorted.
    pub fn joining_groups(&self) -> Vec<String> {
        let mut out: Vec<String> = self.groups.iter().filter(|e| !*e.value()).map(|e| e.key().clone()).collect();
        out.sort();
        out
    }

    fn set(&self, group: &str, id: &PartitionId, state: TaskState, failed: Option<(&LogError, u32)>) {
        let mut entry = self.by_task.entry((group.to_string(), id.clone())).or_insert_with(|| TaskStatus {
            state,
            since: Instant::now(),
            restarts: 0,
            last_error: None,
        });
        entry.state = state;
        entry.since = Instant::now();
        if let Some((e, restarts)) = failed {
            entry.last_error = Some(e.to_string());
            entry.restarts = restarts;
        }
        metrics::gauge!("angzarr.partition.state", "group" => group.to_string(), "partition" => id.to_string()).set(
            match state {
                TaskState::Restoring => 0.0,
                TaskState::Serving => 1.0,
                TaskState::Failed => -1.0,
            },
        );
    }

    fn remove(&self, group: &str, id: &PartitionId) {
        self.by_task.remove(&(group.to_string(), id.clone()));
    }

    /// Every task, sorted by group and partition.
    pub fn list(&self) -> Vec<(String, PartitionId, TaskStatus)> {
        let mut out: Vec<_> =
            self.by_task.iter().map(|e| (e.key().0.clone(), e.key().1.clone(), e.value().clone())).collect();
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        out
    }

    /// The state of one task, if the process runs it.
    pub fn get(&self, group: &str, id: &PartitionId) -> Option<TaskStatus> {
        self.by_task.get(&(group.to_string(), id.clone())).map(|e| e.value().clone())
    }
}

/// A task that panicked: the process must stop (and exit non-zero).
#[derive(Debug)]
pub struct Died {
    /// The group of the task.
    pub group: String,
    /// Its partition.
    pub partition: PartitionId,
    /// What the panic said.
    pub reason: String,
}

/// One partition task's supervision.
pub struct Supervisor {
    group: String,
    id: PartitionId,
    states: TaskStates,
    stop: Shutdown,
    fenced_grace: Duration,
    delay: Duration,
    restarts: u32,
    serving_since: Option<Instant>,
}

impl Supervisor {
    /// Supervises `id` of `group` until `stop`; a fenced task waits
    /// `fenced_grace` for its revocation before restarting.
    pub fn new(group: &str, id: PartitionId, states: TaskStates, stop: Shutdown, fenced_grace: Duration) -> Self {
        Supervisor {
            group: group.to_string(),
            id,
            states,
            stop,
            fenced_grace,
            delay: FIRST_DELAY,
            restarts: 0,
            serving_since: None,
        }
    }

    /// The task is restoring.
    pub fn restoring(&mut self) {
        self.serving_since = None;
        self.states.set(&self.group, &self.id, TaskState::Restoring, None);
    }

    /// The task is serving.
    pub fn serving(&mut self) {
        self.serving_since = Some(Instant::now());
        self.states.set(&self.group, &self.id, TaskState::Serving, None);
    }

    /// After an attempt ended: `true` to run it again (having waited as the
    /// failure asks), `false` when the task is over (stopped or revoked).
    pub async fn restart_after(&mut self, ended: Result<(), LogError>) -> bool {
        let e = match ended {
            Ok(()) | Err(LogError::Shutdown) => return false,
            Err(e) => e,
        };
        if self.stop.is_triggered() {
            return false;
        }
        if self.serving_since.is_some_and(|s| s.elapsed() > HEALTHY_FOR) {
            self.delay = FIRST_DELAY;
        }
        self.restarts += 1;
        self.states.set(&self.group, &self.id, TaskState::Failed, Some((&e, self.restarts)));
        metrics::counter!("angzarr.partition.restarts", "group" => self.group.clone()).increment(1);
        let wait = if let LogError::Fenced(..) = e {
            tracing::warn!(group = self.group, partition = %self.id, error = %e, grace = ?self.fenced_grace,
                "partition task fenced; waiting for its revocation before re-initialising");
            self.fenced_grace
        } else {
            tracing::error!(group = self.group, partition = %self.id, error = %e, restarts = self.restarts,
                delay = ?self.delay, "partition task failed; restarting it (re-initialise, restore from the log)");
            let d = self.delay;
            self.delay = (self.delay * 2).min(MAX_DELAY);
            d
        };
        tokio::select! {
            _ = self.stop.wait() => false,
            _ = tokio::time::sleep(wait) => true,
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.states.remove(&self.group, &self.id);
    }
}

/// Spawns a partition task whose panic is reported on `died` (and so stops
/// the process) rather than lost with the task.
pub fn spawn_task(
    group: &str,
    id: PartitionId,
    died: tokio::sync::mpsc::UnboundedSender<Died>,
    task: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    use futures::FutureExt;
    let group = group.to_string();
    tokio::spawn(async move {
        if let Err(panic) = std::panic::AssertUnwindSafe(task).catch_unwind().await {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            tracing::error!(group, partition = %id, reason, "partition task panicked; stopping the process");
            let _ = died.send(Died { group, partition: id, reason });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn failures_restart_with_growing_delays_and_are_recorded() {
        let states = TaskStates::default();
        let id = PartitionId::new("player", 3);
        let mut sup = Supervisor::new("g", id.clone(), states.clone(), Shutdown::new(), Duration::from_secs(30));
        sup.restoring();
        let started = tokio::time::Instant::now();
        assert!(sup.restart_after(Err(LogError::Unavailable("broker".into()))).await);
        assert!(sup.restart_after(Err(LogError::OutcomeUnknown("p".into(), "timeout".into()))).await);
        assert_eq!(started.elapsed(), Duration::from_millis(300));
        let status = states.get("g", &id).unwrap();
        assert_eq!((status.state, status.restarts), (TaskState::Failed, 2));
        assert!(status.last_error.unwrap().contains("outcome unknown"));
        sup.serving();
        assert_eq!(states.get("g", &id).unwrap().state, TaskState::Serving);
        drop(sup);
        assert!(states.get("g", &id).is_none(), "a task that ended is not reported");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_or_revocation_ends_the_task_and_fencing_waits_for_it() {
        let stop = Shutdown::new();
        let mut sup = Supervisor::new(
            "g",
            PartitionId::new("d", 0),
            TaskStates::default(),
            stop.clone(),
            Duration::from_secs(30),
        );
        assert!(!sup.restart_after(Ok(())).await);
        let fenced =
            tokio::spawn(async move { sup.restart_after(Err(LogError::Fenced("d[0]".into(), "x".into()))).await });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!fenced.is_finished(), "a fenced task waits for its revocation");
        stop.trigger();
        assert!(!fenced.await.unwrap(), "revoked while waiting: over, not restarted");
    }

    #[tokio::test(start_paused = true)]
    async fn fenced_without_revocation_restarts_after_the_grace() {
        let mut sup = Supervisor::new(
            "g",
            PartitionId::new("d", 0),
            TaskStates::default(),
            Shutdown::new(),
            Duration::from_secs(30),
        );
        let started = tokio::time::Instant::now();
        assert!(sup.restart_after(Err(LogError::Fenced("d[0]".into(), "x".into()))).await);
        assert_eq!(started.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test]
    async fn a_panicking_task_is_reported() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let handle = spawn_task("g", PartitionId::new("d", 1), tx, async { panic!("boom") });
        handle.await.unwrap();
        let died = rx.recv().await.unwrap();
        assert_eq!((died.partition.partition, died.reason.as_str()), (1, "boom"));
    }
}
