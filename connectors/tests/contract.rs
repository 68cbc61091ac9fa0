//! The partition-log contract, one suite run against every log a partition
//! owner can stand on: the in-memory partition, the embedded log (SQLite)
//! and Kafka (the real broker, `KAFKA_BOOTSTRAP`). What the command task
//! relies on: commands polled in order; a second `restore` goes back to the
//! last commit; a commit makes its events part of the restored state and
//! moves the consumed position; snapshots bound what restore hands back;
//! recent request ids are read back from the log.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use angzarr_connectors::memory::MemoryPartition;
use angzarr_connectors::{Assignment, CommandEnvelope, EventRecord, Log, PartitionLog, SnapshotRecord, TxBatch};
use angzarr_proto::angzarr::{Cover, EventBook, EventPage, PageHeader, Snapshot};
use uuid::Uuid;

type Append<'a> = Box<dyn Fn(CommandEnvelope) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> + Send + Sync + 'a>;

fn command(root: Uuid, request_id: &str) -> CommandEnvelope {
    CommandEnvelope {
        trace: None,
        domain: "player".into(),
        root,
        correlation_id: "contract".into(),
        request_id: request_id.into(),
        reply_to: None,
        sync_mode: 0,
        book: vec![],
        offset: -1,
    }
}

fn event(root: Uuid, sequence: u32, request_id: &str) -> EventRecord {
    let page = EventPage {
        header: Some(PageHeader::sequence(sequence)),
        created_at: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
        ..Default::default()
    };
    EventRecord {
        trace: None,
        root,
        sequence,
        type_name: "examples.FundsDeposited".into(),
        correlation_id: "contract".into(),
        request_id: request_id.into(),
        edition: String::new(),
        isolated: false,
        reply_to: None,
        book: EventBook {
            cover: Some(Cover { root: Some(root.into()), domain: "player".into(), ..Default::default() }),
            pages: vec![page],
            ..Default::default()
        },
    }
}

/// Polls until `n` commands came (or 30 s passed); their request ids.
async fn poll_n(plog: &mut dyn PartitionLog, n: usize) -> Vec<CommandEnvelope> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut got = Vec::new();
    while got.len() < n && tokio::time::Instant::now() < deadline {
        got.extend(plog.poll(n - got.len(), Duration::from_millis(500)).await.unwrap());
    }
    got
}

fn ids(cmds: &[CommandEnvelope]) -> Vec<&str> {
    cmds.iter().map(|c| c.request_id.as_str()).collect()
}

/// The contract, on partition `plog` (empty, the only one of its domain)
/// whose commands are appended by `append`.
async fn contract(mut plog: Box<dyn PartitionLog>, append: Append<'_>) {
    let root = Uuid::new_v4();
    assert!(plog.restore().await.unwrap().histories().await.unwrap().is_empty(), "a fresh partition restores empty");

    // Commands come in order.
    for id in ["c0", "c1", "c2"] {
        append(command(root, id)).await;
    }
    let first = poll_n(plog.as_mut(), 3).await;
    assert_eq!(ids(&first), ["c0", "c1", "c2"]);
    assert!(first.windows(2).all(|w| w[0].offset < w[1].offset), "offsets grow");

    // Nothing committed: a second restore goes back to the last commit.
    assert!(plog.restore().await.unwrap().histories().await.unwrap().is_empty());
    let again = poll_n(plog.as_mut(), 3).await;
    assert_eq!(ids(&again), ["c0", "c1", "c2"], "after a restore the uncommitted commands come again");

    // A commit: its events are state, its commands consumed.
    let batch =
        TxBatch { events: vec![event(root, 0, "c0")], consumed_through: Some(again[0].offset), ..Default::default() };
    assert_eq!(plog.commit(batch).await.unwrap().len(), 1, "one offset per appended event");
    let restored = plog.restore().await.unwrap().histories().await.unwrap();
    assert_eq!(restored.len(), 1);
    assert_eq!(restored[0].pages.iter().map(|p| p.seq()).collect::<Vec<_>>(), [0]);
    let rest = poll_n(plog.as_mut(), 2).await;
    assert_eq!(ids(&rest), ["c1", "c2"], "the consumed command does not come again");

    // A snapshot covers what is before it; restore hands back only the rest.
    let snapshot = Snapshot { sequence: 1, ..Default::default() };
    let batch = TxBatch {
        events: vec![event(root, 1, "c1"), event(root, 2, "c2")],
        snapshots: vec![SnapshotRecord { root, snapshot }],
        consumed_through: Some(rest[1].offset),
        ..Default::default()
    };
    assert_eq!(plog.commit(batch).await.unwrap().len(), 2);
    let restored = plog.restore().await.unwrap().histories().await.unwrap();
    assert_eq!(restored[0].snapshot.as_ref().map(|s| s.seq()), Some(1));
    assert_eq!(restored[0].pages.iter().map(|p| p.seq()).collect::<Vec<_>>(), [2], "only pages after the snapshot");
    // Positive control for "nothing more to poll": a new command does come.
    append(command(root, "c3")).await;
    assert_eq!(ids(&poll_n(plog.as_mut(), 1).await), ["c3"]);

    // Request ids are read back from the log, with their pages.
    let recent = plog.recent_requests(Duration::from_secs(600)).await.unwrap();
    let seqs = |id: &str| {
        recent
            .iter()
            .find(|r| r.request_id == id)
            .map(|r| r.book.pages.iter().filter_map(|p| p.seq()).collect::<Vec<_>>())
    };
    assert_eq!(seqs("c0"), Some(vec![0]));
    assert_eq!(seqs("c2"), Some(vec![2]));
    assert!(recent.iter().all(|r| r.root == root));
}

#[tokio::test]
async fn the_in_memory_partition_keeps_the_contract() {
    let (plog, handle) = MemoryPartition::new("player", 0);
    let append: Append<'_> = Box::new(move |cmd| {
        handle.append(cmd);
        Box::pin(async {})
    });
    contract(Box::new(plog), append).await;
}

/// After [`contract`]: the group consumed c0..c2 of c0..c3, so it is one
/// command behind; a group that never committed is behind by everything.
async fn lag_after_contract(log: &dyn Log) {
    use angzarr_connectors::log::Stream;
    let domains = ["player".to_string()];
    let lag = log.lag("contract", &domains, Stream::Commands).await.unwrap();
    assert_eq!(lag.len(), 1, "{lag:?}");
    assert!(lag[0].committed.is_some(), "{lag:?}");
    assert_eq!(lag[0].lag(), 1, "c3 is not consumed: {lag:?}");
    let never = log.lag("nobody", &domains, Stream::Commands).await.unwrap();
    assert_eq!((never[0].committed, never[0].lag()), (None, 4), "{never:?}");
    assert!(log.lag("contract", &["no-such".to_string()], Stream::Commands).await.is_err(), "unknown domain");
}

async fn first_assigned(
    log: &dyn Log,
) -> (Box<dyn angzarr_connectors::Membership<dyn PartitionLog>>, Box<dyn PartitionLog>) {
    let mut membership = log.join("contract", &["player".to_string()]).await.unwrap();
    let assigned = tokio::time::timeout(Duration::from_secs(60), membership.next()).await.expect("assigned in time");
    match assigned {
        Some(Assignment::Assigned(plog)) => (membership, plog),
        _ => panic!("expected an assignment"),
    }
}

#[tokio::test]
async fn the_embedded_log_keeps_the_contract() {
    use angzarr_connectors::embedded::{Durability, EmbeddedConfig, EmbeddedLog};
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmbeddedConfig { path: dir.path().join("c.db"), partitions: 1, durability: Durability::Normal };
    let log = EmbeddedLog::open(&cfg, ["player".to_string()]).unwrap();
    let (_membership, plog) = first_assigned(&log).await;
    let appender = log.clone();
    let append: Append<'_> = Box::new(move |cmd| {
        let log = appender.clone();
        Box::pin(async move {
            log.submit(cmd, false).await.unwrap();
        })
    });
    contract(plog, append).await;
    lag_after_contract(&log).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_keeps_the_contract() {
    use angzarr_connectors::kafka::{KafkaConfig, KafkaLog};
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP")
        .expect("KAFKA_BOOTSTRAP is not set: this test needs the real broker (`scripts/kafka start`)");
    let mut cfg = KafkaConfig::new(bootstrap.clone());
    cfg.topics = angzarr_topology::Topics::new(format!("contract-{}", &Uuid::new_v4().simple().to_string()[..8]));
    cfg.partitions = 1;
    cfg.session_timeout = Duration::from_secs(6);
    let cfg_topics = cfg.topics.clone();
    let log = KafkaLog::connect(cfg, vec!["player".into()], Duration::from_secs(30)).await.unwrap();
    let (_membership, plog) = first_assigned(&log).await;
    let appender = log.clone();
    let append: Append<'_> = Box::new(move |cmd| {
        let log = appender.clone();
        Box::pin(async move {
            log.submit(cmd, false).await.unwrap();
        })
    });
    contract(plog, append).await;
    lag_after_contract(&log).await;
    events_lag_skips_transaction_markers(&log, &cfg_topics, &bootstrap).await;
}

/// On Kafka, after [`contract`]: its two commits wrote the events topic as
/// `e0 marker e1 e2 marker` (offsets 0..=4; the end is 5). A group whose
/// position is 4 has read every event — only the marker is left — and is
/// not behind; at 3 it still has `e2` to read (the positive control through
/// the same probe), and at 1 the marker then `e1 e2`.
async fn events_lag_skips_transaction_markers(log: &dyn Log, topics: &angzarr_topology::Topics, bootstrap: &str) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Offset, TopicPartitionList};
    let topic = topics.name("player", angzarr_topology::TopicKind::Events);
    let domains = ["player".to_string()];
    for (position, behind, lag) in [(4, 1, 0), (3, 2, 2), (1, 4, 4)] {
        let group = format!("markers-at-{position}");
        let committer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", format!("{}.{group}", topics.prefix()))
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Offset(position)).unwrap();
        committer.commit(&tpl, rdkafka::consumer::CommitMode::Sync).unwrap();
        let rows = log.lag(&group, &domains, angzarr_connectors::log::Stream::Events).await.unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!((rows[0].end, rows[0].committed), (5, Some(position)), "the layout this test expects: {rows:?}");
        assert_eq!(rows[0].end - position, behind);
        assert_eq!(rows[0].lag(), lag, "at {position}: {rows:?}");
    }
}

/// A restore waits for transactions that were open when it started: one
/// that then commits is restored, one that aborts is not — and neither is
/// skipped by stopping at the last stable offset (which read to the open
/// transaction and returned without the committed event: a stale book
/// decides that sequence again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_restore_waits_for_open_transactions_instead_of_stopping_before_them() {
    use angzarr_connectors::kafka::{KafkaConfig, KafkaLog, restore_partition};
    use prost::Message as _;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP")
        .expect("KAFKA_BOOTSTRAP is not set: this test needs the real broker (`scripts/kafka start`)");
    let mut cfg = KafkaConfig::new(bootstrap.clone());
    let prefix = format!("openrestore-{}", &Uuid::new_v4().simple().to_string()[..8]);
    cfg.topics = angzarr_topology::Topics::new(prefix.clone());
    cfg.partitions = 1;
    let _log = KafkaLog::connect(cfg.clone(), vec!["player".into()], Duration::from_secs(30)).await.unwrap();
    let topic = cfg.topics.name("player", angzarr_topology::TopicKind::Events);
    let root = Uuid::new_v4();
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("transactional.id", format!("{prefix}-other-writer"))
        .create()
        .unwrap();
    const TXN: Duration = Duration::from_secs(10);
    producer.init_transactions(Duration::from_secs(30)).unwrap();
    let write = |seq: u32| {
        let page = EventPage { header: Some(PageHeader::sequence(seq)), ..Default::default() };
        let value = EventBook { pages: vec![page], ..Default::default() }.encode_to_vec();
        let key = root.hyphenated().to_string();
        producer.begin_transaction().unwrap();
        producer.send(BaseRecord::to(&topic).partition(0).key(&key).payload(&value)).map_err(|(e, _)| e).unwrap();
        producer.flush(Duration::from_secs(10)).unwrap();
    };
    let restored_seqs = |cfg: KafkaConfig| {
        tokio::task::spawn_blocking(move || {
            let (histories, _) = restore_partition(&cfg, "player", 0, None).unwrap();
            histories.iter().find(|h| h.root == root).map(|h| h.pages.iter().map(|p| p.seq()).collect::<Vec<_>>())
        })
    };

    // Open, then committed — or aborted — while the restore runs: it waits
    // for the outcome, and restores the event only if it committed.
    for (seq, commit, what) in [(0, true, "the event its transaction committed"), (1, false, "not the aborted event")] {
        write(seq);
        let restoring = restored_seqs(cfg.clone());
        // Long enough for a restore that does not wait to be over.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!restoring.is_finished(), "the restore must wait for the open transaction");
        let ended = if commit { producer.commit_transaction(TXN) } else { producer.abort_transaction(TXN) };
        ended.unwrap();
        assert_eq!(restoring.await.unwrap(), Some(vec![0]), "{what}");
    }
}
