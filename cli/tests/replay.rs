//! Replay by rewinding offsets: wipe a projector's read model, run
//! `angzarr replay projector`, and get the same read model back — on the
//! embedded log and on the real broker. ISOLATED events stay unprojected
//! after a replay too.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use angzarr_coordinators::Shutdown;
use angzarr_coordinators::config::Config;
use angzarr_coordinators::runtime::{self, Roles, Running};
use angzarr_proto::angzarr::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_proto::angzarr::{CommandBook, CommandPage, CommandRequest, Cover, PageHeader, SyncMode, command_page};
use angzarr_proto::examples::{Currency, DepositFunds, RegisterPlayer};
use angzarr_proto::pack;
use tonic::transport::Channel;
use uuid::Uuid;

fn request(root: Uuid, seq: u32, cmd: prost_types::Any, mode: SyncMode) -> CommandRequest {
    CommandRequest {
        command: Some(CommandBook {
            cover: Some(Cover { root: Some(root.into()), domain: "player".into(), ..Default::default() }),
            pages: vec![CommandPage {
                header: Some(PageHeader::sequence(seq)),
                payload: Some(command_page::Payload::Command(cmd)),
                ..Default::default()
            }],
        }),
        sync_mode: mode as i32,
        ..Default::default()
    }
}

fn deposit(n: i64) -> prost_types::Any {
    pack(&DepositFunds { amount: Some(Currency { amount: n, currency_code: "USD".into() }) })
}

async fn start(config_path: &Path) -> (Running, Channel) {
    let config = Config::load(config_path).unwrap();
    let log = runtime::open_log(&config).await.unwrap();
    let running = runtime::start(&config, log, Roles::ALL, Shutdown::new()).await.unwrap();
    let channel =
        Channel::from_shared(format!("http://{}", running.grpc_addr.unwrap())).unwrap().connect().await.unwrap();
    (running, channel)
}

/// `players` players with `deposits` deposits each; the isolated player's only deposit is ISOLATED.
async fn history(channel: &Channel, players: usize, deposits: u32) -> Uuid {
    let mut tasks = Vec::new();
    for i in 0..players {
        let mut c = CommandHandlerCoordinatorServiceClient::new(channel.clone());
        tasks.push(tokio::spawn(async move {
            let root = Uuid::new_v4();
            let reg =
                pack(&RegisterPlayer { display_name: format!("p{i}"), email: format!("p{i}@x"), ..Default::default() });
            c.handle_command(request(root, 0, reg, SyncMode::Decision)).await.unwrap();
            for s in 1..=deposits {
                c.handle_command(request(root, s, deposit(i as i64 + 1), SyncMode::Decision)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut c = CommandHandlerCoordinatorServiceClient::new(channel.clone());
    let isolated = Uuid::new_v4();
    let reg = pack(&RegisterPlayer { display_name: "iso".into(), email: "iso@x".into(), ..Default::default() });
    c.handle_command(request(isolated, 0, reg, SyncMode::Decision)).await.unwrap();
    c.handle_command(request(isolated, 1, deposit(1000), SyncMode::Isolated)).await.unwrap();
    // A SIMPLE command last, in the same partition: once it is answered, the
    // projector has gone past the ISOLATED event.
    let partition_of = |r: &Uuid| angzarr_topology::partition_for(r.hyphenated().to_string().as_bytes(), 4);
    let tail = std::iter::repeat_with(Uuid::new_v4).find(|r| partition_of(r) == partition_of(&isolated)).unwrap();
    let reg = pack(&RegisterPlayer { display_name: "tail".into(), email: "tail@x".into(), ..Default::default() });
    c.handle_command(request(tail, 0, reg, SyncMode::Simple)).await.unwrap();
    isolated
}

async fn wait_rows(model: &poker::bankroll::ReadModel, rows: usize) {
    for _ in 0..200 {
        if model.leaderboard().len() >= rows {
            tokio::time::sleep(Duration::from_millis(500)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the projector never caught up");
}

fn replay(config_path: &Path) -> (bool, String) {
    replay_to(config_path, "earliest")
}

fn replay_to(config_path: &Path, to: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_angzarr"))
        .args(["replay", "projector", "bankroll", "--to", to, "--config"])
        .arg(config_path)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

async fn replay_rebuilds_the_read_model(log_yaml: &str, name: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let model = poker::bankroll::ReadModel::open(&dir.path().join("bankroll.db")).unwrap();
    let loopback = "127.0.0.1:0".parse().unwrap();
    let aggregates = poker::server().spawn(loopback).await.unwrap();
    let projector = angzarr_client::Server::new()
        .projector(poker::bankroll::projector(model.clone()))
        .spawn(loopback)
        .await
        .unwrap();
    let projector_addr = projector.addr;
    let before_history =
        humantime::format_rfc3339_millis(std::time::SystemTime::now() - Duration::from_secs(1)).to_string();
    let yaml = format!(
        "log: {log_yaml}\ngateway: {{listen: '127.0.0.1:0', decision_timeout: 30s}}\n\
         domains:\n  player: {{handler: 'http://{}'}}\n\
         projectors:\n  bankroll: {{handler: 'http://{}', domains: [player], sync: true}}\n",
        aggregates.addr, projector.addr
    );
    let config_path = dir.path().join("angzarr.yaml");
    std::fs::write(&config_path, yaml.replace("{dir}", &dir.path().display().to_string())).unwrap();

    let (running, channel) = start(&config_path).await;
    let isolated = history(&channel, 40, 10).await;
    wait_rows(&model, 42).await;
    let before = model.leaderboard();
    assert_eq!(model.balance(&isolated), Some(0), "{name}: the ISOLATED deposit must not be projected");
    if name == "kafka" {
        let (ok, err) = replay(&config_path);
        assert!(!ok, "replay must refuse while the projector runs");
        assert!(err.contains("stop it first"), "{err}");
    }
    running.stop().await.unwrap();

    // Through the batch contract (the client library serves it).
    model.wipe().unwrap();
    assert!(model.leaderboard().is_empty());
    let (ok, err) = replay(&config_path);
    assert!(ok, "{name}: replay failed:\n{err}");
    assert_eq!(model.leaderboard(), before, "{name}: the replayed read model differs");
    assert_eq!(model.balance(&isolated), Some(0), "{name}: the ISOLATED deposit stays unprojected after replay");
    assert!(err.contains("through ProjectorBatchService.HandleBatch"), "{name}: {err}");
    eprintln!("{name}: {}", err.lines().last().unwrap_or_default());

    // A time after the whole history: nothing to replay, nothing projected
    // (the replay above is this path's positive control).
    model.wipe().unwrap();
    let after_history = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let (ok, late) = replay_to(&config_path, &after_history);
    assert!(ok, "{name}: replay --to {after_history} failed:\n{late}");
    assert!(late.contains("(0 events to project)"), "{name}: {late}");
    assert!(model.leaderboard().is_empty(), "{name}: a replay from after the history projected something");

    // Through upstream's unary Handle only (a projector built with
    // upstream's published clients), from a time before the history.
    projector.shutdown().await;
    let unary = angzarr_client::Server::new()
        .projector(poker::bankroll::projector(model.clone()))
        .unary_only()
        .spawn(projector_addr)
        .await
        .unwrap();
    let (ok, err) = replay_to(&config_path, &before_history);
    assert!(ok, "{name}: unary replay failed:\n{err}");
    assert!(err.contains("through unary ProjectorService.Handle"), "{name}: {err}");
    assert_eq!(model.leaderboard(), before, "{name}: the read model replayed through unary Handle differs");
    assert_eq!(model.balance(&isolated), Some(0), "{name}: the ISOLATED deposit stays unprojected after replay");
    unary.shutdown().await;
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replay_rebuilds_the_read_model_on_the_embedded_log() {
    replay_rebuilds_the_read_model("{type: embedded, path: '{dir}/events.db', partitions: 4}", "embedded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_replay_rebuilds_the_read_model() {
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP")
        .expect("KAFKA_BOOTSTRAP is not set: `export KAFKA_BOOTSTRAP=$(scripts/kafka start)`");
    let prefix = format!("replay-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let err = replay_rebuilds_the_read_model(
        &format!("{{type: kafka, bootstrap_servers: '{bootstrap}', topic_prefix: '{prefix}', partitions: 4}}"),
        "kafka",
    )
    .await;
    assert!(err.contains("events/s"), "{err}");
}
