//! One partition of the embedded log, as its owning task sees it.

use std::time::Duration;

use async_trait::async_trait;

use super::EmbeddedLog;
use crate::RestoreStream;
use crate::log::PartitionLog;
use crate::record::{CommandEnvelope, PartitionId, RecentRequest, StoredEvent, TxBatch};
use crate::{LogError, Result};

/// How many of a partition's latest events a new owner reads back for
/// request ids (the window bounds it further).
const RECENT_EVENTS: usize = 100_000;

pub(super) struct EmbeddedPartition {
    log: EmbeddedLog,
    group: String,
    id: PartitionId,
    /// Offset of the last command handed to the task (committed or in the open batch).
    polled_through: i64,
    /// Offset of the last command consumed by a successful commit.
    committed: i64,
}

impl EmbeddedPartition {
    pub(super) fn new(log: EmbeddedLog, group: String, id: PartitionId, committed: i64) -> Self {
        EmbeddedPartition { log, group, id, polled_through: committed, committed }
    }
}

#[async_trait]
impl PartitionLog for EmbeddedPartition {
    fn id(&self) -> &PartitionId {
        &self.id
    }

    async fn restore(&mut self) -> Result<RestoreStream> {
        // Again after a failure: back to the last committed command.
        self.polled_through = self.committed;
        let (domain, p) = (self.id.domain.to_string(), self.id.partition);
        self.log.with_store(move |s| s.restore(&domain, p)).await.map(RestoreStream::from_histories)
    }

    async fn recent_requests(&mut self, window: Duration) -> Result<Vec<RecentRequest>> {
        if window.is_zero() {
            return Ok(Vec::new());
        }
        let (domain, p) = (self.id.domain.to_string(), self.id.partition);
        let recent = self.log.with_store(move |s| s.recent_requests(&domain, p, RECENT_EVENTS)).await?;
        // Keep the window: pages carry the time they were stamped.
        let since = std::time::SystemTime::now().checked_sub(window);
        Ok(recent
            .into_iter()
            .filter(|r| {
                let at = r
                    .book
                    .pages
                    .last()
                    .and_then(|p| p.created_at)
                    .and_then(|t| std::time::SystemTime::try_from(t).ok());
                match (at, since) {
                    (Some(at), Some(since)) => at >= since,
                    _ => true,
                }
            })
            .collect())
    }

    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<CommandEnvelope>> {
        let wakeup = self.log.inner.bus.wakeup(&self.id);
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let (domain, p, after) = (self.id.domain.to_string(), self.id.partition, self.polled_through);
            let batch = self.log.with_store(move |s| s.commands_after(&domain, p, after, max)).await?;
            if let Some(last) = batch.last() {
                self.polled_through = last.offset;
                return Ok(batch);
            }
            if tokio::time::timeout_at(deadline, wakeup.notified()).await.is_err() {
                return Ok(Vec::new());
            }
        }
    }

    async fn commit(&mut self, batch: TxBatch) -> Result<Vec<i64>> {
        let (group, domain, p) = (self.group.clone(), self.id.domain.to_string(), self.id.partition);
        let TxBatch { events, snapshots, replies, commands, consumed_through, restore_from: _, rejections } = batch;
        let targets = self.log.route(&commands)?;
        let stored = TxBatch {
            events,
            snapshots,
            replies: Vec::new(),
            commands,
            consumed_through,
            restore_from: None,
            rejections,
        };
        let partitions: Vec<u32> = targets.iter().map(|t| t.partition).collect();
        match self
            .log
            .with_store(move |s| s.commit_batch(&group, &domain, p, &stored, &partitions).map(|o| (o, stored)))
            .await
        {
            Ok((offsets, stored)) => {
                if let Some(c) = consumed_through {
                    self.committed = c;
                }
                let committed: Vec<StoredEvent> = stored
                    .events
                    .into_iter()
                    .zip(&offsets)
                    .map(|(e, offset)| StoredEvent {
                        trace: e.trace,
                        domain: self.id.domain.to_string(),
                        partition: self.id.partition,
                        offset: *offset,
                        root: e.root,
                        sequence: e.sequence,
                        correlation_id: e.correlation_id,
                        isolated: e.isolated,
                        reply_to: e.reply_to,
                        book: e.book,
                        undecodable: None,
                    })
                    .collect();
                self.log.inner.bus.events_appended(&self.id, committed);
                self.log.inner.bus.deliver(replies, &self.log.inner.instance_id);
                for t in targets {
                    self.log.inner.bus.commands_appended(&t);
                }
                Ok(offsets)
            }
            Err(e) => {
                // SQLite rolled the transaction back: nothing happened, and
                // the next poll re-reads after the last commit. A conflict
                // means the task's books disagree with the file: it must
                // restore, so it is not reported as a plain abort.
                self.polled_through = self.committed;
                Err(match e {
                    e @ LogError::Conflict(_) => e,
                    e => LogError::Aborted(self.id.to_string(), e.to_string()),
                })
            }
        }
    }
}
