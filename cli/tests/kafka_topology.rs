//! Topics on a shared cluster, with the project's binary and the real
//! broker: `angzarr topology plan` creates nothing and says what it would
//! create (replication and `min.insync.replicas` from the cluster's
//! defaults unless configured, the dead-letter topic of a consumer that
//! dead-letters); `apply` creates exactly that; a plan against existing
//! topics that differ from the configuration lists the differences and
//! alters nothing; `create_topics: false` refuses to start on missing
//! topics and creates none.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use angzarr_connectors::kafka::KafkaLog;
use angzarr_coordinators::config::{Config, LogConfig};
use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use support::{bootstrap, prefix};

fn write(dir: &Path, prefix: &str, kafka_extra: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{}.yaml", kafka_extra.len()));
    std::fs::write(
        &path,
        format!(
            "log:\n  type: kafka\n  bootstrap_servers: '{}'\n  topic_prefix: {prefix}\n{kafka_extra}\
             domains:\n  player: {{handler: 'http://127.0.0.1:1'}}\n\
             sagas:\n  welcome: {{handler: 'http://127.0.0.1:1', domains: [player], on_poison: {{policy: dead_letter}}}}\n\
             projectors:\n  board: {{handler: 'http://127.0.0.1:1', domains: [player]}}\n",
            bootstrap()
        ),
    )
    .unwrap();
    path
}

fn topology(action: &str, config: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_angzarr"))
        .args(["topology", action, "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn admin() -> AdminClient<DefaultClientContext> {
    angzarr_topology::kafka::admin(rdkafka::ClientConfig::new().set("bootstrap.servers", bootstrap())).unwrap()
}

/// The topics of the cluster named `prefix.*`, with their partition counts.
fn topics_of(prefix: &str) -> HashMap<String, u32> {
    angzarr_topology::kafka::partition_counts(&admin(), Duration::from_secs(10))
        .unwrap()
        .into_iter()
        .filter(|(n, _)| n.starts_with(&format!("{prefix}.")))
        .collect()
}

async fn config_value(topic: &str, key: &str) -> String {
    let described = admin()
        .describe_configs(&[ResourceSpecifier::Topic(topic)], &AdminOptions::new())
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    described.get(key).and_then(|e| e.value.clone()).unwrap_or_default()
}

#[tokio::test]
async fn kafka_topology_plan_apply_and_differences_with_existing_topics() {
    let p = prefix("topo");
    let dir = tempfile::tempdir().unwrap();
    let defaults = write(dir.path(), &p, "  partitions: 2\n");

    let (ok, plan) = topology("plan", &defaults);
    assert!(ok, "{plan}");
    let events = format!("+ create {p}.player.events (partitions=2, replication=cluster default, ");
    assert!(
        plan.lines().any(|l| l.starts_with(&events) && l.contains("min.insync.replicas=cluster default")),
        "{plan}"
    );
    assert!(plan.contains(&format!("+ create {p}.saga.welcome.dlq (partitions=1, ")), "the saga dead-letters: {plan}");
    assert!(!plan.contains("projector.board.dlq"), "the projector retries (the default): {plan}");
    assert_eq!(plan.lines().filter(|l| l.starts_with("+ create")).count(), 7, "{plan}");
    assert!(topics_of(&p).is_empty(), "a plan creates nothing");

    let (ok, applied) = topology("apply", &defaults);
    assert!(ok && applied.contains("created 7 topic(s)"), "{applied}");
    let created = topics_of(&p);
    assert_eq!(created.len(), 7, "{created:?}");
    assert_eq!(created[&format!("{p}.saga.welcome.dlq")], 1);
    // The single test broker's defaults: replication 1, min.insync.replicas 1.
    assert_eq!(config_value(&format!("{p}.player.events"), "min.insync.replicas").await, "1");

    let (ok, again) = topology("plan", &defaults);
    assert!(ok && again.lines().filter(|l| l.starts_with("= keep")).count() == 7, "all kept as they are: {again}");

    // The configuration now asks for more than the topics have: listed, not altered.
    let stricter = write(dir.path(), &p, "  replication_factor: 2\n  min_insync_replicas: 2\n  partitions: 4\n");
    let (ok, diff) = topology("plan", &stricter);
    assert!(ok, "{diff}");
    let line = diff.lines().find(|l| l.contains(&format!("{p}.player.events:"))).unwrap_or_default();
    assert!(
        line.starts_with("~ keep")
            && line.contains("replication factor 1 (configured 2)")
            && line.contains("min.insync.replicas=1 (configured 2)")
            && line.ends_with("(not altered)"),
        "{diff}"
    );
    let replies = diff.lines().find(|l| l.contains(&format!("{p}._replies:"))).unwrap_or_default();
    assert!(replies.contains("2 partitions (configured 4; the existing count is used)"), "{diff}");
    assert!(!diff.contains("+ create"), "{diff}");
    let (ok, applied) = topology("apply", &stricter);
    assert!(ok && applied.contains("created 0 topic(s)"), "{applied}");
    assert_eq!(config_value(&format!("{p}.player.events"), "min.insync.replicas").await, "1", "not altered");
}

#[tokio::test]
async fn kafka_create_topics_false_refuses_missing_topics_and_creates_none() {
    let p = prefix("nocreate");
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &p, "  partitions: 2\n  create_topics: false\n");
    let config = Config::load(&path).unwrap();
    let LogConfig::Kafka(k) = &config.log else { unreachable!() };
    let err = KafkaLog::connect(k.connector(), config.log_domains(), Duration::from_secs(10))
        .await
        .err()
        .expect("refused: the topics are missing");
    assert!(err.to_string().contains("missing topics") && err.to_string().contains(&format!("{p}.player.events")));
    assert!(topics_of(&p).is_empty(), "nothing created");

    // Positive control through the same path: once applied, it starts.
    let (ok, applied) = topology("apply", &path);
    assert!(ok, "{applied}");
    KafkaLog::connect(k.connector(), config.log_domains(), Duration::from_secs(10)).await.expect("starts");
    assert_eq!(topics_of(&p).len(), 7);
}
