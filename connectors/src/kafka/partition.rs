//! One owned commands partition: its records in, one transaction per batch out.
//!
//! The transactional producer's `transactional.id` is the partition's own
//! (`<prefix>.<group>.<domain>.<p>`), so `init_transactions` on assignment
//! fences any previous owner and aborts its open transaction before we read
//! the partition's state — a zombie's writes can never become visible.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::consumer::Consumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::OwnedMessage;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Message as _, Offset, TopicPartitionList};
use tokio::sync::mpsc;

use angzarr_topology::names::TopicKind;
use angzarr_topology::partitioner::{partition_for, root_key};
use prost::Message as _;

use super::group::{Control, GroupConsumer};
use super::records::{self, RESTORE_FROM_KEY};
use super::{KafkaConfig, client, restore};
use crate::log::PartitionLog;
use crate::record::{AggregateHistory, CommandEnvelope, PartitionId, TxBatch};
use crate::{LogError, Result};

pub(super) struct KafkaPartition {
    config: KafkaConfig,
    id: PartitionId,
    transactional_id: String,
    records: mpsc::Receiver<OwnedMessage>,
    control: std::sync::mpsc::Sender<Control>,
    consumer: Arc<GroupConsumer>,
    producer: Option<Arc<FutureProducer>>,
    replies_partitions: u32,
    /// Offset of the last command handed out; older ones are duplicates.
    last_offset: Option<i64>,
}

impl KafkaPartition {
    pub(super) fn new(
        config: KafkaConfig,
        group: &str,
        id: PartitionId,
        records: mpsc::Receiver<OwnedMessage>,
        control: std::sync::mpsc::Sender<Control>,
        consumer: Arc<GroupConsumer>,
        replies_partitions: u32,
    ) -> Self {
        let transactional_id = format!("{}.{}.{}.{}", config.topics.prefix(), group, id.domain, id.partition);
        KafkaPartition {
            config,
            id,
            transactional_id,
            records,
            control,
            consumer,
            producer: None,
            replies_partitions,
            last_offset: None,
        }
    }

    fn topic(&self, kind: TopicKind) -> String {
        self.config.topics.name(&self.id.domain, kind)
    }

    /// After a failed commit: the dispatcher seeks back to the committed
    /// offset and feeds a fresh route; what was buffered is dropped.
    fn rewind(&mut self) {
        let (tx, rx) = mpsc::channel(4096);
        self.records = rx;
        self.last_offset = None;
        let _ = self.control.send(Control::Rewind(self.topic(TopicKind::Commands), self.id.partition as i32, tx));
    }
}

fn fenced(e: &KafkaError) -> bool {
    match e {
        KafkaError::Transaction(t) => {
            t.is_fatal()
                || matches!(
                    t.code(),
                    RDKafkaErrorCode::ProducerFenced
                        | RDKafkaErrorCode::InvalidProducerEpoch
                        | RDKafkaErrorCode::Fenced
                )
        }
        other => matches!(
            other.rdkafka_error_code(),
            Some(RDKafkaErrorCode::ProducerFenced | RDKafkaErrorCode::InvalidProducerEpoch | RDKafkaErrorCode::Fenced)
        ),
    }
}

#[async_trait]
impl PartitionLog for KafkaPartition {
    fn id(&self) -> &PartitionId {
        &self.id
    }

    async fn restore(&mut self) -> Result<Vec<AggregateHistory>> {
        let config = self.config.clone();
        let tid = self.transactional_id.clone();
        let started = std::time::Instant::now();
        // Fence first: only then is the partition's state final.
        let producer = tokio::task::spawn_blocking(move || -> Result<FutureProducer> {
            let producer: FutureProducer = client::transactional_producer(&config, &tid)
                .create()
                .map_err(|e| LogError::Config(format!("transactional producer {tid}: {e}")))?;
            producer
                .init_transactions(Duration::from_secs(60))
                .map_err(|e| LogError::Unavailable(format!("init_transactions {tid}: {e}")))?;
            Ok(producer)
        })
        .await
        .map_err(|e| LogError::Unavailable(e.to_string()))??;
        self.producer = Some(Arc::new(producer));
        let fenced_after = started.elapsed();

        let (config, domain, p) = (self.config.clone(), self.id.domain.to_string(), self.id.partition);
        let (histories, stats) =
            tokio::task::spawn_blocking(move || restore::read_partition_with_stats(&config, &domain, p, None))
                .await
                .map_err(|e| LogError::Unavailable(e.to_string()))??;
        tracing::info!(
            partition = %self.id,
            aggregates = histories.len(),
            snapshot_records = stats.snapshot_records,
            event_records = stats.event_records,
            events_from = stats.events_from,
            fenced_in = ?fenced_after,
            elapsed = ?started.elapsed(),
            "kafka partition restored"
        );
        metrics::counter!("angzarr.restore.records", "kind" => "snapshots").increment(stats.snapshot_records);
        metrics::counter!("angzarr.restore.records", "kind" => "events").increment(stats.event_records);
        let _ = self.control.send(Control::Resume(self.topic(TopicKind::Commands), p as i32));
        Ok(histories)
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
        let (events_t, snapshots_t, commands_t) =
            (self.topic(TopicKind::Events), self.topic(TopicKind::Snapshots), self.topic(TopicKind::Commands));
        let replies_t = self.config.topics.replies();
        let (domain, p, replies_n) = (self.id.domain.to_string(), self.id.partition as i32, self.replies_partitions);
        let consumer = self.consumer.clone();
        let timeout = self.config.transaction_timeout;
        let result = tokio::task::spawn_blocking(move || -> std::result::Result<Vec<i64>, KafkaError> {
            producer.begin_transaction()?;
            let sent = (|| -> std::result::Result<Vec<i64>, KafkaError> {
                let mut deliveries = Vec::with_capacity(batch.events.len());
                let mut other = Vec::new();
                for ev in &batch.events {
                    let key = root_key(&ev.root);
                    let value = ev.book.encode_to_vec();
                    let rec = FutureRecord::to(&events_t)
                        .partition(p)
                        .key(&key)
                        .payload(&value)
                        .headers(records::event_headers(&domain, ev));
                    deliveries.push(producer.send_result(rec).map_err(|(e, _)| e)?);
                }
                for s in &batch.snapshots {
                    let key = root_key(&s.root);
                    let value = angzarr_proto::angzarr::EventBook {
                        cover: Some(angzarr_proto::angzarr::Cover {
                            root: Some(s.root.into()),
                            domain: domain.clone(),
                            ..Default::default()
                        }),
                        snapshot: Some(s.snapshot.clone()),
                        ..Default::default()
                    }
                    .encode_to_vec();
                    let rec = FutureRecord::to(&snapshots_t)
                        .partition(p)
                        .key(&key)
                        .payload(&value)
                        .headers(records::snapshot_headers(&domain, &s.root, &s.snapshot));
                    other.push(producer.send_result(rec).map_err(|(e, _)| e)?);
                }
                if let Some(from) = batch.restore_from {
                    let value = from.to_string();
                    let rec = FutureRecord::to(&snapshots_t).partition(p).key(RESTORE_FROM_KEY).payload(&value);
                    other.push(producer.send_result(rec).map_err(|(e, _)| e)?);
                }
                for r in &batch.replies {
                    let (value, headers) = records::reply(&r.request_id, &r.outcome);
                    let rp = partition_for(r.reply_to.as_bytes(), replies_n) as i32;
                    let rec =
                        FutureRecord::to(&replies_t).partition(rp).key(&r.reply_to).payload(&value).headers(headers);
                    other.push(producer.send_result(rec).map_err(|(e, _)| e)?);
                }
                if let Some(offset) = batch.consumed_through {
                    let mut tpl = TopicPartitionList::new();
                    tpl.add_partition_offset(&commands_t, p, Offset::Offset(offset + 1))?;
                    let metadata = consumer
                        .group_metadata()
                        .ok_or(KafkaError::ConsumerCommit(RDKafkaErrorCode::UnknownMemberId))?;
                    producer.send_offsets_to_transaction(&tpl, &metadata, timeout)?;
                }
                // Wait for the appends ourselves: rust-rdkafka's commit flushes
                // by polling in 100 ms steps, which alone would cost 100 ms per
                // transaction. With nothing outstanding its flush returns at once.
                let mut offsets = Vec::with_capacity(deliveries.len());
                for d in deliveries {
                    match futures::executor::block_on(d) {
                        Ok(Ok(delivery)) => offsets.push(delivery.offset),
                        Ok(Err((e, _))) => return Err(e),
                        Err(_) => return Err(KafkaError::Canceled),
                    }
                }
                for d in other {
                    match futures::executor::block_on(d) {
                        Ok(Ok(_)) => {}
                        Ok(Err((e, _))) => return Err(e),
                        Err(_) => return Err(KafkaError::Canceled),
                    }
                }
                producer.commit_transaction(timeout)?;
                Ok(offsets)
            })();
            match sent {
                Ok(offsets) => Ok(offsets),
                Err(e) => {
                    if !fenced(&e) {
                        if let Err(abort) = producer.abort_transaction(timeout) {
                            tracing::warn!(error = %abort, "abort_transaction");
                        }
                    }
                    Err(e)
                }
            }
        })
        .await
        .map_err(|e| LogError::Unavailable(e.to_string()))?;
        match result {
            Ok(offsets) => Ok(offsets),
            Err(e) if fenced(&e) => {
                self.producer = None;
                Err(LogError::Fenced(self.id.to_string(), e.to_string()))
            }
            Err(e) => {
                self.rewind();
                Err(LogError::Unavailable(format!("transaction on {}: {e}", self.id)))
            }
        }
    }
}
