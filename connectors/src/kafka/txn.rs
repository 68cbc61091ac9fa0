//! One Kafka transaction: some records, maybe consumer offsets, then commit.
//!
//! Shared by partition owners (events, snapshots, replies) and downstream
//! tasks (saga commands). Every failure is **classified**, never assumed:
//! - [`Failure::Fenced`]: another producer owns this `transactional.id`;
//!   the partition is someone else's now.
//! - [`Failure::Aborted`]: the transaction was aborted (we aborted it and
//!   the broker confirmed): nothing of it is visible, the batch may be
//!   decided again from the last commit.
//! - [`Failure::Unknown`]: it may or may not have committed — a commit that
//!   kept timing out, a fatal producer error, an abort that failed. The
//!   caller must drop the producer, re-initialise (which fences our own
//!   earlier epoch: the broker then completes or aborts that transaction,
//!   so the log's answer is final) and read the log before deciding again.
//!
//! A commit that times out is retried first, as librdkafka allows: a retry
//! of a commit that did complete reports success.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::faults::Faults;

/// Attempts of `commit_transaction` on a retriable error (a timeout).
const COMMIT_ATTEMPTS: u32 = 3;

/// How a transaction failed, as far as the producer can tell.
#[derive(Debug)]
pub enum Failure {
    /// Another producer with our `transactional.id` fenced us.
    Fenced(String),
    /// Aborted and confirmed: nothing of it is visible.
    Aborted(String),
    /// Committed or not, we cannot tell: re-initialise and read the log.
    Unknown(String),
}

impl Failure {
    /// The log's error for partition `id`.
    pub fn into_log_error(self, id: &crate::record::PartitionId) -> crate::LogError {
        use crate::LogError;
        match self {
            Failure::Fenced(e) => LogError::Fenced(id.to_string(), e),
            Failure::Aborted(e) => LogError::Aborted(id.to_string(), e),
            Failure::Unknown(e) => LogError::OutcomeUnknown(id.to_string(), e),
        }
    }
}

/// What one failed step of a transaction says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flags {
    pub code: RDKafkaErrorCode,
    pub fatal: bool,
    pub retriable: bool,
    pub requires_abort: bool,
}

impl Flags {
    fn of(e: &KafkaError) -> Flags {
        match e {
            KafkaError::Transaction(t) => Flags {
                code: t.code(),
                fatal: t.is_fatal(),
                retriable: t.is_retriable(),
                requires_abort: t.txn_requires_abort(),
            },
            other => Flags {
                code: other.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Fail),
                fatal: false,
                retriable: false,
                requires_abort: true,
            },
        }
    }

    fn fenced(&self) -> bool {
        const FENCED: [RDKafkaErrorCode; 3] =
            [RDKafkaErrorCode::ProducerFenced, RDKafkaErrorCode::InvalidProducerEpoch, RDKafkaErrorCode::Fenced];
        FENCED.contains(&self.code)
    }
}

/// What a failed commit means — a pure function of librdkafka's flags, so
/// the classification is tested without a broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CommitVerdict {
    /// Call `commit_transaction` again.
    Retry,
    /// Abort; if the abort is confirmed nothing happened.
    Abort,
    /// Fenced by another owner.
    Fenced,
    /// Committed or not: re-initialise and read the log.
    Unknown,
}

pub(crate) fn commit_verdict(f: Flags, attempt: u32) -> CommitVerdict {
    if f.fenced() {
        CommitVerdict::Fenced
    } else if f.fatal {
        CommitVerdict::Unknown
    } else if f.requires_abort {
        CommitVerdict::Abort
    } else if f.retriable && attempt < COMMIT_ATTEMPTS {
        CommitVerdict::Retry
    } else {
        // Retries spent, or an error librdkafka neither retries nor aborts.
        CommitVerdict::Unknown
    }
}

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
    /// Commits `next` as the group's offset of `topic`/`partition` without a
    /// transaction, waiting for the broker's answer (blocking). For a batch
    /// that wrote nothing: one round trip instead of a transaction's four.
    /// Synchronous on purpose: a later transactional commit of the same
    /// partition must not be overtaken by this one.
    fn commit_offset(&self, topic: &str, partition: i32, next: i64) -> std::result::Result<(), String>;
}

impl<C: rdkafka::consumer::ConsumerContext> GroupMeta for rdkafka::consumer::BaseConsumer<C> {
    fn group_metadata(&self) -> Option<ConsumerGroupMetadata> {
        rdkafka::consumer::Consumer::group_metadata(self)
    }

    fn commit_offset(&self, topic: &str, partition: i32, next: i64) -> std::result::Result<(), String> {
        let mut tpl = rdkafka::TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition, rdkafka::Offset::Offset(next)).map_err(|e| e.to_string())?;
        rdkafka::consumer::Consumer::commit(self, &tpl, rdkafka::consumer::CommitMode::Sync).map_err(|e| e.to_string())
    }
}

/// Runs one transaction (blocking; call from a blocking thread). Returns the
/// offsets of the tracked records, in order, or how it failed.
pub fn run(
    producer: &TxProducer,
    records: Vec<Out>,
    consumed: Option<Consumed<'_>>,
    timeout: Duration,
    faults: &Arc<Faults>,
    partition: u32,
) -> Result<Vec<i64>, Failure> {
    let outcome = run_once(producer, records, consumed, timeout, faults, partition);
    let label = match &outcome {
        Ok(_) => "committed",
        Err(Failure::Aborted(_)) => "aborted",
        Err(Failure::Fenced(_)) => "fenced",
        Err(Failure::Unknown(_)) => "unknown",
    };
    metrics::counter!(TRANSACTIONS, "log" => "kafka", "outcome" => label).increment(1);
    outcome
}

/// Counter of transactions by `outcome` (committed, aborted, fenced, unknown).
pub const TRANSACTIONS: &str = "angzarr.transactions";

fn run_once(
    producer: &TxProducer,
    records: Vec<Out>,
    consumed: Option<Consumed<'_>>,
    timeout: Duration,
    faults: &Arc<Faults>,
    partition: u32,
) -> Result<Vec<i64>, Failure> {
    // Injected commit faults meet transactions that append events.
    let faultable = records.iter().any(|r| r.tracked);
    if let Err(e) = producer.begin_transaction() {
        // Nothing was sent; a producer that cannot begin must be replaced.
        let f = Flags::of(&e);
        return Err(if f.fenced() {
            Failure::Fenced(e.to_string())
        } else if f.fatal {
            Failure::Unknown(format!("begin_transaction: {e}"))
        } else {
            Failure::Aborted(format!("begin_transaction: {e}"))
        });
    }
    let staged = (|| {
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
        Ok::<_, KafkaError>(offsets)
    })();
    let offsets = match staged {
        Ok(o) => o,
        Err(e) => return Err(abort(producer, &e.to_string(), Flags::of(&e), timeout)),
    };
    if faultable && faults.take_for(&faults.fatal_before_commit, partition) {
        // As a fatal error would: the transaction stays open in this
        // producer, which the caller must drop; re-initialising aborts it.
        return Err(Failure::Unknown("injected fatal producer error before commit".into()));
    }
    let mut attempt = 1;
    while let Err(f) = commit(producer, timeout) {
        let what = format!("commit_transaction: {:?}", f.code);
        match commit_verdict(f, attempt) {
            CommitVerdict::Retry => {
                tracing::warn!(attempt, code = ?f.code, "commit_transaction failed with a retriable error; retrying");
                attempt += 1;
            }
            CommitVerdict::Abort => return Err(abort(producer, &what, f, timeout)),
            CommitVerdict::Fenced => return Err(Failure::Fenced(what)),
            CommitVerdict::Unknown => return Err(Failure::Unknown(what)),
        }
    }
    if faultable && faults.take_for(&faults.unknown_after_commit, partition) {
        return Err(Failure::Unknown("injected: committed, then reported as unknown".into()));
    }
    Ok(offsets)
}

/// Aborts after `why`; the transaction only counts as aborted when the
/// broker confirmed the abort.
fn abort(producer: &TxProducer, why: &str, f: Flags, timeout: Duration) -> Failure {
    if f.fenced() {
        return Failure::Fenced(why.to_string());
    }
    if f.fatal {
        return Failure::Unknown(why.to_string());
    }
    for attempt in 1..=COMMIT_ATTEMPTS {
        match producer.abort_transaction(timeout) {
            Ok(()) => return Failure::Aborted(why.to_string()),
            Err(e) => {
                let af = Flags::of(&e);
                if af.fenced() {
                    return Failure::Fenced(format!("{why}; abort: {e}"));
                }
                if !af.retriable || af.fatal || attempt == COMMIT_ATTEMPTS {
                    return Failure::Unknown(format!("{why}; abort failed: {e}"));
                }
                tracing::warn!(attempt, error = %e, "abort_transaction failed with a retriable error; retrying");
            }
        }
    }
    Failure::Unknown(why.to_string())
}

/// `rd_kafka_commit_transaction`, called directly. rust-rdkafka's
/// `commit_transaction` first flushes by polling the producer from this
/// thread in 100 ms steps while the producer's own thread serves the queue:
/// any queued event (not only deliveries) then costs up to 100 ms per
/// transaction — measured as a 100 ms floor on latency under load.
/// librdkafka's own commit flushes too, and the producer's thread serves
/// the queue meanwhile.
fn commit(producer: &TxProducer, timeout: Duration) -> Result<(), Flags> {
    use rdkafka_sys as rdsys;
    let rk = producer.client().native_ptr();
    // SAFETY: `rk` is the live producer handle; the error is read then destroyed once.
    unsafe {
        let err = rdsys::rd_kafka_commit_transaction(rk, timeout.as_millis() as i32);
        if err.is_null() {
            return Ok(());
        }
        let flags = Flags {
            code: rdsys::rd_kafka_error_code(err).into(),
            fatal: rdsys::rd_kafka_error_is_fatal(err) != 0,
            retriable: rdsys::rd_kafka_error_is_retriable(err) != 0,
            requires_abort: rdsys::rd_kafka_error_txn_requires_abort(err) != 0,
        };
        let message = std::ffi::CStr::from_ptr(rdsys::rd_kafka_error_string(err)).to_string_lossy().into_owned();
        rdsys::rd_kafka_error_destroy(err);
        tracing::warn!(code = ?flags.code, fatal = flags.fatal, retriable = flags.retriable,
            requires_abort = flags.requires_abort, message, "commit_transaction");
        Err(flags)
    }
}

fn wait(d: rdkafka::producer::DeliveryFuture) -> Result<i64, KafkaError> {
    match futures::executor::block_on(d) {
        Ok(Ok(delivery)) => Ok(delivery.offset),
        Ok(Err((e, _))) => Err(e),
        Err(_) => Err(KafkaError::Canceled),
    }
}

/// A transactional producer; its errors name its transactional id.
pub type TxProducer = FutureProducer<super::client::Named>;

/// A transactional producer with `transactional_id`, fenced in: any previous
/// producer with the same id is fenced and its open transaction aborted.
pub fn fenced_producer(config: &super::KafkaConfig, transactional_id: &str) -> crate::Result<TxProducer> {
    use crate::LogError;
    let producer: TxProducer = super::client::transactional_producer(config, transactional_id)
        .create_with_context(super::client::Named(format!("producer {transactional_id}")))
        .map_err(|e| LogError::Config(format!("transactional producer {transactional_id}: {e}")))?;
    producer
        .init_transactions(Duration::from_secs(60))
        .map_err(|e| LogError::Unavailable(format!("init_transactions {transactional_id}: {e}")))?;
    Ok(producer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(code: RDKafkaErrorCode, fatal: bool, retriable: bool, requires_abort: bool) -> Flags {
        Flags { code, fatal, retriable, requires_abort }
    }

    #[test]
    fn a_commit_timeout_is_retried_then_unknown_never_assumed_aborted() {
        let timeout = flags(RDKafkaErrorCode::OperationTimedOut, false, true, false);
        assert_eq!(commit_verdict(timeout, 1), CommitVerdict::Retry);
        assert_eq!(commit_verdict(timeout, 2), CommitVerdict::Retry);
        assert_eq!(commit_verdict(timeout, COMMIT_ATTEMPTS), CommitVerdict::Unknown);
    }

    #[test]
    fn fatal_errors_are_unknown_unless_they_say_fenced() {
        assert_eq!(commit_verdict(flags(RDKafkaErrorCode::Fail, true, false, false), 1), CommitVerdict::Unknown);
        assert_eq!(commit_verdict(flags(RDKafkaErrorCode::Fenced, true, false, false), 1), CommitVerdict::Fenced);
        assert_eq!(
            commit_verdict(flags(RDKafkaErrorCode::ProducerFenced, false, false, false), 1),
            CommitVerdict::Fenced
        );
    }

    #[test]
    fn abortable_errors_abort_and_unclassified_ones_are_unknown() {
        let abortable = flags(RDKafkaErrorCode::MessageTimedOut, false, false, true);
        assert_eq!(commit_verdict(abortable, 1), CommitVerdict::Abort);
        // Neither retriable nor abortable nor fatal: we cannot tell what happened.
        assert_eq!(commit_verdict(flags(RDKafkaErrorCode::Fail, false, false, false), 1), CommitVerdict::Unknown);
    }
}
