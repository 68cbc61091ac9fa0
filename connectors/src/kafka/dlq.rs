//! Dead-letter topics: `<prefix>.<group>.dlq`, one per consumer group that
//! gave up on a record.
//!
//! A dead letter is the original record's key and value with where it came
//! from and why in headers, keyed by its id (`<domain>/<partition>/<offset>`)
//! in a compacted topic of one partition. Settling one (a replay or a drop)
//! appends a marker with the same key — and, for a replay, the commands the
//! replay produced — in one transaction of the producer
//! `<prefix>.<group>.dlq`, so two operators settling at once are fenced
//! and a replayed saga reaction is written once. Listing reads the topic
//! committed and keeps the letters whose last record is not a marker.
//!
//! The topic is created when the group first gives up on a record, so a
//! group that never does has none.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::Message as _;
use rdkafka::consumer::BaseConsumer;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::{Offset, consumer::Consumer as _};

use angzarr_topology::kafka as topo;

use super::txn::{self, Out};
use super::{KafkaConfig, client, records};
use crate::record::{CommandEnvelope, DeadLetter};
use crate::{LogError, Result};

/// Where the letter came from, why it was given up on, and when.
mod header {
    pub const DOMAIN: &str = "angzarr-dlq-domain";
    pub const PARTITION: &str = "angzarr-dlq-partition";
    pub const OFFSET: &str = "angzarr-dlq-offset";
    pub const ROOT: &str = "angzarr-dlq-root";
    pub const SEQUENCE: &str = "angzarr-dlq-sequence";
    pub const ERROR: &str = "angzarr-dlq-error";
    pub const AT_MS: &str = "angzarr-dlq-at-ms";
    pub const KEY: &str = "angzarr-dlq-key";
    /// On a marker: `replayed` or `dropped`.
    pub const SETTLED: &str = "angzarr-dlq-settled";
}

/// Creates `group`'s dead-letter topic if it is missing (idempotent); with
/// `create_topics: false`, a missing one is an error naming it.
pub(super) async fn ensure_topic(config: &KafkaConfig, group: &str) -> Result<()> {
    let admin: rdkafka::admin::AdminClient<client::Named> = client::base(config)
        .create_with_context(client::Named(format!("dead-letter admin {group}")))
        .map_err(|e| LogError::Config(e.to_string()))?;
    let spec = topo::dead_letter_topic(&config.topics, group, config.placement());
    let steps = topo::plan(&admin, std::slice::from_ref(&spec), Duration::from_secs(10))
        .await
        .map_err(|e| LogError::Unavailable(format!("planning {}: {e}", spec.name)))?;
    if !config.create_topics && steps.iter().any(|s| matches!(s, topo::Step::Create(_))) {
        return Err(LogError::Config(format!(
            "missing dead-letter topic {} (create_topics is off: run `angzarr topology apply`)",
            spec.name
        )));
    }
    topo::apply(&admin, &steps, Duration::from_secs(30))
        .await
        .map_err(|e| LogError::Unavailable(format!("creating {}: {e}", spec.name)))?;
    for _ in 0..100 {
        let counts =
            topo::partition_counts(&admin, Duration::from_secs(5)).map_err(|e| LogError::Unavailable(e.to_string()))?;
        if counts.contains_key(&spec.name) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(LogError::Unavailable(format!("{} did not appear in metadata", spec.name)))
}

/// The record of dead letter `d` in `group`'s topic.
pub(super) fn record(config: &KafkaConfig, group: &str, d: &DeadLetter) -> Out {
    let mut headers = OwnedHeaders::new()
        .insert(Header { key: header::DOMAIN, value: Some(d.domain.as_str()) })
        .insert(Header { key: header::PARTITION, value: Some(&d.partition.to_string()) })
        .insert(Header { key: header::OFFSET, value: Some(&d.offset.to_string()) })
        .insert(Header { key: header::ERROR, value: Some(d.error.as_str()) })
        .insert(Header { key: header::AT_MS, value: Some(&d.at_ms.to_string()) })
        .insert(Header { key: header::KEY, value: Some(d.key.as_slice()) })
        .insert(Header { key: crate::record::headers::CORRELATION_ID, value: Some(d.correlation_id.as_str()) });
    if let (Some(root), Some(seq)) = (d.root, d.sequence) {
        headers = headers
            .insert(Header { key: header::ROOT, value: Some(&root.to_string()) })
            .insert(Header { key: header::SEQUENCE, value: Some(&seq.to_string()) });
    }
    Out {
        topic: config.topics.dead_letters(group),
        partition: 0,
        key: d.id(),
        payload: d.value.clone(),
        headers: Some(headers),
        tracked: false,
    }
}

/// The marker that settles the letter `id`.
fn marker(config: &KafkaConfig, group: &str, id: String, how: &str) -> Out {
    Out {
        topic: config.topics.dead_letters(group),
        partition: 0,
        key: id,
        payload: Vec::new(),
        headers: Some(OwnedHeaders::new().insert(Header { key: header::SETTLED, value: Some(how) })),
        tracked: false,
    }
}

/// A dead-letter record back; `None` for a marker or a foreign record.
fn parse<M: rdkafka::Message>(msg: &M) -> Option<DeadLetter> {
    let get = |k| records::header(msg, k);
    if get(header::SETTLED).is_some() {
        return None;
    }
    let raw_key = msg
        .headers()
        .and_then(|hs| {
            use rdkafka::message::Headers as _;
            hs.iter().find(|hd| hd.key == header::KEY).and_then(|hd| hd.value).map(<[u8]>::to_vec)
        })
        .unwrap_or_default();
    Some(DeadLetter {
        domain: get(header::DOMAIN)?,
        partition: get(header::PARTITION)?.parse().ok()?,
        offset: get(header::OFFSET)?.parse().ok()?,
        root: get(header::ROOT).and_then(|r| r.parse().ok()),
        sequence: get(header::SEQUENCE).and_then(|s| s.parse().ok()),
        correlation_id: get(crate::record::headers::CORRELATION_ID).unwrap_or_default(),
        error: get(header::ERROR).unwrap_or_default(),
        key: raw_key,
        value: msg.payload().unwrap_or_default().to_vec(),
        at_ms: get(header::AT_MS).and_then(|s| s.parse().ok()).unwrap_or(0),
    })
}

/// The live letters of `group`, oldest first (blocking). No topic: none.
pub fn list(config: &KafkaConfig, group: &str) -> Result<Vec<DeadLetter>> {
    let topic = config.topics.dead_letters(group);
    let consumer: BaseConsumer<client::QuietEof> = client::committed_reader(config)
        .create_with_context(client::QuietEof)
        .map_err(|e| LogError::Config(format!("dead-letter reader: {e}")))?;
    let metadata = consumer
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .map_err(|e| LogError::Unavailable(format!("metadata of {topic}: {e}")))?;
    if metadata.topics().first().is_none_or(|t| t.partitions().is_empty()) {
        return Ok(Vec::new());
    }
    // Latest record per id, in the order the ids first appeared.
    let mut order: Vec<String> = Vec::new();
    let mut live: HashMap<String, Option<DeadLetter>> = HashMap::new();
    super::restore::read_to_end(&consumer, &topic, 0, Offset::Beginning, |msg| {
        let Some(id) = msg.key().and_then(|k| std::str::from_utf8(k).ok()).map(str::to_string) else { return };
        if !live.contains_key(&id) {
            order.push(id.clone());
        }
        live.insert(id, parse(msg));
    })?;
    let mut out: Vec<DeadLetter> = order.into_iter().filter_map(|id| live.remove(&id).flatten()).collect();
    out.sort_by_key(|d| d.at_ms);
    Ok(out)
}

/// Settles `letter` of `group` (blocking): appends its marker and, for a
/// replay (`Some`), the commands the replay produced, in one transaction;
/// `false` if it is no longer live.
pub fn settle(
    config: &KafkaConfig,
    command_partitions: &HashMap<String, u32>,
    group: &str,
    letter: &DeadLetter,
    replayed: Option<Vec<CommandEnvelope>>,
) -> Result<bool> {
    let tid = format!("{}.{}.dlq", config.topics.prefix(), group);
    // Initialising fences any other settler and completes its transaction,
    // so the listing below is the final word on what is live.
    let producer = txn::fenced_producer(config, &tid)?;
    if !list(config, group)?.iter().any(|d| d.id() == letter.id()) {
        return Ok(false);
    }
    let how = if replayed.is_some() { "replayed" } else { "dropped" };
    let commands = replayed.unwrap_or_default();
    let mut out = commands.iter().map(|c| Out::command(config, command_partitions, c)).collect::<Result<Vec<_>>>()?;
    out.push(marker(config, group, letter.id(), how));
    txn::run(&producer, out, None, config.transaction_timeout, &config.faults, 0)
        .map_err(|f| f.into_log_error(&crate::record::PartitionId::new(&letter.domain, letter.partition)))?;
    Ok(true)
}
