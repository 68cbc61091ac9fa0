//! The Kafka connector: topics on an Apache Kafka cluster behind [`Log`].
//!
//! - **Gateway side** ([`KafkaLog::submit`]): an idempotent producer appends
//!   the command to `<prefix>.<domain>.commands`, to the partition murmur2 of
//!   the root picks (the Java client's partitioner, so any client agrees), and
//!   answers once the broker acknowledged it. Outcomes come back on the
//!   `<prefix>._replies` topic, keyed by the gateway instance, read by
//!   [`replies`] — a *reply topic* rather than a direct channel, because the
//!   reply is then written in the same transaction as the events it reports:
//!   a gateway never hears "accepted" for events that were not committed, and
//!   a reply survives a change of partition owner.
//! - **Worker side** ([`group`]): one consumer-group member per worker over
//!   the commands topics (cooperative-sticky assignment), dispatching each
//!   owned partition's records to its task. Each task commits through its own
//!   **transactional producer** ([`partition`]) whose `transactional.id` is
//!   derived from the partition (`<prefix>.<group>.<domain>.<p>`): a new owner's
//!   `init_transactions` fences the previous one and aborts its open
//!   transaction, even if that zombie is paused, partitioned from the group, or
//!   from an older generation. The consumer-group metadata is sent with the
//!   offsets too (KIP-447), so the broker also refuses offsets of a member that
//!   left the group. Static ids were chosen over group-metadata fencing alone
//!   because they also fence a zombie whose producer outlives its consumer.
//! - **Restore** ([`restore`]) reads the compacted snapshots partition, then
//!   the events partition from the restore point recorded there.
//! - Every reader uses `isolation.level=read_committed`.

mod client;
mod dlq;
mod events;
mod group;
mod owners;
mod partition;
mod records;
mod replies;
mod restore;
mod settings;
mod tail;
mod txn;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::producer::{FutureProducer, FutureRecord};
use uuid::Uuid;

use angzarr_topology::kafka as topo;
use angzarr_topology::names::{TopicKind, Topics};
use angzarr_topology::partitioner::{partition_for, root_key};

use crate::log::{EventPartition, Log, Membership, PartitionLag, PartitionLog, Stream, Submitted};
use crate::record::{AggregateHistory, CommandEnvelope};
use crate::{LogError, Result};

pub use client::redact;
pub use restore::{RestoreStats, read_partition_with_stats as restore_partition};
pub use settings::Settings;
pub use txn::TRANSACTIONS;

/// Settings of the Kafka log.
#[derive(Clone, Debug)]
pub struct KafkaConfig {
    /// `host:port,...`.
    pub bootstrap_servers: String,
    /// Topic names.
    pub topics: Topics,
    /// Partitions of topics created here.
    pub partitions: u32,
    /// Replication factor of topics created here; `None`: the cluster's default.
    pub replication_factor: Option<i16>,
    /// `min.insync.replicas` of topics created here; `None`: the cluster's default.
    pub min_insync_replicas: Option<u16>,
    /// Create missing topics at start-up.
    pub create_topics: bool,
    /// librdkafka settings passed to every client (TLS, SASL, …).
    pub settings: Settings,
    /// Consumer-group session timeout: how long a silent worker keeps its partitions.
    pub session_timeout: Duration,
    /// Transaction timeout of the partition producers.
    pub transaction_timeout: Duration,
    /// Faults to inject (tests only; empty in production).
    pub faults: Arc<crate::Faults>,
}

impl KafkaConfig {
    /// Where the topics this process creates go.
    pub fn placement(&self) -> topo::Placement {
        topo::Placement {
            partitions: self.partitions,
            replication: self.replication_factor,
            min_insync_replicas: self.min_insync_replicas,
        }
    }

    /// Defaults for `bootstrap_servers`.
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        KafkaConfig {
            bootstrap_servers: bootstrap_servers.into(),
            topics: Topics::default(),
            partitions: 8,
            replication_factor: None,
            min_insync_replicas: None,
            create_topics: true,
            settings: Settings::default(),
            session_timeout: Duration::from_secs(10),
            transaction_timeout: Duration::from_secs(30),
            faults: Arc::default(),
        }
    }
}

/// The Kafka log. Cheap to clone.
#[derive(Clone)]
pub struct KafkaLog {
    inner: Arc<Inner>,
}

struct Inner {
    config: KafkaConfig,
    /// Partition count of each served domain's commands/events topics.
    partitions: HashMap<String, u32>,
    replies_partitions: u32,
    rejections_partitions: u32,
    producer: FutureProducer,
    replies: replies::Inbox,
    owners: owners::Directory,
    instance_id: String,
    tail: std::sync::OnceLock<tokio::sync::broadcast::Sender<Arc<crate::record::StoredEvent>>>,
}

impl KafkaLog {
    /// Connects, checks (and with `create_topics`, creates) the topics of
    /// `domains`, and starts the reply inbox. A broker that is down is
    /// retried with backoff for `connect_timeout`, then reported.
    pub async fn connect(config: KafkaConfig, domains: Vec<String>, connect_timeout: Duration) -> Result<Self> {
        let admin_cfg = client::base(&config);
        let admin: rdkafka::admin::AdminClient<client::Probe> =
            admin_cfg.create_with_context(client::Probe::default()).map_err(|e| LogError::Config(e.to_string()))?;
        // A polled client beside it: librdkafka hands a refused handshake to
        // a client's context only while that client is polled.
        let probe: Arc<rdkafka::consumer::BaseConsumer<client::Probe>> = Arc::new(
            admin_cfg.create_with_context(client::Probe::default()).map_err(|e| LogError::Config(e.to_string()))?,
        );
        let listener = format!(
            "{} ({})",
            config.bootstrap_servers,
            config.settings.get("security.protocol").map_or("PLAINTEXT", String::as_str)
        );
        let desired = topo::desired(&config.topics, &domains, config.placement());

        let deadline = tokio::time::Instant::now() + connect_timeout;
        let mut backoff = Duration::from_millis(200);
        let steps = loop {
            let planned = topo::plan(&admin, &desired, Duration::from_secs(5)).await;
            if planned.is_err() {
                let probe = probe.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    use rdkafka::consumer::Consumer;
                    let _ = probe.fetch_metadata(None, Duration::from_secs(2));
                    let _ = probe.poll(Duration::from_millis(100));
                })
                .await;
            }
            // Refused (credentials, certificates): no retry will change that.
            let refused = admin
                .inner()
                .context()
                .refused()
                .or_else(|| rdkafka::consumer::Consumer::context(probe.as_ref()).refused());
            if let Some(why) = refused {
                return Err(LogError::Config(format!("kafka at {listener} refused the connection: {why}")));
            }
            match planned {
                Ok(steps) => break steps,
                Err(e) if tokio::time::Instant::now() + backoff < deadline => {
                    tracing::warn!(bootstrap = %config.bootstrap_servers, error = %e, ?backoff, "kafka not reachable yet; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    return Err(LogError::Unavailable(format!(
                        "kafka at {listener} not reachable within {connect_timeout:?}: {e}"
                    )));
                }
            }
        };
        let missing: Vec<String> = steps
            .iter()
            .filter_map(|s| match s {
                topo::Step::Create(t) => Some(t.name.clone()),
                _ => None,
            })
            .collect();
        if !missing.is_empty() && !config.create_topics {
            return Err(LogError::Config(format!(
                "missing topics {} (run `angzarr topology apply` or set create_topics)",
                missing.join(", ")
            )));
        }
        topo::apply(&admin, &steps, Duration::from_secs(30)).await.map_err(|e| LogError::Config(e.to_string()))?;
        let counts = wait_for_topics(&admin, &desired).await?;

        let mut partitions = HashMap::new();
        for d in &domains {
            partitions.insert(d.clone(), counts[&config.topics.name(d, TopicKind::Commands)]);
        }
        let replies_partitions = counts[&config.topics.replies()];
        let rejections_partitions = counts[&config.topics.rejections()];
        let producer: FutureProducer = client::idempotent_producer(&config)
            .create()
            .map_err(|e| LogError::Config(format!("creating the command producer: {e}")))?;
        let instance_id = format!("gw-{}", Uuid::new_v4());
        let reply_partition = partition_for(instance_id.as_bytes(), replies_partitions);
        let replies = replies::Inbox::start(&config, reply_partition, &instance_id)?;
        let owners = owners::Directory::start(&config)?;
        tracing::info!(bootstrap = %config.bootstrap_servers, prefix = config.topics.prefix(), ?partitions, "kafka log ready");
        Ok(KafkaLog {
            inner: Arc::new(Inner {
                config,
                partitions,
                replies_partitions,
                rejections_partitions,
                producer,
                replies,
                owners,
                instance_id,
                tail: std::sync::OnceLock::new(),
            }),
        })
    }

    fn topics_of(&self, domains: &[String], kind: TopicKind) -> Result<HashMap<String, String>> {
        domains
            .iter()
            .map(|d| self.partitions_of(d).map(|_| (self.inner.config.topics.name(d, kind), d.clone())))
            .collect()
    }

    fn partitions_of(&self, domain: &str) -> Result<u32> {
        self.inner.partitions.get(domain).copied().ok_or_else(|| LogError::UnknownDomain(domain.to_string()))
    }
}

/// Waits until every desired topic shows in metadata (creation is asynchronous).
async fn wait_for_topics(
    admin: &rdkafka::admin::AdminClient<client::Probe>,
    desired: &[topo::TopicSpec],
) -> Result<HashMap<String, u32>> {
    for _ in 0..100 {
        let counts =
            topo::partition_counts(admin, Duration::from_secs(5)).map_err(|e| LogError::Unavailable(e.to_string()))?;
        if desired.iter().all(|t| counts.contains_key(&t.name)) {
            return Ok(counts);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(LogError::Unavailable("created topics did not appear in metadata".into()))
}

#[async_trait]
impl Log for KafkaLog {
    fn domains(&self) -> Vec<String> {
        let mut d: Vec<_> = self.inner.partitions.keys().cloned().collect();
        d.sort();
        d
    }

    fn instance_id(&self) -> &str {
        &self.inner.instance_id
    }

    async fn submit(&self, cmd: CommandEnvelope, want_reply: bool) -> Result<Submitted> {
        let n = self.partitions_of(&cmd.domain)?;
        let key = root_key(&cmd.root);
        let partition = partition_for(key.as_bytes(), n);
        let topic = self.inner.config.topics.name(&cmd.domain, TopicKind::Commands);
        let reply = want_reply.then(|| self.inner.replies.expect(&cmd.request_id));
        let headers = records::command_headers(&cmd);
        let record = FutureRecord::to(&topic).key(&key).payload(&cmd.book).partition(partition as i32).headers(headers);
        match self.inner.producer.send(record, Duration::from_secs(5)).await {
            Ok(delivery) => Ok(Submitted { partition, offset: delivery.offset, reply }),
            Err((e, _)) => {
                self.inner.replies.forget(&cmd.request_id);
                use rdkafka::error::RDKafkaErrorCode as C;
                let what = format!("appending to {topic}[{partition}]: {e}");
                // A send that timed out may still have been appended.
                Err(match e.rdkafka_error_code() {
                    Some(C::MessageTimedOut | C::RequestTimedOut | C::OperationTimedOut) => {
                        LogError::OutcomeUnknown(format!("{}[{partition}]", cmd.domain), what)
                    }
                    _ => LogError::Unavailable(what),
                })
            }
        }
    }

    fn forget(&self, request_id: &str) {
        self.inner.replies.forget(request_id);
    }

    fn partition_of(&self, domain: &str, root: &Uuid) -> Option<u32> {
        let n = self.partitions_of(domain).ok()?;
        Some(partition_for(root_key(root).as_bytes(), n))
    }

    async fn announce_owner(&self, id: &crate::PartitionId, endpoint: &str) -> Result<()> {
        let inner = &self.inner;
        inner.owners.announce(&inner.producer, &id.domain, id.partition, endpoint, &inner.instance_id).await
    }

    fn owner_endpoint(&self, domain: &str, partition: u32) -> Option<String> {
        self.inner.owners.endpoint(domain, partition)
    }

    async fn join(&self, group: &str, domains: &[String]) -> Result<Box<dyn Membership<dyn PartitionLog>>> {
        let topics = self.topics_of(domains, TopicKind::Commands)?;
        let (config, group_name) = (self.inner.config.clone(), group.to_string());
        let counts = partition::Counts {
            replies: self.inner.replies_partitions,
            rejections: self.inner.rejections_partitions,
            commands: Arc::new(self.inner.partitions.clone()),
        };
        let factory: group::Factory<dyn PartitionLog> = Arc::new(move |handed| {
            Box::new(partition::KafkaPartition::new(config.clone(), &group_name, handed, counts.clone()))
                as Box<dyn PartitionLog>
        });
        let group_id = format!("{}.{}", self.inner.config.topics.prefix(), group);
        Ok(Box::new(group::join(&self.inner.config, &group_id, topics, factory, group::Reading::Dispatcher)?))
    }

    async fn join_events(&self, group: &str, domains: &[String]) -> Result<Box<dyn Membership<dyn EventPartition>>> {
        let topics = self.topics_of(domains, TopicKind::Events)?;
        let (config, group_name) = (self.inner.config.clone(), group.to_string());
        let (targets, replies) = (Arc::new(self.inner.partitions.clone()), self.inner.replies_partitions);
        let factory: group::Factory<dyn EventPartition> = Arc::new(move |handed| {
            Box::new(events::KafkaEventPartition::new(config.clone(), &group_name, handed, targets.clone(), replies))
                as Box<dyn EventPartition>
        });
        let group_id = format!("{}.{}", self.inner.config.topics.prefix(), group);
        Ok(Box::new(group::join(&self.inner.config, &group_id, topics, factory, group::Reading::PerPartition)?))
    }

    fn tail(&self) -> tokio::sync::broadcast::Receiver<Arc<crate::record::StoredEvent>> {
        self.inner
            .tail
            .get_or_init(|| {
                let domains: Vec<(String, u32)> = self.inner.partitions.iter().map(|(d, n)| (d.clone(), *n)).collect();
                tail::start(&self.inner.config, &domains).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "event tail unavailable");
                    tokio::sync::broadcast::channel(1).0
                })
            })
            .subscribe()
    }

    fn notices(&self) -> tokio::sync::broadcast::Receiver<Arc<crate::record::Notice>> {
        self.inner.replies.notices()
    }

    async fn rejections(&self, correlation_id: Option<&str>) -> Result<Vec<crate::record::Rejection>> {
        let (config, n) = (self.inner.config.clone(), self.inner.rejections_partitions);
        let correlation_id = correlation_id.map(str::to_string);
        tokio::task::spawn_blocking(move || restore::rejections(&config, n, correlation_id.as_deref()))
            .await
            .map_err(|e| LogError::Unavailable(e.to_string()))?
    }

    async fn roots(&self, domain: &str, after: Option<Uuid>, limit: usize) -> Result<Vec<Uuid>> {
        let partitions = self.partitions_of(domain)?;
        let (config, d) = (self.inner.config.clone(), domain.to_string());
        let all = tokio::task::spawn_blocking(move || restore::roots(&config, &d, partitions))
            .await
            .map_err(|e| LogError::Unavailable(e.to_string()))??;
        Ok(all.into_iter().filter(|r| after.is_none_or(|a| *r > a)).take(limit).collect())
    }

    async fn lag(&self, group: &str, domains: &[String], stream: Stream) -> Result<Vec<PartitionLag>> {
        let kind = match stream {
            Stream::Commands => TopicKind::Commands,
            Stream::Events => TopicKind::Events,
        };
        let mut topics = Vec::new();
        for d in domains {
            topics.push((d.clone(), self.inner.config.topics.name(d, kind), self.partitions_of(d)?));
        }
        let config = self.inner.config.clone();
        let group_id = format!("{}.{}", config.topics.prefix(), group);
        tokio::task::spawn_blocking(move || group::lag(&config, &group_id, &topics))
            .await
            .map_err(|e| LogError::Unavailable(e.to_string()))?
    }

    async fn dead_letters(&self, group: &str) -> Result<Vec<crate::record::DeadLetter>> {
        let (config, group) = (self.inner.config.clone(), group.to_string());
        tokio::task::spawn_blocking(move || dlq::list(&config, &group))
            .await
            .map_err(|e| LogError::Unavailable(e.to_string()))?
    }

    async fn settle_dead_letter(
        &self,
        group: &str,
        letter: &crate::record::DeadLetter,
        replayed: Option<Vec<CommandEnvelope>>,
    ) -> Result<bool> {
        let (config, group, letter) = (self.inner.config.clone(), group.to_string(), letter.clone());
        let partitions = self.inner.partitions.clone();
        tokio::task::spawn_blocking(move || dlq::settle(&config, &partitions, &group, &letter, replayed))
            .await
            .map_err(|e| LogError::Unavailable(e.to_string()))?
    }

    async fn read_history(&self, domain: &str, root: &Uuid) -> Result<AggregateHistory> {
        let n = self.partitions_of(domain)?;
        let partition = partition_for(root_key(root).as_bytes(), n);
        let config = self.inner.config.clone();
        let (domain, root) = (domain.to_string(), *root);
        tokio::task::spawn_blocking(move || restore::read_history(&config, &domain, partition, root))
            .await
            .map_err(|e| LogError::Unavailable(e.to_string()))?
    }

    async fn read_book(&self, domain: &str, root: &Uuid) -> Result<AggregateHistory> {
        let n = self.partitions_of(domain)?;
        let partition = partition_for(root_key(root).as_bytes(), n);
        let config = self.inner.config.clone();
        let (domain, root) = (domain.to_string(), *root);
        tokio::task::spawn_blocking(move || restore::read_partition(&config, &domain, partition, Some(root)))
            .await
            .map_err(|e| LogError::Unavailable(e.to_string()))?
            .map(|mut all| all.pop().unwrap_or(AggregateHistory { root, ..Default::default() }))
    }
}
