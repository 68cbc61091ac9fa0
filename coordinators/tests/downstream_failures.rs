//! Downstream coordinators when things go wrong, on the embedded log: a saga
//! or a process manager that commands an unknown domain, a projector that is
//! down, an upcaster that fails, a CASCADE cycle; and the Server-Sent Events
//! stream read by a real HTTP exchange.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use angzarr_client::{ProcessManager, Projector, Reaction, Saga, command};
use angzarr_connectors::embedded::{Durability, EmbeddedConfig, EmbeddedLog};
use angzarr_coordinators::Shutdown;
use angzarr_coordinators::config::{
    Config, DomainConfig, GatewayConfig, LogConfig, ProcessManagerConfig, ProjectorConfig, SagaConfig,
};
use angzarr_coordinators::runtime::{self, Roles, Running};
use angzarr_proto::angzarr::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_proto::angzarr::event_query_service_client::EventQueryServiceClient;
use angzarr_proto::angzarr::upcaster_service_server::{UpcasterService, UpcasterServiceServer};
use angzarr_proto::angzarr::{CommandBook, CommandPage, CommandRequest, Cover, PageHeader, SyncMode, command_page};
use angzarr_proto::angzarr::{UpcastRequest, UpcastResponse};
use angzarr_proto::examples::{Currency, DepositFunds, FundsDeposited, PlayerRegistered, PlayerState, RegisterPlayer};
use angzarr_proto::pack;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;
use uuid::Uuid;

struct Harness {
    running: Running,
    log: EmbeddedLog,
    channel: Channel,
}

async fn start(dir: &std::path::Path, configure: impl FnOnce(&mut Config)) -> Harness {
    start_roles(dir, Roles::ALL, configure).await
}

async fn start_roles(dir: &std::path::Path, roles: Roles, configure: impl FnOnce(&mut Config)) -> Harness {
    let aggregates = poker::server().spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut config = Config::new(
        LogConfig::Embedded { path: dir.join("events.db"), partitions: 2, durability: Durability::Normal },
        GatewayConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            http_listen: Some("127.0.0.1:0".parse().unwrap()),
            decision_timeout: Duration::from_secs(10),
            ..Default::default()
        },
        BTreeMap::from([("player".to_string(), DomainConfig::served_by(format!("http://{}", aggregates.addr), 100))]),
    );
    std::mem::forget(aggregates);
    configure(&mut config);
    let cfg = EmbeddedConfig { path: dir.join("events.db"), partitions: 2, durability: Durability::Normal };
    let log = EmbeddedLog::open(&cfg, config.log_domains()).unwrap();
    let running = runtime::start(&config, Arc::new(log.clone()), roles, Shutdown::new()).await.unwrap();
    let channel =
        Channel::from_shared(format!("http://{}", running.grpc_addr.unwrap())).unwrap().connect().await.unwrap();
    Harness { running, log, channel }
}

fn request(root: Uuid, seq: u32, cmd: prost_types::Any, mode: SyncMode, correlation: &str) -> CommandRequest {
    CommandRequest {
        command: Some(CommandBook {
            cover: Some(Cover {
                root: Some(root.into()),
                domain: "player".into(),
                correlation_id: correlation.into(),
                ..Default::default()
            }),
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

fn register() -> prost_types::Any {
    pack(&RegisterPlayer { display_name: "Ada".into(), email: "a@x".into(), ..Default::default() })
}

fn deposit(n: i64) -> prost_types::Any {
    pack(&DepositFunds { amount: Some(Currency { amount: n, currency_code: "USD".into() }) })
}

async fn serve_saga(saga: Saga) -> String {
    let s = angzarr_client::Server::new().saga(saga).spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = format!("http://{}", s.addr);
    std::mem::forget(s);
    url
}

#[tokio::test]
async fn a_saga_commanding_an_unknown_domain_stalls_its_offset_and_writes_nothing() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let saga = Saga::new("bad").on(move |_: &PlayerRegistered, _, _| {
        counted.fetch_add(1, Ordering::SeqCst);
        vec![command("casino", Uuid::new_v4(), &DepositFunds::default())]
    });
    let url = serve_saga(saga).await;
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), |c| {
        c.sagas.insert(
            "bad".into(),
            SagaConfig { handler: url, domains: vec!["player".into()], on_poison: Default::default() },
        );
    })
    .await;
    let mut client = CommandHandlerCoordinatorServiceClient::new(h.channel.clone());
    client.handle_command(request(Uuid::new_v4(), 0, register(), SyncMode::Decision, "")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(calls.load(Ordering::SeqCst) >= 2, "the reaction is retried with backoff");
    let (commands, events, _) = h.log.counts("player").await.unwrap();
    assert!(
        commands <= 1 && events == 1,
        "only the registration (straight to its owner, or through the commands log while the partition was not \
         served yet): the saga's command went nowhere; {commands} commands, {events} events"
    );
    let positions = h.log.group_position("saga.bad", "player").await.unwrap();
    assert!(positions.iter().all(Option::is_none), "the offset is not advanced past the event: {positions:?}");
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_projector_that_is_down_catches_up_without_skipping_when_it_returns() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), |c| {
        c.admin.lag_interval = Duration::from_millis(100);
        c.projectors.insert(
            "late".into(),
            ProjectorConfig {
                handler: format!("http://127.0.0.1:{port}"),
                domains: vec!["player".into()],
                sync: false,
                on_poison: Default::default(),
            },
        );
    })
    .await;
    let mut client = CommandHandlerCoordinatorServiceClient::new(h.channel.clone());
    let root = Uuid::new_v4();
    client.handle_command(request(root, 0, register(), SyncMode::Decision, "")).await.unwrap();
    for s in 1..=5 {
        client.handle_command(request(root, s, deposit(1), SyncMode::Decision, "")).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let positions = h.log.group_position("projector.late", "player").await.unwrap();
    assert!(positions.iter().all(Option::is_none), "nothing is committed while the projector is down: {positions:?}");
    // Its lag shows, per partition, on /v1/lag and /metrics.
    let http = h.running.http_addr.unwrap();
    let behind = wait_for_lag(http, "projector.late", |n| n == 6).await;
    assert_eq!(behind, 6, "six events behind while the projector is down");
    let scrape = http_get(http, "/metrics").await;
    assert!(
        scrape.lines().any(|l| l.starts_with("angzarr_consumer_lag{") && l.contains("group=\"projector.late\"")),
        "{scrape}"
    );

    let seen: Arc<Mutex<Vec<u32>>> = Arc::default();
    let (a, b) = (seen.clone(), seen.clone());
    let projector = Projector::new("late")
        .on(move |_: &PlayerRegistered, _, s| {
            let _: () = a.lock().unwrap().push(s);
            Ok(())
        })
        .on(move |_: &FundsDeposited, _, s| {
            let _: () = b.lock().unwrap().push(s);
            Ok(())
        });
    let _server = angzarr_client::Server::new()
        .projector(projector)
        .spawn(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap();
    for _ in 0..200 {
        if seen.lock().unwrap().len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(*seen.lock().unwrap(), vec![0, 1, 2, 3, 4, 5], "every event, in order, none skipped");
    assert_eq!(wait_for_lag(http, "projector.late", |n| n == 0).await, 0, "caught up: no lag");
    h.running.stop().await.unwrap();
}

/// Polls `/v1/lag` until `group`'s total lag satisfies `done` (or 10 s);
/// returns the last total seen.
async fn wait_for_lag(http: std::net::SocketAddr, group: &str, done: impl Fn(i64) -> bool) -> i64 {
    let mut total = -1;
    for _ in 0..100 {
        let answer = http_get(http, "/v1/lag").await;
        let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        if let Some(g) = json["groups"].as_array().unwrap().iter().find(|g| g["group"] == group) {
            total = g["partitions"].as_array().unwrap().iter().map(|p| p["lag"].as_i64().unwrap()).sum();
            if done(total) {
                return total;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    total
}

#[tokio::test]
async fn a_cascade_cycle_is_refused_past_the_depth_limit() {
    // Every deposit causes another deposit into the same player: a cycle.
    let saga = Saga::new("echo").on(|_: &FundsDeposited, cover: &Cover, _| {
        let root = Uuid::try_from(cover.root.as_ref().unwrap()).unwrap();
        vec![command(
            "player",
            root,
            &DepositFunds { amount: Some(Currency { amount: 1, currency_code: "USD".into() }) },
        )]
    });
    let url = serve_saga(saga).await;
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), |c| {
        c.sagas.insert(
            "echo".into(),
            SagaConfig { handler: url, domains: vec!["player".into()], on_poison: Default::default() },
        );
        c.max_cascade_depth = 3;
    })
    .await;
    let mut client = CommandHandlerCoordinatorServiceClient::new(h.channel.clone());
    let root = Uuid::new_v4();
    client.handle_command(request(root, 0, register(), SyncMode::Decision, "")).await.unwrap();
    let status = client.handle_command(request(root, 1, deposit(1), SyncMode::Cascade, "")).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("cascade deeper than 3"), "{}", status.message());
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn server_sent_events_carry_one_correlation_id_only() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), |_| {}).await;
    let http = h.running.http_addr.unwrap();

    // An empty correlation id is a 400.
    let mut s = tokio::net::TcpStream::connect(http).await.unwrap();
    s.write_all(b"GET /v1/stream/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut head = String::new();
    s.read_to_string(&mut head).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");

    let mut s = tokio::net::TcpStream::connect(http).await.unwrap();
    s.write_all(b"GET /v1/stream/mine HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut client = CommandHandlerCoordinatorServiceClient::new(h.channel.clone());
    let (mine, other) = (Uuid::new_v4(), Uuid::new_v4());
    client.handle_command(request(other, 0, register(), SyncMode::Decision, "theirs")).await.unwrap();
    client.handle_command(request(mine, 0, register(), SyncMode::Decision, "mine")).await.unwrap();
    client.handle_command(request(mine, 1, deposit(5), SyncMode::Decision, "mine")).await.unwrap();

    let mut received = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while String::from_utf8_lossy(&received).matches("event: event").count() < 2 {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => received.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
        received.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("text/event-stream"), "{text}");
    assert_eq!(text.matches("event: event").count(), 2, "exactly my two events:\n{text}");
    assert!(text.contains("examples.PlayerRegistered") && text.contains("examples.FundsDeposited"), "{text}");
    assert!(!text.contains("theirs"), "another correlation id leaked:\n{text}");
    assert!(text.contains(&format!("\"root\":\"{mine}\"")), "the root as the UUID's text:\n{text}");
    h.running.stop().await.unwrap();
}

async fn http_post(addr: std::net::SocketAddr, path: &str, body: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    answer
}

/// The REST mapping takes a root as UUID text (or proto3's `{"value":
/// base64}`) and answers with UUIDs as text, or as exact proto3 JSON with
/// `?json=proto`.
#[tokio::test]
async fn rest_commands_read_and_write_roots_as_uuids() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), |_| {}).await;
    let http = h.running.http_addr.unwrap();
    let root = Uuid::new_v4();
    let body = |seq: u32, command: &str| {
        format!(
            "{{\"command\": {{\"cover\": {{\"domain\": \"player\", \"root\": \"{root}\"}}, \"pages\": [{{\"header\": {{\"sequence\": {seq}}}, \"command\": {command}}}]}}, \"syncMode\": \"SYNC_MODE_DECISION\"}}"
        )
    };
    let register = r#"{"@type": "type.googleapis.com/examples.RegisterPlayer", "displayName": "Ada", "email": "a@x"}"#;
    let answer = http_post(http, "/v1/ch/player/commands", &body(0, register)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(&format!("\"root\":\"{root}\"")), "{answer}");
    let deposit =
        r#"{"@type": "type.googleapis.com/examples.DepositFunds", "amount": {"amount": "5", "currencyCode": "USD"}}"#;
    let exact = http_post(http, "/v1/ch/player/commands?json=proto", &body(1, deposit)).await;
    assert!(exact.starts_with("HTTP/1.1 200"), "{exact}");
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, root.as_bytes());
    assert!(exact.contains(&format!("\"root\":{{\"value\":\"{b64}\"}}")), "{exact}");
    let before = h.log.counts("player").await.unwrap();
    assert_eq!(before.1, 2, "one event per accepted command");
    let bad = http_post(http, "/v1/ch/player/commands?json=nope", &body(2, deposit)).await;
    assert!(bad.starts_with("HTTP/1.1 400"), "an unknown form is refused: {bad}");
    assert_eq!(h.log.counts("player").await.unwrap(), before, "the refused request wrote nothing");
    h.running.stop().await.unwrap();
}

/// An upcaster that answers with no events until it is fixed, then maps
/// nothing (the stored events are already current).
struct FlakyUpcaster {
    fixed: Arc<std::sync::atomic::AtomicBool>,
    calls: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl UpcasterService for FlakyUpcaster {
    async fn upcast(
        &self,
        request: tonic::Request<UpcastRequest>,
    ) -> Result<tonic::Response<UpcastResponse>, tonic::Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let events = if self.fixed.load(Ordering::SeqCst) { request.into_inner().events } else { Vec::new() };
        Ok(tonic::Response::new(UpcastResponse { events }))
    }
}

#[tokio::test]
async fn an_upcaster_that_fails_holds_readers_back_and_rewrites_nothing() {
    let fixed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upcaster_url = format!("http://{}", listener.local_addr().unwrap());
    let service = UpcasterServiceServer::new(FlakyUpcaster { fixed: fixed.clone(), calls: calls.clone() });
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let seen: Arc<Mutex<Vec<u32>>> = Arc::default();
    let a = seen.clone();
    let projector = Projector::new("audit").on(move |_: &PlayerRegistered, _, s| {
        let _: () = a.lock().unwrap().push(s);
        Ok(())
    });
    let server =
        angzarr_client::Server::new().projector(projector).spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), |c| {
        c.domains.get_mut("player").unwrap().upcaster = Some(upcaster_url);
        c.projectors.insert(
            "audit".into(),
            ProjectorConfig {
                handler: format!("http://{}", server.addr),
                domains: vec!["player".into()],
                sync: false,
                on_poison: Default::default(),
            },
        );
    })
    .await;
    let mut client = CommandHandlerCoordinatorServiceClient::new(h.channel.clone());
    let root = Uuid::new_v4();
    client.handle_command(request(root, 0, register(), SyncMode::Decision, "")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    assert!(calls.load(Ordering::SeqCst) >= 2, "the upcast is retried with backoff");
    assert!(seen.lock().unwrap().is_empty(), "the projector saw nothing un-upcast");
    let positions = h.log.group_position("projector.audit", "player").await.unwrap();
    assert!(positions.iter().all(Option::is_none), "the offset did not move past the event: {positions:?}");
    let query = angzarr_proto::angzarr::Query {
        cover: Some(Cover { root: Some(root.into()), domain: "player".into(), ..Default::default() }),
        selection: None,
    };
    let mut reads = EventQueryServiceClient::new(h.channel.clone());
    let refused = reads.get_event_book(query.clone()).await.unwrap_err();
    assert!(refused.message().contains("upcaster of `player` returned 0 events for 1"), "{}", refused.message());
    let (commands, events, snapshots) = h.log.counts("player").await.unwrap();
    assert!(
        commands <= 1 && (events, snapshots) == (1, 0),
        "nothing was written or rewritten: {commands} commands, {events} events, {snapshots} snapshots"
    );

    fixed.store(true, Ordering::SeqCst);
    for _ in 0..200 {
        if !seen.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(*seen.lock().unwrap(), vec![0], "once fixed, the projector catches up");
    assert_eq!(reads.get_event_book(query).await.unwrap().into_inner().pages.len(), 1);
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_process_manager_commanding_an_unknown_domain_is_retried_and_writes_nothing() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let pm = ProcessManager::<PlayerState>::new("onboarding").on(move |_: &PlayerRegistered, _, _| {
        counted.fetch_add(1, Ordering::SeqCst);
        Reaction::none().record(FundsDeposited::default()).send(command(
            "casino",
            Uuid::new_v4(),
            &DepositFunds::default(),
        ))
    });
    let server = angzarr_client::Server::new().process_manager(pm).spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), |c| {
        c.process_managers.insert(
            "onboarding".into(),
            ProcessManagerConfig {
                handler: format!("http://{}", server.addr),
                domains: vec!["player".into()],
                snapshot_every: 100,
                on_poison: Default::default(),
            },
        );
    })
    .await;
    let mut client = CommandHandlerCoordinatorServiceClient::new(h.channel.clone());
    client.handle_command(request(Uuid::new_v4(), 0, register(), SyncMode::Decision, "signup-1")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(calls.load(Ordering::SeqCst) >= 2, "the reaction is retried with backoff");
    let (commands, events, _) = h.log.counts("onboarding").await.unwrap();
    assert_eq!((commands, events), (1, 0), "the trigger was routed once; no process event was recorded");
    let (commands, events, _) = h.log.counts("player").await.unwrap();
    assert!(commands <= 1 && events == 1, "only the registration: {commands} commands, {events} events");
    let positions = h.log.group_position(angzarr_coordinators::command_handler::GROUP, "onboarding").await.unwrap();
    assert!(positions.iter().all(Option::is_none), "the trigger is not consumed: {positions:?}");
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn held_async_and_saga_commands_are_decided_when_the_handler_returns() {
    use angzarr_proto::examples::{CreateTable, TableCreated};
    // Player's handler is down (a reserved port); tables are served. A saga
    // on tables deposits into one player: saga commands to the held domain.
    let player_addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let funded = Uuid::new_v4();
    let saga = Saga::new("fund").on(move |_: &TableCreated, _, _| {
        vec![command(
            "player",
            funded,
            &DepositFunds { amount: Some(Currency { amount: 1, currency_code: "USD".into() }) },
        )]
    });
    let url = serve_saga(saga).await;
    let tables = poker::server().spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), |c| {
        c.domains.insert("player".into(), DomainConfig::served_by(format!("http://{player_addr}"), 100));
        c.domains.insert("table".into(), DomainConfig::served_by(format!("http://{}", tables.addr), 100));
        c.sagas.insert(
            "fund".into(),
            SagaConfig { handler: url, domains: vec!["table".into()], on_poison: Default::default() },
        );
    })
    .await;
    let mut client = CommandHandlerCoordinatorServiceClient::new(h.channel.clone());
    let roots: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
    for r in roots.iter().chain([&funded]) {
        client.handle_command(request(*r, 0, register(), SyncMode::Async, "held")).await.unwrap();
    }
    for r in &roots {
        for seq in 1..=5 {
            client.handle_command(request(*r, seq, deposit(1), SyncMode::Async, "held")).await.unwrap();
        }
    }
    // Tables are decided meanwhile; each makes the saga send a held command.
    for t in 0..3 {
        let mut req = request(
            Uuid::new_v4(),
            0,
            pack(&CreateTable {
                table_name: format!("t{t}"),
                small_blind: 1,
                big_blind: 2,
                min_buy_in: 10,
                max_buy_in: 100,
                max_players: 6,
                ..Default::default()
            }),
            SyncMode::Decision,
            "held",
        );
        req.command.as_mut().unwrap().cover.as_mut().unwrap().domain = "table".into();
        client.handle_command(req).await.expect("tables are served while player is held");
    }
    // Held for 10 s: nothing of player decided, nothing rejected (positive
    // control: the tables above were decided through the same worker).
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(h.log.counts("player").await.unwrap().1, 0, "nothing decided while the handler is down");
    assert!(h.running.log.rejections(None).await.unwrap().is_empty(), "nothing rejected while the handler is down");
    // The metrics say why the partition holds.
    let scrape = http_get(h.running.http_addr.unwrap(), "/metrics").await;
    let unreachable = scrape
        .lines()
        .find(|l| l.starts_with("angzarr_handler_unreachable{domain=\"player\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert!(unreachable.is_some_and(|n| n >= 1.0), "{scrape}");
    assert!(scrape.contains("angzarr_partition_state{"), "{scrape}");

    let server = poker::server().spawn(player_addr).await.unwrap();
    let want = roots.len() as i64 * 6 + 1 + 3;
    for _ in 0..300 {
        if h.log.counts("player").await.unwrap().1 >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(h.log.counts("player").await.unwrap().1, want, "every held ASYNC and saga command decided once");
    assert!(h.running.log.rejections(None).await.unwrap().is_empty());
    h.running.stop().await.unwrap();
    server.shutdown().await;
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn readyz_names_a_partition_that_cannot_restore_until_it_serves() {
    let fixed = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let calls = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upcaster_url = format!("http://{}", listener.local_addr().unwrap());
    let service = UpcasterServiceServer::new(FlakyUpcaster { fixed: fixed.clone(), calls: calls.clone() });
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let dir = tempfile::tempdir().unwrap();
    let configure = |c: &mut Config| c.domains.get_mut("player").unwrap().upcaster = Some(upcaster_url.clone());
    {
        let h = start(dir.path(), configure).await;
        let mut ready = String::new();
        for _ in 0..100 {
            ready = http_get(h.running.http_addr.unwrap(), "/readyz").await;
            if ready.starts_with("HTTP/1.1 200") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready.starts_with("HTTP/1.1 200") && ready.contains("\"ready\":true"), "{ready}");
        let root = Uuid::new_v4();
        let mut client = CommandHandlerCoordinatorServiceClient::new(h.channel.clone());
        client.handle_command(request(root, 0, register(), SyncMode::Decision, "")).await.unwrap();
        h.running.stop().await.unwrap();
    }

    // Restart with the upcaster broken: the partition holding the history
    // cannot restore, and readiness says which and why.
    fixed.store(false, Ordering::SeqCst);
    let h = start(dir.path(), configure).await;
    let http = h.running.http_addr.unwrap();
    // Not ready while the group is joining, then while the partition restores:
    // the wait is for the second.
    let mut answer = String::new();
    for _ in 0..200 {
        answer = http_get(http, "/readyz").await;
        if answer.contains("\"state\":\"restoring\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"state\":\"restoring\"") && answer.contains("player["), "{answer}");
    fixed.store(true, Ordering::SeqCst);
    for _ in 0..200 {
        answer = http_get(http, "/readyz").await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    h.running.stop().await.unwrap();
}

/// A process without a gateway (here: only the command handler) is probed
/// and scraped on `admin.listen`: not ready while its partitions restore,
/// ready once they serve, and its metrics move with the commands it decides.
#[tokio::test]
async fn a_command_handler_process_serves_health_readiness_and_metrics_on_its_admin_listener() {
    let dir = tempfile::tempdir().unwrap();
    // A gateway process, and beside it a process with only the command handler.
    let h = start_roles(dir.path(), Roles { gateway: true, command_handler: false, downstream: false }, |_| {}).await;
    let aggregates = poker::server().spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut config = Config::new(
        LogConfig::Embedded { path: dir.path().join("events.db"), partitions: 2, durability: Durability::Normal },
        GatewayConfig::default(),
        BTreeMap::from([("player".to_string(), DomainConfig::served_by(format!("http://{}", aggregates.addr), 100))]),
    );
    config.admin.listen = Some("127.0.0.1:0".parse().unwrap());
    let roles = Roles { gateway: false, command_handler: true, downstream: false };
    let worker = runtime::start(&config, Arc::new(h.log.clone()), roles, Shutdown::new()).await.unwrap();
    assert!(worker.grpc_addr.is_none() && worker.http_addr.is_none(), "no gateway in this process");
    let admin = worker.admin_addr.expect("the admin listener runs");

    assert!(http_get(admin, "/healthz").await.starts_with("HTTP/1.1 200"));
    let mut ready = String::new();
    for _ in 0..200 {
        ready = http_get(admin, "/readyz").await;
        if ready.contains("\"partitions\":2") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready.contains("\"ready\":true") && ready.contains("\"partitions\":2"), "{ready}");
    let mut client = CommandHandlerCoordinatorServiceClient::new(h.channel.clone());
    let before = http_get(admin, "/metrics").await;
    client.handle_command(request(Uuid::new_v4(), 0, register(), SyncMode::Decision, "")).await.unwrap();
    let after = http_get(admin, "/metrics").await;
    assert!(after.contains("# TYPE") && after != before, "the scrape moves with a decided command:\n{after}");
    worker.stop().await.unwrap();
    h.running.stop().await.unwrap();
}

/// The gateway answers the standard gRPC health check and lists its
/// services by reflection, as grpcurl and Kubernetes' gRPC probes expect.
#[tokio::test]
async fn the_gateway_serves_grpc_health_and_reflection() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), |_| {}).await;
    let mut health = HealthClient::new(h.channel.clone());
    for service in ["", "angzarr.CommandHandlerCoordinatorService", "angzarr.EventQueryService"] {
        let status = health.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner();
        assert_eq!(status.status, 1, "`{service}` is SERVING");
    }
    let unknown = health.check(HealthCheckRequest { service: "no.Such".into() }).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound, "positive control: an unknown service is not reported healthy");

    let mut reflection = ServerReflectionClient::new(h.channel.clone());
    let ask = |m: MessageRequest| ServerReflectionRequest { host: String::new(), message_request: Some(m) };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter([
            ask(MessageRequest::ListServices(String::new())),
            ask(MessageRequest::FileContainingSymbol("angzarr.CommandHandlerCoordinatorService".into())),
        ]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) = answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("expected the service list")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in ["angzarr.CommandHandlerCoordinatorService", "angzarr.EventQueryService", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == expected), "{expected} listed: {names:?}");
    }
    let Some(MessageResponse::FileDescriptorResponse(files)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("expected the descriptor of the command service")
    };
    assert!(!files.file_descriptor_proto.is_empty());
    h.running.stop().await.unwrap();
}
