//! The in-process bus: wakes partition tasks when commands arrive and hands
//! committed outcomes to the waiting gateway calls.

use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::{Notify, oneshot};

use crate::record::{CommandOutcome, PartitionId, Reply, StoredEvent};

pub(super) struct Bus {
    wakeups: DashMap<PartitionId, Arc<Notify>>,
    event_wakeups: DashMap<(String, PartitionId), Arc<Notify>>,
    waiting: DashMap<String, oneshot::Sender<CommandOutcome>>,
    pub(super) tail: tokio::sync::broadcast::Sender<Arc<StoredEvent>>,
}

impl Default for Bus {
    fn default() -> Self {
        Bus {
            wakeups: DashMap::new(),
            event_wakeups: DashMap::new(),
            waiting: DashMap::new(),
            tail: tokio::sync::broadcast::channel(4096).0,
        }
    }
}

impl Bus {
    /// The wake-up signal of one group's task on an events partition.
    pub(super) fn event_wakeup(&self, group: &str, id: &PartitionId) -> Arc<Notify> {
        self.event_wakeups.entry((group.to_string(), id.clone())).or_default().clone()
    }

    /// New events on `id`: wake every group's task there, and feed the tail.
    pub(super) fn events_appended(&self, id: &PartitionId, events: Vec<StoredEvent>) {
        for entry in self.event_wakeups.iter() {
            if &entry.key().1 == id {
                entry.value().notify_one();
            }
        }
        for e in events {
            let _ = self.tail.send(Arc::new(e));
        }
    }

    /// The wake-up signal of a partition's task.
    pub(super) fn wakeup(&self, id: &PartitionId) -> Arc<Notify> {
        self.wakeups.entry(id.clone()).or_default().clone()
    }

    pub(super) fn commands_appended(&self, id: &PartitionId) {
        // notify_one stores a permit, so a task between polls still wakes.
        self.wakeup(id).notify_one();
    }

    pub(super) fn expect_reply(&self, request_id: &str) -> oneshot::Receiver<CommandOutcome> {
        let (tx, rx) = oneshot::channel();
        self.waiting.insert(request_id.to_string(), tx);
        rx
    }

    pub(super) fn forget_reply(&self, request_id: &str) {
        self.waiting.remove(request_id);
    }

    /// Delivers committed replies; a caller that gave up is simply gone.
    pub(super) fn deliver(&self, replies: Vec<Reply>) {
        for reply in replies {
            if let Some((_, tx)) = self.waiting.remove(&reply.request_id) {
                let _ = tx.send(reply.outcome);
            }
        }
    }
}
