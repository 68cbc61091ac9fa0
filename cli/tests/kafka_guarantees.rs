//! The Kafka guarantees, proven on a real Apache Kafka broker (KRaft, from
//! `scripts/kafka start`; `KAFKA_BOOTSTRAP` must point at it). Workers are
//! separate `angzarr coordinator command-handler` processes so they can be
//! killed, paused and stopped like in production; the gateway and the player
//! handler run in the test process; an independent `read_committed` consumer
//! checks what is in the events topic, reading only the documented headers.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::*;
use uuid::Uuid;

fn restored_partitions(log: &str) -> usize {
    log.matches("kafka partition restored").count()
}

async fn start_load(
    cluster: &Cluster,
    roots: &[Uuid],
    clients: usize,
) -> (Arc<AtomicBool>, tokio::task::JoinHandle<(Vec<(Uuid, u32)>, Vec<String>)>) {
    let stop = Arc::new(AtomicBool::new(false));
    let handle = tokio::spawn(load(cluster.channel.clone(), Arc::new(roots.to_vec()), clients, stop.clone()));
    (stop, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_two_workers_concurrent_clients_keep_sequences() {
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::new("two-workers", 5).await;
    cluster.start_worker();
    cluster.start_worker();
    let mut client = cluster.client();
    let roots = register_players(&mut client, 20).await;

    // A stale sequence is refused, naming the current one.
    let stale = client.handle_command(request(roots[0], 0, deposit(5))).await.unwrap_err();
    assert_eq!(stale.code(), tonic::Code::FailedPrecondition);
    assert!(stale.message().contains("next sequence is 1"), "{}", stale.message());

    let (stop, handle) = start_load(&cluster, &roots, 8).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, Ordering::Relaxed);
    let (accepted, errors) = handle.await.unwrap();
    assert!(errors.is_empty(), "clients saw errors: {errors:?}");
    assert!(accepted.len() > 50, "too little load to prove anything: {}", accepted.len());

    eventually(Duration::from_secs(30), "both workers to own partitions", || {
        cluster.workers.iter().all(|w| restored_partitions(&w.log_text()) > 0)
    })
    .await;
    let events = read_events(&support::bootstrap(), &cluster.events_topic(), PARTITIONS);
    let counts = check_sequences(&events);
    assert_eq!(counts.len(), 20);
    let registrations: Vec<(Uuid, u32)> = roots.iter().map(|r| (*r, 0)).collect();
    check_exactly_once(&events, &[registrations, accepted.clone()].concat(), 0);
    eprintln!(
        "two workers: {} commands accepted by 8 concurrent clients over 20 aggregates; {} events, all contiguous",
        accepted.len(),
        events.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_kill_9_worker_under_load_loses_and_duplicates_nothing() {
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::new("kill9", 5).await;
    cluster.start_worker();
    cluster.start_worker();
    let mut client = cluster.client();
    let roots = register_players(&mut client, 20).await;
    eventually(Duration::from_secs(30), "both workers to own partitions", || {
        cluster.workers.iter().all(|w| restored_partitions(&w.log_text()) > 0)
    })
    .await;

    let (stop, handle) = start_load(&cluster, &roots, 6).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.workers[0].kill9();
    let failover = all_partitions_accept(&cluster).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let (accepted, errors) = handle.await.unwrap();
    assert!(errors.is_empty(), "clients saw errors: {errors:?}");

    let events = read_events(&support::bootstrap(), &cluster.events_topic(), PARTITIONS);
    check_sequences(&events);
    let registrations: Vec<(Uuid, u32)> = roots.iter().map(|r| (*r, 0)).collect();
    check_exactly_once(&events, &[registrations, accepted.clone()].concat(), PARTITIONS as usize);
    eprintln!(
        "kill -9: first accepted command on every partition {:.2?} after the kill (session timeout {SESSION_TIMEOUT}); {} commands accepted under load, none lost or duplicated",
        failover,
        accepted.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_zombie_writes_never_become_visible() {
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::new("zombie", 5).await;
    cluster.start_worker();
    cluster.start_worker();
    let mut client = cluster.client();
    let roots = register_players(&mut client, 20).await;
    eventually(Duration::from_secs(30), "both workers to own partitions", || {
        cluster.workers.iter().all(|w| restored_partitions(&w.log_text()) > 0)
    })
    .await;

    let (stop, handle) = start_load(&cluster, &roots, 6).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Freeze worker 0 mid-load: it may hold an open transaction.
    cluster.workers[0].signal(libc::SIGSTOP);
    let takeover = all_partitions_accept(&cluster).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Wake the zombie: whatever it still tries to commit must be fenced.
    cluster.workers[0].signal(libc::SIGCONT);
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::Relaxed);
    let (accepted, errors) = handle.await.unwrap();
    assert!(errors.is_empty(), "clients saw errors: {errors:?}");

    let events = read_events(&support::bootstrap(), &cluster.events_topic(), PARTITIONS);
    check_sequences(&events);
    let registrations: Vec<(Uuid, u32)> = roots.iter().map(|r| (*r, 0)).collect();
    check_exactly_once(&events, &[registrations, accepted.clone()].concat(), PARTITIONS as usize);
    // The zombie learned it lost its partitions: its open transaction was
    // fenced, or its consumer found them revoked — it never served them again.
    let zombie_log = cluster.workers[0].log_text();
    let fenced = zombie_log.contains("no longer owned") || zombie_log.contains("fenced");
    let revoked = zombie_log.contains("partition revoked");
    assert!(fenced || revoked, "the zombie was neither fenced nor revoked:\n{zombie_log}");
    eprintln!(
        "zombie: the other worker served every partition {takeover:.2?} after SIGSTOP; after SIGCONT the zombie was {}; {} commands accepted, no zombie write visible",
        match (fenced, revoked) {
            (true, true) => "fenced and revoked",
            (true, false) => "fenced",
            _ => "revoked",
        },
        accepted.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_restore_reads_snapshots_and_tail_not_history() {
    let _serial = SERIAL.lock().await;
    let mut figures = BTreeMap::new();
    for history in [20u32, 120] {
        let mut cluster = Cluster::new(&format!("restore{history}"), 10).await;
        cluster.start_worker();
        let mut client = cluster.client();
        let roots = register_players(&mut client, 24).await;
        let mut tasks = Vec::new();
        for root in roots.clone() {
            let mut client = cluster.client();
            tasks.push(tokio::spawn(async move {
                let mut next = 1;
                for _ in 0..history {
                    send_following(&mut client, root, &mut next, deposit(1)).await.expect("deposit");
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let config = cluster.kafka_config();
        let (mut aggregates, mut snapshot_records, mut event_records) = (0, 0, 0);
        for p in 0..PARTITIONS {
            let (histories, stats) = angzarr_connectors::kafka::restore_partition(&config, "player", p, None).unwrap();
            aggregates += histories.len();
            snapshot_records += stats.snapshot_records;
            event_records += stats.event_records;
            for h in &histories {
                let covered = h.snapshot.as_ref().map_or(0, |s| s.seq() + 1);
                assert_eq!(covered + h.pages.len() as u32, history + 1, "{} restored whole", h.root);
            }
        }
        assert_eq!(aggregates, 24);
        let total = 24 * (history as u64 + 1);
        eprintln!(
            "restore with {history} events per aggregate: {event_records} event records read of {total} stored, {snapshot_records} snapshot records (uncompacted)"
        );
        figures.insert(history, (event_records, total));

        // Reads of the past below the latest snapshot: from the history.
        use angzarr_proto::angzarr::event_query_service_client::EventQueryServiceClient;
        use angzarr_proto::angzarr::query::Selection;
        use angzarr_proto::angzarr::{Cover, Query, SequenceRange, TemporalQuery, temporal_query::PointInTime};
        let mut queries = EventQueryServiceClient::new(cluster.channel.clone());
        let root = roots[0];
        let q = |selection| Query {
            cover: Some(Cover { root: Some(root.into()), domain: "player".into(), ..Default::default() }),
            selection,
        };
        let seqs = |b: &angzarr_proto::angzarr::EventBook| b.pages.iter().filter_map(|p| p.seq()).collect::<Vec<_>>();
        let latest = queries.get_event_book(q(None)).await.unwrap().into_inner();
        assert!(latest.snapshot.is_some(), "the positive control: a snapshot covers the first events");
        let past = queries
            .get_event_book(q(Some(Selection::Range(SequenceRange { lower: 0, upper: None }))))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(seqs(&past), (0..=history).collect::<Vec<_>>(), "every event, read past the snapshot");
        let then = TemporalQuery { point_in_time: Some(PointInTime::AsOfSequence(3)) };
        let then = queries.get_event_book(q(Some(Selection::Temporal(then)))).await.unwrap().into_inner();
        assert_eq!((seqs(&then), then.next_sequence), (vec![0, 1, 2, 3], 4), "the state as of sequence 3");
    }
    let (short, _) = figures[&20];
    let (long, long_total) = figures[&120];
    assert!(long < long_total / 3, "restore read {long} of {long_total} events: that is a replay of history");
    assert!(long <= short * 2 + 100, "events read grew with history: {short} → {long}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_scale_out_then_graceful_handoff_without_client_errors() {
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::new("scale", 5).await;
    cluster.start_worker();
    let mut client = cluster.client();
    let roots = register_players(&mut client, 20).await;
    let (stop, handle) = start_load(&cluster, &roots, 6).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Scale out: the second worker joins and takes some partitions.
    cluster.start_worker();
    eventually(Duration::from_secs(30), "the second worker to take partitions", || {
        restored_partitions(&cluster.workers[1].log_text()) > 0
    })
    .await;
    let moved = restored_partitions(&cluster.workers[1].log_text());
    assert!(moved < PARTITIONS as usize, "the second worker should take some partitions, not all");
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Graceful hand-off: SIGTERM worker 0 under load.
    let started = Instant::now();
    let status = cluster.workers[0].terminate();
    let stopped_in = started.elapsed();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    let handoff = all_partitions_accept(&cluster).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let (accepted, errors) = handle.await.unwrap();
    assert!(errors.is_empty(), "clients saw errors during scale-out or hand-off: {errors:?}");
    assert!(cluster.workers[0].log_text().contains("command-handler worker left"));

    let events = read_events(&support::bootstrap(), &cluster.events_topic(), PARTITIONS);
    check_sequences(&events);
    let registrations: Vec<(Uuid, u32)> = roots.iter().map(|r| (*r, 0)).collect();
    check_exactly_once(&events, &[registrations, accepted.clone()].concat(), PARTITIONS as usize);
    eprintln!(
        "scale-out: second worker took {moved} of {PARTITIONS} partitions; graceful stop took {stopped_in:.2?}, every partition accepting again {:.2?} after SIGTERM; {} commands accepted, no client errors",
        handoff + stopped_in,
        accepted.len()
    );
}

/// Payers with plenty of money and receivers, registered.
async fn payers_and_receivers(cluster: &Cluster) -> (Vec<Uuid>, Vec<Uuid>) {
    let mut client = cluster.client();
    let payers = register_players(&mut client, 6).await;
    for p in &payers {
        client.handle_command(request(*p, 1, deposit(1_000_000))).await.unwrap();
    }
    (payers, register_players(&mut client, 6).await)
}

/// Four clients transfer $1 from payers to receivers; 3 s in, `victims` are
/// killed with SIGKILL; 8 s later the load stops. Returns the transfers accepted.
async fn transfers_while_killing(
    cluster: &mut Cluster,
    payers: &[Uuid],
    receivers: &[Uuid],
    victims: &[usize],
) -> usize {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..4 {
        let (channel, stop, payers, receivers) =
            (cluster.channel.clone(), stop.clone(), payers.to_vec(), receivers.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut client = angzarr_proto::angzarr::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient::new(channel);
            let mut next: BTreeMap<Uuid, u32> = receivers.iter().map(|r| (*r, 1)).collect();
            let mut sent = 0;
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                let (to, from) = (receivers[i % receivers.len()], payers[(i / 2) % payers.len()]);
                i += 3;
                let cmd = angzarr_proto::pack(&angzarr_proto::examples::TransferFunds {
                    from_player_root: from.as_bytes().to_vec(),
                    amount: Some(angzarr_proto::examples::Currency { amount: 1, currency_code: "USD".into() }),
                    hand_root: vec![],
                    reason: "pot".into(),
                });
                send_following(&mut client, to, next.get_mut(&to).unwrap(), cmd).await.expect("transfer accepted");
                sent += 1;
            }
            sent
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    for v in victims {
        cluster.workers[*v].kill9();
    }
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop.store(true, Ordering::Relaxed);
    let mut transfers = 0;
    for t in tasks {
        transfers += t.await.unwrap();
    }
    transfers
}

/// Reads `topic` with an independent read_committed consumer until every
/// `expected` request id is there (or 60 s passed), then asserts each is
/// there exactly once and no other id with `prefix` is. Returns the count.
fn assert_request_ids_exactly_once(topic: &str, prefix: &str, expected: &BTreeSet<String>, what: &str) -> usize {
    let bootstrap = support::bootstrap();
    let mut produced: BTreeMap<String, usize> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        produced.clear();
        for (_, _, h) in read_headers(&bootstrap, topic, PARTITIONS) {
            if let Some(id) = h.get("angzarr-request-id").filter(|id| id.starts_with(prefix)) {
                *produced.entry(id.clone()).or_default() += 1;
            }
        }
        if expected.iter().all(|t| produced.contains_key(t)) || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let duplicated: Vec<_> = produced.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "{what} produced more than once: {duplicated:?}");
    let missing: Vec<_> = expected.iter().filter(|t| !produced.contains_key(*t)).collect();
    assert!(missing.is_empty(), "{} {what} missing, e.g. {:?}", missing.len(), missing.first());
    let unexpected: Vec<_> = produced.keys().filter(|p| !expected.contains(*p)).collect();
    assert!(unexpected.is_empty(), "{what} without a triggering event: {unexpected:?}");
    produced.len()
}

/// `(root, sequence)` headers of the events of `topic` whose type is `type_name` (all when empty).
fn events_of(topic: &str, type_name: &str) -> Vec<(String, String)> {
    read_headers(&support::bootstrap(), topic, PARTITIONS)
        .into_iter()
        .filter(|(_, _, h)| type_name.is_empty() || h.get("angzarr-type").map(String::as_str) == Some(type_name))
        .map(|(_, _, h)| (h["angzarr-root"].clone(), h["angzarr-sequence"].clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_kill_9_saga_worker_reacts_exactly_once() {
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::with_saga("saga", poker::settlement::saga()).await;
    cluster.start_role("command-handler");
    cluster.start_role("downstream");
    cluster.start_role("downstream");
    let (payers, receivers) = payers_and_receivers(&cluster).await;
    let transfers = transfers_while_killing(&mut cluster, &payers, &receivers, &[1]).await;

    // Every FundsTransferred event must produce exactly one saga command.
    let triggers: BTreeSet<String> = events_of(&cluster.events_topic(), "examples.FundsTransferred")
        .into_iter()
        .map(|(root, seq)| format!("saga:transfer-settlement:player:{root}:{seq}:0"))
        .collect();
    assert_eq!(triggers.len(), transfers, "one FundsTransferred per accepted transfer");
    let commands_topic = format!("{}.player.commands", cluster.prefix);
    let n = assert_request_ids_exactly_once(&commands_topic, "saga:", &triggers, "saga commands");
    eprintln!(
        "saga kill -9: {} transfers, {n} saga commands, each exactly once (counted by an independent read_committed consumer)",
        triggers.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_kill_9_process_manager_workers_react_exactly_once() {
    use angzarr_client::{ProcessManager, Reaction, command};
    use angzarr_proto::examples::{FundsTransferred, PlayerState, WithdrawFunds};
    let _serial = SERIAL.lock().await;
    // A process per transfer (each command gets its own correlation id):
    // records the transfer it settles and debits the payer.
    let pm = ProcessManager::<PlayerState>::new("transfer-ledger")
        .apply(|s: &mut PlayerState, e: &FundsTransferred| s.bankroll = e.amount.clone())
        .on(|e: &FundsTransferred, s: &PlayerState, _| {
            let Ok(payer) = Uuid::from_slice(&e.from_player_root) else { return Reaction::none() };
            if s.bankroll.is_some() {
                return Reaction::none();
            }
            Reaction::none().record(e.clone()).send(command(
                "player",
                payer,
                &WithdrawFunds { amount: e.amount.clone() },
            ))
        });
    let mut cluster = Cluster::with_process_manager("pm", pm).await;
    let handler = cluster.start_role("command-handler");
    cluster.start_role("command-handler");
    let router = cluster.start_role("downstream");
    cluster.start_role("downstream");
    let (payers, receivers) = payers_and_receivers(&cluster).await;
    // Kill one partition owner of the process manager and one router.
    let transfers = transfers_while_killing(&mut cluster, &payers, &receivers, &[handler, router]).await;

    // Every transfer produced exactly one debit of its payer.
    let transfers_stored = events_of(&cluster.events_topic(), "examples.FundsTransferred");
    assert_eq!(transfers_stored.len(), transfers, "one FundsTransferred per accepted transfer");
    let debits: BTreeSet<String> =
        transfers_stored.iter().map(|(root, seq)| format!("pm:transfer-ledger:player:{root}:{seq}:cmd:0")).collect();
    let player_commands = format!("{}.player.commands", cluster.prefix);
    let n_debits = assert_request_ids_exactly_once(&player_commands, "pm:", &debits, "process manager commands");
    // Once every debit is decided, no more player events come: every one of
    // them (all carry a correlation id) was routed to its process exactly once.
    let deadline = Instant::now() + Duration::from_secs(60);
    while events_of(&cluster.events_topic(), "examples.FundsWithdrawn").len() < transfers {
        assert!(Instant::now() < deadline, "the debits were not all decided");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let routed: BTreeSet<String> = events_of(&cluster.events_topic(), "")
        .into_iter()
        .map(|(root, seq)| format!("pm:transfer-ledger:player:{root}:{seq}"))
        .collect();
    let pm_commands = format!("{}.transfer-ledger.commands", cluster.prefix);
    let n_routed = assert_request_ids_exactly_once(&pm_commands, "pm:", &routed, "routed triggers");
    // And each process recorded its transfer once, at sequence 0.
    let process_events = events_of(&format!("{}.transfer-ledger.events", cluster.prefix), "");
    let processes: BTreeSet<&String> = process_events.iter().map(|(root, _)| root).collect();
    assert_eq!(process_events.len(), transfers, "one process event per transfer");
    assert_eq!(processes.len(), transfers, "one process per transfer's correlation id");
    assert!(process_events.iter().all(|(_, seq)| seq == "0"), "a process recorded its step twice");
    eprintln!(
        "process manager kill -9 (a partition owner and a router): {transfers} transfers, {n_routed} triggers routed, {n_debits} commands emitted, {} process events, each exactly once",
        process_events.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_simple_and_cascade_answer_from_other_processes() {
    use angzarr_proto::angzarr::SyncMode;
    use angzarr_proto::examples::{Currency, TransferFunds};
    let _serial = SERIAL.lock().await;
    // The gateway runs here; the partition owners and the projector and
    // saga coordinators are other processes: every SIMPLE/CASCADE signal
    // crosses the log.
    let dir = tempfile::tempdir().unwrap();
    let model = poker::bankroll::ReadModel::open(&dir.path().join("bankroll.db")).unwrap();
    let server =
        angzarr_client::Server::new().projector(poker::bankroll::projector(model)).saga(poker::settlement::saga());
    let mut cluster = Cluster::with_downstream("remote", server, |addr| {
        format!(
            "projectors:\n  bankroll:\n    handler: 'http://{addr}'\n    domains: [player]\n    sync: true\n\
             sagas:\n  transfer-settlement:\n    handler: 'http://{addr}'\n    domains: [player]\n"
        )
    })
    .await;
    cluster.start_role("command-handler");
    cluster.start_role("downstream");
    let mut client = cluster.client();
    let [payer, payee] = [Uuid::new_v4(), Uuid::new_v4()];
    for root in [payer, payee] {
        client.handle_command(request(root, 0, register())).await.expect("registration");
    }
    let mut simple = request(payer, 1, deposit(100));
    simple.sync_mode = SyncMode::Simple as i32;
    let started = Instant::now();
    let answer = client.handle_command(simple).await.expect("SIMPLE answered").into_inner();
    let simple_took = started.elapsed();
    let projection = answer.projections.iter().find(|p| p.projector == "bankroll").expect("the bankroll projection");
    let balance: Currency = angzarr_proto::unpack(projection.projection.as_ref().unwrap()).unwrap().unwrap();
    assert_eq!(balance.amount, 100, "projected by the other process");

    let transfer = angzarr_proto::pack(&TransferFunds {
        from_player_root: payer.as_bytes().to_vec(),
        amount: Some(Currency { amount: 30, currency_code: "USD".into() }),
        hand_root: vec![],
        reason: "pot".into(),
    });
    let mut cascade = request(payee, 1, transfer);
    cascade.sync_mode = SyncMode::Cascade as i32;
    let started = Instant::now();
    let answer = client.handle_command(cascade).await.expect("CASCADE answered").into_inner();
    let cascade_took = started.elapsed();
    assert!(answer.cascade_errors.is_empty(), "{:?}", answer.cascade_errors);
    let types: Vec<&str> = answer
        .events
        .iter()
        .flat_map(|b| &b.pages)
        .filter_map(|p| p.event().map(|e| angzarr_proto::type_name(&e.type_url)))
        .collect();
    assert!(types.contains(&"examples.FundsTransferred"), "{types:?}");
    let payer_view = answer
        .projections
        .iter()
        .find(|p| p.cover.as_ref().and_then(|c| c.root.as_ref()).and_then(|r| Uuid::try_from(r).ok()) == Some(payer))
        .expect("the saga's debit of the payer, projected, is in the CASCADE answer");
    let payer_balance: Currency = angzarr_proto::unpack(payer_view.projection.as_ref().unwrap()).unwrap().unwrap();
    assert_eq!(payer_balance.amount, 70);
    eprintln!(
        "across processes: SIMPLE answered in {simple_took:.2?} with the projection; CASCADE in {cascade_took:.2?} with {} projections, the saga's debit included",
        answer.projections.len()
    );
}

/// DECISION commands from a gateway in another process go straight to the
/// worker that owns their partition (found through the `_owners`
/// directory): their events are committed with their request ids, and the
/// commands topic holds none of them. The positive control is an ASYNC
/// command through the same gateway, which is on the commands topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_decision_commands_go_straight_to_the_owner_in_another_process() {
    let _serial = SERIAL.lock().await;
    let mut cluster = Cluster::new("direct", 5).await;
    cluster.start_worker();
    all_partitions_accept(&cluster).await;
    let log = cluster.gateway.log.clone();
    eventually(Duration::from_secs(30), "the gateway to know every partition's owner", || {
        (0..PARTITIONS).all(|p| log.owner_endpoint("player", p).is_some())
    })
    .await;
    let mut client = cluster.client();
    let mut direct_ids = BTreeSet::new();
    for i in 0..12u32 {
        let id = format!("direct-{i}");
        let mut req = tonic::Request::new(request(root_in(i % PARTITIONS, PARTITIONS), 0, register()));
        req.metadata_mut().insert("angzarr-request-id", id.parse().unwrap());
        client.handle_command(req).await.expect("accepted");
        direct_ids.insert(id);
    }
    let mut control = tonic::Request::new(angzarr_proto::angzarr::CommandRequest {
        sync_mode: angzarr_proto::angzarr::SyncMode::Async as i32,
        ..request(Uuid::new_v4(), 0, register())
    });
    control.metadata_mut().insert("angzarr-request-id", "async-control".parse().unwrap());
    client.handle_command(control).await.expect("async accepted");

    let commands = read_headers(&support::bootstrap(), &format!("{}.player.commands", cluster.prefix), PARTITIONS);
    let logged: BTreeSet<String> =
        commands.iter().filter_map(|(_, _, h)| h.get("angzarr-request-id").cloned()).collect();
    assert!(logged.contains("async-control"), "positive control: the ASYNC command is on the commands topic");
    let leaked: Vec<_> = direct_ids.intersection(&logged).collect();
    assert!(leaked.is_empty(), "DECISION commands on the commands topic: {leaked:?}");
    let stored = assert_request_ids_exactly_once(&cluster.events_topic(), "direct-", &direct_ids, "direct commands");
    eprintln!(
        "direct routing: {} DECISION commands from the test process decided by the worker process, {stored} events, \
         none on the commands topic ({} records there)",
        direct_ids.len(),
        commands.len()
    );
}
