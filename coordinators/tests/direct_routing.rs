//! Commands handed straight to the partition owner (the path DECISION and
//! stronger take): answered only after their batch committed, decided
//! again after an abort, reported unknown — never guessed — when the commit
//! outcome is unknown, and then safe to retry through the commands log with
//! the same request id. On the in-memory partition with injected faults;
//! the same path across processes on a real broker is in
//! `cli/tests/kafka_guarantees.rs`.

mod partition_support;

use std::time::Duration;

use angzarr_connectors::memory::{MemoryHandle, MemoryPartition, MemoryState};
use angzarr_connectors::{CommandEnvelope, CommandOutcome, Faults, PartitionId};
use angzarr_coordinators::Shutdown;
use angzarr_coordinators::command_handler::route::{Answer, Owners};
use angzarr_coordinators::command_handler::task::{self, TaskConfig};
use angzarr_coordinators::handlers::Handlers;
use partition_support::{command, deposit, register};
use uuid::Uuid;

struct Fixture {
    log: MemoryHandle,
    owners: Owners,
    stop: Shutdown,
    task: tokio::task::JoinHandle<()>,
    _server: angzarr_client::ServerHandle,
}

fn id() -> PartitionId {
    PartitionId::new("player", 0)
}

async fn start(arm: impl FnOnce(&Faults)) -> Fixture {
    let server = poker::server().spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (partition, log) = MemoryPartition::new("player", 0);
    arm(&log.faults);
    let handlers = Handlers::new([("player".to_string(), format!("http://{}", server.addr))]).unwrap();
    let owners = Owners::default();
    let config = TaskConfig { owners: Some(owners.clone()), ..TaskConfig::default() };
    let stop = Shutdown::new();
    let task_stop = stop.clone();
    let task = tokio::spawn(async move {
        task::run(Box::new(partition), handlers, config, task_stop).await.unwrap();
    });
    let f = Fixture { log, owners, stop, task, _server: server };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !f.owners.serves(&id()) {
        assert!(tokio::time::Instant::now() < deadline, "the task never opened its inbox");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    f
}

impl Fixture {
    async fn direct(&self, cmd: CommandEnvelope) -> Answer {
        let rx = self.owners.send(&id(), cmd).await.unwrap_or_else(|_| panic!("the task serves the partition"));
        tokio::time::timeout(Duration::from_secs(20), rx).await.expect("an answer").expect("the task answered")
    }

    async fn until(&self, what: &str, f: impl Fn(&MemoryState) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !self.log.read(&f) {
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        self.stop.trigger();
        self.task.await.unwrap();
    }
}

fn seqs(answer: &Answer) -> Vec<u32> {
    match answer {
        Answer::Decided(CommandOutcome::Accepted(b)) => b.pages.iter().filter_map(|p| p.seq()).collect(),
        other => panic!("not accepted: {other:?}"),
    }
}

#[tokio::test]
async fn a_direct_command_is_answered_after_its_commit_and_leaves_no_command_or_reply_record() {
    let f = start(|_| {}).await;
    let root = Uuid::new_v4();
    let answer = f.direct(command(root, 0, register(), "d1")).await;
    assert_eq!(seqs(&answer), vec![0]);
    f.log.read(|s| {
        assert_eq!(s.events.len(), 1, "its event is committed when the answer comes");
        assert_eq!(s.events[0].request_id, "d1", "the event carries the request id (what a retry is checked against)");
        assert!(s.commands.is_empty() && s.replies.is_empty(), "no command record, no reply record");
    });
    // Positive control through the same partition: a command from the log
    // is answered with a reply record.
    f.log.append(command(root, 1, deposit(5), "l1"));
    f.until("the logged command's reply", |s| s.replies.iter().any(|r| r.request_id == "l1")).await;
    // A sequence that is stale is refused, and the refusal writes nothing.
    let stale = f.direct(command(root, 0, register(), "d2")).await;
    assert!(matches!(stale, Answer::Decided(CommandOutcome::Rejected { code: 9, .. })), "{stale:?}");
    assert_eq!(f.log.read(|s| s.events.len()), 2);
    f.stop().await;
}

#[tokio::test]
async fn a_direct_command_of_an_aborted_batch_is_decided_again_and_answered_once() {
    let f = start(|faults| Faults::arm(&faults.aborted_commits, 1)).await;
    let root = Uuid::new_v4();
    let answer = f.direct(command(root, 0, register(), "d1")).await;
    assert_eq!(seqs(&answer), vec![0], "decided again after the abort");
    f.log.read(|s| {
        assert_eq!(s.events.len(), 1, "written once");
        assert_eq!(s.commits, 1, "one transaction committed");
    });
    assert_eq!(f.log.faults.aborted_commits.load(std::sync::atomic::Ordering::SeqCst), 0, "the abort did happen");
    f.stop().await;
}

#[tokio::test]
async fn an_unknown_commit_outcome_is_reported_unknown_and_a_retry_through_the_log_gets_the_original() {
    let f = start(|faults| Faults::arm(&faults.unknown_after_commit, 1)).await;
    let root = Uuid::new_v4();
    let answer = f.direct(command(root, 0, register(), "d1")).await;
    assert!(matches!(answer, Answer::Unknown(_)), "never guessed: {answer:?}");
    // What the gateway does next: the same command, same request id, on the
    // commands log — decided by the restarted task, which knows d1 committed.
    f.log.append(command(root, 0, register(), "d1"));
    f.until("the retry's reply", |s| s.replies.iter().any(|r| r.request_id == "d1")).await;
    f.log.read(|s| {
        let reply = s.replies.iter().find(|r| r.request_id == "d1").unwrap();
        assert!(
            matches!(&reply.outcome, CommandOutcome::Accepted(b) if b.pages.len() == 1 && b.pages[0].seq() == Some(0)),
            "the original outcome: {:?}",
            reply.outcome
        );
        assert_eq!(s.events.len(), 1, "nothing written twice");
    });
    // Positive control: a new command is decided and written.
    let next = f.direct(command(root, 1, deposit(5), "d2")).await;
    assert_eq!(seqs(&next), vec![1]);
    assert_eq!(f.log.read(|s| s.events.len()), 2);
    f.stop().await;
}

#[tokio::test]
async fn a_fatal_error_before_commit_is_reported_unknown_and_the_retry_is_decided_once() {
    let f = start(|faults| Faults::arm(&faults.fatal_before_commit, 1)).await;
    let root = Uuid::new_v4();
    let answer = f.direct(command(root, 0, register(), "d1")).await;
    assert!(matches!(answer, Answer::Unknown(_)), "{answer:?}");
    assert_eq!(f.log.read(|s| s.events.len()), 0, "nothing committed");
    f.log.append(command(root, 0, register(), "d1"));
    f.until("the retry's reply", |s| s.replies.iter().any(|r| r.request_id == "d1")).await;
    assert_eq!(f.log.read(|s| s.events.len()), 1, "decided once, by the retry");
    f.stop().await;
}

#[tokio::test]
async fn a_partition_not_served_here_gives_the_command_back() {
    let f = start(|_| {}).await;
    let elsewhere = PartitionId::new("player", 1);
    assert!(f.owners.send(&elsewhere, command(Uuid::new_v4(), 0, register(), "x")).await.is_err());
    let owners = f.owners.clone();
    assert!(owners.serves(&id()), "positive control: the served partition is found");
    f.stop().await;
    assert!(!owners.serves(&id()), "a stopped task's inbox is gone");
    assert!(owners.send(&id(), command(Uuid::new_v4(), 0, register(), "y")).await.is_err());
}
