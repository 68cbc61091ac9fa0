//! One owned events partition, for a downstream group (projector, saga).
//!
//! Like a command partition, it has its own transactional producer with a
//! `transactional.id` derived from the group and partition: the commands a
//! saga produces and the group's consumer offset are one transaction, so a
//! reaction happens exactly once, and a zombie's reaction is fenced.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use prost::Message as _;
use rdkafka::Message as _;
use rdkafka::message::OwnedMessage;
use tokio::sync::mpsc;

use angzarr_topology::partitioner::partition_for;
use uuid::Uuid;

use angzarr_proto::angzarr::EventBook;
use angzarr_topology::names::TopicKind;

use super::group::{Control, Handed};
use super::txn::{self, Consumed, GroupMeta, Out};
use super::{KafkaConfig, records};
use crate::log::EventPartition;
use crate::record::{EventTx, PartitionId, StoredEvent, Undecodable, headers as h};
use crate::{LogError, Result};

pub(super) struct KafkaEventPartition {
    config: KafkaConfig,
    id: PartitionId,
    transactional_id: String,
    records: mpsc::Receiver<OwnedMessage>,
    control: std::sync::mpsc::Sender<Control>,
    /// The consumer group's id (its committed offsets are where a rewind goes).
    group_id: String,
    /// The group as the coordinator names it (`projector.bankroll`).
    group_name: String,
    group: Arc<dyn GroupMeta>,
    producer: Option<Arc<super::txn::TxProducer>>,
    /// Partition counts of the domains commands may be sent to.
    command_partitions: Arc<HashMap<String, u32>>,
    /// Partitions of the replies topic, where notices for gateways go.
    replies_partitions: u32,
    last_offset: Option<i64>,
    /// Whether this group's dead-letter topic is known to exist.
    dead_letter_topic: bool,
    /// Whether `start` ran before: a second one re-initialises and rewinds.
    started: bool,
}

impl KafkaEventPartition {
    pub(super) fn new(
        config: KafkaConfig,
        group: &str,
        handed: Handed,
        command_partitions: Arc<HashMap<String, u32>>,
        replies_partitions: u32,
    ) -> Self {
        let id = handed.id;
        let transactional_id = format!("{}.{}.{}.{}", config.topics.prefix(), group, id.domain, id.partition);
        KafkaEventPartition {
            config,
            id,
            transactional_id,
            records: handed.records,
            control: handed.control,
            group_id: handed.group_id,
            group_name: group.to_string(),
            group: handed.group,
            producer: None,
            command_partitions,
            replies_partitions,
            last_offset: None,
            dead_letter_topic: false,
            started: false,
        }
    }

    fn events_topic(&self) -> String {
        self.config.topics.name(&self.id.domain, TopicKind::Events)
    }

    /// Back to the group's committed offset, on a fresh route; what was
    /// buffered is dropped.
    async fn rewind(&mut self) -> Result<()> {
        let topic = self.events_topic();
        let rx =
            super::group::rewind(&self.config, &self.group_id, &topic, self.id.partition as i32, &self.control).await?;
        self.records = rx;
        self.last_offset = None;
        Ok(())
    }
}

/// An events record back as a [`StoredEvent`]; one that does not decode
/// comes back marked [`Undecodable`] (logged, counted) with its raw bytes,
/// for the consumer's poison policy.
pub(super) fn parse_event<M: rdkafka::Message>(msg: &M, domain: &str) -> StoredEvent {
    let poison = |reason: &str| {
        tracing::error!(
            topic = msg.topic(),
            partition = msg.partition(),
            offset = msg.offset(),
            reason,
            "undecodable event"
        );
        metrics::counter!("angzarr.records.undecodable", "topic" => msg.topic().to_string()).increment(1);
        StoredEvent {
            trace: None,
            domain: domain.to_string(),
            partition: msg.partition() as u32,
            offset: msg.offset(),
            root: Uuid::nil(),
            sequence: 0,
            correlation_id: records::header(msg, h::CORRELATION_ID).unwrap_or_default(),
            isolated: false,
            reply_to: None,
            book: EventBook::default(),
            undecodable: Some(Arc::new(Undecodable {
                reason: reason.to_string(),
                key: msg.key().unwrap_or_default().to_vec(),
                value: msg.payload().unwrap_or_default().to_vec(),
            })),
        }
    };
    let Some(root) = msg.key().and_then(|k| std::str::from_utf8(k).ok()).and_then(|k| Uuid::parse_str(k).ok()) else {
        return poison("key is not a UUID");
    };
    let book = match msg.payload().map(EventBook::decode) {
        Some(Ok(b)) => b,
        Some(Err(e)) => return poison(&format!("value is not an EventBook: {e}")),
        None => return poison("no value"),
    };
    let Some(sequence) = book.pages.first().and_then(|p| p.seq()) else {
        return poison("no page with a sequence");
    };
    StoredEvent {
        trace: records::header(msg, h::TRACEPARENT),
        domain: domain.to_string(),
        partition: msg.partition() as u32,
        offset: msg.offset(),
        root,
        sequence,
        correlation_id: records::header(msg, h::CORRELATION_ID).unwrap_or_default(),
        isolated: records::header(msg, h::ISOLATED).as_deref() == Some("true"),
        reply_to: records::header(msg, h::REPLY_TO),
        book,
        undecodable: None,
    }
}

#[async_trait]
impl EventPartition for KafkaEventPartition {
    fn id(&self) -> &PartitionId {
        &self.id
    }

    async fn start(&mut self) -> Result<()> {
        let again = std::mem::replace(&mut self.started, true);
        // After a failure this producer is not used again; a new one fences it.
        self.producer = None;
        if self.config.faults.take_for(&self.config.faults.restore_failures, self.id.partition) {
            return Err(LogError::Unavailable(format!("injected: start of {} failed", self.id)));
        }
        let (config, tid) = (self.config.clone(), self.transactional_id.clone());
        let producer = tokio::task::spawn_blocking(move || txn::fenced_producer(&config, &tid))
            .await
            .map_err(|e| LogError::Unavailable(e.to_string()))??;
        self.producer = Some(Arc::new(producer));
        if again {
            // Back to the group's last commit, read only once our earlier
            // producer is fenced and its transaction final.
            self.rewind().await?;
        }
        let _ = self.control.send(Control::Resume(self.events_topic(), self.id.partition as i32));
        Ok(())
    }

    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<StoredEvent>> {
        let first = match tokio::time::timeout(wait, self.records.recv()).await {
            Ok(Some(m)) => m,
            Ok(None) | Err(_) => return Ok(Vec::new()),
        };
        let mut out = Vec::new();
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(msg) = next {
            taken += 1;
            if self.last_offset.is_none_or(|l| msg.offset() > l) {
                self.last_offset = Some(msg.offset());
                out.push(parse_event(&msg, &self.id.domain));
            }
            next = if taken < max { self.records.try_recv().ok() } else { None };
        }
        Ok(out)
    }

    async fn commit(&mut self, tx: EventTx) -> Result<()> {
        let producer = self.producer.clone().ok_or_else(|| LogError::Unavailable("commit before start".into()))?;
        let mut out = tx
            .commands
            .iter()
            .map(|cmd| Out::command(&self.config, &self.command_partitions, cmd))
            .collect::<Result<Vec<_>>>()?;
        for (to, notice) in &tx.notices {
            if let Some((payload, headers)) = records::notice(notice) {
                out.push(Out {
                    topic: self.config.topics.replies(),
                    partition: partition_for(to.as_bytes(), self.replies_partitions) as i32,
                    key: to.clone(),
                    payload,
                    headers: Some(headers),
                    tracked: false,
                });
            }
        }
        if !tx.dead_letters.is_empty() {
            if !self.dead_letter_topic {
                // Nothing is open yet: failing here changes nothing.
                super::dlq::ensure_topic(&self.config, &self.group_name).await?;
                self.dead_letter_topic = true;
            }
            out.extend(tx.dead_letters.iter().map(|d| super::dlq::record(&self.config, &self.group_name, d)));
        }
        let (topic, p, group) = (self.events_topic(), self.id.partition as i32, self.group.clone());
        let consumed = tx.consumed_through;
        if out.is_empty() {
            // Nothing to write (a projector's batch, a saga's batch that sent
            // nothing): a plain offset commit. The group's generation fences a
            // member that lost the partition, as a transaction's would.
            let Some(offset) = consumed else { return Ok(()) };
            let committed = tokio::task::spawn_blocking(move || group.commit_offset(&topic, p, offset + 1))
                .await
                .map_err(|e| LogError::OutcomeUnknown(self.id.to_string(), format!("offset commit thread: {e}")))?;
            return match committed {
                Ok(()) => Ok(()),
                Err(e) => {
                    // Not committed (or not known to be): start again from
                    // the group's committed offset; redelivery is harmless.
                    self.rewind().await?;
                    Err(LogError::Aborted(self.id.to_string(), format!("offset commit: {e}")))
                }
            };
        }
        let (timeout, faults) = (self.config.transaction_timeout, self.config.faults.clone());
        let result = tokio::task::spawn_blocking(move || {
            let consumed = match consumed {
                Some(offset) => Some(Consumed {
                    topic: &topic,
                    partition: p,
                    next: offset + 1,
                    group: group.group_metadata().ok_or_else(|| {
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
            Ok(_) => Ok(()),
            Err(failure) => {
                match failure {
                    txn::Failure::Aborted(_) => self.rewind().await?,
                    txn::Failure::Fenced(_) | txn::Failure::Unknown(_) => self.producer = None,
                }
                Err(failure.into_log_error(&self.id))
            }
        }
    }
}
