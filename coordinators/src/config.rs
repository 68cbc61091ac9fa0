//! Declarative configuration: YAML with `${VAR}` / `${VAR:-default}`.
//!
//! Interpolation happens on the text before parsing, so any value can come
//! from the environment. Unknown keys and unset variables are errors at
//! start-up, not surprises at runtime.

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
    #[error("environment variable `{0}` is not set (use `${{{0}:-default}}` for a default)")]
    MissingVar(String),
    /// `${` without its `}`.
    #[error("unterminated `${{` at byte {0}")]
    Unterminated(usize),
    /// Not valid YAML for this schema (unknown keys included).
    #[error("{0}")]
    Yaml(#[from] serde_yaml::Error),
    /// Parsed, but not usable.
    #[error("{0}")]
    Invalid(String),
}

/// The whole configuration of a process.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The log behind every coordinator.
    pub log: LogConfig,
    /// The gateway's listeners and limits.
    #[serde(default)]
    pub gateway: GatewayConfig,
    /// Domains, by name: the ones with a `handler` are served by this
    /// process's command handler; the others are only read or targeted.
    pub domains: BTreeMap<String, DomainConfig>,
    /// Projectors, by name.
    #[serde(default)]
    pub projectors: BTreeMap<String, ProjectorConfig>,
    /// Sagas, by name.
    #[serde(default)]
    pub sagas: BTreeMap<String, SagaConfig>,
    /// Process managers, by name; each is also a domain of the log (its
    /// own commands, events and snapshots), so the name must not be one of
    /// `domains`.
    #[serde(default)]
    pub process_managers: BTreeMap<String, ProcessManagerConfig>,
    /// How deep CASCADE follows saga commands before refusing.
    #[serde(default = "default_cascade_depth")]
    pub max_cascade_depth: u32,
    /// How partition owners work.
    #[serde(default)]
    pub command_handler: CommandHandlerConfig,
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
        }
    }
}

fn default_cascade_depth() -> u32 {
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
}

/// A saga: the user's `SagaService`, turning events of `domains` into commands.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SagaConfig {
    /// URL of its `SagaService`.
    pub handler: String,
    /// Domains whose events it reacts to.
    pub domains: Vec<String>,
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
}

/// Which log, and its settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum LogConfig {
    /// One SQLite file, one process.
    Embedded {
        /// The file (directories are created).
        #[serde(default = "default_path")]
        path: PathBuf,
        /// Partitions per domain.
        #[serde(default = "default_partitions")]
        partitions: u32,
        /// `full` (fsync per commit) or `normal`.
        #[serde(default)]
        durability: angzarr_connectors::embedded::Durability,
    },
    /// An Apache Kafka cluster.
    Kafka(KafkaLogConfig),
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
    /// Replication factor of topics this process creates.
    #[serde(default = "default_replication")]
    pub replication_factor: i32,
    /// Create missing topics at start-up.
    #[serde(default = "yes")]
    pub create_topics: bool,
    /// librdkafka settings passed through (TLS, SASL, …), e.g. `security.protocol: SSL`.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
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
fn default_replication() -> i32 {
    1
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

mod humantime_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

/// Replaces `${NAME}` and `${NAME:-default}` using `lookup`; `$${` is a literal `${`.
/// Comment lines (first non-blank character `#`) are kept as they are, so an
/// example left in a comment never demands its variable.
pub fn interpolate(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
        } else {
            out.push_str(&interpolate_line(line, offset, &lookup)?);
        }
        offset += line.len();
    }
    Ok(out)
}

fn interpolate_line(text: &str, start: usize, lookup: &impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut pos = start;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(literal) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = literal;
            pos += i + 3;
        } else if let Some(body) = after.strip_prefix("${") {
            let end = body.find('}').ok_or(ConfigError::Unterminated(pos + i))?;
            let expr = &body[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (expr, None),
            };
            match (lookup(name).filter(|v| !v.is_empty() || default.is_none()), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(ConfigError::MissingVar(name.to_string())),
            }
            rest = &body[end + 1..];
            pos += i + 3 + end;
        } else {
            out.push('$');
            rest = &after[1..];
            pos += i + 1;
        }
    }
    out.push_str(rest);
    Ok(out)
}

impl Config {
    /// A configuration of `domains` on `log`, everything else default.
    pub fn new(log: LogConfig, gateway: GatewayConfig, domains: BTreeMap<String, DomainConfig>) -> Self {
        Config {
            log,
            gateway,
            domains,
            projectors: BTreeMap::new(),
            sagas: BTreeMap::new(),
            process_managers: BTreeMap::new(),
            max_cascade_depth: default_cascade_depth(),
            command_handler: CommandHandlerConfig::default(),
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
        Self::parse(&text)
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

    #[test]
    fn interpolation() {
        assert_eq!(interpolate("a ${BOOT} b", env).unwrap(), "a k1:9092 b");
        assert_eq!(interpolate("${NOPE:-x:1}", env).unwrap(), "x:1");
        assert_eq!(interpolate("${EMPTY:-d}", env).unwrap(), "d");
        assert_eq!(interpolate("cost $5 and $${LIT}", env).unwrap(), "cost $5 and ${LIT}");
        assert!(matches!(interpolate("${NOPE}", env), Err(ConfigError::MissingVar(v)) if v == "NOPE"));
        assert!(matches!(interpolate("x ${BOOT", env), Err(ConfigError::Unterminated(2))));
        assert!(matches!(interpolate("a: 1\nb: ${BOOT", env), Err(ConfigError::Unterminated(8))));
        assert_eq!(interpolate("  # user: ${NOPE}\nb: ${BOOT}\n", env).unwrap(), "  # user: ${NOPE}\nb: k1:9092\n");
    }

    /// The configuration README.md shows is one this code accepts, with the
    /// command-handler settings it documents.
    #[test]
    fn the_readme_configuration_parses() {
        let readme = include_str!("../../README.md");
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
            }
            other => panic!("{other:?}"),
        }
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
            matches!(Config::parse_with(&text, |_| None), Err(ConfigError::MissingVar(v)) if v == "KAFKA_BOOTSTRAP")
        );
    }
}
