//! The in-process bus: wakes partition tasks when commands arrive and hands
//! committed outcomes to the waiting gateway calls.

use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::{Notify, oneshot};

use crate::record::{CommandOutcome, PartitionId, Reply};

#[derive(Default)]
pub(super) struct Bus {
    wakeups: DashMap<PartitionId, Arc<Notify>>,
    waiting: DashMap<String, oneshot::Sender<CommandOutcome>>,
}

impl Bus {
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
