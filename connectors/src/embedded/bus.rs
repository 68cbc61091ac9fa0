//! The in-process bus: wakes partition tasks when commands arrive and hands
//! committed outcomes to the waiting gateway calls.

use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::{Notify, oneshot};

use crate::record::{CommandOutcome, Notice, PartitionId, Reply, StoredEvent};

pub(super) struct Bus {
    wakeups: DashMap<PartitionId, Arc<Notify>>,
    event_wakeups: DashMap<(String, PartitionId), Arc<Notify>>,
    waiting: DashMap<String, oneshot::Sender<CommandOutcome>>,
    pub(super) tail: tokio::sync::broadcast::Sender<Arc<StoredEvent>>,
    pub(super) notices: tokio::sync::broadcast::Sender<Arc<Notice>>,
}

impl Default for Bus {
    fn default() -> Self {
        Bus {
            wakeups: DashMap::new(),
            event_wakeups: DashMap::new(),
            waiting: DashMap::new(),
            tail: tokio::sync::broadcast::channel(4096).0,
            notices: tokio::sync::broadcast::channel(16 * 1024).0,
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
    /// A reply to this process nobody waits for (a saga's command in a
    /// CASCADE) becomes a `Decided` notice.
    pub(super) fn deliver(&self, replies: Vec<Reply>, instance: &str) {
        for reply in replies {
            match self.waiting.remove(&reply.request_id) {
                Some((_, tx)) => {
                    let _ = tx.send(reply.outcome);
                }
                None if reply.reply_to == instance => {
                    let _ = self
                        .notices
                        .send(Arc::new(Notice::Decided { request_id: reply.request_id, outcome: reply.outcome }));
                }
                None => {}
            }
        }
    }

    /// Delivers committed notices addressed to this process.
    pub(super) fn notify(&self, notices: Vec<(String, Notice)>, instance: &str) {
        for (to, notice) in notices {
            if to == instance {
                let _ = self.notices.send(Arc::new(notice));
            }
        }
    }
}
