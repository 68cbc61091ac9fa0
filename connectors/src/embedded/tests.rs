use std::time::Duration;

use angzarr_proto::angzarr::{Cover, EventBook, EventPage, PageHeader, Snapshot};
use uuid::Uuid;

use super::*;
use crate::log::{Log, PartitionLog};
use crate::record::{EventRecord, SnapshotRecord, TxBatch};

fn open(dir: &tempfile::TempDir) -> EmbeddedLog {
    let cfg = EmbeddedConfig { path: dir.path().join("log.db"), partitions: 2, durability: Durability::Normal };
    EmbeddedLog::open(&cfg, ["player".to_string()]).unwrap()
}

fn event(root: Uuid, seq: u32) -> EventRecord {
    EventRecord {
        trace: None,
        root,
        sequence: seq,
        type_name: "t".into(),
        correlation_id: "c".into(),
        request_id: String::new(),
        edition: String::new(),
        isolated: false,
        reply_to: None,
        book: EventBook {
            cover: Some(Cover { root: Some(root.into()), domain: "player".into(), ..Default::default() }),
            pages: vec![EventPage { header: Some(PageHeader::sequence(seq)), ..Default::default() }],
            ..Default::default()
        },
    }
}

fn command(root: Uuid, n: u32) -> CommandEnvelope {
    CommandEnvelope {
        trace: None,
        domain: "player".into(),
        root,
        correlation_id: format!("c{n}"),
        request_id: format!("r{n}"),
        reply_to: None,
        sync_mode: 0,
        book: vec![n as u8],
        offset: -1,
    }
}

async fn partition_of(log: &EmbeddedLog, root: Uuid) -> Box<dyn PartitionLog> {
    let want = log.partition_by_root(&root);
    let mut m = log.join("g", &["player".to_string()]).await.unwrap();
    loop {
        match m.next().await.unwrap() {
            Assignment::Assigned(p) if p.id().partition == want => return p,
            _ => {}
        }
    }
}

#[tokio::test]
async fn unknown_domain_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(&dir);
    let mut cmd = command(Uuid::new_v4(), 1);
    cmd.domain = "nope".into();
    assert!(matches!(log.submit(cmd, false).await, Err(LogError::UnknownDomain(_))));
    assert_eq!(log.counts("nope").await.unwrap(), (0, 0, 0));
}

#[tokio::test]
async fn commands_are_polled_in_order_and_resume_after_commit() {
    let dir = tempfile::tempdir().unwrap();
    let root = Uuid::new_v4();
    {
        let log = open(&dir);
        for n in 0..3 {
            log.submit(command(root, n), false).await.unwrap();
        }
        let mut p = partition_of(&log, root).await;
        let got = p.poll(10, Duration::from_millis(10)).await.unwrap();
        assert_eq!(got.iter().map(|c| c.book[0]).collect::<Vec<_>>(), vec![0, 1, 2]);
        // Commit only the first: a restart must see the other two again.
        p.commit(TxBatch { consumed_through: Some(got[0].offset), ..Default::default() }).await.unwrap();
    }
    let log = open(&dir);
    let mut p = partition_of(&log, root).await;
    let got = p.poll(10, Duration::from_millis(10)).await.unwrap();
    assert_eq!(got.iter().map(|c| c.book[0]).collect::<Vec<_>>(), vec![1, 2]);
}

#[tokio::test]
async fn a_duplicate_sequence_rolls_back_the_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(&dir);
    let root = Uuid::new_v4();
    let mut p = partition_of(&log, root).await;
    p.commit(TxBatch { events: vec![event(root, 0)], consumed_through: Some(0), ..Default::default() }).await.unwrap();
    let err = p
        .commit(TxBatch {
            events: vec![event(root, 1), event(root, 0)],
            consumed_through: Some(1),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, LogError::Conflict(_)), "{err}");
    let book = log.read_book("player", &root).await.unwrap();
    assert_eq!(book.pages.len(), 1, "sequence 1 must not survive the failed batch");
}

#[tokio::test]
async fn restore_reads_snapshot_and_only_the_uncovered_tail() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(&dir);
    let root = Uuid::new_v4();
    let mut p = partition_of(&log, root).await;
    let events = (0..5).map(|s| event(root, s)).collect();
    let snapshot = SnapshotRecord { root, snapshot: Snapshot { sequence: 2, ..Default::default() } };
    p.commit(TxBatch { events, snapshots: vec![snapshot], ..Default::default() }).await.unwrap();
    let restored = p.restore().await.unwrap().histories().await.unwrap();
    assert_eq!(restored.len(), 1);
    assert_eq!(restored[0].snapshot.as_ref().unwrap().seq(), 2);
    let seqs: Vec<_> = restored[0].pages.iter().map(|pg| pg.seq()).collect();
    assert_eq!(seqs, vec![3, 4]);
    let book = log.read_book("player", &root).await.unwrap();
    assert_eq!(book.pages.len(), 2);
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let _first = open(&dir);
    let cfg = EmbeddedConfig { path: dir.path().join("log.db"), partitions: 2, durability: Durability::Normal };
    // Same process, second connection: SQLite's exclusive lock refuses it as it would another process.
    let err = EmbeddedLog::open(&cfg, ["player".to_string()]).err().expect("must be refused");
    assert!(err.to_string().contains("in use"), "{err}");
}
