//! One events partition of the embedded log, as a downstream task sees it.

use std::time::Duration;

use async_trait::async_trait;

use super::EmbeddedLog;
use crate::log::EventPartition;
use crate::record::{EventTx, PartitionId, StoredEvent};
use crate::{LogError, Result};

pub(super) struct EmbeddedEventPartition {
    log: EmbeddedLog,
    group: String,
    id: PartitionId,
    polled_through: i64,
    committed: i64,
}

impl EmbeddedEventPartition {
    pub(super) fn new(log: EmbeddedLog, group: String, id: PartitionId, committed: i64) -> Self {
        EmbeddedEventPartition { log, group, id, polled_through: committed, committed }
    }
}

#[async_trait]
impl EventPartition for EmbeddedEventPartition {
    fn id(&self) -> &PartitionId {
        &self.id
    }

    async fn start(&mut self) -> Result<()> {
        // Again after a failure: back to the last commit.
        self.polled_through = self.committed;
        Ok(())
    }

    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<StoredEvent>> {
        let wakeup = self.log.inner.bus.event_wakeup(&self.group, &self.id);
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let (domain, p, after) = (self.id.domain.to_string(), self.id.partition, self.polled_through);
            let batch = self.log.with_store(move |s| s.events_after(&domain, p, after, max)).await?;
            if let Some(last) = batch.last() {
                self.polled_through = last.offset;
                return Ok(batch);
            }
            if tokio::time::timeout_at(deadline, wakeup.notified()).await.is_err() {
                return Ok(Vec::new());
            }
        }
    }

    async fn commit(&mut self, mut tx: EventTx) -> Result<()> {
        let notices = std::mem::take(&mut tx.notices);
        let targets = self.log.route(&tx.commands)?;
        let partitions: Vec<u32> = targets.iter().map(|t| t.partition).collect();
        let (group, domain, p) = (self.group.clone(), self.id.domain.to_string(), self.id.partition);
        let consumed = tx.consumed_through;
        match self.log.with_store(move |s| s.commit_events(&group, &domain, p, &tx, &partitions)).await {
            Ok(()) => {
                if let Some(c) = consumed {
                    self.committed = c;
                }
                for t in targets {
                    self.log.inner.bus.commands_appended(&t);
                }
                self.log.inner.bus.notify(notices, &self.log.inner.instance_id);
                Ok(())
            }
            Err(e) => {
                // Rolled back: nothing happened; the next poll starts after the last commit.
                self.polled_through = self.committed;
                Err(match e {
                    e @ (LogError::UnknownDomain(_) | LogError::Conflict(_)) => e,
                    e => LogError::Aborted(self.id.to_string(), e.to_string()),
                })
            }
        }
    }
}
