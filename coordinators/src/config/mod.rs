//! Declarative configuration: YAML with `${VAR}` / `${VAR:-default}`.
//!
//! Any scalar can come from the environment (`interpolate`). Unknown keys,
//! wrong types and unset variables are errors at start-up naming the key
//! and the line, not surprises at runtime.

mod file;
mod interpolate;
mod tagged;

pub use file::{BusConfig, StorageConfig};
pub use interpolate::interpolate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// `${NAME}` with no default and `NAME` unset.
    #[error("line {line}: environment variable `{name}` is not set (use `${{{name}:-default}}` for a default)")]
    MissingVar {
        /// The variable.
        name: String,
        /// 1-based line of the reference.
        line: usize,
    },
    /// `${` without its `}`.
    #[error("line {line}: unterminated `${{`")]
    Unterminated {
        /// 1-based line.
        line: usize,
    },
    /// A variable's value cannot stand where it is referenced.
    #[error("line {line}: the value of `{name}` cannot be placed here: {why}")]
    VarSyntax {
        /// The variable.
        name: String,
        /// 1-based line of the reference.
        line: usize,
        /// What to do instead.
        why: &'static str,
    },
    /// An error in a file, with its path.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// The error.
        source: Box<ConfigError>,
    },
    /// Not valid YAML for this schema (unknown keys included).
    #[error("{0}")]
    Yaml(#[from] serde_yaml::Error),
    /// Parsed, but not usable.
    #[error("{0}")]
    Invalid(String),
}

/// The whole configuration of a process. In a file the log is either
/// `log: {type: embedded | kafka, …}` or the seed's two keys,
/// `storage: {type: sqlite | kafka, …}` with `bus: {type: channel | kafka}`
/// (`file.rs`); both read into `log`.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "file::ConfigFile")]
pub struct Config {
    /// The log behind every coordinator.
    pub log: LogConfig,
    /// The admin listener (health, readiness, metrics) of every role.
    pub admin: AdminConfig,
    /// The gateway's listeners and limits.
    pub gateway: GatewayConfig,
    /// Domains, by name: the ones with a `handler` are served by this
    /// process's command handler; the others are only read or targeted.
    pub domains: BTreeMap<String, DomainConfig>,
    /// Projectors, by name.
    pub projectors: BTreeMap<String, ProjectorConfig>,
    /// Sagas, by name.
    pub sagas: BTreeMap<String, SagaConfig>,
    /// Process managers, by name; each is also a domain of the log (its
    /// own commands, events and snapshots), so the name must not be one of
    /// `domains`.
    pub process_managers: BTreeMap<String, ProcessManagerConfig>,
    /// How deep CASCADE follows saga commands before refusing.
    pub max_cascade_depth: u32,
    /// How partition owners work.
    pub command_handler: CommandHandlerConfig,
    /// How projectors', sagas' and process-manager routers' partition tasks work.
    pub downstream: crate::event_consumer::Tuning,
}

/// An HTTP listener every role can have, for orchestrators and scrapers:
/// `/healthz` (alive), `/readyz` (every partition task serves), `/metrics`.
/// The gateway's own HTTP listener serves the same paths; this one exists
/// so command-handler and downstream processes can be probed too.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Where to listen; none = no admin listener.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// How often the consumer lag of every group is sampled (`/metrics`,
    /// `/v1/lag`), by any process that serves `/metrics`.
    #[serde(default = "default_lag_interval", with = "humantime_serde")]
    pub lag_interval: Duration,
}

fn default_lag_interval() -> Duration {
    Duration::from_secs(10)
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig { listen: None, lag_interval: default_lag_interval() }
    }
}

/// How partition owners work.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandHandlerConfig {
    /// Most commands decided and committed in one transaction.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// How long a request id's outcome is remembered: a retry within it is
    /// answered with the original outcome and writes nothing.
    #[serde(default = "default_dedupe_window", with = "humantime_serde")]
    pub dedupe_window: Duration,
    /// At most this many request ids remembered per partition.
    #[serde(default = "default_dedupe_max")]
    pub dedupe_max: usize,
    /// Deadline of one business-logic call; one that does not answer in
    /// time is retried like one that cannot be reached.
    #[serde(default = "default_call_timeout", with = "humantime_serde")]
    pub handler_call_timeout: Duration,
    /// How long a fenced partition task waits for its revocation before it
    /// re-initialises (normally the revocation comes within a session timeout).
    #[serde(default = "default_fenced_grace", with = "humantime_serde")]
    pub fenced_grace: Duration,
    /// At most this many aggregates per partition in memory; the least
    /// recently used beyond it are spilled to a file in `state_dir` (a
    /// cache: the log stays the truth). Unset: every live aggregate in memory.
    #[serde(default)]
    pub max_cached_aggregates: Option<usize>,
    /// Where spill files go (default: the system's temporary directory).
    #[serde(default)]
    pub state_dir: Option<std::path::PathBuf>,
    /// At most this many aggregates of a batch decided at once: their
    /// business-logic calls are in flight together (each aggregate's
    /// commands still one after another).
    #[serde(default = "default_concurrent_roots")]
    pub concurrent_roots: usize,
    /// Hand commands a caller waits for (DECISION and stronger) straight to
    /// their partition's owner instead of through the commands topic.
    #[serde(default = "default_true")]
    pub direct_routing: bool,
    /// Where this worker serves `PartitionOwnerService` to other processes'
    /// gateways (port 0: any free port).
    #[serde(default = "default_owner_listen")]
    pub owner_listen: std::net::SocketAddr,
    /// The address other processes reach `owner_listen` at, as announced in
    /// the owner directory (default: the bound address). Set it when
    /// listening on `0.0.0.0`, e.g. to the pod IP.
    #[serde(default)]
    pub owner_advertise: Option<String>,
}

fn default_concurrent_roots() -> usize {
    64
}
fn default_true() -> bool {
    true
}
fn default_owner_listen() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 0))
}

fn default_max_batch() -> usize {
    512
}
fn default_dedupe_window() -> Duration {
    Duration::from_secs(300)
}
fn default_dedupe_max() -> usize {
    100_000
}
fn default_call_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_fenced_grace() -> Duration {
    Duration::from_secs(30)
}

impl Default for CommandHandlerConfig {
    fn default() -> Self {
        CommandHandlerConfig {
            max_batch: default_max_batch(),
            dedupe_window: default_dedupe_window(),
            dedupe_max: default_dedupe_max(),
            handler_call_timeout: default_call_timeout(),
            fenced_grace: default_fenced_grace(),
            max_cached_aggregates: None,
            state_dir: None,
            concurrent_roots: default_concurrent_roots(),
            direct_routing: true,
            owner_listen: default_owner_listen(),
            owner_advertise: None,
        }
    }
}

pub(crate) fn default_cascade_depth() -> u32 {
    8
}

/// A projector: the user's `ProjectorService`, fed the events of `domains`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectorConfig {
    /// URL of its `ProjectorService`.
    pub handler: String,
    /// Domains whose events it projects.
    pub domains: Vec<String>,
    /// SIMPLE and CASCADE commands wait for it and return its projection.
    #[serde(default)]
    pub sync: bool,
    /// What to do with an event it cannot get past (`{policy: retry |
    /// dead_letter | stop, attempts: 5}`).
    #[serde(default)]
    pub on_poison: crate::event_consumer::OnPoison,
}

/// A saga: the user's `SagaService`, turning events of `domains` into commands.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SagaConfig {
    /// URL of its `SagaService`.
    pub handler: String,
    /// Domains whose events it reacts to.
    pub domains: Vec<String>,
    /// What to do with an event it cannot get past.
    #[serde(default)]
    pub on_poison: crate::event_consumer::OnPoison,
}

/// A process manager: the user's `ProcessManagerService`, fed the events of
/// `domains` that carry a correlation id, one process per correlation id.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessManagerConfig {
    /// URL of its `ProcessManagerService`.
    pub handler: String,
    /// Domains whose events it reacts to.
    pub domains: Vec<String>,
    /// Store a snapshot of a process every this many process events (0 = never).
    #[serde(default = "default_snapshot_every")]
    pub snapshot_every: u32,
    /// What its router does with an event it cannot read.
    #[serde(default)]
    pub on_poison: crate::event_consumer::OnPoison,
}

/// Which log, and its settings: `{type: embedded | kafka, …}`.
#[derive(Clone, Debug)]
pub enum LogConfig {
    /// One SQLite file, one process.
    Embedded {
        /// The file (directories are created).
        path: PathBuf,
        /// Partitions per domain.
        partitions: u32,
        /// `full` (fsync per commit) or `normal`.
        durability: angzarr_connectors::embedded::Durability,
    },
    /// An Apache Kafka cluster.
    Kafka(KafkaLogConfig),
}

/// The settings of the embedded log as written (`log: {type: embedded}`,
/// `storage: {type: sqlite}`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmbeddedFields {
    #[serde(default = "default_path")]
    path: PathBuf,
    #[serde(default = "default_partitions")]
    partitions: u32,
    #[serde(default)]
    durability: angzarr_connectors::embedded::Durability,
}

impl From<EmbeddedFields> for LogConfig {
    fn from(f: EmbeddedFields) -> Self {
        LogConfig::Embedded { path: f.path, partitions: f.partitions, durability: f.durability }
    }
}

impl tagged::Tagged for LogConfig {
    const TYPES: &'static [&'static str] = &["embedded", "kafka"];
    fn from_tag<'de, D: serde::Deserializer<'de>>(tag: &str, rest: D) -> Result<Self, D::Error> {
        match tag {
            "embedded" => EmbeddedFields::deserialize(rest).map(Into::into),
            _ => KafkaLogConfig::deserialize(rest).map(LogConfig::Kafka),
        }
    }
}

impl<'de> Deserialize<'de> for LogConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        tagged::deserialize(d)
    }
}

/// Settings of the Kafka log.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaLogConfig {
    /// `host:port,...`
    pub bootstrap_servers: String,
    /// Topic prefix.
    #[serde(default = "default_prefix")]
    pub topic_prefix: String,
    /// Partitions of topics this process creates.
    #[serde(default = "default_partitions")]
    pub partitions: u32,
    /// Replication factor of topics this process creates; unset: the
    /// cluster's `default.replication.factor`.
    #[serde(default)]
    pub replication_factor: Option<i16>,
    /// `min.insync.replicas` of topics this process creates; unset: the
    /// cluster's default.
    #[serde(default)]
    pub min_insync_replicas: Option<u16>,
    /// How long a partition owner's transaction may stay open before the
    /// broker aborts it (`transaction.timeout.ms`); at most the brokers'
    /// `transaction.max.timeout.ms`.
    #[serde(default = "default_transaction_timeout", with = "humantime_serde")]
    pub transaction_timeout: Duration,
    /// Create missing topics at start-up.
    #[serde(default = "yes")]
    pub create_topics: bool,
    /// librdkafka settings passed through (TLS, SASL, …), e.g. `security.protocol: SSL`.
    #[serde(default)]
    pub settings: angzarr_connectors::kafka::Settings,
    /// How long a silent worker keeps its partitions before the group moves them.
    #[serde(default = "default_session_timeout", with = "humantime_serde")]
    pub session_timeout: Duration,
    /// How long start-up retries an unreachable broker.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
}

fn default_session_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_transaction_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(60)
}

impl KafkaLogConfig {
    /// The connector's settings.
    pub fn connector(&self) -> angzarr_connectors::kafka::KafkaConfig {
        let mut k = angzarr_connectors::kafka::KafkaConfig::new(self.bootstrap_servers.clone());
        k.topics = angzarr_topology::Topics::new(self.topic_prefix.clone());
        k.partitions = self.partitions;
        k.replication_factor = self.replication_factor;
        k.min_insync_replicas = self.min_insync_replicas;
        k.transaction_timeout = self.transaction_timeout;
        k.create_topics = self.create_topics;
        k.settings = self.settings.clone();
        k.session_timeout = self.session_timeout;
        k
    }
}

fn default_path() -> PathBuf {
    PathBuf::from("./data/events.db")
}
fn default_partitions() -> u32 {
    8
}
fn default_prefix() -> String {
    angzarr_topology::names::DEFAULT_PREFIX.to_string()
}
fn yes() -> bool {
    true
}

/// The gateway.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// gRPC listen address.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Largest accepted command book, bytes.
    #[serde(default = "default_max_command")]
    pub max_command_bytes: usize,
    /// How long DECISION (and SIMPLE, CASCADE) wait.
    #[serde(default = "default_decision_timeout", with = "humantime_serde")]
    pub decision_timeout: Duration,
    /// HTTP listener: Server-Sent Events and REST/JSON. None = off.
    #[serde(default)]
    pub http_listen: Option<SocketAddr>,
    /// Let the web console (`/ui` on the HTTP listener) send commands.
    /// Off by default; `angzarr dev` turns it on. The console only reads
    /// otherwise.
    #[serde(default)]
    pub console_commands: bool,
    /// TLS on the gRPC and HTTP listeners (both, or neither); with
    /// `client_ca`, clients must present a certificate it signed (mTLS).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// A server certificate, and optionally the CA clients' certificates must
/// chain to. PEM files.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Require client certificates signed by this CA.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

fn default_listen() -> SocketAddr {
    "127.0.0.1:1313".parse().unwrap()
}
fn default_max_command() -> usize {
    1 << 20
}
fn default_decision_timeout() -> Duration {
    Duration::from_secs(30)
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            listen: default_listen(),
            max_command_bytes: default_max_command(),
            decision_timeout: default_decision_timeout(),
            http_listen: None,
            console_commands: false,
            tls: None,
        }
    }
}

/// One domain.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainConfig {
    /// URL of its business logic (`http://127.0.0.1:50051`); none when
    /// another process handles its commands.
    #[serde(default)]
    pub handler: Option<String>,
    /// Store a snapshot every this many events (0 = never).
    #[serde(default = "default_snapshot_every")]
    pub snapshot_every: u32,
    /// URL of an `UpcasterService`: the domain's events are upcast on read,
    /// before any aggregate, projector, saga or process manager sees them.
    #[serde(default)]
    pub upcaster: Option<String>,
}

fn default_snapshot_every() -> u32 {
    100
}

pub(crate) mod humantime_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

impl Config {
    /// A configuration of `domains` on `log`, everything else default.
    pub fn new(log: LogConfig, gateway: GatewayConfig, domains: BTreeMap<String, DomainConfig>) -> Self {
        Config {
            log,
            admin: AdminConfig::default(),
            gateway,
            domains,
            projectors: BTreeMap::new(),
            sagas: BTreeMap::new(),
            process_managers: BTreeMap::new(),
            max_cascade_depth: default_cascade_depth(),
            command_handler: CommandHandlerConfig::default(),
            downstream: Default::default(),
        }
    }
}

impl DomainConfig {
    /// A domain served by the handler at `url`.
    pub fn served_by(url: impl Into<String>, snapshot_every: u32) -> Self {
        DomainConfig { handler: Some(url.into()), snapshot_every, upcaster: None }
    }
}

impl Config {
    /// Every domain of the log: the configured ones and one per process manager.
    pub fn log_domains(&self) -> Vec<String> {
        let mut d: Vec<String> = self.domains.keys().chain(self.process_managers.keys()).cloned().collect();
        d.sort();
        d
    }
}

/// Parses a `log:` section on its own (defaults filled in as in a file).
pub fn parse_log(yaml: &str) -> Result<LogConfig, ConfigError> {
    Ok(serde_yaml::from_str(yaml)?)
}

impl Config {
    /// Parses YAML text, interpolating the process environment.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Self::parse_with(text, |k| std::env::var(k).ok())
    }

    /// Parses YAML text with a custom variable lookup.
    pub fn parse_with(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let config: Config = serde_yaml::from_str(&interpolate(text, lookup)?)?;
        config.check()?;
        Ok(config)
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_path_buf(), e))?;
        Self::parse(&text).map_err(|e| ConfigError::InFile { path: path.to_path_buf(), source: Box::new(e) })
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.domains.is_empty() {
            return Err(ConfigError::Invalid("no domains configured".into()));
        }
        let listened = self
            .projectors
            .iter()
            .map(|(n, p)| ("projector", n, &p.domains))
            .chain(self.sagas.iter().map(|(n, s)| ("saga", n, &s.domains)))
            .chain(self.process_managers.iter().map(|(n, p)| ("process manager", n, &p.domains)));
        for (kind, name, domains) in listened {
            if domains.is_empty() {
                return Err(ConfigError::Invalid(format!("{kind} `{name}` listens to no domain")));
            }
            for d in domains {
                if !self.domains.contains_key(d) {
                    return Err(ConfigError::Invalid(format!(
                        "{kind} `{name}` listens to `{d}`, which is not under `domains`"
                    )));
                }
            }
        }
        for name in self.process_managers.keys() {
            if self.domains.contains_key(name) {
                return Err(ConfigError::Invalid(format!(
                    "process manager `{name}` has the name of a domain; its own logs need a domain of their own"
                )));
            }
        }
        for name in self.domains.keys().chain(self.process_managers.keys()) {
            if !angzarr_topology::names::valid_domain(name) {
                return Err(ConfigError::Invalid(format!("domain name `{name}`: use letters, digits, `_` and `-`")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "BOOT" => Some("k1:9092".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    /// The configuration README.md shows is one this code accepts, with the
    /// command-handler settings it documents.
    #[test]
    fn the_readme_configuration_parses() {
        let readme = include_str!("../../../README.md");
        let start = readme.find("```yaml\nlog:\n  type: embedded").expect("the README shows a configuration") + 8;
        let block = &readme[start..start + readme[start..].find("```").unwrap()];
        let c = Config::parse_with(block, |_| None).unwrap();
        assert_eq!(c.command_handler.dedupe_window, Duration::from_secs(300));
        assert_eq!(c.command_handler.handler_call_timeout, Duration::from_secs(10));
        assert_eq!(c.domains["player"].handler.as_deref(), Some("http://127.0.0.1:50051"));
    }

    #[test]
    fn a_full_config_parses() {
        let c = Config::parse_with(
            "log: {type: kafka, bootstrap_servers: '${BOOT}', settings: {security.protocol: SSL}}\n\
             gateway: {listen: '127.0.0.1:7000', decision_timeout: 5s}\n\
             domains:\n  player: {handler: 'http://127.0.0.1:50051', snapshot_every: 10}\n",
            env,
        )
        .unwrap();
        match c.log {
            LogConfig::Kafka(k) => {
                assert_eq!(k.bootstrap_servers, "k1:9092");
                assert_eq!(k.settings["security.protocol"], "SSL");
                // Unset: the cluster decides replication; 30 s transactions.
                let placement = k.connector().placement();
                assert_eq!((placement.replication, placement.min_insync_replicas), (None, None));
                assert_eq!(k.connector().transaction_timeout, Duration::from_secs(30));
            }
            other => panic!("{other:?}"),
        }
        let tuned = Config::parse_with(
            "log: {type: kafka, bootstrap_servers: k, replication_factor: 3, min_insync_replicas: 2, \
             transaction_timeout: 45s}\ndomains: {p: {}}",
            env,
        )
        .unwrap();
        let LogConfig::Kafka(k) = tuned.log else { panic!() };
        let connector = k.connector();
        assert_eq!((connector.placement().replication, connector.placement().min_insync_replicas), (Some(3), Some(2)));
        assert_eq!(connector.transaction_timeout, Duration::from_secs(45));
        assert_eq!(c.gateway.decision_timeout, Duration::from_secs(5));
        assert_eq!(c.domains["player"].snapshot_every, 10);
        assert_eq!(c.domains["player"].handler.as_deref(), Some("http://127.0.0.1:50051"));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::parse_with("log: {type: embedded, pth: x}\ndomains: {p: {handler: 'http://x'}}", env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `pth`"), "{err}");
        let err = Config::parse_with("log: {type: embedded}\ndomains: {p: {handler: 'http://x', snapshot: 1}}", env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `snapshot`"), "{err}");
    }

    #[test]
    fn the_seeds_storage_and_bus_keys_choose_the_log() {
        let c = Config::parse_with(
            "storage: {type: sqlite, path: /tmp/x.db}\nbus: {type: channel}\ndomains: {p: {handler: 'http://x'}}",
            env,
        )
        .unwrap();
        assert!(
            matches!(c.log, LogConfig::Embedded { ref path, partitions: 8, .. } if path.to_str() == Some("/tmp/x.db"))
        );
        let c = Config::parse_with(
            "storage: {type: kafka, bootstrap_servers: '${BOOT}'}\nbus: {type: kafka}\ndomains: {p: {}}",
            env,
        )
        .unwrap();
        assert!(matches!(c.log, LogConfig::Kafka(ref k) if k.bootstrap_servers == "k1:9092"));
        for (yaml, says) in [
            ("storage: {type: sqlite}\nbus: {type: kafka}", "is not a log this build has"),
            ("storage: {type: kafka, bootstrap_servers: x}\nbus: {type: channel}", "is not a log this build has"),
            ("log: {type: embedded}\nstorage: {type: sqlite}", "use one form"),
            ("bus: {type: channel}", "`bus` without `storage`"),
            ("gateway: {}", "missing the log"),
            ("storage: {type: postgres}", "unknown variant `postgres`"),
        ] {
            let err = Config::parse_with(&format!("{yaml}\ndomains: {{p: {{}}}}"), env).unwrap_err().to_string();
            assert!(err.contains(says), "{yaml}: {err}");
        }
    }

    /// A value with YAML syntax in a variable stays a value, and a wrong
    /// value is reported with its key and line.
    #[test]
    fn variables_are_scalars_and_errors_name_key_and_line() {
        let lookup = |k: &str| match k {
            "PW" => Some("a: b\nc #d".to_string()),
            "PARTS" => Some("12".to_string()),
            "BAD" => Some("many".to_string()),
            _ => None,
        };
        let c = Config::parse_with(
            "log:\n  type: kafka\n  bootstrap_servers: k:9092\n  partitions: ${PARTS}\n  settings:\n    sasl.password: ${PW}\ndomains: {p: {}}",
            lookup,
        )
        .unwrap();
        let LogConfig::Kafka(k) = c.log else { panic!() };
        assert_eq!(k.partitions, 12);
        assert_eq!(k.settings["sasl.password"], "a: b\nc #d");
        let err = Config::parse_with("log:\n  type: embedded\n  partitions: ${BAD}\ndomains: {p: {}}", lookup)
            .unwrap_err()
            .to_string();
        assert!(err.contains("log.partitions") && err.contains("line 3"), "{err}");
    }

    #[test]
    fn bad_domain_names_are_errors() {
        let err =
            Config::parse_with("log: {type: embedded}\ndomains: {'a.b': {handler: 'http://x'}}", env).unwrap_err();
        assert!(err.to_string().contains("domain name `a.b`"));
    }
}

#[cfg(test)]
mod example_configs {
    use super::*;

    /// The example configurations in the repository stay valid.
    #[test]
    fn the_poker_example_configs_parse() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/poker");
        for (file, env) in
            [("angzarr-kafka.yaml", vec![("KAFKA_BOOTSTRAP", "127.0.0.1:9092")]), ("angzarr-embedded.yaml", vec![])]
        {
            let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
            let lookup = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
            Config::parse_with(&text, lookup).unwrap_or_else(|e| panic!("{file}: {e}"));
        }
        let compose = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/angzarr-compose.yaml");
        let text = std::fs::read_to_string(compose).unwrap();
        let env = |k: &str| match k {
            "KAFKA_BOOTSTRAP" => Some("kafka:9092".to_string()),
            "PLAYER_HANDLER" => Some("http://player:50051".to_string()),
            _ => None,
        };
        let c = Config::parse_with(&text, env).unwrap();
        assert_eq!(c.sagas["payment-gateway"].domains, ["player"]);
        let text = std::fs::read_to_string(format!("{dir}/angzarr-kafka.yaml")).unwrap();
        assert!(
            matches!(Config::parse_with(&text, |_| None), Err(ConfigError::MissingVar { name, .. }) if name == "KAFKA_BOOTSTRAP")
        );
    }
}
