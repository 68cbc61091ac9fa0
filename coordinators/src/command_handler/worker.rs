//! Step 3: a consumer-group member of the commands logs.
//!
//! Kafka Streams' shape: a worker is a set of tasks, one per owned
//! partition. Assignment creates a task (which restores, then processes);
//! revocation stops it — the task finishes its open batch — and only then
//! acknowledges, so the next owner starts after our last commit. Scaling out
//! is starting another worker in the same group. Each task restarts itself
//! after failures ([`crate::supervisor`]); a task that panics ends the
//! worker with an error, which stops the process.

use std::collections::HashMap;

use angzarr_connectors::{Assignment, Log, PartitionId};
use tokio::task::JoinHandle;

use super::GROUP;
use super::task::{self, TaskConfig};
use crate::handlers::Handlers;
use crate::{CoordinatorError, Shutdown};

/// The command-handler worker of one process.
pub struct Worker {
    log: std::sync::Arc<dyn Log>,
    handlers: Handlers,
    config: TaskConfig,
}

struct Running {
    stop: Shutdown,
    handle: JoinHandle<()>,
}

impl Worker {
    /// A worker for every domain that has a handler.
    pub fn new(log: std::sync::Arc<dyn Log>, handlers: Handlers, config: TaskConfig) -> Self {
        Worker { log, handlers, config }
    }

    /// Joins the group and runs tasks until `shutdown`; then stops every task
    /// and leaves the group.
    pub async fn run(self, shutdown: Shutdown) -> Result<(), CoordinatorError> {
        let domains = self.handlers.domains();
        self.config.states.joining(GROUP);
        let mut membership = self.log.join(GROUP, &domains).await?;
        tracing::info!(?domains, "command-handler worker joined");
        let mut tasks: HashMap<PartitionId, Running> = HashMap::new();
        let (died_tx, mut died) = tokio::sync::mpsc::unbounded_channel::<crate::supervisor::Died>();
        let mut failure = None;
        loop {
            let change = tokio::select! {
                _ = shutdown.wait() => break,
                Some(d) = died.recv() => {
                    failure = Some(CoordinatorError::TaskDied(format!("{} {}: {}", d.group, d.partition, d.reason)));
                    break;
                }
                change = membership.next() => change,
            };
            match change {
                Some(Assignment::Assigned(plog)) => {
                    let id = plog.id().clone();
                    let stop = shutdown.child();
                    let (handlers, config, task_stop) = (self.handlers.clone(), self.config.clone(), stop.clone());
                    let task_id = id.clone();
                    let handle = crate::supervisor::spawn_task(GROUP, id.clone(), died_tx.clone(), async move {
                        if let Err(e) = task::run(plog, handlers, config, task_stop).await {
                            tracing::error!(partition = %task_id, error = %e, "partition task ended");
                        }
                    });
                    if let Some(old) = tasks.insert(id, Running { stop, handle }) {
                        old.stop.trigger();
                    }
                }
                Some(Assignment::Settled) => self.config.states.settled(GROUP),
                Some(Assignment::Revoked(id, ack)) => {
                    if let Some(running) = tasks.remove(&id) {
                        running.stop.trigger();
                        let _ = running.handle.await;
                    }
                    let _ = ack.send(());
                }
                None => break,
            }
        }
        for (_, running) in tasks.drain() {
            running.stop.trigger();
            let _ = running.handle.await;
        }
        membership.leave().await;
        tracing::info!("command-handler worker left");
        failure.map_or(Ok(()), Err)
    }
}
