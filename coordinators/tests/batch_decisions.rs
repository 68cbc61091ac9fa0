//! A batch's business-logic calls: distinct aggregates decided at once,
//! each aggregate's commands one after another, in order. On the in-memory
//! partition, with a handler that counts how many calls it has in flight.

mod partition_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use angzarr_client::{Aggregate, CommandRejected, Events};
use angzarr_connectors::CommandOutcome;
use angzarr_connectors::memory::MemoryPartition;
use angzarr_coordinators::Shutdown;
use angzarr_coordinators::command_handler::task::{self, TaskConfig};
use angzarr_coordinators::handlers::Handlers;
use angzarr_proto::examples::{DepositFunds, FundsDeposited, PlayerRegistered, PlayerState, RegisterPlayer};
use uuid::Uuid;

use partition_support::{command, deposit, register};

/// Calls in flight now, and the most seen at once.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl InFlight {
    fn call<T>(&self, f: impl FnOnce() -> T) -> T {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        // Long enough that calls started together overlap.
        std::thread::sleep(Duration::from_millis(150));
        let out = f();
        self.now.fetch_sub(1, Ordering::SeqCst);
        out
    }
}

async fn handler(flight: Arc<InFlight>) -> angzarr_client::ServerHandle {
    let (a, b) = (flight.clone(), flight);
    let player = Aggregate::<PlayerState>::new("player")
        .handle(move |_: &RegisterPlayer, _: &PlayerState, _| {
            a.call(|| Ok::<_, CommandRejected>(Events::one(PlayerRegistered::default())))
        })
        .handle(move |d: &DepositFunds, _: &PlayerState, _| {
            b.call(|| {
                Ok::<_, CommandRejected>(Events::one(FundsDeposited { amount: d.amount.clone(), ..Default::default() }))
            })
        });
    angzarr_client::Server::new().aggregate(player).spawn("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// Runs one batch of: for each of `roots` aggregates, a registration and a
/// deposit (sequence 0 then 1); returns the most calls seen in flight.
async fn one_batch(roots: usize, concurrent_roots: usize) -> usize {
    let flight = Arc::new(InFlight::default());
    let server = handler(flight.clone()).await;
    let (partition, log) = MemoryPartition::new("player", 0);
    let ids: Vec<Uuid> = (0..roots).map(|_| Uuid::new_v4()).collect();
    // All in the log before the task starts: its first poll takes them as one batch.
    for (i, root) in ids.iter().enumerate() {
        log.append(command(*root, 0, register(), &format!("r{i}")));
    }
    for (i, root) in ids.iter().enumerate() {
        log.append(command(*root, 1, deposit(5), &format!("d{i}")));
    }
    let handlers = Handlers::new([("player".to_string(), format!("http://{}", server.addr))]).unwrap();
    let config = TaskConfig { concurrent_roots, ..TaskConfig::default() };
    let stop = Shutdown::new();
    let task_stop = stop.clone();
    let task = tokio::spawn(async move { task::run(Box::new(partition), handlers, config, task_stop).await.unwrap() });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while log.read(|s| s.replies.len()) < 2 * roots {
        assert!(tokio::time::Instant::now() < deadline, "the batch was not decided");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    log.read(|s| {
        assert_eq!(s.commits, 1, "one batch, one transaction");
        for r in &s.replies {
            assert!(
                matches!(r.outcome, CommandOutcome::Accepted(_)),
                "{} was not accepted: {:?}",
                r.request_id,
                r.outcome
            );
        }
        // Each aggregate's deposit was decided after its registration: it
        // got sequence 1, which only a decided registration makes current.
        assert_eq!(s.events.len(), 2 * roots);
        for root in &ids {
            let seqs: Vec<u32> = s.events.iter().filter(|e| e.root == *root).map(|e| e.sequence).collect();
            assert_eq!(seqs, vec![0, 1], "{root}");
        }
    });
    stop.trigger();
    task.await.unwrap();
    flight.max.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn distinct_aggregates_of_a_batch_are_decided_at_once_each_in_order() {
    let max = one_batch(6, 64).await;
    assert!(max >= 3, "distinct aggregates' calls overlapped: at most {max} in flight");
    assert!(max <= 6, "never two calls for one aggregate at once: {max} in flight for 6 aggregates");
    // Positive control through the same path: one at a time when so configured.
    assert_eq!(one_batch(6, 1).await, 1);
}
