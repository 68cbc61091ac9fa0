//! Bad infrastructure input on a real broker: a broker that is down, topics
//! that are missing or unusable, a record that does not decode.
#![allow(clippy::type_complexity)]

mod support;

use std::time::Duration;

use angzarr_connectors::kafka::{KafkaConfig, KafkaLog};
use angzarr_topology::Topics;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use support::*;

fn config(prefix: &str) -> KafkaConfig {
    let mut c = KafkaConfig::new(bootstrap());
    c.topics = Topics::new(prefix);
    c.partitions = 3;
    c
}

async fn create(topics: &[(&str, i32, &[(&str, &str)])]) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap()).create().unwrap();
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|(name, parts, cfg)| {
            cfg.iter().fold(NewTopic::new(name, *parts, TopicReplication::Fixed(1)), |t, (k, v)| t.set(k, v))
        })
        .collect();
    for r in admin.create_topics(&new, &AdminOptions::new()).await.unwrap() {
        r.unwrap();
    }
}

#[tokio::test]
async fn kafka_broker_down_at_startup_is_a_clear_error_after_retries() {
    let started = std::time::Instant::now();
    let err = KafkaLog::connect(KafkaConfig::new("127.0.0.1:1"), vec!["player".into()], Duration::from_secs(3))
        .await
        .err()
        .expect("no broker there");
    let msg = err.to_string();
    assert!(msg.contains("not reachable within"), "{msg}");
    assert!(started.elapsed() >= Duration::from_secs(2), "it retried with backoff first");
}

#[tokio::test]
async fn kafka_unknown_client_setting_is_a_clear_error() {
    let mut c = config(&prefix("badsetting"));
    c.settings.insert("no.such.setting".into(), "1".into());
    let err = KafkaLog::connect(c, vec!["player".into()], Duration::from_secs(5)).await.err().expect("refused");
    assert!(err.to_string().contains("no.such.setting"), "{err}");
}

#[tokio::test]
async fn kafka_missing_topics_without_create_topics_are_refused() {
    let mut c = config(&prefix("nocreate"));
    c.create_topics = false;
    let err = KafkaLog::connect(c, vec!["player".into()], Duration::from_secs(10)).await.err().expect("refused");
    assert!(err.to_string().contains("missing topics"), "{err}");
}

#[tokio::test]
async fn kafka_compacted_events_topic_is_refused() {
    let p = prefix("compacted");
    create(&[(&format!("{p}.player.events"), 3, &[("cleanup.policy", "compact")])]).await;
    let err =
        KafkaLog::connect(config(&p), vec!["player".into()], Duration::from_secs(10)).await.err().expect("refused");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("{p}.player.events"))
            && msg.contains("cleanup.policy=compact, required cleanup.policy=delete"),
        "{msg}"
    );
}

#[tokio::test]
async fn kafka_topics_that_are_not_copartitioned_are_refused() {
    let p = prefix("copart");
    create(&[
        (&format!("{p}.player.events"), 3, &[("retention.ms", "-1"), ("retention.bytes", "-1")]),
        (&format!("{p}.player.commands"), 4, &[]),
    ])
    .await;
    let err =
        KafkaLog::connect(config(&p), vec!["player".into()], Duration::from_secs(10)).await.err().expect("refused");
    assert!(err.to_string().contains("must be co-partitioned"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_undecodable_event_is_skipped_and_named_not_fatal() {
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::new("garbage", 100).await;
    cluster.start_worker();
    let mut client = cluster.client();
    let root = register_players(&mut client, 1).await[0];
    let partition = angzarr_topology::partition_for(root.hyphenated().to_string().as_bytes(), PARTITIONS);

    // Someone writes garbage into the store, bypassing us.
    let producer: FutureProducer = ClientConfig::new().set("bootstrap.servers", bootstrap()).create().unwrap();
    let key = root.hyphenated().to_string();
    producer
        .send(
            FutureRecord::to(&cluster.events_topic())
                .partition(partition as i32)
                .key(&key)
                .payload(&[0xffu8, 0xff, 0xff][..]),
            Duration::from_secs(5),
        )
        .await
        .unwrap();

    let (histories, stats) =
        angzarr_connectors::kafka::restore_partition(&cluster.kafka_config(), "player", partition, None).unwrap();
    assert_eq!(stats.event_records, 2, "the garbage record was read");
    let h = histories.iter().find(|h| h.root == root).unwrap();
    assert_eq!(h.pages.len(), 1, "and skipped");

    // A restarted worker restores past it and keeps the sequence right.
    let status = cluster.workers[0].terminate();
    assert!(status.success());
    cluster.start_worker();
    let accepted = client.handle_command(request(root, 1, deposit(7))).await.unwrap().into_inner();
    assert_eq!(accepted.events.unwrap().next_sequence, 2);
    let log = cluster.workers[1].log_text();
    assert!(
        log.contains("undecodable record skipped") && log.contains(&cluster.events_topic()),
        "the skip is logged with its topic:\n{log}"
    );
}
