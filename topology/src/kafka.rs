//! Plan and apply the topics of a configuration on a Kafka cluster.
//!
//! Per domain: `events` (the store: `retention.ms=-1`, never compacted),
//! `commands` (co-partitioned with events, short retention) and `snapshots`
//! (compacted); plus one `_replies` topic for gateways, one compacted
//! `_owners` topic (which worker owns each commands partition, and where it
//! listens) and one `_rejections` topic for commands rejected with nobody
//! waiting. Existing topics are
//! checked, never altered: a store that is not co-partitioned or that would
//! compact or expire events is refused with the reason, because running on
//! it would silently break the guarantees.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;

use crate::names::{TopicKind, Topics};

/// Where a configuration's topics go on the cluster.
///
/// Replication and `min.insync.replicas` left unset take the cluster's
/// defaults (the brokers' `default.replication.factor` and
/// `min.insync.replicas`): on a shared cluster they are the operators'
/// choice, and a hard-coded 1 would make the event store the one topic that
/// does not survive a broker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    /// Partitions of the topics created.
    pub partitions: u32,
    /// Replication factor of the topics created; `None`: the cluster's default.
    pub replication: Option<i16>,
    /// `min.insync.replicas` of the topics created; `None`: the cluster's default.
    pub min_insync_replicas: Option<u16>,
}

impl Placement {
    /// `partitions` partitions, replication from the cluster's defaults.
    pub fn partitions(partitions: u32) -> Self {
        Placement { partitions, ..Default::default() }
    }
}

/// A topic as it should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicSpec {
    /// Full name.
    pub name: String,
    /// Partition count.
    pub partitions: u32,
    /// Replication factor for creation; `None`: the cluster's default.
    pub replication: Option<i16>,
    /// `min.insync.replicas` wanted; `None`: the cluster's default. Set on
    /// creation; an existing topic that differs is reported, not altered.
    pub min_insync_replicas: Option<u16>,
    /// Topic configs to create it with, and to check.
    pub configs: Vec<(&'static str, String)>,
    /// The events topic this one must be co-partitioned with, if any.
    pub copartitioned_with: Option<String>,
}

/// What applying would do for one topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Missing: create it.
    Create(TopicSpec),
    /// Present and usable; any differences from the configuration that do
    /// not break the guarantees (replication, `min.insync.replicas`,
    /// partition count of a whole domain, transient retention) are listed:
    /// they are never altered here.
    Keep(String, Vec<String>),
    /// Present but unusable; applying is refused.
    Refuse(String, String),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Create(t) => {
                let mut configs: Vec<String> = t.configs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                configs.push(match t.min_insync_replicas {
                    Some(n) => format!("min.insync.replicas={n}"),
                    None => "min.insync.replicas=cluster default".into(),
                });
                let replication = t.replication.map_or("cluster default".to_string(), |r| r.to_string());
                write!(
                    f,
                    "+ create {} (partitions={}, replication={replication}, {})",
                    t.name,
                    t.partitions,
                    configs.join(", ")
                )
            }
            Step::Keep(n, diffs) if diffs.is_empty() => write!(f, "= keep   {n}"),
            Step::Keep(n, diffs) => write!(f, "~ keep   {n}: {} (not altered)", diffs.join("; ")),
            Step::Refuse(n, why) => write!(f, "! refuse {n}: {why}"),
        }
    }
}

/// Topology errors.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The cluster could not be asked.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Existing topics break the guarantees.
    #[error("existing topics cannot be used:\n{}", .0.join("\n"))]
    Refused(Vec<String>),
}

/// The dead-letter topic of consumer group `group`: one partition (dead
/// letters are rare and read whole, in order), compacted by letter id so a
/// settled letter's marker replaces it.
pub fn dead_letter_topic(topics: &Topics, group: &str, placement: Placement) -> TopicSpec {
    TopicSpec {
        name: topics.dead_letters(group),
        partitions: 1,
        replication: placement.replication,
        min_insync_replicas: placement.min_insync_replicas,
        configs: vec![("cleanup.policy", "compact".to_string())],
        copartitioned_with: None,
    }
}

/// The topics `domains` need.
pub fn desired(topics: &Topics, domains: &[String], placement: Placement) -> Vec<TopicSpec> {
    let Placement { partitions, replication, min_insync_replicas } = placement;
    let mut out = Vec::new();
    for d in domains {
        let events = topics.name(d, TopicKind::Events);
        for kind in TopicKind::ALL {
            let configs = match kind {
                TopicKind::Events => vec![
                    ("cleanup.policy", "delete".to_string()),
                    ("retention.ms", "-1".to_string()),
                    ("retention.bytes", "-1".to_string()),
                ],
                TopicKind::Commands => {
                    vec![
                        ("cleanup.policy", "delete".to_string()),
                        ("retention.ms", (7 * 24 * 3600 * 1000u64).to_string()),
                    ]
                }
                TopicKind::Snapshots => vec![("cleanup.policy", "compact".to_string())],
            };
            out.push(TopicSpec {
                name: topics.name(d, kind),
                partitions,
                replication,
                min_insync_replicas,
                configs,
                copartitioned_with: (kind != TopicKind::Events).then(|| events.clone()),
            });
        }
    }
    out.push(TopicSpec {
        name: topics.replies(),
        partitions,
        replication,
        min_insync_replicas,
        configs: vec![("cleanup.policy", "delete".to_string()), ("retention.ms", (3600 * 1000u64).to_string())],
        copartitioned_with: None,
    });
    // One record per commands partition, the latest owner's: one partition
    // and compaction keep it small for every gateway to read whole.
    out.push(TopicSpec {
        name: topics.owners(),
        partitions: 1,
        replication,
        min_insync_replicas,
        configs: vec![("cleanup.policy", "compact".to_string())],
        copartitioned_with: None,
    });
    out.push(TopicSpec {
        name: topics.rejections(),
        partitions,
        replication,
        min_insync_replicas,
        configs: vec![
            ("cleanup.policy", "delete".to_string()),
            ("retention.ms", (30 * 24 * 3600 * 1000u64).to_string()),
        ],
        copartitioned_with: None,
    });
    out
}

/// An admin client for `config`.
pub fn admin(config: &ClientConfig) -> Result<AdminClient<DefaultClientContext>, TopologyError> {
    Ok(config.create()?)
}

/// Partition counts of the cluster's topics (absent = missing).
pub fn partition_counts(
    admin: &AdminClient<impl rdkafka::ClientContext + 'static>,
    timeout: Duration,
) -> Result<HashMap<String, u32>, TopologyError> {
    Ok(existing(admin, timeout)?.into_iter().map(|(name, (partitions, _))| (name, partitions)).collect())
}

/// Partition count and replication factor (of the first partition) of the
/// cluster's topics.
fn existing(
    admin: &AdminClient<impl rdkafka::ClientContext + 'static>,
    timeout: Duration,
) -> Result<HashMap<String, (u32, usize)>, TopologyError> {
    let md = admin.inner().fetch_metadata(None, timeout)?;
    Ok(md
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| {
            let replication = t.partitions().first().map_or(0, |p| p.replicas().len());
            (t.name().to_string(), (t.partitions().len() as u32, replication))
        })
        .collect())
}

/// Compares `desired` with the cluster.
pub async fn plan(
    admin: &AdminClient<impl rdkafka::ClientContext + 'static>,
    desired: &[TopicSpec],
    timeout: Duration,
) -> Result<Vec<Step>, TopologyError> {
    let found = existing(admin, timeout)?;
    let counts: HashMap<&str, u32> = found.iter().map(|(n, (p, _))| (n.as_str(), *p)).collect();
    let existing: Vec<&TopicSpec> = desired.iter().filter(|t| counts.contains_key(t.name.as_str())).collect();
    let specifiers: Vec<ResourceSpecifier> = existing.iter().map(|t| ResourceSpecifier::Topic(&t.name)).collect();
    let described = if specifiers.is_empty() {
        Vec::new()
    } else {
        admin.describe_configs(&specifiers, &AdminOptions::new().request_timeout(Some(timeout))).await?
    };
    let mut steps = Vec::new();
    for t in desired {
        let Some(&have) = counts.get(t.name.as_str()) else {
            steps.push(Step::Create(t.clone()));
            continue;
        };
        let mut problems = Vec::new();
        let mut differences = Vec::new();
        if t.copartitioned_with.is_none() && have != t.partitions && t.partitions > 0 {
            differences.push(format!("{have} partitions (configured {}; the existing count is used)", t.partitions));
        }
        let replicas = found.get(&t.name).map_or(0, |(_, r)| *r);
        if let Some(want) = t.replication
            && replicas != want as usize
        {
            differences.push(format!("replication factor {replicas} (configured {want})"));
        }
        if let Some(events) = &t.copartitioned_with {
            let want = counts.get(events.as_str()).copied().unwrap_or(t.partitions);
            if have != want {
                problems.push(format!(
                    "{have} partitions, but {events} has {want}: commands, events and snapshots must be co-partitioned"
                ));
            }
        }
        let resource =
            existing.iter().position(|e| e.name == t.name).and_then(|i| described.get(i)).and_then(|r| r.as_ref().ok());
        if let Some(resource) = resource {
            for (key, want) in &t.configs {
                if *key == "retention.ms"
                    && (t.name.ends_with(".commands")
                        || t.name.ends_with("._replies")
                        || t.name.ends_with("._rejections"))
                {
                    continue; // retention of transient topics is the operator's choice
                }
                let have = resource.get(key).and_then(|e| e.value.clone()).unwrap_or_default();
                if &have != want {
                    problems.push(format!("{key}={have}, required {key}={want}"));
                }
            }
            if let Some(want) = t.min_insync_replicas {
                let have = resource.get("min.insync.replicas").and_then(|e| e.value.clone()).unwrap_or_default();
                if have != want.to_string() {
                    differences.push(format!("min.insync.replicas={have} (configured {want})"));
                }
            }
        }
        if problems.is_empty() {
            steps.push(Step::Keep(t.name.clone(), differences));
        } else {
            steps.push(Step::Refuse(t.name.clone(), problems.join("; ")));
        }
    }
    Ok(steps)
}

/// Creates what the plan creates; refuses (creating nothing) if any step is a refusal.
pub async fn apply(
    admin: &AdminClient<impl rdkafka::ClientContext + 'static>,
    steps: &[Step],
    timeout: Duration,
) -> Result<usize, TopologyError> {
    let refused: Vec<String> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Refuse(n, why) => Some(format!("  {n}: {why}")),
            _ => None,
        })
        .collect();
    if !refused.is_empty() {
        return Err(TopologyError::Refused(refused));
    }
    let creates: Vec<&TopicSpec> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Create(t) => Some(t),
            _ => None,
        })
        .collect();
    if creates.is_empty() {
        return Ok(0);
    }
    let min_insync: HashMap<&String, Option<String>> =
        creates.iter().map(|t| (&t.name, t.min_insync_replicas.map(|m| m.to_string()))).collect();
    let new: Vec<NewTopic> = creates
        .iter()
        .map(|t| {
            // -1: the brokers' `default.replication.factor` (KIP-464).
            let replication = t.replication.map_or(-1, i32::from);
            let mut n = NewTopic::new(&t.name, t.partitions as i32, TopicReplication::Fixed(replication));
            for (k, v) in &t.configs {
                n = n.set(k, v);
            }
            if let Some(m) = &min_insync[&t.name] {
                n = n.set("min.insync.replicas", m);
            }
            n
        })
        .collect();
    let results = admin.create_topics(&new, &AdminOptions::new().operation_timeout(Some(timeout))).await?;
    let mut created = 0;
    let mut failed = Vec::new();
    for r in results {
        match r {
            Ok(_) => created += 1,
            // Another process created it meanwhile: fine, the next plan checks it.
            Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => failed.push(format!("  {name}: {code}")),
        }
    }
    if !failed.is_empty() {
        return Err(TopologyError::Refused(failed));
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desired_topics_and_settings() {
        let d = desired(&Topics::new("t"), &["player".to_string()], Placement::partitions(6));
        let names: Vec<_> = d.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["t.player.events", "t.player.commands", "t.player.snapshots", "t._replies", "t._owners", "t._rejections"]
        );
        assert!(d[0].configs.contains(&("retention.ms", "-1".to_string())));
        assert!(d[2].configs.contains(&("cleanup.policy", "compact".to_string())));
        assert_eq!(d[1].copartitioned_with.as_deref(), Some("t.player.events"));
    }
}
