//! The command path on the embedded log, through the real gRPC gateway:
//! bad input is refused with a clear status and writes nothing; a restart
//! keeps every event; snapshots bound what a restart reads.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use angzarr_connectors::embedded::{Durability, EmbeddedConfig, EmbeddedLog};
use angzarr_coordinators::Shutdown;
use angzarr_coordinators::config::{Config, DomainConfig, GatewayConfig, LogConfig};
use angzarr_coordinators::runtime::{self, Roles, Running};
use angzarr_proto::angzarr::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_proto::angzarr::event_query_service_client::EventQueryServiceClient;
use angzarr_proto::angzarr::{
    CommandBook, CommandPage, CommandRequest, Cover, EventBook, PageHeader, Query, SyncMode, command_page,
};
use angzarr_proto::examples::{Currency, DepositFunds, RegisterPlayer};
use angzarr_proto::pack;
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

struct Harness {
    running: Running,
    log: EmbeddedLog,
    channel: Channel,
}

async fn start(dir: &Path, handler: &str, snapshot_every: u32) -> Harness {
    start_with_timeout(dir, handler, snapshot_every, std::time::Duration::from_secs(10)).await
}

async fn start_with_timeout(
    dir: &Path,
    handler: &str,
    snapshot_every: u32,
    decision_timeout: std::time::Duration,
) -> Harness {
    let config = Config::new(
        LogConfig::Embedded { path: dir.join("events.db"), partitions: 2, durability: Durability::Normal },
        GatewayConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            max_command_bytes: 4096,
            decision_timeout,
            http_listen: None,
            console_commands: false,
            tls: None,
        },
        BTreeMap::from([("player".to_string(), DomainConfig::served_by(handler, snapshot_every))]),
    );
    let cfg = EmbeddedConfig { path: dir.join("events.db"), partitions: 2, durability: Durability::Normal };
    let log = EmbeddedLog::open(&cfg, ["player".to_string()]).unwrap();
    let running = runtime::start(&config, Arc::new(log.clone()), Roles::ALL, Shutdown::new()).await.unwrap();
    let channel =
        Channel::from_shared(format!("http://{}", running.grpc_addr.unwrap())).unwrap().connect().await.unwrap();
    Harness { running, log, channel }
}

async fn handler() -> String {
    let server = poker::server().spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = format!("http://{}", server.addr);
    std::mem::forget(server);
    url
}

fn request(root: Uuid, seq: Option<u32>, command: prost_types::Any) -> CommandRequest {
    CommandRequest {
        command: Some(CommandBook {
            cover: Some(Cover { root: Some(root.into()), domain: "player".into(), ..Default::default() }),
            pages: vec![CommandPage {
                header: seq.map(PageHeader::sequence),
                payload: Some(command_page::Payload::Command(command)),
                ..Default::default()
            }],
        }),
        sync_mode: SyncMode::Decision as i32,
        ..Default::default()
    }
}

fn register() -> prost_types::Any {
    pack(&RegisterPlayer { display_name: "Ada".into(), email: "a@x".into(), ..Default::default() })
}

fn deposit(n: i64) -> prost_types::Any {
    pack(&DepositFunds { amount: Some(Currency { amount: n, currency_code: "USD".into() }) })
}

impl Harness {
    async fn send(&self, req: CommandRequest) -> Result<EventBook, tonic::Status> {
        let resp = CommandHandlerCoordinatorServiceClient::new(self.channel.clone()).handle_command(req).await?;
        Ok(resp.into_inner().events.unwrap_or_default())
    }

    async fn send_with_id(&self, req: CommandRequest, request_id: &str) -> Result<EventBook, tonic::Status> {
        let mut req = tonic::Request::new(req);
        req.metadata_mut().insert("angzarr-request-id", request_id.parse().unwrap());
        let resp = CommandHandlerCoordinatorServiceClient::new(self.channel.clone()).handle_command(req).await?;
        Ok(resp.into_inner().events.unwrap_or_default())
    }

    async fn book(&self, root: Uuid) -> EventBook {
        let q = Query {
            cover: Some(Cover { root: Some(root.into()), domain: "player".into(), ..Default::default() }),
            selection: None,
        };
        EventQueryServiceClient::new(self.channel.clone()).get_event_book(q).await.unwrap().into_inner()
    }
}

#[tokio::test]
async fn bad_input_gets_a_clear_status_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), &handler().await, 100).await;
    let root = Uuid::new_v4();

    let junk = prost_types::Any { type_url: "type.googleapis.com/examples.DepositFunds".into(), value: vec![0xff; 3] };
    let mut unknown_domain = request(root, Some(0), register());
    unknown_domain.command.as_mut().unwrap().cover.as_mut().unwrap().domain = "casino".into();
    let mut no_root = request(root, Some(0), register());
    no_root.command.as_mut().unwrap().cover.as_mut().unwrap().root = None;
    let oversized =
        request(root, Some(0), pack(&RegisterPlayer { display_name: "x".repeat(5000), ..Default::default() }));
    let bad_url = prost_types::Any { type_url: "DepositFunds".into(), value: vec![] };

    let cases = [
        (request(root, Some(0), junk), Code::InvalidArgument, "not a valid examples.DepositFunds"),
        (unknown_domain, Code::NotFound, "unknown domain `casino`"),
        (no_root, Code::InvalidArgument, "root is missing"),
        (request(root, None, register()), Code::InvalidArgument, "no sequence"),
        (oversized, Code::ResourceExhausted, "the limit is 4096"),
        (request(root, Some(0), bad_url), Code::InvalidArgument, "type URL"),
        (CommandRequest { sync_mode: 3, ..Default::default() }, Code::InvalidArgument, "no command book"),
    ];
    for (req, code, text) in cases {
        let status = h.send(req).await.unwrap_err();
        assert_eq!(status.code(), code, "{status:?}");
        assert!(status.message().contains(text), "`{}` should mention `{text}`", status.message());
    }
    assert_eq!(h.log.counts("player").await.unwrap(), (0, 0, 0), "gateway refusals must not reach the log");

    // Refusals decided by the partition owner or the business logic write no events either.
    let unknown_type = prost_types::Any { type_url: "type.googleapis.com/examples.Nope".into(), value: vec![] };
    let status = h.send(request(root, Some(0), unknown_type)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("unknown command type `examples.Nope`"), "{}", status.message());
    h.send(request(root, Some(0), register())).await.unwrap();
    let status = h.send(request(root, Some(0), deposit(5))).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("next sequence is 1"), "{}", status.message());
    let status = h.send(request(root, Some(1), deposit(-5))).await.unwrap_err();
    assert_eq!(status.message(), "amount must be positive");
    let (_, events, snapshots) = h.log.counts("player").await.unwrap();
    assert_eq!((events, snapshots), (1, 0), "only the registration is stored");
    assert_eq!(h.book(root).await.next_sequence, 1);
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_restart_keeps_every_event_and_continues_the_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let url = handler().await;
    let root = Uuid::new_v4();
    {
        let h = start(dir.path(), &url, 3).await;
        h.send(request(root, Some(0), register())).await.unwrap();
        for seq in 1..=6 {
            let book = h.send(request(root, Some(seq), deposit(10))).await.unwrap();
            assert_eq!(book.pages[0].seq(), Some(seq));
        }
        h.running.stop().await.unwrap();
    }
    let h = start(dir.path(), &url, 3).await;
    let (_, events, snapshots) = h.log.counts("player").await.unwrap();
    assert_eq!((events, snapshots), (7, 1), "7 events, one latest snapshot");
    let book = h.book(root).await;
    assert_eq!(book.next_sequence, 7);
    let snap = book.snapshot.as_ref().expect("a snapshot after 6 events with cadence 3");
    assert_eq!(snap.sequence, 5);
    assert_eq!(book.pages.iter().map(|p| p.seq().unwrap()).collect::<Vec<_>>(), vec![6]);
    let state = poker::player::aggregate().state_of(&book).unwrap();
    assert_eq!(state.bankroll.unwrap().amount, 60);
    // The restored owner continues where the stopped one left off.
    let status = h.send(request(root, Some(6), deposit(1))).await.unwrap_err();
    assert!(status.message().contains("next sequence is 7"), "{}", status.message());
    let accepted = h.send(request(root, Some(7), deposit(1))).await.unwrap();
    assert_eq!(accepted.next_sequence, 8);
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn an_async_rejection_is_recorded_where_the_caller_finds_it() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), &handler().await, 100).await;
    let mut req = request(Uuid::new_v4(), Some(0), deposit(5));
    req.sync_mode = SyncMode::Async as i32;
    req.command.as_mut().unwrap().cover.as_mut().unwrap().correlation_id = "rejected-corr".into();
    h.send(req).await.unwrap();
    // Positive control through the same partition order: an accepted ASYNC command after it.
    let root = Uuid::new_v4();
    let mut ok = request(root, Some(0), register());
    ok.sync_mode = SyncMode::Async as i32;
    h.send(ok).await.unwrap();
    for _ in 0..250 {
        if h.book(root).await.next_sequence == 1
            && !h.running.log.rejections(Some("rejected-corr")).await.unwrap().is_empty()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let found = h.running.log.rejections(Some("rejected-corr")).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].message.contains("player does not exist"), "{}", found[0].message);
    assert_eq!(found[0].code, Code::FailedPrecondition as i32);
    assert!(h.running.log.rejections(Some("other")).await.unwrap().is_empty());
    assert_eq!(h.log.counts("player").await.unwrap().1, 1, "only the accepted command wrote an event");
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn async_answers_at_once_and_the_owner_still_decides() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), &handler().await, 100).await;
    let root = Uuid::new_v4();
    let mut req = request(root, Some(0), register());
    req.sync_mode = SyncMode::Async as i32;
    let book = h.send(req).await.unwrap();
    assert!(book.pages.is_empty(), "ASYNC answers before any decision");
    for _ in 0..100 {
        if h.book(root).await.next_sequence == 1 {
            h.running.stop().await.unwrap();
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the ASYNC command was never processed");
}

#[tokio::test]
async fn a_handler_that_is_down_holds_the_command_and_its_retry_gets_the_original_outcome() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on yet: the handler is down.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let h = start_with_timeout(dir.path(), &format!("http://{addr}"), 100, std::time::Duration::from_secs(2)).await;
    let root = Uuid::new_v4();
    let status = h.send_with_id(request(root, Some(0), register()), "retry-me").await.unwrap_err();
    // Not a rejection: the caller is told the outcome is unknown.
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().starts_with("outcome unknown"), "{}", status.message());
    assert_eq!(status.metadata().get("angzarr-outcome").and_then(|v| v.to_str().ok()), Some("unknown"));
    assert_eq!(h.log.counts("player").await.unwrap().1, 0, "nothing written while the handler is down");

    // The handler comes back: the held command is decided (not dropped).
    let server = poker::server().spawn(addr).await.unwrap();
    for _ in 0..500 {
        if h.book(root).await.next_sequence == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(h.book(root).await.next_sequence, 1, "the held command was decided once the handler returned");

    // The caller retries with the same request id: the original outcome, nothing written twice.
    let retried = h.send_with_id(request(root, Some(0), register()), "retry-me").await.unwrap();
    assert_eq!(retried.pages.iter().filter_map(|p| p.seq()).collect::<Vec<_>>(), vec![0]);
    // Positive control through the same path: a new id with the same (now stale) command is decided anew.
    let stale = h.send_with_id(request(root, Some(0), register()), "fresh-id").await.unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition, "{stale:?}");
    let before = h.log.counts("player").await.unwrap();
    assert_eq!(before.1, 1, "one event in all");
    // A malformed request id is refused before anything is written.
    let bad = h.send_with_id(request(root, Some(1), deposit(5)), "has space").await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");
    assert_eq!(h.log.counts("player").await.unwrap(), before, "the refused request wrote nothing");
    h.running.stop().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversized_event_is_refused_and_writes_nothing() {
    use angzarr_client::{Aggregate, CommandRejected, Events};
    use angzarr_proto::examples::{PlayerRegistered, PlayerState};
    // A handler that answers with a 2 MB event.
    let bloated = Aggregate::<PlayerState>::new("player").handle(|_: &RegisterPlayer, _: &PlayerState, _| {
        Ok::<_, CommandRejected>(Events::one(PlayerRegistered {
            display_name: "x".repeat(2 << 20),
            ..Default::default()
        }))
    });
    let server = angzarr_client::Server::new().aggregate(bloated).spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let h = start(dir.path(), &format!("http://{}", server.addr), 100).await;
    let status = h.send(request(Uuid::new_v4(), Some(0), register())).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("the limit is"), "{}", status.message());
    assert_eq!(h.log.counts("player").await.unwrap().1, 0);
    h.running.stop().await.unwrap();
}
