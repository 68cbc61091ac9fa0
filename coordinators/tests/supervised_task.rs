//! The command task's recovery from each failure the supervisor handles,
//! on the in-memory partition with injected faults (the same paths run
//! against the real broker in `cli/tests/kafka_failures.rs`): a restore
//! that fails, a commit whose outcome is unknown after it happened, a fatal
//! error before it happened, business logic that is down, and a retried
//! request id. Every wait is on a condition; every "nothing more happened"
//! has a positive control through the same partition.

mod partition_support;

use std::net::SocketAddr;
use std::time::Duration;

use angzarr_connectors::memory::{MemoryHandle, MemoryPartition};
use angzarr_connectors::{CommandOutcome, Faults, PartitionId};
use angzarr_coordinators::Shutdown;
use angzarr_coordinators::command_handler::task::{self, TaskConfig};
use angzarr_coordinators::handlers::Handlers;
use angzarr_coordinators::supervisor::{TaskState, TaskStates};
use partition_support::{command, deposit, register};
use uuid::Uuid;

struct Fixture {
    log: MemoryHandle,
    states: TaskStates,
    stop: Shutdown,
    task: tokio::task::JoinHandle<()>,
}

async fn start(handler: &str) -> Fixture {
    start_with(handler, |_| {}).await
}

async fn start_with(handler: &str, arm: impl FnOnce(&Faults)) -> Fixture {
    start_configured(handler, arm, TaskConfig::default()).await
}

async fn start_configured(handler: &str, arm: impl FnOnce(&Faults), config: TaskConfig) -> Fixture {
    let (partition, log) = MemoryPartition::new("player", 0);
    arm(&log.faults);
    let handlers = Handlers::new([("player".to_string(), handler.to_string())]).unwrap();
    let states = TaskStates::default();
    let mut config = TaskConfig { states: states.clone(), ..config };
    config.retry.call_timeout = Duration::from_secs(2);
    let stop = Shutdown::new();
    let task_stop = stop.clone();
    let task = tokio::spawn(async move {
        task::run(Box::new(partition), handlers, config, task_stop).await.unwrap();
    });
    Fixture { log, states, stop, task }
}

async fn player_server(addr: SocketAddr) -> angzarr_client::ServerHandle {
    poker::server().spawn(addr).await.unwrap()
}

/// Waits until `f` holds on the partition's state (50 ms steps, 20 s at most).
async fn until(log: &MemoryHandle, what: &str, f: impl Fn(&angzarr_connectors::memory::MemoryState) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !log.read(&f) {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn outcome_of<'a>(s: &'a angzarr_connectors::memory::MemoryState, request_id: &str) -> Vec<&'a CommandOutcome> {
    s.replies.iter().filter(|r| r.request_id == request_id).map(|r| &r.outcome).collect()
}

fn accepted_seqs(outcome: &CommandOutcome) -> Vec<u32> {
    match outcome {
        CommandOutcome::Accepted(b) => b.pages.iter().filter_map(|p| p.seq()).collect(),
        CommandOutcome::Rejected { code, message } => panic!("rejected {code}: {message}"),
    }
}

impl Fixture {
    async fn stop(self) {
        self.stop.trigger();
        self.task.await.unwrap();
    }

    fn state(&self) -> Option<angzarr_coordinators::supervisor::TaskStatus> {
        self.states.get(angzarr_coordinators::command_handler::GROUP, &PartitionId::new("player", 0))
    }
}

#[tokio::test]
async fn a_failed_restore_is_retried_until_the_partition_serves() {
    let server = player_server("127.0.0.1:0".parse().unwrap()).await;
    let f = start_with(&format!("http://{}", server.addr), |faults| Faults::arm(&faults.restore_failures, 2)).await;
    let root = Uuid::new_v4();
    f.log.append(command(root, 0, register(), "r1"));
    until(&f.log, "the command decided after two failed restores", |s| !s.replies.is_empty()).await;
    let status = f.state().expect("the task is reported");
    assert_eq!(status.state, TaskState::Serving);
    assert_eq!(status.restarts, 2, "each failed restore was one restart");
    assert!(status.last_error.unwrap().contains("injected: restore"));
    f.log.read(|s| assert_eq!(accepted_seqs(outcome_of(s, "r1")[0]), vec![0]));
    f.stop().await;
}

#[tokio::test]
async fn a_commit_reported_unknown_after_it_happened_is_not_decided_twice() {
    let server = player_server("127.0.0.1:0".parse().unwrap()).await;
    let f = start_with(&format!("http://{}", server.addr), |faults| Faults::arm(&faults.unknown_after_commit, 1)).await;
    let root = Uuid::new_v4();
    f.log.append(command(root, 0, register(), "r1"));
    until(&f.log, "the first commit", |s| s.commits == 1).await;
    // The task must restore from the log (which says the command was
    // consumed), not re-decide it; the next command proves it serves again.
    f.log.append(command(root, 1, deposit(10), "r2"));
    until(&f.log, "the second command decided", |s| !outcome_of(s, "r2").is_empty()).await;
    f.log.read(|s| {
        assert_eq!(s.events.len(), 2, "one event per command, none twice");
        assert_eq!(outcome_of(s, "r1").len(), 1, "r1 was decided once");
        assert_eq!(accepted_seqs(outcome_of(s, "r2")[0]), vec![1]);
    });
    assert_eq!(f.state().unwrap().restarts, 1);

    // The caller of r1 never learned its outcome; its retry gets the
    // original answer from the restored task, and nothing is written.
    f.log.append(command(root, 0, register(), "r1"));
    f.log.append(command(root, 2, deposit(5), "r3"));
    until(&f.log, "the retry and the positive control decided", |s| !outcome_of(s, "r3").is_empty()).await;
    f.log.read(|s| {
        let r1 = outcome_of(s, "r1");
        assert_eq!(r1.len(), 2);
        assert_eq!(accepted_seqs(r1[1]), vec![0], "the retry got the original outcome");
        assert_eq!(s.events.len(), 3, "the retry wrote nothing; r3 wrote one");
    });
    f.stop().await;
}

#[tokio::test]
async fn a_fatal_error_before_commit_is_decided_again_exactly_once() {
    let server = player_server("127.0.0.1:0".parse().unwrap()).await;
    let f = start_with(&format!("http://{}", server.addr), |faults| Faults::arm(&faults.fatal_before_commit, 1)).await;
    let root = Uuid::new_v4();
    f.log.append(command(root, 0, register(), "r1"));
    until(&f.log, "r1 decided after the restart", |s| !outcome_of(s, "r1").is_empty()).await;
    f.log.read(|s| {
        assert_eq!(s.events.len(), 1);
        assert_eq!(s.commits, 1, "the failed transaction never committed");
    });
    assert_eq!(f.state().unwrap().restarts, 1);
    f.stop().await;
}

#[tokio::test]
async fn a_command_is_held_while_the_business_logic_is_down_then_decided() {
    // Reserve a port, then leave it closed: the handler is down.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let f = start(&format!("http://{addr}")).await;
    let root = Uuid::new_v4();
    let mut async_cmd = command(root, 0, register(), "r1");
    async_cmd.reply_to = None; // ASYNC: nobody waits for this one
    f.log.append(async_cmd);
    f.log.append(command(root, 1, deposit(10), "r2"));
    // Held, not rejected: the task stays serving and nothing is consumed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    // A rejection nobody waits for is recorded, in the commit that consumes it.
    let mut doomed = command(Uuid::new_v4(), 0, deposit(1), "r3");
    doomed.reply_to = None;
    f.log.append(doomed);
    f.log.read(|s| {
        assert_eq!(s.committed, -1, "nothing consumed while the handler is down");
        assert!(s.replies.is_empty(), "nothing answered while the handler is down");
    });
    assert_eq!(f.state().unwrap().state, TaskState::Serving);
    let server = player_server(addr).await;
    until(&f.log, "the three commands decided once the handler is back", |s| s.committed == 2).await;
    f.log.read(|s| {
        assert_eq!(s.events.len(), 2, "the ASYNC command was decided, not dropped");
        assert_eq!(accepted_seqs(outcome_of(s, "r2")[0]), vec![1]);
        assert_eq!(s.rejections.len(), 1, "only the unanswerable rejection is recorded");
        let r = &s.rejections[0];
        assert_eq!((r.request_id.as_str(), r.correlation_id.as_str()), ("r3", "corr-r3"));
        assert!(r.message.contains("does not exist"), "{}", r.message);
    });
    f.stop().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_request_id_reused_for_another_aggregate_is_refused_and_writes_nothing() {
    let server = player_server("127.0.0.1:0".parse().unwrap()).await;
    let f = start(&format!("http://{}", server.addr)).await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    f.log.append(command(a, 0, register(), "same"));
    f.log.append(command(b, 0, register(), "same"));
    f.log.append(command(b, 0, register(), "other"));
    until(&f.log, "all three answered", |s| s.replies.len() == 3).await;
    f.log.read(|s| {
        assert!(matches!(outcome_of(s, "same")[1], CommandOutcome::Rejected { message, .. } if message.contains("already used")));
        assert_eq!(s.events.len(), 2, "the reused id wrote nothing; the control wrote one");
    });
    f.stop().await;
}

#[tokio::test]
async fn with_few_aggregates_in_memory_every_aggregate_keeps_its_sequence() {
    let server = player_server("127.0.0.1:0".parse().unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = angzarr_coordinators::command_handler::aggregate::CacheConfig {
        max_cached: 3,
        state_dir: dir.path().to_path_buf(),
    };
    let config = TaskConfig { cache: Some(cache), max_batch: 2, ..TaskConfig::default() };
    let f = start_configured(&format!("http://{}", server.addr), |_| {}, config).await;
    let roots: Vec<Uuid> = (0..12).map(|_| Uuid::new_v4()).collect();
    for (i, r) in roots.iter().enumerate() {
        f.log.append(command(*r, 0, register(), &format!("reg-{i}")));
    }
    for (i, r) in roots.iter().enumerate() {
        f.log.append(command(*r, 1, deposit(5), &format!("dep-{i}")));
    }
    // The first roots were spilled long ago: a stale sequence on one is
    // still refused with its true next sequence, a right one accepted.
    f.log.append(command(roots[0], 1, deposit(1), "stale"));
    f.log.append(command(roots[0], 2, deposit(1), "fresh"));
    until(&f.log, "every command answered", |s| s.replies.len() == 26).await;
    f.log.read(|s| {
        for i in 0..12 {
            assert_eq!(accepted_seqs(outcome_of(s, &format!("dep-{i}"))[0]), vec![1], "root {i}");
        }
        assert!(matches!(outcome_of(s, "stale")[0], CommandOutcome::Rejected { message, .. } if message.contains("next sequence is 2")));
        assert_eq!(accepted_seqs(outcome_of(s, "fresh")[0]), vec![2]);
        assert_eq!(s.events.len(), 25);
    });
    let spilled = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(spilled, 1, "the task's spill file is in the state dir");
    f.stop().await;
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "and removed with the task");
}
