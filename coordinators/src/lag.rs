//! Consumer lag of every group a configuration defines, sampled on a timer:
//! the partition owners (commands) and each projector, saga and process
//! manager (events), per partition.
//!
//! Why sampled here and not by the consumers: a stuck or stopped consumer
//! is exactly the one that cannot report its own lag. Any process that
//! serves `/metrics` samples every group of its configuration from the log
//! (Kafka: committed offsets and watermarks, without joining the group), so
//! a projector that is down still shows its lag rising.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use angzarr_connectors::Log;
use angzarr_connectors::log::{PartitionLag, Stream};

use crate::Shutdown;
use crate::config::Config;

/// Name of the gauge: records behind, by `group`, `domain`, `partition`.
pub const CONSUMER_LAG: &str = "angzarr.consumer.lag";

/// One group's sample.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupLag {
    /// The group, as the coordinators name it (`projector.bankroll`).
    pub group: String,
    /// `commands` or `events`.
    pub stream: &'static str,
    /// Per partition.
    pub partitions: Vec<PartitionRow>,
    /// Why the sample failed, if it did (the rows are then the last good ones).
    pub error: Option<String>,
}

/// One partition of a [`GroupLag`].
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionRow {
    /// The domain.
    pub domain: String,
    /// The partition.
    pub partition: u32,
    /// The group's committed position, if any.
    pub committed: Option<i64>,
    /// The partition's end.
    pub end: i64,
    /// Records behind.
    pub lag: i64,
}

/// The latest samples, shared with the HTTP listeners.
#[derive(Clone, Default)]
pub struct LagBoard {
    inner: Arc<RwLock<(Option<SystemTime>, Vec<GroupLag>)>>,
}

impl LagBoard {
    /// When the last sample was taken, and its rows.
    pub fn latest(&self) -> (Option<SystemTime>, Vec<GroupLag>) {
        self.inner.read().expect("lag board").clone()
    }
}

/// The groups of `config` and what each consumes.
pub fn groups(config: &Config) -> Vec<(String, Stream, Vec<String>)> {
    let mut g = vec![(crate::command_handler::GROUP.to_string(), Stream::Commands, config.log_domains())];
    g.extend(config.projectors.iter().map(|(n, p)| (format!("projector.{n}"), Stream::Events, p.domains.clone())));
    g.extend(config.sagas.iter().map(|(n, s)| (format!("saga.{n}"), Stream::Events, s.domains.clone())));
    g.extend(config.process_managers.iter().map(|(n, p)| (format!("pm.{n}"), Stream::Events, p.domains.clone())));
    g
}

/// Samples `groups` every `every` into `board` and the gauges, until `stop`.
pub async fn sample(
    log: Arc<dyn Log>,
    groups: Vec<(String, Stream, Vec<String>)>,
    every: Duration,
    board: LagBoard,
    stop: Shutdown,
) -> Result<(), crate::CoordinatorError> {
    loop {
        let previous = board.latest().1;
        let mut rows = Vec::with_capacity(groups.len());
        for (group, stream, domains) in &groups {
            let sampled = log.lag(group, domains, *stream).await;
            let (partitions, error) = match sampled {
                Ok(list) => (list.iter().map(row).collect(), None),
                Err(e) => {
                    let last = previous.iter().find(|g| &g.group == group).map(|g| g.partitions.clone());
                    (last.unwrap_or_default(), Some(e.to_string()))
                }
            };
            for p in &partitions {
                metrics::gauge!(CONSUMER_LAG, "group" => group.clone(), "domain" => p.domain.clone(),
                    "partition" => p.partition.to_string())
                .set(p.lag as f64);
            }
            let stream = if *stream == Stream::Commands { "commands" } else { "events" };
            rows.push(GroupLag { group: group.clone(), stream, partitions, error });
        }
        *board.inner.write().expect("lag board") = (Some(SystemTime::now()), rows);
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait() => return Ok(()),
        }
    }
}

fn row(p: &PartitionLag) -> PartitionRow {
    PartitionRow { domain: p.domain.clone(), partition: p.partition, committed: p.committed, end: p.end, lag: p.lag() }
}
