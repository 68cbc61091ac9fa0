//! librdkafka client settings, in one place.
//!
//! User settings (TLS, SASL, …) are applied to every client, then the
//! settings our guarantees depend on are forced on top: they are not
//! tunables (`isolation.level`, `enable.idempotence`, manual offsets).

use rdkafka::ClientConfig;

use super::KafkaConfig;

/// Keys whose values must never reach a log line.
const SECRET_MARKERS: [&str; 4] = ["password", "secret", "key", "token"];

/// The settings as they may be logged: secret values replaced by `***`.
pub fn redact(settings: &std::collections::BTreeMap<String, String>) -> Vec<(String, String)> {
    settings
        .iter()
        .map(|(k, v)| {
            let secret = SECRET_MARKERS.iter().any(|m| k.contains(m)) && !k.ends_with(".location");
            (k.clone(), if secret { "***".to_string() } else { v.clone() })
        })
        .collect()
}

/// Bootstrap servers and the user's pass-through settings.
pub fn base(config: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.bootstrap_servers);
    for (k, v) in config.settings.iter() {
        c.set(k, v);
    }
    // librdkafka's own `debug` contexts are only useful with debug logging.
    let level = if config.settings.contains_key("debug") {
        rdkafka::config::RDKafkaLogLevel::Debug
    } else {
        rdkafka::config::RDKafkaLogLevel::Warning
    };
    c.set_log_level(level);
    c
}

/// The gateway's command producer: idempotent, so a retried send never
/// duplicates a command.
pub fn idempotent_producer(config: &KafkaConfig) -> ClientConfig {
    let mut c = base(config);
    c.set("enable.idempotence", "true").set("acks", "all").set("linger.ms", "1");
    c
}

/// A partition task's transactional producer.
pub fn transactional_producer(config: &KafkaConfig, transactional_id: &str) -> ClientConfig {
    let mut c = base(config);
    c.set("transactional.id", transactional_id)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .set("transaction.timeout.ms", config.transaction_timeout.as_millis().to_string())
        // The broker answers CONCURRENT_TRANSACTIONS while the previous
        // commit's markers are being written; librdkafka retries after
        // retry.backoff.ms, 100 ms by default — the whole latency budget.
        .set("retry.backoff.ms", "2")
        .set("retry.backoff.max.ms", "50");
    c
}

/// A reader that only ever sees committed data and never commits offsets.
pub fn committed_reader(config: &KafkaConfig) -> ClientConfig {
    let mut c = base(config);
    c.set("group.id", "angzarr-reader-unused")
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "10")
        // After reaching the end, librdkafka waits this long before fetching
        // that partition again — 500 ms by default, per topic read to its end.
        .set("fetch.error.backoff.ms", "10")
        // A restore reads a whole partition as fast as the broker serves it;
        // librdkafka's default prefetch (64 MiB queued per partition) then
        // holds most of it in memory at once, ahead of the reader — the
        // largest part of a worker's peak memory, measured. 8 MiB keeps the
        // pipe full without that.
        .set("queued.max.messages.kbytes", "8192")
        // The byte limit counts payloads only; each fetched message also
        // costs librdkafka ~130 B of bookkeeping and keeps its fetch buffer
        // alive. Prefetching up to librdkafka's default 100 000 messages
        // held ~40 MB per 100k aggregates at a restore's peak (heaptrack);
        // 2 000 still keeps a fetch ahead of the reader.
        .set("queued.min.messages", "2000")
        // And fetch again as soon as the reader made room (librdkafka waits
        // 1 s by default once a threshold was reached: ten times slower
        // restores with the smaller queue, measured).
        .set("fetch.queue.backoff.ms", "5");
    c
}

/// A consumer that lists offsets as `read_uncommitted` does: its latest
/// offset is the log end (high watermark), not the last stable offset —
/// for a restore, to know where the log ends before waiting for it to be
/// stable.
pub fn uncommitted_probe(config: &KafkaConfig) -> ClientConfig {
    let mut c = base(config);
    c.set("group.id", "angzarr-reader-unused").set("isolation.level", "read_uncommitted");
    c
}

/// A client context that names its client in librdkafka's error reports: a
/// worker has a producer per partition, and "all brokers down" from one of
/// them says nothing without its name.
pub struct Named(pub String);

impl rdkafka::ClientContext for Named {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        tracing::error!(client = %self.0, %error, reason, "librdkafka");
    }
}

/// The context of the start-up admin client: remembers librdkafka's last
/// error, so a broker that refuses us (wrong password, untrusted
/// certificate) is reported as such at once instead of as "not reachable"
/// after the connect timeout.
#[derive(Default)]
pub struct Probe {
    refused: std::sync::Mutex<Option<String>>,
}

impl Probe {
    /// Why the broker refused the connection, if it did.
    pub fn refused(&self) -> Option<String> {
        self.refused.lock().expect("probe").clone()
    }
}

impl Probe {
    fn note(&self, text: &str) {
        const REFUSALS: [&str; 4] =
            ["SASL authentication error", "Authentication failed", "SSL handshake failed", "certificate verify failed"];
        if REFUSALS.iter().any(|r| text.contains(r)) {
            *self.refused.lock().expect("probe") = Some(text.to_string());
        }
    }
}

impl rdkafka::consumer::ConsumerContext for Probe {}

impl rdkafka::ClientContext for Probe {
    // librdkafka reports a refused handshake in its log (from its own
    // threads), not always as an error event (which needs polling).
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        tracing::warn!(?level, fac, message, "librdkafka");
        self.note(message);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        tracing::warn!(%error, reason, "librdkafka");
        self.note(reason);
    }
}

/// A client context that does not report end-of-partition as an error:
/// readers that read to the end ask for it on purpose.
pub struct QuietEof;

impl rdkafka::ClientContext for QuietEof {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        use rdkafka::error::KafkaError;
        use rdkafka::types::RDKafkaErrorCode;
        if !matches!(error, KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)) {
            tracing::error!(%error, reason, "librdkafka");
        }
    }
}

impl rdkafka::consumer::ConsumerContext for QuietEof {}

/// A consumer-group member of the commands topics.
pub fn group_member(config: &KafkaConfig, group: &str) -> ClientConfig {
    let mut c = base(config);
    c.set("group.id", group)
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("session.timeout.ms", config.session_timeout.as_millis().to_string())
        .set("heartbeat.interval.ms", (config.session_timeout.as_millis() / 4).max(100).to_string())
        .set("fetch.wait.max.ms", "20")
        // Once a partition's prefetch queue is full, librdkafka waits
        // `fetch.queue.backoff.ms` (1 s by default) before fetching it again,
        // however fast the task drains it: a projector replay stalled ~750 ms
        // after every few batches (measured: 4.8k events/s, with each batch
        // handled in 3 ms).
        .set("fetch.queue.backoff.ms", "5")
        // Each partition is read from its own librdkafka queue, bounded by
        // these (librdkafka's defaults, 100 000 records / 64 MiB per
        // partition, would hold a lagging worker's whole backlog in memory);
        // plus the task's own queue of `ROUTE_CAPACITY` records.
        .set("queued.min.messages", "10000")
        .set("queued.max.messages.kbytes", "16384");
    c
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_redacted() {
        let s = std::collections::BTreeMap::from([
            ("sasl.password".to_string(), "hunter2".to_string()),
            ("ssl.key.password".to_string(), "x".to_string()),
            ("ssl.ca.location".to_string(), "/ca.pem".to_string()),
            ("security.protocol".to_string(), "SASL_SSL".to_string()),
        ]);
        let r = super::redact(&s);
        assert!(r.iter().all(|(_, v)| v != "hunter2" && v != "x"));
        assert!(r.contains(&("ssl.ca.location".to_string(), "/ca.pem".to_string())));
        assert!(r.contains(&("security.protocol".to_string(), "SASL_SSL".to_string())));
    }
}
