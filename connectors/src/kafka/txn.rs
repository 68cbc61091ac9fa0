//! One Kafka transaction: some records, maybe consumer offsets, then commit.
//!
//! Shared by partition owners (events, snapshots, replies) and downstream
//! tasks (saga commands). Errors are classified once: a fenced producer
//! means the partition is someone else's now; anything else aborts the
//! transaction and may be retried from the last commit.

use std::time::Duration;

use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

/// A record to produce in the transaction.
pub struct Out {
    pub topic: String,
    pub partition: i32,
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: Option<OwnedHeaders>,
    /// Whether the caller wants this record's offset back.
    pub tracked: bool,
}

impl Out {
    /// A command for its domain's commands topic, partitioned by root like
    /// every producer of that topic — what sagas and process managers emit.
    pub fn command(
        config: &super::KafkaConfig,
        partitions: &std::collections::HashMap<String, u32>,
        cmd: &crate::record::CommandEnvelope,
    ) -> crate::Result<Out> {
        use angzarr_topology::names::TopicKind;
        use angzarr_topology::partitioner::{partition_for, root_key};
        let n = *partitions.get(&cmd.domain).ok_or_else(|| crate::LogError::UnknownDomain(cmd.domain.clone()))?;
        let key = root_key(&cmd.root);
        Ok(Out {
            topic: config.topics.name(&cmd.domain, TopicKind::Commands),
            partition: partition_for(key.as_bytes(), n) as i32,
            key,
            payload: cmd.book.clone(),
            headers: Some(super::records::command_headers(cmd)),
            tracked: false,
        })
    }
}

/// Consumer offsets to commit with the transaction.
pub struct Consumed<'a> {
    pub topic: &'a str,
    pub partition: i32,
    /// The next offset to consume.
    pub next: i64,
    pub group: ConsumerGroupMetadata,
}

/// What a group member can tell a transaction: its current group metadata.
pub trait GroupMeta: Send + Sync {
    /// Current generation and member id, for KIP-447 fencing of offsets.
    fn group_metadata(&self) -> Option<ConsumerGroupMetadata>;
}

impl<C: rdkafka::consumer::ConsumerContext> GroupMeta for rdkafka::consumer::BaseConsumer<C> {
    fn group_metadata(&self) -> Option<ConsumerGroupMetadata> {
        rdkafka::consumer::Consumer::group_metadata(self)
    }
}

/// Whether an error means another producer owns this `transactional.id` now.
pub fn fenced(e: &KafkaError) -> bool {
    const FENCED: [RDKafkaErrorCode; 3] =
        [RDKafkaErrorCode::ProducerFenced, RDKafkaErrorCode::InvalidProducerEpoch, RDKafkaErrorCode::Fenced];
    match e {
        KafkaError::Transaction(t) => t.is_fatal() || FENCED.contains(&t.code()),
        other => other.rdkafka_error_code().is_some_and(|c| FENCED.contains(&c)),
    }
}

/// Runs one transaction (blocking; call from a blocking thread). Returns the
/// offsets of the tracked records, in order. On failure the transaction is
/// aborted (unless fenced, when there is nothing left to abort).
pub fn run(
    producer: &FutureProducer,
    records: Vec<Out>,
    consumed: Option<Consumed<'_>>,
    timeout: Duration,
) -> Result<Vec<i64>, KafkaError> {
    producer.begin_transaction()?;
    let result = (|| {
        let mut tracked = Vec::new();
        let mut others = Vec::new();
        for r in &records {
            let mut rec = FutureRecord::to(&r.topic).partition(r.partition).key(&r.key).payload(&r.payload);
            if let Some(h) = &r.headers {
                rec = rec.headers(h.clone());
            }
            let delivery = producer.send_result(rec).map_err(|(e, _)| e)?;
            if r.tracked { tracked.push(delivery) } else { others.push(delivery) }
        }
        if let Some(c) = consumed {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(c.topic, c.partition, Offset::Offset(c.next))?;
            producer.send_offsets_to_transaction(&tpl, &c.group, timeout)?;
        }
        let mut offsets = Vec::with_capacity(tracked.len());
        for d in tracked {
            offsets.push(wait(d)?);
        }
        for d in others {
            wait(d)?;
        }
        commit(producer, timeout)?;
        Ok(offsets)
    })();
    if let Err(e) = &result
        && !fenced(e)
        && let Err(abort) = producer.abort_transaction(timeout)
    {
        tracing::warn!(error = %abort, "abort_transaction");
    }
    result
}

/// `rd_kafka_commit_transaction`, called directly. rust-rdkafka's
/// `commit_transaction` first flushes by polling the producer from this
/// thread in 100 ms steps while the producer's own thread serves the queue:
/// any queued event (not only deliveries) then costs up to 100 ms per
/// transaction — measured as a 100 ms floor on latency under load.
/// librdkafka's own commit flushes too, and the producer's thread serves
/// the queue meanwhile.
fn commit(producer: &FutureProducer, timeout: Duration) -> Result<(), KafkaError> {
    use rdkafka_sys as rdsys;
    let rk = producer.client().native_ptr();
    // SAFETY: `rk` is the live producer handle; the error is read then destroyed once.
    unsafe {
        let err = rdsys::rd_kafka_commit_transaction(rk, timeout.as_millis() as i32);
        if err.is_null() {
            return Ok(());
        }
        let code: RDKafkaErrorCode = rdsys::rd_kafka_error_code(err).into();
        let fatal = rdsys::rd_kafka_error_is_fatal(err) != 0;
        let message = std::ffi::CStr::from_ptr(rdsys::rd_kafka_error_string(err)).to_string_lossy().into_owned();
        rdsys::rd_kafka_error_destroy(err);
        tracing::warn!(?code, fatal, message, "commit_transaction");
        // A fatal error leaves the producer unusable: treat it as fenced.
        Err(KafkaError::MessageProduction(if fatal { RDKafkaErrorCode::Fenced } else { code }))
    }
}

fn wait(d: rdkafka::producer::DeliveryFuture) -> Result<i64, KafkaError> {
    match futures::executor::block_on(d) {
        Ok(Ok(delivery)) => Ok(delivery.offset),
        Ok(Err((e, _))) => Err(e),
        Err(_) => Err(KafkaError::Canceled),
    }
}

/// A transactional producer with `transactional_id`, fenced in: any previous
/// producer with the same id is fenced and its open transaction aborted.
pub fn fenced_producer(config: &super::KafkaConfig, transactional_id: &str) -> crate::Result<FutureProducer> {
    use crate::LogError;
    let producer: FutureProducer = super::client::transactional_producer(config, transactional_id)
        .create()
        .map_err(|e| LogError::Config(format!("transactional producer {transactional_id}: {e}")))?;
    producer
        .init_transactions(Duration::from_secs(60))
        .map_err(|e| LogError::Unavailable(format!("init_transactions {transactional_id}: {e}")))?;
    Ok(producer)
}
