//! `downstream.feature`: sync modes, projectors, sagas and the event stream,
//! through a real coordinator — the embedded log by default, Kafka with
//! `ANGZARR_LOG=kafka` and `KAFKA_BOOTSTRAP` (see `downstream_kafka.rs`).
#![allow(clippy::type_complexity)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use angzarr_client::Projector;
use angzarr_coordinators::Shutdown;
use angzarr_coordinators::config::{
    Config, DomainConfig, GatewayConfig, LogConfig, ProcessManagerConfig, ProjectorConfig, SagaConfig,
};
use angzarr_coordinators::runtime::{self, Roles};
use angzarr_proto::angzarr::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_proto::angzarr::event_query_service_client::EventQueryServiceClient;
use angzarr_proto::angzarr::event_stream_service_client::EventStreamServiceClient;
use angzarr_proto::angzarr::{
    CommandBook, CommandPage, CommandRequest, CommandResponse, Cover, EventBook, EventStreamFilter, PageHeader, Query,
    SyncMode, command_page,
};
use angzarr_proto::examples::{
    Currency, DepositFunds, FundsDeposited, FundsReleased, FundsReserved, FundsTransferred, FundsWithdrawn,
    PlayerRegistered, RegisterPlayer, TransferFunds,
};
use angzarr_proto::{pack, type_name, unpack};
use cucumber::{World, given, then, when};
use tonic::transport::Channel;
use uuid::Uuid;

/// What the audit projector saw: (root, sequence).
static AUDIT: OnceLock<Arc<Mutex<Vec<(Uuid, u32)>>>> = OnceLock::new();
static GATEWAY: OnceLock<Channel> = OnceLock::new();
static LOG: OnceLock<Arc<dyn angzarr_connectors::Log>> = OnceLock::new();

fn audit() -> Arc<Mutex<Vec<(Uuid, u32)>>> {
    AUDIT.get_or_init(Arc::default).clone()
}

fn audit_projector() -> Projector {
    fn seen(root: &Uuid, seq: u32) -> Result<(), String> {
        audit().lock().unwrap().push((*root, seq));
        Ok(())
    }
    Projector::new("audit")
        .on(|_: &PlayerRegistered, r, s| seen(r, s))
        .on(|_: &FundsDeposited, r, s| seen(r, s))
        .on(|_: &FundsWithdrawn, r, s| seen(r, s))
        .on(|_: &FundsTransferred, r, s| seen(r, s))
        .on(|_: &FundsReserved, r, s| seen(r, s))
        .on(|_: &FundsReleased, r, s| seen(r, s))
}

/// The root of "Old", registered by the first release before the coordinator started.
static LEGACY_ROOT: OnceLock<Uuid> = OnceLock::new();

#[derive(Debug, Default, World)]
struct Downstream {
    roots: HashMap<String, Uuid>,
    /// Correlation id of the hand being played (empty: the gateway picks one per command).
    correlation: String,
    answer: Option<Result<CommandResponse, tonic::Status>>,
    stream: Option<tonic::Streaming<EventBook>>,
}

fn channel() -> Channel {
    GATEWAY.get().expect("the coordinator runs").clone()
}

fn usd(n: i64) -> Option<Currency> {
    Some(Currency { amount: n, currency_code: "USD".into() })
}

fn dollars(s: &str) -> i64 {
    s.trim_start_matches('$').parse().unwrap()
}

fn mode(s: &str) -> SyncMode {
    match s {
        "ASYNC" => SyncMode::Async,
        "DECISION" => SyncMode::Decision,
        "SIMPLE" => SyncMode::Simple,
        "CASCADE" => SyncMode::Cascade,
        "ISOLATED" => SyncMode::Isolated,
        other => panic!("unknown sync mode {other}"),
    }
}

async fn book(root: Uuid) -> EventBook {
    book_in("player", root).await
}

async fn book_in(domain: &str, root: Uuid) -> EventBook {
    let q = Query {
        cover: Some(Cover { root: Some(root.into()), domain: domain.into(), ..Default::default() }),
        selection: None,
    };
    EventQueryServiceClient::new(channel()).get_event_book(q).await.unwrap().into_inner()
}

impl Downstream {
    fn root(&mut self, name: &str) -> Uuid {
        *self.roots.entry(name.to_string()).or_insert_with(Uuid::new_v4)
    }

    async fn send(
        &mut self,
        name: &str,
        command: prost_types::Any,
        mode: SyncMode,
        correlation: &str,
    ) -> Result<CommandResponse, tonic::Status> {
        self.send_to("player", name, command, mode, correlation).await
    }

    async fn send_to(
        &mut self,
        domain: &str,
        name: &str,
        command: prost_types::Any,
        mode: SyncMode,
        correlation: &str,
    ) -> Result<CommandResponse, tonic::Status> {
        let root = self.root(name);
        let seq = book_in(domain, root).await.next_sequence;
        let request = CommandRequest {
            command: Some(CommandBook {
                cover: Some(Cover {
                    root: Some(root.into()),
                    domain: domain.into(),
                    correlation_id: correlation.to_string(),
                    ..Default::default()
                }),
                pages: vec![CommandPage {
                    header: Some(PageHeader::sequence(seq)),
                    payload: Some(command_page::Payload::Command(command)),
                    ..Default::default()
                }],
            }),
            sync_mode: mode as i32,
            ..Default::default()
        };
        CommandHandlerCoordinatorServiceClient::new(channel()).handle_command(request).await.map(|r| r.into_inner())
    }

    fn answer(&self) -> &CommandResponse {
        match &self.answer {
            Some(Ok(r)) => r,
            other => panic!("expected an answer, got {other:?}"),
        }
    }
}

fn register(name: &str) -> prost_types::Any {
    pack(&RegisterPlayer { display_name: name.into(), email: format!("{name}@example.com"), ..Default::default() })
}

#[given(regex = r#"^a player "(\w+)" with (\$\d+)$"#)]
async fn player_with(w: &mut Downstream, name: String, money: String) {
    w.send(&name, register(&name), SyncMode::Decision, "").await.expect("registration");
    let n = dollars(&money);
    if n > 0 {
        w.send(&name, pack(&DepositFunds { amount: usd(n) }), SyncMode::Decision, "").await.expect("deposit");
    }
}

#[when(regex = r#"^a player "(\w+)" registers with sync mode (\w+)$"#)]
async fn registers_with_mode(w: &mut Downstream, name: String, m: String) {
    w.answer = Some(w.send(&name, register(&name), mode(&m), "").await);
}

#[when(regex = r#"^a player "(\w+)" registers with correlation "([^"]+)"$"#)]
async fn registers_with_correlation(w: &mut Downstream, name: String, correlation: String) {
    w.answer = Some(w.send(&name, register(&name), SyncMode::Decision, &correlation).await);
}

#[when(regex = r#"^"(\w+)" deposits (\$\d+) with sync mode (\w+)$"#)]
async fn deposits(w: &mut Downstream, name: String, money: String, m: String) {
    w.answer = Some(w.send(&name, pack(&DepositFunds { amount: usd(dollars(&money)) }), mode(&m), "").await);
}

#[when(regex = r#"^"(\w+)" receives a transfer of (\$\d+) from "(\w+)" with sync mode (\w+)$"#)]
async fn transfer(w: &mut Downstream, name: String, money: String, from: String, m: String) {
    let payer = w.root(&from);
    let cmd = TransferFunds {
        from_player_root: payer.as_bytes().to_vec(),
        amount: usd(dollars(&money)),
        hand_root: vec![],
        reason: "pot".into(),
    };
    w.answer = Some(w.send(&name, pack(&cmd), mode(&m), "").await);
}

#[when(regex = r#"^a hand is dealt to "(\w+)" and "(\w+)" with (\d+) chips each$"#)]
async fn deal(w: &mut Downstream, a: String, b: String, chips: i64) {
    use angzarr_proto::examples::{DealCards, PlayerInHand};
    let players = [&a, &b]
        .iter()
        .enumerate()
        .map(|(i, n)| PlayerInHand { player_root: w.root(n).as_bytes().to_vec(), position: i as i32, stack: chips })
        .collect();
    let cmd = DealCards { hand_number: 1, players, ..Default::default() };
    w.answer = Some(w.send_to("hand", "the hand", pack(&cmd), SyncMode::Cascade, "").await);
    w.answer();
}

#[when(regex = r#"^"(\w+)" posts a blind of (\d+) with sync mode (\w+)$"#)]
async fn blind(w: &mut Downstream, name: String, amount: i64, m: String) {
    use angzarr_proto::examples::PostBlind;
    let cmd = PostBlind { player_root: w.root(&name).as_bytes().to_vec(), blind_type: "small".into(), amount };
    let correlation = w.correlation.clone();
    w.answer = Some(w.send_to("hand", "the hand", pack(&cmd), mode(&m), &correlation).await);
    w.answer();
}

#[when(regex = r#"^"(\w+)" bets (\d+) with sync mode (\w+)$"#)]
async fn bet(w: &mut Downstream, name: String, amount: i64, m: String) {
    use angzarr_proto::examples::{ActionType, PlayerAction};
    let cmd = PlayerAction { player_root: w.root(&name).as_bytes().to_vec(), action: ActionType::Bet as i32, amount };
    let correlation = w.correlation.clone();
    w.answer = Some(w.send_to("hand", "the hand", pack(&cmd), mode(&m), &correlation).await);
    w.answer();
}

#[when(regex = r#"^the pot of (\d+) is awarded to "(\w+)" with sync mode (\w+)$"#)]
async fn award(w: &mut Downstream, amount: i64, name: String, m: String) {
    use angzarr_proto::examples::{AwardPot, PotAward};
    let award = PotAward { player_root: w.root(&name).as_bytes().to_vec(), amount, pot_type: "main".into() };
    let correlation = w.correlation.clone();
    let cmd = pack(&AwardPot { awards: vec![award] });
    w.answer = Some(w.send_to("hand", "the hand", cmd, mode(&m), &correlation).await);
    w.answer();
}

#[then("the answer carries no events")]
async fn no_events(w: &mut Downstream) {
    assert!(w.answer().events.as_ref().is_none_or(|b| b.pages.is_empty()));
}

#[then(regex = r#"^eventually "(\w+)" has (\d+) events? recorded$"#)]
async fn eventually_recorded(w: &mut Downstream, name: String, n: u32) {
    let root = w.root(&name);
    for _ in 0..100 {
        if book(root).await.next_sequence == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} never reached {n} events");
}

#[then(regex = r"^the answer carries an? (\w+) event at sequence (\d+)$")]
async fn carries_event(w: &mut Downstream, event: String, seq: u32) {
    let pages = &w.answer().events.as_ref().expect("events").pages;
    let page = pages.last().expect("a page");
    assert_eq!(type_name(&page.event().unwrap().type_url), format!("examples.{event}"));
    assert_eq!(page.seq(), Some(seq));
}

#[then(regex = r#"^the answer carries the bankroll projection (\$\d+) for "(\w+)"$"#)]
async fn carries_projection(w: &mut Downstream, money: String, name: String) {
    let root = w.root(&name);
    let found = w.answer().projections.iter().find(|p| {
        p.projector == "bankroll"
            && p.cover.as_ref().and_then(|c| c.root.as_ref()).and_then(|r| Uuid::try_from(r).ok()) == Some(root)
    });
    let p = found.unwrap_or_else(|| panic!("no bankroll projection for {name} in {:?}", w.answer().projections));
    let balance: Currency = unpack(p.projection.as_ref().expect("a view")).unwrap().unwrap();
    assert_eq!(balance.amount, dollars(&money));
}

#[then(regex = r#"^"(\w+)" has a balance of (\$\d+)$"#)]
async fn balance(w: &mut Downstream, name: String, money: String) {
    let root = w.root(&name);
    let state = poker::player::aggregate().state_of(&book(root).await).unwrap();
    assert_eq!(state.bankroll.map_or(0, |c| c.amount), dollars(&money));
}

#[then(regex = r#"^the answer reports a cascade error from "([^"]+)" containing "([^"]+)"$"#)]
async fn cascade_error(w: &mut Downstream, saga: String, text: String) {
    let errors = &w.answer().cascade_errors;
    assert!(
        errors.iter().any(|e| e.component_name == saga && e.error_message.contains(&text)),
        "cascade errors: {errors:?}"
    );
}

#[then(regex = r#"^the audit projector saw sequences (\d+) and (\d+) of "(\w+)" but not (\d+)$"#)]
async fn audit_saw(w: &mut Downstream, a: u32, b: u32, name: String, not: u32) {
    let root = w.root(&name);
    for _ in 0..100 {
        let seen: Vec<u32> = audit().lock().unwrap().iter().filter(|(r, _)| *r == root).map(|(_, s)| *s).collect();
        if seen.contains(&a) && seen.contains(&b) {
            assert!(!seen.contains(&not), "the audit projector saw isolated sequence {not}: {seen:?}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the audit projector never saw {a} and {b} of {name}");
}

#[given(regex = r#"^a subscription to correlation "([^"]+)"$"#)]
async fn subscribe(w: &mut Downstream, correlation: String) {
    let stream = EventStreamServiceClient::new(channel())
        .subscribe(EventStreamFilter { correlation_id: correlation })
        .await
        .unwrap()
        .into_inner();
    w.stream = Some(stream);
    // The tail starts when subscribed; give it a moment on Kafka.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[then(regex = r#"^the subscription receives exactly (\d+) events?, an? (\w+) of "(\w+)"$"#)]
async fn received(w: &mut Downstream, n: usize, event: String, name: String) {
    let root = w.root(&name);
    let stream = w.stream.as_mut().expect("a subscription");
    let mut got = Vec::new();
    while let Ok(Some(Ok(Some(b)))) = tokio::time::timeout(Duration::from_secs(2), stream.message()).await.map(Some) {
        got.push(b);
    }
    assert_eq!(got.len(), n, "received {got:?}");
    let b = &got[0];
    assert_eq!(b.cover.as_ref().and_then(|c| c.root.as_ref()).and_then(|r| Uuid::try_from(r).ok()), Some(root));
    assert_eq!(type_name(&b.pages[0].event().unwrap().type_url), format!("examples.{event}"));
}

#[given(regex = r#"^a table "(\w+)" where "(\w+)" and "(\w+)" sit with (\d+) chips each$"#)]
async fn table_with(w: &mut Downstream, table: String, a: String, b: String, chips: i64) {
    use angzarr_proto::examples::{CreateTable, JoinTable};
    let create = CreateTable {
        table_name: table.clone(),
        small_blind: 5,
        big_blind: 10,
        min_buy_in: 50,
        max_buy_in: 1000,
        max_players: 6,
        ..Default::default()
    };
    w.send_to("table", &table, pack(&create), SyncMode::Decision, "").await.expect("table created");
    for (seat, name) in [&a, &b].into_iter().enumerate() {
        let join = JoinTable {
            player_root: w.root(name).as_bytes().to_vec(),
            preferred_seat: seat as i32,
            buy_in_amount: chips,
        };
        w.send_to("table", &table, pack(&join), SyncMode::Decision, "").await.expect("seated");
    }
}

#[when(regex = r#"^the table "(\w+)" starts a hand with correlation "([^"]+)"((?: and sync mode \w+)?)$"#)]
async fn start_hand(w: &mut Downstream, table: String, correlation: String, m: String) {
    use angzarr_proto::examples::{HandStarted, StartHand};
    let m = m.strip_prefix(" and sync mode ").map_or(SyncMode::Decision, mode);
    let answer = w.send_to("table", &table, pack(&StartHand {}), m, &correlation).await.expect("hand started");
    let started: HandStarted = answer
        .events
        .as_ref()
        .and_then(|b| b.pages.iter().find_map(|p| p.event().and_then(unpack::<HandStarted>)))
        .expect("a HandStarted event")
        .unwrap();
    w.roots.insert("the hand".into(), Uuid::from_slice(&started.hand_root).unwrap());
    w.correlation = correlation;
}

async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(t) = probe().await {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

#[then(regex = r#"^eventually the hand is dealt to "(\w+)" and "(\w+)" by the process manager$"#)]
async fn hand_dealt(w: &mut Downstream, a: String, b: String) {
    let hand = w.root("the hand");
    let expected = [w.root(&a), w.root(&b)];
    let state = eventually("the hand is dealt", async || {
        let state = poker::hand::aggregate().state_of(&book_in("hand", hand).await).unwrap();
        (state.status == "in_progress").then_some(state)
    })
    .await;
    let mut players: Vec<Uuid> = state.players.iter().map(|p| Uuid::from_slice(&p.player_root).unwrap()).collect();
    players.sort();
    let mut expected = expected.to_vec();
    expected.sort();
    assert_eq!(players, expected);
}

#[then(regex = r#"^eventually the hand-flow process of "([^"]+)" is at phase "(\w+)" with (\d+) events?$"#)]
async fn process_phase(_w: &mut Downstream, correlation: String, phase: String, n: u32) {
    let root = angzarr_coordinators::process_manager::root_of(&correlation);
    let pm = poker::hand_flow::process_manager();
    eventually(&format!("the process of {correlation} reaches {phase}"), async || {
        let book = book_in(poker::hand_flow::NAME, root).await;
        let state = pm.state_of(&book).unwrap();
        (state.phase == phase && book.next_sequence == n).then_some(())
    })
    .await;
}

#[then(regex = r#"^the hand-flow process of "([^"]+)" has no events$"#)]
async fn process_untouched(_w: &mut Downstream, correlation: String) {
    let root = angzarr_coordinators::process_manager::root_of(&correlation);
    let book = book_in(poker::hand_flow::NAME, root).await;
    assert_eq!(book.next_sequence, 0, "the process manager reacted to ISOLATED events: {book:?}");
}

#[then(regex = r#"^eventually the table "(\w+)" has no hand in progress and "(\w+)" has (\d+) chips there$"#)]
async fn table_after(w: &mut Downstream, table: String, name: String, chips: i64) {
    let (table, player) = (w.root(&table), w.root(&name));
    eventually("the table ended the hand", async || {
        let state = poker::table::aggregate().state_of(&book_in("table", table).await).unwrap();
        let seat = state.seats.iter().find(|s| s.player_root == player.as_bytes())?;
        (state.status == "open" && seat.stack.as_ref().map_or(0, |c| c.amount) == chips).then_some(())
    })
    .await;
}

#[given(regex = r#"^"(\w+)" was registered by the first release of the player logic$"#)]
async fn legacy_player(w: &mut Downstream, name: String) {
    w.roots.insert(name, *LEGACY_ROOT.get().expect("seeded before the coordinator started"));
}

#[then(regex = r#"^the book of "(\w+)" starts with a PlayerRegistered named "(\w+)"$"#)]
async fn book_upcast(w: &mut Downstream, name: String, display: String) {
    let root = w.root(&name);
    let b = book(root).await;
    let first = b.pages.first().and_then(|p| p.event()).expect("an event");
    let registered: PlayerRegistered = unpack(first).expect("upcast to PlayerRegistered").unwrap();
    assert_eq!(registered.display_name, display);
}

#[then(regex = r#"^the log still stores a PlayerRegisteredV1 for "(\w+)"$"#)]
async fn stored_as_v1(w: &mut Downstream, name: String) {
    let root = w.root(&name);
    let log = LOG.get().expect("the coordinator runs");
    let history = log.read_book("player", &root).await.unwrap();
    let first = history.decoded_pages().first().and_then(|p| p.event().cloned()).expect("a stored event");
    assert_eq!(type_name(&first.type_url), "examples.PlayerRegisteredV1");
}

#[then(regex = r#"^the audit projector saw sequences (\d+) and (\d+) of "(\w+)"$"#)]
async fn audit_saw_both(w: &mut Downstream, a: u32, b: u32, name: String) {
    let root = w.root(&name);
    eventually(&format!("the audit projector sees {a} and {b} of {name}"), async || {
        let seen: Vec<u32> = audit().lock().unwrap().iter().filter(|(r, _)| *r == root).map(|(_, s)| *s).collect();
        (seen.contains(&a) && seen.contains(&b)).then_some(())
    })
    .await;
}

/// Stores "Old" the way the first release of the player logic did — a
/// `PlayerRegisteredV1` — through a coordinator of its own, stopped before
/// the one under test starts on the same log.
async fn seed_legacy(log: &LogConfig) -> Uuid {
    use angzarr_client::{Aggregate, Events};
    use angzarr_proto::examples::{PlayerRegisteredV1, PlayerState};
    let v1 = Aggregate::<PlayerState>::new("player").handle(|c: &RegisterPlayer, _: &PlayerState, _| {
        Ok(Events::one(PlayerRegisteredV1 { name: c.display_name.clone(), email: c.email.clone() }))
    });
    let loopback = "127.0.0.1:0".parse().unwrap();
    let server = angzarr_client::Server::new().aggregate(v1).spawn(loopback).await.unwrap();
    let gateway = GatewayConfig { listen: loopback, ..Default::default() };
    let domains =
        BTreeMap::from([("player".to_string(), DomainConfig::served_by(format!("http://{}", server.addr), 100))]);
    let config = Config::new(log.clone(), gateway, domains);
    let opened = runtime::open_log(&config).await.expect("log");
    let roles = Roles { gateway: true, command_handler: true, downstream: false };
    let running = runtime::start(&config, opened, roles, Shutdown::new()).await.expect("first release");
    let channel =
        Channel::from_shared(format!("http://{}", running.grpc_addr.unwrap())).unwrap().connect().await.unwrap();
    let root = Uuid::new_v4();
    let request = CommandRequest {
        command: Some(CommandBook {
            cover: Some(Cover { root: Some(root.into()), domain: "player".into(), ..Default::default() }),
            pages: vec![CommandPage {
                header: Some(PageHeader::sequence(0)),
                payload: Some(command_page::Payload::Command(register("Old"))),
                ..Default::default()
            }],
        }),
        sync_mode: SyncMode::Decision as i32,
        ..Default::default()
    };
    CommandHandlerCoordinatorServiceClient::new(channel).handle_command(request).await.expect("v1 registration");
    running.stop().await.expect("first release stops");
    server.shutdown().await;
    root
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let loopback = "127.0.0.1:0".parse().unwrap();
    // The bankroll read model: SQLite next to the embedded log, PostgreSQL
    // (`DATABASE_URL`, started by `scripts/postgres start`) with Kafka — so
    // each read model runs every scenario.
    let read_model = match std::env::var("ANGZARR_LOG").as_deref() {
        Ok("kafka") => {
            let url = std::env::var("DATABASE_URL").expect(
                "the Kafka run keeps its read model in PostgreSQL: export DATABASE_URL=$(scripts/postgres start)",
            );
            let schema = format!("downstream_{}", &Uuid::new_v4().simple().to_string()[..8]);
            eprintln!("read model: PostgreSQL, schema {schema}");
            poker::bankroll::ReadModel::postgres(&url, &schema).unwrap()
        }
        _ => poker::bankroll::ReadModel::open(&dir.path().join("bankroll.db")).unwrap(),
    };
    let aggregates = poker::server().spawn(loopback).await.unwrap();
    let bankroll =
        angzarr_client::Server::new().projector(poker::bankroll::projector(read_model)).spawn(loopback).await.unwrap();
    let audit = angzarr_client::Server::new().projector(audit_projector()).spawn(loopback).await.unwrap();
    let saga = angzarr_client::Server::new().saga(poker::settlement::saga()).spawn(loopback).await.unwrap();

    let log = match std::env::var("ANGZARR_LOG").as_deref() {
        Ok("kafka") => {
            let bootstrap = std::env::var("KAFKA_BOOTSTRAP").expect("ANGZARR_LOG=kafka needs KAFKA_BOOTSTRAP");
            let prefix = format!("downstream-{}", &Uuid::new_v4().simple().to_string()[..8]);
            eprintln!("log: kafka at {bootstrap}, topic prefix {prefix}");
            angzarr_coordinators::config::parse_log(&format!(
                "type: kafka\nbootstrap_servers: '{bootstrap}'\ntopic_prefix: '{prefix}'\npartitions: 3\n"
            ))
            .unwrap()
        }
        _ => LogConfig::Embedded { path: dir.path().join("events.db"), partitions: 3, durability: Default::default() },
    };
    LEGACY_ROOT.set(seed_legacy(&log).await).unwrap();
    let gateway = GatewayConfig { listen: loopback, decision_timeout: Duration::from_secs(30), ..Default::default() };
    let handlers = format!("http://{}", aggregates.addr);
    let upcaster = angzarr_client::Server::new().upcaster(poker::upcaster::upcaster()).spawn(loopback).await.unwrap();
    let mut player_domain = DomainConfig::served_by(handlers.clone(), 100);
    player_domain.upcaster = Some(format!("http://{}", upcaster.addr));
    let mut config = Config::new(
        log,
        gateway,
        BTreeMap::from([
            ("player".to_string(), player_domain),
            ("hand".to_string(), DomainConfig::served_by(handlers.clone(), 100)),
            ("table".to_string(), DomainConfig::served_by(handlers, 100)),
        ]),
    );
    let hand_flow = angzarr_client::Server::new()
        .process_manager(poker::hand_flow::process_manager())
        .spawn(loopback)
        .await
        .unwrap();
    config.process_managers.insert(
        poker::hand_flow::NAME.into(),
        ProcessManagerConfig {
            handler: format!("http://{}", hand_flow.addr),
            domains: vec!["table".into(), "hand".into()],
            snapshot_every: 100,
            on_poison: Default::default(),
        },
    );
    let player = vec!["player".to_string()];
    config.projectors.insert(
        "bankroll".into(),
        ProjectorConfig {
            handler: format!("http://{}", bankroll.addr),
            domains: player.clone(),
            sync: true,
            on_poison: Default::default(),
        },
    );
    config.projectors.insert(
        "audit".into(),
        ProjectorConfig {
            handler: format!("http://{}", audit.addr),
            domains: player.clone(),
            sync: false,
            on_poison: Default::default(),
        },
    );
    config.sagas.insert(
        "transfer-settlement".into(),
        SagaConfig { handler: format!("http://{}", saga.addr), domains: player.clone(), on_poison: Default::default() },
    );
    let hand_saga = angzarr_client::Server::new().saga(poker::hand_settlement::saga()).spawn(loopback).await.unwrap();
    config.sagas.insert(
        poker::hand_settlement::NAME.into(),
        SagaConfig {
            handler: format!("http://{}", hand_saga.addr),
            domains: vec!["hand".into()],
            on_poison: Default::default(),
        },
    );
    let log = runtime::open_log(&config).await.expect("log");
    let running = runtime::start(&config, log, Roles::ALL, Shutdown::new()).await.expect("coordinator");
    let _ = LOG.set(running.log.clone());
    let addr = running.grpc_addr.unwrap();
    GATEWAY.set(Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap()).unwrap();
    let features = concat!(env!("CARGO_MANIFEST_DIR"), "/downstream.feature");
    Downstream::cucumber().fail_on_skipped().max_concurrent_scenarios(1).run_and_exit(features).await;
}
