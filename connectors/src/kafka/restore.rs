//! Restore: a partition's aggregates from the snapshots topic plus the
//! events tail, never a replay of the whole history when snapshots exist.
//!
//! The snapshots partition is compacted: one record per root (its latest
//! snapshot) plus the `__restore_from` record, the offset before which
//! every event of the partition is covered by some snapshot. Events are read
//! from there. So restore reads live roots plus the events since the oldest
//! uncovered one — which the partition owner keeps close to the head by
//! snapshotting idle aggregates.

use std::time::{Duration, Instant};

use prost::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message as _, Offset, TopicPartitionList};
use uuid::Uuid;

use angzarr_proto::angzarr::EventBook;
use angzarr_topology::names::TopicKind;

use super::records::RESTORE_FROM_KEY;
use super::{KafkaConfig, client};
use crate::record::{AggregateHistory, Encoded};
use crate::restore::{Histories, Restored};
use crate::{LogError, Result};

/// What a restore read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestoreStats {
    /// Records read from the snapshots partition.
    pub snapshot_records: u64,
    /// Records read from the events partition.
    pub event_records: u64,
    /// The events offset reading started at.
    pub events_from: i64,
}

/// Reads `topic[partition]` from `from` to its end (the last stable offset,
/// under `read_committed`), calling `each` per record.
pub(super) fn read_to_end(
    consumer: &BaseConsumer<client::QuietEof>,
    topic: &str,
    partition: u32,
    from: Offset,
    mut each: impl FnMut(&BorrowedMessage<'_>),
) -> Result<u64> {
    read_while(consumer, topic, partition, from, |msg| {
        each(msg);
        true
    })
}

/// Waits until no transaction that was open when this was called still
/// hides part of `topic[partition]`: its last stable offset (what a
/// `read_committed` reader stops at) has reached the log end captured
/// first. Without this, a restore that ran while some transaction was
/// still open — one whose commit was acknowledged just before a broker
/// crash, say, with its markers written only after the restart — stops
/// short of committed events and decides their sequences again (seen as
/// duplicate sequences after a broker kill -9 under load). Kafka Streams'
/// exactly-once restore waits the same way (KAFKA-10167).
fn wait_until_stable(
    committed: &BaseConsumer<client::QuietEof>,
    probe: &BaseConsumer<client::QuietEof>,
    topic: &str,
    partition: u32,
) -> Result<()> {
    let timeout = Duration::from_secs(10);
    let unavailable = |what: &str, e: KafkaError| LogError::Unavailable(format!("{what} of {topic}[{partition}]: {e}"));
    let (_, end) = probe.fetch_watermarks(topic, partition as i32, timeout).map_err(|e| unavailable("log end", e))?;
    let started = Instant::now();
    let mut said = None::<Instant>;
    loop {
        // Under read_committed, the latest offset Kafka lists is the LSO.
        let (_, stable) = committed
            .fetch_watermarks(topic, partition as i32, timeout)
            .map_err(|e| unavailable("last stable offset", e))?;
        if stable >= end {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(120) {
            return Err(LogError::Unavailable(format!(
                "{topic}[{partition}]: a transaction has held the last stable offset at {stable} (log end {end}) for 120 s, \
                 longer than any transaction timeout: a hanging transaction (`kafka-transactions.sh find-hanging \
                 --broker-id N` lists it; `kafka-transactions.sh abort --topic {topic} --partition {partition} \
                 --start-offset {stable}` ends it); the partition is not served until it ends"
            )));
        }
        // Said after a second, then every 10 s: a wait is news, not noise.
        if started.elapsed() > Duration::from_secs(1) && said.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
            said = Some(Instant::now());
            tracing::info!(topic, partition, stable, end, waited = ?started.elapsed(),
                "waiting for an open transaction before reading the partition");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A consumer whose listed latest offset is the log end (see
/// [`wait_until_stable`]).
fn log_end_probe(config: &KafkaConfig) -> Result<BaseConsumer<client::QuietEof>> {
    client::uncommitted_probe(config)
        .create_with_context(client::QuietEof)
        .map_err(|e| LogError::Config(format!("log-end probe: {e}")))
}

/// [`read_to_end`], stopping early when `each` returns `false` (nobody
/// wants the rest: the partition was revoked while it was read).
fn read_while(
    consumer: &BaseConsumer<client::QuietEof>,
    topic: &str,
    partition: u32,
    from: Offset,
    mut each: impl FnMut(&BorrowedMessage<'_>) -> bool,
) -> Result<u64> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition as i32, from).map_err(|e| LogError::Config(e.to_string()))?;
    consumer.assign(&tpl).map_err(|e| LogError::Unavailable(format!("assigning {topic}[{partition}]: {e}")))?;
    let mut n = 0;
    let mut last_progress = Instant::now();
    loop {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(msg)) => {
                n += 1;
                last_progress = Instant::now();
                if !each(&msg) {
                    return Ok(n);
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) => return Ok(n),
            Some(Err(e)) => {
                return Err(LogError::Unavailable(format!("reading {topic}[{partition}]: {e}")));
            }
            None if last_progress.elapsed() > Duration::from_secs(60) => {
                return Err(LogError::Unavailable(format!("reading {topic}[{partition}]: no progress for 60 s")));
            }
            None => {}
        }
    }
}

/// Reads the aggregates of a partition (or only `only`) and hands each
/// snapshot and page to `each` as it is read — snapshots first, then the
/// events from the restore point, so a root's snapshot precedes its pages.
/// Nothing of the partition is gathered here: the receiver is the only
/// place it lives. Stops early (`Ok`) when `each` returns `false`.
pub fn stream_partition(
    config: &KafkaConfig,
    domain: &str,
    partition: u32,
    only: Option<Uuid>,
    mut each: impl FnMut(Restored) -> bool,
) -> Result<RestoreStats> {
    let consumer: BaseConsumer<client::QuietEof> = client::committed_reader(config)
        .create_with_context(client::QuietEof)
        .map_err(|e| LogError::Config(format!("restore reader: {e}")))?;
    let snapshots_topic = config.topics.name(domain, TopicKind::Snapshots);
    let events_topic = config.topics.name(domain, TopicKind::Events);
    let mut stats = RestoreStats::default();
    let mut restore_from: Option<i64> = None;
    let mut listening = true;
    let probe = log_end_probe(config)?;
    wait_until_stable(&consumer, &probe, &snapshots_topic, partition)?;
    wait_until_stable(&consumer, &probe, &events_topic, partition)?;

    stats.snapshot_records = read_while(&consumer, &snapshots_topic, partition, Offset::Beginning, |msg| {
        let key = msg.key().and_then(|k| std::str::from_utf8(k).ok()).unwrap_or_default();
        if key == RESTORE_FROM_KEY {
            restore_from = msg.payload().and_then(|p| std::str::from_utf8(p).ok()).and_then(|s| s.parse().ok());
            return true;
        }
        let Ok(root) = Uuid::parse_str(key) else {
            undecodable(msg, "key is not a UUID");
            return true;
        };
        if only.is_some_and(|o| o != root) {
            return true;
        }
        match msg.payload().map(EventBook::decode) {
            Some(Ok(EventBook { snapshot: Some(s), .. })) => {
                listening = each(Restored::Snapshot { root, snapshot: Encoded::snapshot(&s) });
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => undecodable(msg, &e.to_string()),
            None => {} // a tombstone: the snapshot was deleted
        }
        listening
    })?;
    if !listening {
        return Ok(stats);
    }

    stats.events_from = restore_from.unwrap_or(0);
    let from = restore_from.map_or(Offset::Beginning, Offset::Offset);
    stats.event_records = read_while(&consumer, &events_topic, partition, from, |msg| {
        let Some(root) = msg.key().and_then(|k| std::str::from_utf8(k).ok()).and_then(|k| Uuid::parse_str(k).ok())
        else {
            undecodable(msg, "key is not a UUID");
            return true;
        };
        if only.is_some_and(|o| o != root) {
            return true;
        }
        let book = match msg.payload().map(EventBook::decode) {
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                undecodable(msg, &e.to_string());
                return true;
            }
            None => {
                undecodable(msg, "no value");
                return true;
            }
        };
        // Covered and repeated pages are dropped by the receiver
        // (`restore::extends`), which knows the root's book.
        for page in book.pages.iter().filter_map(Encoded::page) {
            if !each(Restored::Page { root, offset: Some(msg.offset()), page }) {
                return false;
            }
        }
        true
    })?;
    Ok(stats)
}

/// The aggregates of a partition (or only `only`), gathered, with what was
/// read — for point reads and tests; a partition owner streams instead.
pub fn read_partition_with_stats(
    config: &KafkaConfig,
    domain: &str,
    partition: u32,
    only: Option<Uuid>,
) -> Result<(Vec<AggregateHistory>, RestoreStats)> {
    let mut gathered = Histories::default();
    let stats = stream_partition(config, domain, partition, only, |item| {
        gathered.add(item);
        true
    })?;
    Ok((gathered.into_vec(), stats))
}

/// Every page of `root`, from the start of its events partition: no
/// snapshot, no restore point — the aggregate's whole past.
pub fn read_history(config: &KafkaConfig, domain: &str, partition: u32, root: Uuid) -> Result<AggregateHistory> {
    let consumer: BaseConsumer<client::QuietEof> = client::committed_reader(config)
        .create_with_context(client::QuietEof)
        .map_err(|e| LogError::Config(format!("history reader: {e}")))?;
    let topic = config.topics.name(domain, TopicKind::Events);
    wait_until_stable(&consumer, &log_end_probe(config)?, &topic, partition)?;
    let key = root.hyphenated().to_string();
    let mut gathered = Histories::default();
    read_to_end(&consumer, &topic, partition, Offset::Beginning, |msg| {
        if msg.key() != Some(key.as_bytes()) {
            return;
        }
        match msg.payload().map(EventBook::decode) {
            Some(Ok(book)) => {
                for page in book.pages.iter().filter_map(Encoded::page) {
                    gathered.add(Restored::Page { root, offset: Some(msg.offset()), page });
                }
            }
            Some(Err(e)) => undecodable(msg, &e.to_string()),
            None => undecodable(msg, "no value"),
        }
    })?;
    Ok(gathered.into_vec().pop().unwrap_or(AggregateHistory { root, ..Default::default() }))
}

/// The aggregates of a partition (or only `only`).
pub fn read_partition(
    config: &KafkaConfig,
    domain: &str,
    partition: u32,
    only: Option<Uuid>,
) -> Result<Vec<AggregateHistory>> {
    read_partition_with_stats(config, domain, partition, only).map(|(h, _)| h)
}

/// A record that cannot be decoded is skipped — never silently: an error
/// log naming topic, partition and offset, and a metric.
fn undecodable(msg: &BorrowedMessage<'_>, reason: &str) {
    tracing::error!(
        topic = msg.topic(),
        partition = msg.partition(),
        offset = msg.offset(),
        reason,
        "undecodable record skipped"
    );
    metrics::counter!("angzarr.records.undecodable", "topic" => msg.topic().to_string()).increment(1);
}

/// Commands decided in the last `window` of `events[partition]` that carried
/// a request id, with their pages — read from the offset Kafka's time index
/// gives for `now - window`, so the cost is the window, not the history.
pub fn recent_requests(
    config: &KafkaConfig,
    domain: &str,
    partition: u32,
    window: Duration,
) -> Result<Vec<crate::record::RecentRequest>> {
    use crate::record::{RecentRequests, headers as h};
    let consumer: BaseConsumer<client::QuietEof> = client::committed_reader(config)
        .create_with_context(client::QuietEof)
        .map_err(|e| LogError::Config(format!("recent-requests reader: {e}")))?;
    let topic = config.topics.name(domain, TopicKind::Events);
    let since = std::time::SystemTime::now()
        .checked_sub(window)
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64);
    let mut query = TopicPartitionList::new();
    query
        .add_partition_offset(&topic, partition as i32, Offset::Offset(since))
        .map_err(|e| LogError::Config(e.to_string()))?;
    let found = consumer
        .offsets_for_times(query, Duration::from_secs(10))
        .map_err(|e| LogError::Unavailable(format!("offsets for times on {topic}[{partition}]: {e}")))?;
    let from = match found.find_partition(&topic, partition as i32).map(|e| e.offset()) {
        Some(Offset::Offset(o)) => Offset::Offset(o),
        // Nothing that recent.
        _ => return Ok(Vec::new()),
    };
    let mut out = RecentRequests::default();
    wait_until_stable(&consumer, &log_end_probe(config)?, &topic, partition)?;
    read_to_end(&consumer, &topic, partition, from, |msg| {
        let Some(request_id) = super::records::header(msg, h::REQUEST_ID).filter(|r| !r.is_empty()) else { return };
        let Some(root) = msg.key().and_then(|k| std::str::from_utf8(k).ok()).and_then(|k| Uuid::parse_str(k).ok())
        else {
            return;
        };
        let Some(Ok(book)) = msg.payload().map(EventBook::decode) else { return };
        out.add(request_id, root, book);
    })?;
    Ok(out.into_vec())
}

/// Every recorded rejection (of `correlation_id` only, when given), read
/// committed from the `_rejections` topic's `partitions` partitions.
pub fn rejections(
    config: &KafkaConfig,
    partitions: u32,
    correlation_id: Option<&str>,
) -> Result<Vec<crate::record::Rejection>> {
    let consumer: BaseConsumer<client::QuietEof> = client::committed_reader(config)
        .create_with_context(client::QuietEof)
        .map_err(|e| LogError::Config(format!("rejections reader: {e}")))?;
    let topic = config.topics.rejections();
    let mut out = Vec::new();
    for p in 0..partitions {
        read_to_end(&consumer, &topic, p, Offset::Beginning, |msg| match super::records::parse_rejection(msg) {
            Some(r) if correlation_id.is_none_or(|c| c == r.correlation_id) => out.push(r),
            Some(_) => {}
            None => undecodable(msg, "not a rejection notification"),
        })?;
    }
    Ok(out)
}

/// Every root with events in `domain`'s events topic (`partitions`
/// partitions), read committed from the start: a scan, for listings (the
/// console); the key of each event record is its root.
pub fn roots(config: &KafkaConfig, domain: &str, partitions: u32) -> Result<std::collections::BTreeSet<uuid::Uuid>> {
    let consumer: BaseConsumer<client::QuietEof> = client::committed_reader(config)
        .create_with_context(client::QuietEof)
        .map_err(|e| LogError::Config(format!("roots reader: {e}")))?;
    let topic = config.topics.name(domain, angzarr_topology::names::TopicKind::Events);
    let mut out = std::collections::BTreeSet::new();
    for p in 0..partitions {
        read_to_end(&consumer, &topic, p, Offset::Beginning, |msg| {
            if let Some(root) = msg.key().and_then(|k| std::str::from_utf8(k).ok()).and_then(|k| k.parse().ok()) {
                out.insert(root);
            }
        })?;
    }
    Ok(out)
}
