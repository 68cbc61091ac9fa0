//! A consumer-group member of the events logs: assignment creates a task,
//! revocation stops it after its open batch.

use std::collections::HashMap;
use std::sync::Arc;

use angzarr_connectors::{Assignment, Log, PartitionId};
use tokio::task::JoinHandle;

use super::{OnPoison, Reactor, task};
use crate::supervisor::TaskStates;
use crate::upcast::Upcasters;
use crate::{CoordinatorError, Shutdown};

/// Runs one reactor (projector or saga) over its domains.
pub struct EventWorker {
    log: Arc<dyn Log>,
    reactor: Arc<dyn Reactor>,
    upcasters: Upcasters,
    on_poison: OnPoison,
    tuning: super::Tuning,
    states: TaskStates,
}

impl EventWorker {
    /// A worker for `reactor` on `log`.
    pub fn new(log: Arc<dyn Log>, reactor: Arc<dyn Reactor>) -> Self {
        EventWorker {
            log,
            reactor,
            upcasters: Upcasters::default(),
            on_poison: OnPoison::default(),
            tuning: super::Tuning::default(),
            states: TaskStates::default(),
        }
    }

    /// Reports its tasks' states in `states`.
    pub fn with_states(mut self, states: TaskStates) -> Self {
        self.states = states;
        self
    }

    /// Upcasts what it consumes with `upcasters` before the reactor sees it.
    pub fn with_upcasters(mut self, upcasters: Upcasters) -> Self {
        self.upcasters = upcasters;
        self
    }

    /// Works its partitions as `tuning` says.
    pub fn with_tuning(mut self, tuning: super::Tuning) -> Self {
        self.tuning = tuning;
        self
    }

    /// Treats records it cannot get past as `on_poison` says.
    pub fn with_poison_policy(mut self, on_poison: OnPoison) -> Self {
        self.on_poison = on_poison;
        self
    }

    /// Joins the reactor's group and runs until `shutdown`.
    pub async fn run(self, shutdown: Shutdown) -> Result<(), CoordinatorError> {
        let group = self.reactor.group();
        self.states.joining(&group);
        let mut membership = self.log.join_events(&group, &self.reactor.domains()).await?;
        tracing::info!(group, "event consumer joined");
        let mut tasks: HashMap<PartitionId, (Shutdown, JoinHandle<()>)> = HashMap::new();
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
                Some(Assignment::Assigned(partition)) => {
                    let id = partition.id().clone();
                    let stop = shutdown.child();
                    let (reactor, task_stop, task_id) = (self.reactor.clone(), stop.clone(), id.clone());
                    let (upcasters, states, on_poison, tuning) =
                        (self.upcasters.clone(), self.states.clone(), self.on_poison, self.tuning);
                    let (died, task_group) = (died_tx.clone(), group.clone());
                    let handle = crate::supervisor::spawn_task(&group, id.clone(), died_tx.clone(), async move {
                        // Only the poison policy `stop` ends a task with an error.
                        if let Err(e) =
                            task::run(partition, reactor, upcasters, on_poison, tuning, task_stop, states).await
                        {
                            tracing::error!(group = task_group, partition = %task_id, error = %e,
                                "stopping the process: a record its poison policy stops for");
                            let _ = died.send(crate::supervisor::Died {
                                group: task_group,
                                partition: task_id,
                                reason: e.to_string(),
                            });
                        }
                    });
                    if let Some((old, _)) = tasks.insert(id, (stop, handle)) {
                        old.trigger();
                    }
                }
                Some(Assignment::Settled) => self.states.settled(&group),
                Some(Assignment::Revoked(id, ack)) => {
                    if let Some((stop, handle)) = tasks.remove(&id) {
                        stop.trigger();
                        let _ = handle.await;
                    }
                    let _ = ack.send(());
                }
                None => break,
            }
        }
        for (_, (stop, handle)) in tasks.drain() {
            stop.trigger();
            let _ = handle.await;
        }
        membership.leave().await;
        tracing::info!(group, "event consumer left");
        failure.map_or(Ok(()), Err)
    }
}
