//! The configuration file as written: either `log:` or the seed's
//! `storage:` + `bus:` pair, resolved into one [`LogConfig`].
//!
//! Why two shapes: `log:` says what the code has (one log that is both the
//! event store and the bus); the seed describes the same choice as two
//! keys. Both are accepted so configurations written for the seed run
//! unchanged, but only in combinations that exist — the embedded log is
//! SQLite with an in-process channel, the Kafka log is Kafka for both.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::tagged::Tagged;
use super::{
    AdminConfig, CommandHandlerConfig, Config, DomainConfig, GatewayConfig, LogConfig, ProcessManagerConfig,
    ProjectorConfig, SagaConfig, default_cascade_depth,
};

/// `storage:` — where events are kept: `{type: sqlite | kafka, …}`. The
/// settings are those of `log: {type: embedded}` and `log: {type: kafka}`.
#[derive(Clone, Debug)]
pub struct StorageConfig(LogConfig);

impl Tagged for StorageConfig {
    const TYPES: &'static [&'static str] = &["sqlite", "kafka"];
    fn from_tag<'de, D: serde::Deserializer<'de>>(tag: &str, rest: D) -> Result<Self, D::Error> {
        LogConfig::from_tag(if tag == "sqlite" { "embedded" } else { tag }, rest).map(StorageConfig)
    }
}

impl<'de> Deserialize<'de> for StorageConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::tagged::deserialize(d)
    }
}

/// `bus:` — how events reach projectors, sagas and process managers.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum BusConfig {
    /// In-process channels (with `storage: {type: sqlite}`).
    Channel,
    /// The Kafka events topics (with `storage: {type: kafka}`).
    Kafka,
}

/// The file's top level.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConfigFile {
    #[serde(default)]
    log: Option<LogConfig>,
    #[serde(default)]
    storage: Option<StorageConfig>,
    #[serde(default)]
    bus: Option<BusConfig>,
    #[serde(default)]
    admin: AdminConfig,
    #[serde(default)]
    gateway: GatewayConfig,
    domains: BTreeMap<String, DomainConfig>,
    #[serde(default)]
    projectors: BTreeMap<String, ProjectorConfig>,
    #[serde(default)]
    sagas: BTreeMap<String, SagaConfig>,
    #[serde(default)]
    process_managers: BTreeMap<String, ProcessManagerConfig>,
    #[serde(default = "default_cascade_depth")]
    max_cascade_depth: u32,
    #[serde(default)]
    command_handler: CommandHandlerConfig,
    #[serde(default)]
    downstream: crate::event_consumer::Tuning,
}

/// The one log a `log:` or `storage:` + `bus:` pair describes.
fn resolve(
    log: Option<LogConfig>,
    storage: Option<StorageConfig>,
    bus: Option<BusConfig>,
) -> Result<LogConfig, String> {
    match (log, storage, bus) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            Err("`log` and `storage`/`bus` both given: use one form (`log`, or `storage` with `bus`)".into())
        }
        (Some(log), None, None) => Ok(log),
        (None, None, None) => Err("missing the log: `log: {type: embedded | kafka, …}` \
                                  (or `storage: {type: sqlite | kafka, …}` with `bus`)"
            .into()),
        (None, None, Some(_)) => Err("`bus` without `storage`: say where events are kept".into()),
        (None, Some(StorageConfig(log @ LogConfig::Embedded { .. })), None | Some(BusConfig::Channel)) => Ok(log),
        (None, Some(StorageConfig(log @ LogConfig::Kafka(_))), None | Some(BusConfig::Kafka)) => Ok(log),
        (None, Some(StorageConfig(LogConfig::Embedded { .. })), Some(BusConfig::Kafka)) => {
            Err("`storage: sqlite` with `bus: kafka` is not a log this build has: SQLite storage comes with the \
             in-process bus (`bus: {type: channel}`); for Kafka use `type: kafka` for both"
                .into())
        }
        (None, Some(StorageConfig(LogConfig::Kafka(_))), Some(BusConfig::Channel)) => {
            Err("`storage: kafka` with `bus: channel` is not a log this build has: Kafka is both the store and \
             the bus (`bus: {type: kafka}`)"
                .into())
        }
    }
}

impl TryFrom<ConfigFile> for Config {
    type Error = String;

    fn try_from(f: ConfigFile) -> Result<Self, String> {
        Ok(Config {
            log: resolve(f.log, f.storage, f.bus)?,
            admin: f.admin,
            gateway: f.gateway,
            domains: f.domains,
            projectors: f.projectors,
            sagas: f.sagas,
            process_managers: f.process_managers,
            max_cascade_depth: f.max_cascade_depth,
            command_handler: f.command_handler,
            downstream: f.downstream,
        })
    }
}
