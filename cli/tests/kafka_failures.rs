//! The command engine under failures, on real Apache Kafka (KRaft): every
//! failure has an owner. Brokers of their own (`scripts/kafka` on separate
//! ports and state dirs) are killed with `kill -9` and restarted under load,
//! a node of a 3-node cluster too; business logic goes down while ASYNC and
//! saga commands arrive; faults are injected into the real connector's
//! restores and transactions. An independent `read_committed` reader,
//! using only record headers, checks the store after each.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use angzarr_connectors::Faults;
use angzarr_connectors::kafka::KafkaLog;
use angzarr_coordinators::Shutdown;
use angzarr_coordinators::runtime::{self, Roles};
use angzarr_proto::angzarr::{CommandBook, CommandPage, CommandRequest, Cover, PageHeader, SyncMode, command_page};
use angzarr_proto::examples::CreateTable;
use angzarr_proto::pack;
use support::*;
use tonic::transport::Channel;
use uuid::Uuid;

/// Load until `stop`, noting when each command was accepted.
async fn timed_load(
    channel: Channel,
    roots: Arc<Vec<Uuid>>,
    clients: usize,
    stop: Arc<AtomicBool>,
    accepted_at: Arc<std::sync::Mutex<Vec<Instant>>>,
) -> (Vec<(Uuid, u32)>, Vec<String>) {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (channel, roots, stop, at) = (channel.clone(), roots.clone(), stop.clone(), accepted_at.clone());
        tasks.push(tokio::spawn(async move {
            let mut client =
                angzarr_proto::angzarr::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient::new(channel);
            let mut next: BTreeMap<Uuid, u32> = roots.iter().map(|r| (*r, 1)).collect();
            let (mut accepted, mut errors) = (Vec::new(), Vec::new());
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                let root = roots[i % roots.len()];
                i += 7;
                let seq = next.get_mut(&root).unwrap();
                match tokio::time::timeout(Duration::from_secs(20), send_following(&mut client, root, seq, deposit(1)))
                    .await
                {
                    Ok(Ok(book)) => {
                        at.lock().unwrap().push(Instant::now());
                        accepted.extend(book.pages.iter().map(|p| (root, p.seq().unwrap())));
                    }
                    Ok(Err(s)) => {
                        errors.push(format!("{:?}: {}", s.code(), s.message()));
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(_) => errors.push("client timeout (outcome unknown)".into()),
                }
            }
            (accepted, errors)
        }));
    }
    let (mut accepted, mut errors) = (Vec::new(), Vec::new());
    for t in tasks {
        let (a, e) = t.await.unwrap();
        accepted.extend(a);
        errors.extend(e);
    }
    (accepted, errors)
}

/// Every accepted event stored once, sequences contiguous, and events no
/// caller heard of no more than the calls whose outcome was unknown.
fn check_store(bootstrap: &str, cluster: &Cluster, accepted: &[(Uuid, u32)], unknown: usize) -> usize {
    let events = read_events(bootstrap, &cluster.events_topic(), PARTITIONS);
    check_sequences(&events);
    let stored: BTreeSet<(Uuid, u32)> = events.iter().map(|e| (e.root, e.sequence)).collect();
    assert_eq!(stored.len(), events.len(), "duplicate (root, sequence) in the events topic");
    let accepted_set: BTreeSet<_> = accepted.iter().copied().collect();
    assert_eq!(accepted_set.len(), accepted.len(), "a (root, sequence) was accepted twice");
    for a in accepted {
        assert!(stored.contains(a), "accepted {a:?} is not in the events topic");
    }
    let extra = events.len() - accepted.len();
    assert!(
        extra <= unknown,
        "{extra} stored events no caller was told about, but only {unknown} outcomes were unknown"
    );
    events.len()
}

/// Runs load on `cluster`, kills node 1 of `broker` (kill -9) after 3 s,
/// starts it again 3 s later, and keeps the load on until 100 commands were
/// accepted after the recovery. Returns (accepted before, accepted after, time from the
/// recovery to the first accepted command, accepted, errors).
async fn bounce(
    cluster: &Cluster,
    broker: &OwnBroker,
    roots: &[Uuid],
) -> (usize, usize, Duration, Vec<(Uuid, u32)>, Vec<String>) {
    let stop = Arc::new(AtomicBool::new(false));
    let at = Arc::new(std::sync::Mutex::new(Vec::new()));
    let load = tokio::spawn(timed_load(cluster.channel.clone(), Arc::new(roots.to_vec()), 6, stop.clone(), at.clone()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = at.lock().unwrap().len();
    assert!(before > 0, "no command accepted before the fault");
    let faulted = Instant::now();
    broker.script(&["kill-node", "1"]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    broker.script(&["start-node", "1"]);
    let recovered = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(180);
    while at.lock().unwrap().iter().filter(|t| **t > recovered).count() < 100 {
        if Instant::now() > deadline {
            for (i, w) in cluster.workers.iter().enumerate() {
                let log = w.log_text();
                // librdkafka repeats "all brokers down" every second; count it, show the rest.
                let down = log.lines().filter(|l| l.contains("AllBrokersDown")).count();
                eprintln!("--- worker {i}: {down} AllBrokersDown lines (omitted below)");
                let tail: Vec<&str> = log.lines().filter(|l| !l.contains("AllBrokersDown")).rev().take(80).collect();
                eprintln!("--- worker {i}, last lines ---\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
                // What the process holds: its threads, open files and TCP
                // connections (is it talking to the broker at all?).
                let pid = w.child.id();
                let threads = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .map(|s| s.lines().filter(|l| l.starts_with("Threads")).collect::<Vec<_>>().join(" "))
                    .unwrap_or_default();
                let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
                let sockets = std::process::Command::new("ss").args(["-tanp"]).output().map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .filter(|l| l.contains(&format!("pid={pid},")))
                        .map(str::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                });
                eprintln!(
                    "--- worker {i} (pid {pid}): {threads}, {fds} open files; TCP:\n{}",
                    sockets.unwrap_or_default()
                );
            }
            stable_offsets(cluster);
            eprintln!("--- kafka-transactions find-hanging:\n{}", broker.hanging_transactions(cluster_nodes(broker)));
            panic!("timed out waiting for 100 commands accepted after the recovery");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let (accepted, errors) = load.await.unwrap();
    keep_worker_logs(cluster);
    let times = at.lock().unwrap().clone();
    let first_after = times.iter().filter(|t| **t > recovered).min().map(|t| *t - recovered).unwrap();
    let after = times.iter().filter(|t| **t > recovered).count();
    eprintln!("fault at +0 s, recovered at +{:.1} s", (recovered - faulted).as_secs_f64());
    (before, after, first_after, accepted, errors)
}

/// Nodes of `broker` (a list of bootstrap addresses, one per node).
fn cluster_nodes(broker: &OwnBroker) -> u32 {
    broker.bootstrap.split(',').count() as u32
}

/// Per partition of the replies and events topics: the last stable offset
/// (where `read_committed` readers stop) beside the log end — an open
/// transaction holds the first below the second.
fn stable_offsets(cluster: &Cluster) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let bootstrap = &cluster.kafka_config().bootstrap_servers;
    let reader = |isolation: &str| -> BaseConsumer {
        rdkafka::ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", "unused")
            .set("isolation.level", isolation)
            .create()
            .unwrap()
    };
    let (committed, uncommitted) = (reader("read_committed"), reader("read_uncommitted"));
    let topics = [cluster.kafka_config().topics.replies(), cluster.events_topic()];
    for topic in topics {
        for p in 0..PARTITIONS as i32 {
            let lso = committed.fetch_watermarks(&topic, p, Duration::from_secs(5)).map(|w| w.1);
            let end = uncommitted.fetch_watermarks(&topic, p, Duration::from_secs(5)).map(|w| w.1);
            eprintln!("{topic}[{p}]: last stable offset {lso:?}, log end {end:?}");
        }
    }
}

/// The workers' logs, kept where a failed run can be read afterwards
/// (the cluster's temporary directory goes with it).
fn keep_worker_logs(cluster: &Cluster) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("kafka_failures");
    let _ = std::fs::create_dir_all(&dir);
    for (i, w) in cluster.workers.iter().enumerate() {
        let to = dir.join(format!("{}-worker-{i}.log", cluster.prefix));
        if std::fs::copy(&w.log, &to).is_ok() {
            eprintln!("worker {i} log: {}", to.display());
        }
    }
}

// What this test found, and how each was settled. After the broker's
// kill -9 and restart under CPU load, a transaction could stay open on an
// events partition and on the `_replies` partition for minutes (last stable
// offset 55 against a log end of 56, 399 against 491, measured at the
// timeout), although the transaction timeout is 30 s.
// - Restores used to stop at that open transaction and decide its
//   sequences again once it committed (duplicate sequences). A restore now
//   waits until the last stable offset reaches the log end it captured, and
//   refuses after 120 s naming the hanging transaction and the
//   `kafka-transactions.sh` commands that end it.
// - The gateway's `read_committed` reader of `_replies` stopped at that
//   transaction: workers decided every command, no caller heard. DECISION
//   commands are now handed straight to the partition owner and answered
//   after its commit (`route/`), so no answer waits on `_replies`: 8 of 8
//   runs passed on 2026-12-02, 6 of them beside three busy loops (first
//   accepted command 0.4–6.7 s after the broker returned), where 1 in 7
//   failed before.
// To trace a failure: `ANGZARR_TEST_WORKER_LOG=info,angzarr_coordinators::command_handler::task=trace`;
// the workers' logs are kept under target/tmp/kafka_failures, and a
// timeout prints each partition's last stable offset beside its log end
// and Kafka's own `find-hanging`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_broker_killed_and_restarted_under_load() {
    let _serial = SERIAL.lock().await;
    let broker = OwnBroker::start(19292, 1);
    let mut cluster = Cluster::on("bounce", &broker.bootstrap, None, "", "").await;
    cluster.start_worker();
    cluster.start_worker();
    let mut client = cluster.client();
    let roots = register_players(&mut client, 12).await;
    let (before, after, first, accepted, errors) = bounce(&cluster, &broker, &roots).await;
    let registrations: Vec<(Uuid, u32)> = roots.iter().map(|r| (*r, 0)).collect();
    let stored = check_store(&broker.bootstrap, &cluster, &[registrations, accepted.clone()].concat(), errors.len());
    // The workers recovered by themselves: both still run.
    for w in &mut cluster.workers {
        assert!(w.child.try_wait().unwrap().is_none(), "a worker exited:\n{}", w.log_text());
    }
    eprintln!(
        "broker kill -9 + restart: {before} accepted before, {after} after; first accepted {first:.2?} after the broker returned; \
         {} calls failed or were unknown; {stored} events stored, every accepted one exactly once",
        errors.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_cluster_node_killed_under_load_every_partition_serves_again() {
    let _serial = SERIAL.lock().await;
    let broker = OwnBroker::start(19492, 3);
    let mut cluster = Cluster::on("node", &broker.bootstrap, None, "", "  replication_factor: 3\n").await;
    cluster.start_worker();
    cluster.start_worker();
    let mut client = cluster.client();
    let roots = register_players(&mut client, 12).await;
    // Node 1 leads some partitions (and maybe a coordinator): kill it.
    let (before, after, first, accepted, errors) = bounce(&cluster, &broker, &roots).await;
    let every = all_partitions_accept(&cluster).await;
    let registrations: Vec<(Uuid, u32)> = roots.iter().map(|r| (*r, 0)).collect();
    let probes = PARTITIONS as usize;
    let stored =
        check_store(&broker.bootstrap, &cluster, &[registrations, accepted.clone()].concat(), errors.len() + probes);
    for w in &mut cluster.workers {
        assert!(w.child.try_wait().unwrap().is_none(), "a worker exited:\n{}", w.log_text());
    }
    eprintln!(
        "3-node cluster, node 1 kill -9 + restart: {before} accepted before, {after} after; first accepted {first:.2?} after \
         the node returned; every partition accepting {every:.2?} after; {} calls failed or were unknown; {stored} events stored",
        errors.len()
    );
}

fn async_request(domain: &str, root: Uuid, seq: u32, command: prost_types::Any) -> CommandRequest {
    CommandRequest {
        command: Some(CommandBook {
            cover: Some(Cover { root: Some(root.into()), domain: domain.into(), ..Default::default() }),
            pages: vec![CommandPage {
                header: Some(PageHeader::sequence(seq)),
                payload: Some(command_page::Payload::Command(command)),
                ..Default::default()
            }],
        }),
        sync_mode: SyncMode::Async as i32,
        ..Default::default()
    }
}

fn create_table(name: &str) -> prost_types::Any {
    pack(&CreateTable {
        table_name: name.into(),
        small_blind: 1,
        big_blind: 2,
        min_buy_in: 10,
        max_buy_in: 100,
        max_players: 6,
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_held_commands_are_decided_when_the_handler_returns_and_other_domains_keep_serving() {
    let _serial = SERIAL.lock().await;
    // The player handler is down (a reserved, closed port); tables are served.
    let player_addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    // A saga on tables deposits into one player: saga commands to the held domain.
    let funded = Uuid::new_v4();
    let saga = angzarr_client::Saga::new("fund").on(move |_: &angzarr_proto::examples::TableCreated, _, _| {
        vec![angzarr_client::command(
            "player",
            funded,
            &angzarr_proto::examples::DepositFunds {
                amount: Some(angzarr_proto::examples::Currency { amount: 1, currency_code: "USD".into() }),
            },
        )]
    });
    let saga_server = angzarr_client::Server::new().saga(saga).spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let extra = format!(
        "  table:\n    handler: '{{POKER}}'\nsagas:\n  fund:\n    handler: 'http://{}'\n    domains: [table]\n",
        saga_server.addr
    );
    let mut cluster = Cluster::on("held", &bootstrap(), Some(format!("http://{player_addr}")), &extra, "").await;
    cluster.start_worker();
    cluster.start_role("downstream");

    // More ASYNC player commands for one partition than its task's queue
    // holds: the dispatcher must pause that partition, not stall the worker.
    let roots: Vec<Uuid> = (0..8).map(|_| root_in(0, PARTITIONS)).collect();
    const PER_ROOT: u32 = 700;
    let mut senders = Vec::new();
    for (i, root) in roots.iter().copied().chain([funded]).enumerate() {
        let mut client = cluster.client();
        let n = if i < roots.len() { PER_ROOT } else { 0 };
        senders.push(tokio::spawn(async move {
            client.handle_command(async_request("player", root, 0, register())).await.unwrap();
            for seq in 1..=n {
                client.handle_command(async_request("player", root, seq, deposit(1))).await.unwrap();
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    // Tables keep being decided while player is held: DECISION latency.
    let mut latencies = Vec::new();
    let tables = 20;
    for t in 0..tables {
        let mut client = cluster.client();
        let mut req = async_request("table", Uuid::new_v4(), 0, create_table(&format!("t{t}")));
        req.sync_mode = SyncMode::Decision as i32;
        let started = Instant::now();
        tokio::time::timeout(Duration::from_secs(15), client.handle_command(req))
            .await
            .expect("a table command stalled behind the held player partition")
            .expect("table accepted");
        latencies.push(started.elapsed());
    }
    latencies.sort();
    // Nothing of player was decided meanwhile (positive control: tables were).
    let player_events = read_events(&bootstrap(), &cluster.events_topic(), PARTITIONS);
    assert!(player_events.is_empty(), "player commands decided while the handler was down");
    let held_for = Instant::now();

    let server = poker::server().spawn(player_addr).await.unwrap();
    let want = roots.len() * (PER_ROOT as usize + 1) + 1 + tables;
    let seen = AtomicUsize::new(0);
    eventually(Duration::from_secs(180), "every held and saga command decided", || {
        let n = read_events(&bootstrap(), &cluster.events_topic(), PARTITIONS).len();
        seen.store(n, Ordering::Relaxed);
        n >= want
    })
    .await;
    let events = read_events(&bootstrap(), &cluster.events_topic(), PARTITIONS);
    let counts = check_sequences(&events);
    for r in &roots {
        assert_eq!(counts[r], PER_ROOT + 1, "{r}: every ASYNC command decided, in order, none dropped");
    }
    assert_eq!(counts[&funded], 1 + tables as u32, "every saga command decided once");
    let worker_log = cluster.workers[0].log_text();
    assert!(worker_log.contains("partition paused: its task is behind"), "backpressure never engaged:\n{worker_log}");
    eprintln!(
        "held: {} ASYNC player commands and {tables} saga commands decided {:.1?} after the handler returned; \
         table DECISION latency meanwhile p50 {:.1?}, max {:.1?}",
        roots.len() * (PER_ROOT as usize + 1) + 1,
        held_for.elapsed(),
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_injected_task_failures_restart_the_partition_and_a_retried_request_id_writes_nothing() {
    let _serial = SERIAL.lock().await;
    let cluster = Cluster::on("inject", &bootstrap(), None, "", "").await;
    // An in-process worker whose real Kafka connector carries armed faults.
    let faults = Arc::new(Faults::default());
    Faults::arm(&faults.restore_failures, 3);
    let angzarr_coordinators::config::LogConfig::Kafka(k) = &cluster.config.log else { unreachable!() };
    let mut connector = k.connector();
    connector.faults = faults.clone();
    let log = KafkaLog::connect(connector, cluster.config.log_domains(), Duration::from_secs(30)).await.unwrap();
    let worker = runtime::start(
        &cluster.config,
        Arc::new(log),
        Roles { gateway: false, command_handler: true, downstream: false },
        Shutdown::new(),
    )
    .await
    .unwrap();

    // Three restores failed; every partition serves anyway.
    let every = all_partitions_accept(&cluster).await;
    assert_eq!(faults.restore_failures.load(Ordering::SeqCst), 0, "the injected restore failures were consumed");
    let restarted: Vec<_> = worker.states.list().into_iter().filter(|(_, _, s)| s.restarts > 0).collect();
    assert_eq!(restarted.iter().map(|(_, _, s)| s.restarts).sum::<u32>(), 3, "{restarted:?}");

    // A commit that happened, reported as unknown: the partition restarts,
    // and a retry of that request id is answered from the log.
    let root = root_in(2, PARTITIONS);
    let mut client = cluster.client();
    faults.partition.store(2, Ordering::SeqCst);
    Faults::arm(&faults.unknown_after_commit, 1);
    let mut req = tonic::Request::new(request(root, 0, register()));
    req.metadata_mut().insert("angzarr-request-id", "inject-1".parse().unwrap());
    let first = client.handle_command(req).await;
    let mut retry = tonic::Request::new(request(root, 0, register()));
    retry.metadata_mut().insert("angzarr-request-id", "inject-1".parse().unwrap());
    let retried = client.handle_command(retry).await.expect("the retry gets the original outcome").into_inner();
    assert_eq!(retried.events.unwrap().pages.iter().filter_map(|p| p.seq()).collect::<Vec<_>>(), vec![0]);

    // A fatal producer error before commit: decided again, exactly once.
    Faults::arm(&faults.fatal_before_commit, 1);
    let mut next = 1;
    send_following(&mut client, root, &mut next, deposit(7)).await.expect("decided after the restart");
    // Positive control on the same partition: it serves.
    send_following(&mut client, root, &mut next, deposit(1)).await.unwrap();

    // A rejection nobody waits for (ASYNC) is recorded on `_rejections`.
    let mut doomed = request(Uuid::new_v4(), 0, deposit(1));
    doomed.sync_mode = SyncMode::Async as i32;
    doomed.command.as_mut().unwrap().cover.as_mut().unwrap().correlation_id = "inject-rejected".into();
    client.handle_command(doomed).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let recorded = loop {
        let found = cluster.gateway.log.rejections(Some("inject-rejected")).await.unwrap();
        if !found.is_empty() || Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert!(recorded[0].message.contains("player does not exist"), "{}", recorded[0].message);

    let events = read_events(&bootstrap(), &cluster.events_topic(), PARTITIONS);
    let counts = check_sequences(&events);
    assert_eq!(counts[&root], 3, "register once (despite its retry), deposit 7 once, deposit 1 once");
    let status = worker.states.list().into_iter().find(|(_, id, _)| id.partition == 2).unwrap().2;
    assert!(status.restarts >= 2, "the unknown and the fatal outcome each restarted partition 2: {status:?}");
    eprintln!(
        "injected: 3 failed restores, every partition accepting after {every:.2?}; unknown-after-commit (first answer: {}), \
         retry answered from the log; fatal-before-commit decided again once",
        if first.is_ok() { "accepted" } else { "error" }
    );
    worker.stop().await.unwrap();
}
