//! Poison records on the embedded log, under each `on_poison` policy: an
//! event whose stored bytes no longer decode, and an event a projector keeps
//! refusing. `retry` holds the partition and says why, `stop` stops the
//! process, `dead_letter` moves the record aside (with where it came from and
//! why) and goes on. The events before the poison one reach the projector in
//! every case: the positive control that the path delivers at all.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use angzarr_client::Projector;
use angzarr_connectors::Log;
use angzarr_connectors::embedded::{Durability, EmbeddedConfig, EmbeddedLog};
use angzarr_coordinators::Shutdown;
use angzarr_coordinators::config::{Config, DomainConfig, GatewayConfig, LogConfig, ProjectorConfig};
use angzarr_coordinators::event_consumer::{OnPoison, PoisonPolicy};
use angzarr_coordinators::runtime::{self, Roles, Running};
use angzarr_coordinators::supervisor::TaskState;
use angzarr_proto::angzarr::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_proto::angzarr::{CommandBook, CommandPage, CommandRequest, Cover, PageHeader, SyncMode, command_page};
use angzarr_proto::examples::{PlayerRegistered, RegisterPlayer};
use angzarr_proto::pack;
use tonic::transport::Channel;
use uuid::Uuid;

const GROUP: &str = "projector.watch";

fn config(dir: &Path, aggregates: &str) -> Config {
    Config::new(
        LogConfig::Embedded { path: dir.join("events.db"), partitions: 1, durability: Durability::Normal },
        GatewayConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            http_listen: None,
            decision_timeout: Duration::from_secs(10),
            ..Default::default()
        },
        BTreeMap::from([("player".to_string(), DomainConfig::served_by(aggregates.to_string(), 100))]),
    )
}

async fn run(config: &Config, roles: Roles) -> (Running, EmbeddedLog) {
    let log = EmbeddedLog::open(
        &EmbeddedConfig {
            path: match &config.log {
                LogConfig::Embedded { path, .. } => path.clone(),
                _ => unreachable!(),
            },
            partitions: 1,
            durability: Durability::Normal,
        },
        config.log_domains(),
    )
    .unwrap();
    let running = runtime::start(config, Arc::new(log.clone()), roles, Shutdown::new()).await.unwrap();
    (running, log)
}

/// Registers `players` one after the other (one partition: their events
/// sit at offsets 0, 1, 2, … in that order), with no projector running.
async fn register(dir: &Path, aggregates: &str, players: &[Uuid]) {
    let (running, _) = run(&config(dir, aggregates), Roles::ALL).await;
    let channel =
        Channel::from_shared(format!("http://{}", running.grpc_addr.unwrap())).unwrap().connect().await.unwrap();
    let mut client = CommandHandlerCoordinatorServiceClient::new(channel);
    for root in players {
        let command = pack(&RegisterPlayer { display_name: "Ada".into(), email: "a@x".into(), ..Default::default() });
        client
            .handle_command(CommandRequest {
                command: Some(CommandBook {
                    cover: Some(Cover { root: Some((*root).into()), domain: "player".into(), ..Default::default() }),
                    pages: vec![CommandPage {
                        header: Some(PageHeader::sequence(0)),
                        payload: Some(command_page::Payload::Command(command)),
                        ..Default::default()
                    }],
                }),
                sync_mode: SyncMode::Decision as i32,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    running.stop().await.unwrap();
}

/// Overwrites the stored bytes of the event at `offset` with bytes that are
/// not an `EventBook` — what a bad disk, a foreign writer or a broken
/// migration leaves behind.
fn corrupt(dir: &Path, offset: i64) {
    let db = rusqlite::Connection::open(dir.join("events.db")).unwrap();
    let changed = db
        .execute(
            "UPDATE events SET body = x'ffffffff0f' WHERE domain = 'player' AND partition = 0 AND offset = ?1",
            [offset],
        )
        .unwrap();
    assert_eq!(changed, 1, "the event at offset {offset} exists");
}

/// A projector that records the roots it saw, refusing `refused` (INTERNAL).
async fn watcher(refused: Option<Uuid>) -> (String, Arc<Mutex<Vec<Uuid>>>) {
    let seen: Arc<Mutex<Vec<Uuid>>> = Arc::default();
    let s = seen.clone();
    let projector = Projector::new("watch").on(move |_: &PlayerRegistered, root, _| {
        if Some(*root) == refused {
            return Err("watch: this player breaks the read model".into());
        }
        // Idempotent, as every projector must be: a batch that failed
        // half-way is handed over again (here, run by run to find the poison).
        let mut seen = s.lock().unwrap();
        if !seen.contains(root) {
            seen.push(*root);
        }
        Ok(())
    });
    let server =
        angzarr_client::Server::new().projector(projector).spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = format!("http://{}", server.addr);
    std::mem::forget(server);
    (url, seen)
}

fn with_projector(config: &mut Config, url: String, policy: PoisonPolicy) {
    config.projectors.insert(
        "watch".into(),
        ProjectorConfig {
            handler: url,
            domains: vec!["player".into()],
            sync: false,
            on_poison: OnPoison { policy, attempts: 2 },
        },
    );
}

/// Polls `check` every 50 ms for up to 20 s.
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..400 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn aggregates() -> String {
    let server = poker::server().spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = format!("http://{}", server.addr);
    std::mem::forget(server);
    url
}

#[tokio::test]
async fn an_undecodable_event_holds_its_partition_under_retry_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let handler = aggregates().await;
    let players = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    register(dir.path(), &handler, &players).await;
    corrupt(dir.path(), 1);

    let (url, seen) = watcher(None).await;
    let mut config = config(dir.path(), &handler);
    with_projector(&mut config, url, PoisonPolicy::Retry);
    let (running, log) = run(&config, Roles { gateway: false, command_handler: false, downstream: true }).await;
    until("the projector to see the event before the bad one", || seen.lock().unwrap().len() == 1).await;
    assert_eq!(*seen.lock().unwrap(), vec![players[0]]);
    until("the partition task to fail on the undecodable record", || {
        running.states.list().iter().any(|(g, _, s)| {
            g == GROUP
                && s.state == TaskState::Failed
                && s.last_error.as_deref().is_some_and(|e| e.contains("undecodable event, held"))
        })
    })
    .await;
    // Restarted (with backoff) and held again: never past the bad record.
    until("a restart", || running.states.list().iter().any(|(g, _, s)| g == GROUP && s.restarts >= 2)).await;
    assert_eq!(*seen.lock().unwrap(), vec![players[0]], "nothing after the bad record reached the projector");
    assert_eq!(log.group_position(GROUP, "player").await.unwrap(), vec![Some(0)], "committed up to the good one");
    assert!(log.dead_letters(GROUP).await.unwrap().is_empty(), "retry moves nothing aside");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn an_undecodable_event_stops_the_process_under_stop() {
    let dir = tempfile::tempdir().unwrap();
    let handler = aggregates().await;
    let players = [Uuid::new_v4(), Uuid::new_v4()];
    register(dir.path(), &handler, &players).await;
    corrupt(dir.path(), 1);

    let (url, seen) = watcher(None).await;
    let mut config = config(dir.path(), &handler);
    with_projector(&mut config, url, PoisonPolicy::Stop);
    let (running, log) = run(&config, Roles { gateway: false, command_handler: false, downstream: true }).await;
    let ended =
        tokio::time::timeout(Duration::from_secs(20), running.join()).await.expect("the process stops by itself");
    let error = ended.expect_err("it stops with an error").to_string();
    assert!(error.contains("poison record") && error.contains("undecodable"), "{error}");
    assert_eq!(*seen.lock().unwrap(), vec![players[0]], "the good event before it was projected");
    assert_eq!(log.group_position(GROUP, "player").await.unwrap(), vec![Some(0)]);
    assert!(log.dead_letters(GROUP).await.unwrap().is_empty());
}

#[tokio::test]
async fn dead_letter_moves_a_refused_and_an_undecodable_event_aside_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let handler = aggregates().await;
    let players = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    register(dir.path(), &handler, &players).await;
    corrupt(dir.path(), 1);

    // Refuses the third player's event; the second's does not decode.
    let (url, seen) = watcher(Some(players[2])).await;
    let mut config = config(dir.path(), &handler);
    with_projector(&mut config, url, PoisonPolicy::DeadLetter);
    let (running, log) = run(&config, Roles { gateway: false, command_handler: false, downstream: true }).await;
    until("the projector to reach the last event", || seen.lock().unwrap().len() == 2).await;
    assert_eq!(*seen.lock().unwrap(), vec![players[0], players[3]]);

    let mut letters = Vec::new();
    for _ in 0..100 {
        letters = log.dead_letters(GROUP).await.unwrap();
        if log.group_position(GROUP, "player").await.unwrap() == vec![Some(3)] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(log.group_position(GROUP, "player").await.unwrap(), vec![Some(3)], "past both");
    letters.sort_by_key(|l| l.offset);
    assert_eq!(letters.len(), 2, "{letters:?}");
    let (bad, refused) = (&letters[0], &letters[1]);
    assert_eq!((bad.domain.as_str(), bad.partition, bad.offset), ("player", 0, 1));
    assert_eq!((bad.root, bad.sequence), (None, None), "the undecodable record has no root or sequence to show");
    assert!(bad.error.starts_with("undecodable"), "{}", bad.error);
    assert_eq!(bad.value, vec![0xff, 0xff, 0xff, 0xff, 0x0f], "the record's bytes, kept as they were");
    assert_eq!((refused.offset, refused.root, refused.sequence), (2, Some(players[2]), Some(0)));
    assert!(refused.error.contains("breaks the read model"), "the handler's own message: {}", refused.error);

    // Dropping one leaves the other.
    assert!(log.settle_dead_letter(GROUP, bad, None).await.unwrap());
    assert!(!log.settle_dead_letter(GROUP, bad, None).await.unwrap(), "already gone");
    let left = log.dead_letters(GROUP).await.unwrap();
    assert_eq!(left.iter().map(|l| l.offset).collect::<Vec<_>>(), vec![2]);
    running.stop().await.unwrap();
}

/// A projector whose read model fails half-way through the first batch (the
/// events before the failure stay applied: no batch scope) gets the whole
/// batch again, and — idempotent by sequence — ends with every event applied
/// exactly once. The batch call that failed is the positive control: the
/// path under test really was half-applied and handed over again.
#[tokio::test]
async fn a_batch_that_fails_half_way_is_handed_over_again_and_applied_once() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let handler = aggregates().await;
    let players: Vec<Uuid> = (0..8).map(|_| Uuid::new_v4()).collect();
    register(dir.path(), &handler, &players).await;

    // Per root, the sequences applied; every call counted.
    let ledger: Arc<Mutex<BTreeMap<Uuid, Vec<u32>>>> = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let (l, c, f) = (ledger.clone(), calls.clone(), failed.clone());
    let projector = Projector::new("watch").on(move |_: &PlayerRegistered, root, seq| {
        // The fifth event of the first batch: the read model goes away.
        if c.fetch_add(1, Ordering::SeqCst) == 4 && !f.swap(true, Ordering::SeqCst) {
            return Err("read model connection lost".into());
        }
        let mut ledger = l.lock().unwrap();
        let applied = ledger.entry(*root).or_default();
        if applied.last().is_none_or(|last| seq > *last) {
            applied.push(seq);
        }
        Ok(())
    });
    let server =
        angzarr_client::Server::new().projector(projector).spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut config = config(dir.path(), &handler);
    with_projector(&mut config, format!("http://{}", server.addr), PoisonPolicy::Retry);
    let (running, log) = run(&config, Roles { gateway: false, command_handler: false, downstream: true }).await;
    until("every event projected", || ledger.lock().unwrap().len() == players.len()).await;
    for _ in 0..400 {
        if log.group_position(GROUP, "player").await.unwrap() == vec![Some(7)] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(log.group_position(GROUP, "player").await.unwrap(), vec![Some(7)], "committed past the last event");
    assert!(failed.load(Ordering::SeqCst), "the first batch failed half-way");
    let ledger = ledger.lock().unwrap().clone();
    for p in &players {
        assert_eq!(ledger.get(p), Some(&vec![0]), "{p}: applied exactly once");
    }
    assert!(
        calls.load(Ordering::SeqCst) > players.len(),
        "the events before the failure were handed over again ({} calls for {} events)",
        calls.load(Ordering::SeqCst),
        players.len()
    );
    assert!(log.dead_letters(GROUP).await.unwrap().is_empty(), "nothing was given up on");
    running.stop().await.unwrap();
    server.shutdown().await;
}
