//! One owned commands partition: its records in, one transaction per batch out.
//!
//! The transactional producer's `transactional.id` is the partition's own
//! (`<prefix>.<group>.<domain>.<p>`), so `init_transactions` on assignment
//! fences any previous owner and aborts its open transaction before we read
//! the partition's state — a zombie's writes can never become visible.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::Message as _;
use rdkafka::message::OwnedMessage;
use tokio::sync::mpsc;

use angzarr_topology::names::TopicKind;
use angzarr_topology::partitioner::{partition_for, root_key};
use prost::Message as _;

use super::group::{Control, Handed};
use super::records::{self, RESTORE_FROM_KEY};
use super::txn::{self, Consumed, GroupMeta, Out};
use super::{KafkaConfig, restore};
use crate::log::PartitionLog;
use crate::record::{CommandEnvelope, PartitionId, RecentRequest, TxBatch};
use crate::{LogError, Result};
use angzarr_proto::angzarr::{Cover, EventBook};

/// Partition counts of the topics a partition owner writes besides its own.
#[derive(Clone)]
pub(super) struct Counts {
    /// `_replies`.
    pub replies: u32,
    /// `_rejections`.
    pub rejections: u32,
    /// The commands topics a process manager may command, by domain.
    pub commands: Arc<std::collections::HashMap<String, u32>>,
}

pub(super) struct KafkaPartition {
    config: KafkaConfig,
    id: PartitionId,
    transactional_id: String,
    records: mpsc::Receiver<OwnedMessage>,
    control: std::sync::mpsc::Sender<Control>,
    /// The consumer group's id (its committed offsets are where a rewind goes).
    group_id: String,
    consumer: Arc<dyn GroupMeta>,
    producer: Option<Arc<super::txn::TxProducer>>,
    counts: Counts,
    /// Offset of the last command handed out; older ones are duplicates.
    last_offset: Option<i64>,
    /// Whether a restore ran before: a second one re-initialises and rewinds.
    restored: bool,
}

impl KafkaPartition {
    pub(super) fn new(config: KafkaConfig, group: &str, handed: Handed, counts: Counts) -> Self {
        let id = handed.id;
        let transactional_id = format!("{}.{}.{}.{}", config.topics.prefix(), group, id.domain, id.partition);
        KafkaPartition {
            config,
            id,
            transactional_id,
            records: handed.records,
            control: handed.control,
            group_id: handed.group_id,
            consumer: handed.group,
            producer: None,
            counts,
            last_offset: None,
            restored: false,
        }
    }

    fn topic(&self, kind: TopicKind) -> String {
        self.config.topics.name(&self.id.domain, kind)
    }

    /// Back to the group's committed offset, on a fresh route; what was
    /// buffered is dropped.
    async fn rewind(&mut self) -> Result<()> {
        let topic = self.topic(TopicKind::Commands);
        let rx =
            super::group::rewind(&self.config, &self.group_id, &topic, self.id.partition as i32, &self.control).await?;
        self.records = rx;
        self.last_offset = None;
        Ok(())
    }
}

#[async_trait]
impl PartitionLog for KafkaPartition {
    fn id(&self) -> &PartitionId {
        &self.id
    }

    async fn restore(&mut self) -> Result<crate::RestoreStream> {
        let again = std::mem::replace(&mut self.restored, true);
        if again {
            // After a failure: this producer is not used again; a new one fences it.
            self.producer = None;
        }
        if self.config.faults.take_for(&self.config.faults.restore_failures, self.id.partition) {
            return Err(LogError::Unavailable(format!("injected: restore of {} failed", self.id)));
        }
        let config = self.config.clone();
        let tid = self.transactional_id.clone();
        let started = std::time::Instant::now();
        // Fence first: only then is the partition's state final.
        let producer = tokio::task::spawn_blocking(move || txn::fenced_producer(&config, &tid))
            .await
            .map_err(|e| LogError::Unavailable(e.to_string()))??;
        self.producer = Some(Arc::new(producer));
        let fenced_after = started.elapsed();
        if again {
            // Back to the last committed command — read only now: once our
            // earlier producer is fenced, its transaction (and the offset it
            // carried) is committed or aborted for good.
            self.rewind().await?;
        }

        // Read on a blocking thread, streamed to the task as it is read
        // (the task builds its books from the chunks); the commands
        // partition resumes once everything was read.
        let (config, domain, p) = (self.config.clone(), self.id.domain.to_string(), self.id.partition);
        let (id, control, commands) = (self.id.clone(), self.control.clone(), self.topic(TopicKind::Commands));
        let (mut sink, stream) = crate::restore::channel();
        tokio::task::spawn_blocking(move || {
            match restore::stream_partition(&config, &domain, p, None, |item| sink.blocking_push(item)) {
                Err(e) => sink.blocking_fail(e),
                // Revoked while it was read: nobody to resume for.
                Ok(_) if !sink.blocking_finish() => {}
                Ok(stats) => {
                    tracing::info!(
                        partition = %id,
                        snapshot_records = stats.snapshot_records,
                        event_records = stats.event_records,
                        events_from = stats.events_from,
                        fenced_in = ?fenced_after,
                        elapsed = ?started.elapsed(),
                        "kafka partition restored"
                    );
                    metrics::counter!("angzarr.restore.records", "kind" => "snapshots")
                        .increment(stats.snapshot_records);
                    metrics::counter!("angzarr.restore.records", "kind" => "events").increment(stats.event_records);
                    let _ = control.send(Control::Resume(commands, p as i32));
                }
            }
        });
        Ok(stream)
    }

    async fn recent_requests(&mut self, window: Duration) -> Result<Vec<RecentRequest>> {
        if window.is_zero() {
            return Ok(Vec::new());
        }
        let (config, domain, p) = (self.config.clone(), self.id.domain.to_string(), self.id.partition);
        tokio::task::spawn_blocking(move || restore::recent_requests(&config, &domain, p, window))
            .await
            .map_err(|e| LogError::Unavailable(e.to_string()))?
    }

    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<CommandEnvelope>> {
        let first = match tokio::time::timeout(wait, self.records.recv()).await {
            Ok(Some(m)) => m,
            // Timeout, or the route closed (revoked): nothing to do now.
            Ok(None) | Err(_) => return Ok(Vec::new()),
        };
        let mut out = Vec::with_capacity(max.min(64));
        let mut next = Some(first);
        while let Some(msg) = next {
            if self.last_offset.is_none_or(|l| msg.offset() > l) {
                self.last_offset = Some(msg.offset());
                out.push(records::parse_command(&msg, &self.id.domain));
            }
            next = if out.len() < max { self.records.try_recv().ok() } else { None };
        }
        Ok(out)
    }

    async fn commit(&mut self, batch: TxBatch) -> Result<Vec<i64>> {
        let producer = self.producer.clone().ok_or_else(|| LogError::Unavailable("commit before restore".into()))?;
        let (events_t, snapshots_t) = (self.topic(TopicKind::Events), self.topic(TopicKind::Snapshots));
        let commands_t = self.topic(TopicKind::Commands);
        let (domain, p) = (self.id.domain.to_string(), self.id.partition as i32);
        let mut out = Vec::with_capacity(batch.events.len() + batch.snapshots.len() + batch.replies.len() + 1);
        for ev in &batch.events {
            out.push(Out {
                topic: events_t.clone(),
                partition: p,
                key: root_key(&ev.root),
                payload: ev.book.encode_to_vec(),
                headers: Some(records::event_headers(&domain, ev)),
                tracked: true,
            });
        }
        for s in &batch.snapshots {
            let value = EventBook {
                cover: Some(Cover { root: Some(s.root.into()), domain: domain.clone(), ..Default::default() }),
                snapshot: Some(s.snapshot.clone()),
                ..Default::default()
            };
            out.push(Out {
                topic: snapshots_t.clone(),
                partition: p,
                key: root_key(&s.root),
                payload: value.encode_to_vec(),
                headers: Some(records::snapshot_headers(&domain, &s.root, &s.snapshot)),
                tracked: false,
            });
        }
        if let Some(from) = batch.restore_from {
            out.push(Out {
                topic: snapshots_t.clone(),
                partition: p,
                key: RESTORE_FROM_KEY.to_string(),
                payload: from.to_string().into_bytes(),
                headers: None,
                tracked: false,
            });
        }
        for r in &batch.replies {
            let (payload, headers) = records::reply(&r.request_id, &r.outcome);
            out.push(Out {
                topic: self.config.topics.replies(),
                partition: partition_for(r.reply_to.as_bytes(), self.counts.replies) as i32,
                key: r.reply_to.clone(),
                payload,
                headers: Some(headers),
                tracked: false,
            });
        }
        for cmd in &batch.commands {
            out.push(Out::command(&self.config, &self.counts.commands, cmd)?);
        }
        for r in &batch.rejections {
            let key = root_key(&r.root);
            let (payload, headers) = records::rejection(r);
            out.push(Out {
                topic: self.config.topics.rejections(),
                partition: partition_for(key.as_bytes(), self.counts.rejections) as i32,
                key,
                payload,
                headers: Some(headers),
                tracked: false,
            });
        }
        let meta = self.consumer.clone();
        let consumed = batch.consumed_through;
        let (timeout, faults) = (self.config.transaction_timeout, self.config.faults.clone());
        let result = tokio::task::spawn_blocking(move || {
            let consumed = match consumed {
                Some(offset) => Some(Consumed {
                    topic: &commands_t,
                    partition: p,
                    next: offset + 1,
                    // Not a member now: nothing was sent, so nothing happened.
                    group: meta.group_metadata().ok_or_else(|| {
                        txn::Failure::Aborted("no consumer-group metadata (not a group member now)".into())
                    })?,
                }),
                None => None,
            };
            txn::run(&producer, out, consumed, timeout, &faults, p as u32)
        })
        .await
        .map_err(|e| LogError::OutcomeUnknown(self.id.to_string(), format!("transaction thread: {e}")))?;
        match result {
            Ok(offsets) => Ok(offsets),
            Err(failure) => {
                match failure {
                    // Nothing happened: the same commands come again.
                    txn::Failure::Aborted(_) => self.rewind().await?,
                    // A producer that failed this way is not used again.
                    txn::Failure::Fenced(_) | txn::Failure::Unknown(_) => self.producer = None,
                }
                Err(failure.into_log_error(&self.id))
            }
        }
    }
}
