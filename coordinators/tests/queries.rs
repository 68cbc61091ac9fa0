//! `EventQueryService` on the embedded log: sequence ranges and sets, the
//! state as of a sequence or a time — from the whole history when a
//! snapshot covers what a selection needs — every root of the log, and
//! `Synchronize`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use angzarr_connectors::embedded::{Durability, EmbeddedConfig, EmbeddedLog};
use angzarr_coordinators::Shutdown;
use angzarr_coordinators::config::{Config, DomainConfig, GatewayConfig, LogConfig};
use angzarr_coordinators::runtime::{self, Roles};
use angzarr_proto::angzarr::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_proto::angzarr::event_query_service_client::EventQueryServiceClient;
use angzarr_proto::angzarr::query::Selection;
use angzarr_proto::angzarr::temporal_query::PointInTime;
use angzarr_proto::angzarr::{
    CommandBook, CommandPage, CommandRequest, Cover, EventBook, PageHeader, Query, SequenceRange, SequenceSet,
    SyncMode, TemporalQuery, command_page,
};
use angzarr_proto::examples::{Currency, DepositFunds, RegisterPlayer};
use angzarr_proto::pack;
use tonic::transport::Channel;
use uuid::Uuid;

fn command(root: Uuid, seq: u32, cmd: prost_types::Any) -> CommandRequest {
    CommandRequest {
        command: Some(CommandBook {
            cover: Some(Cover { root: Some(root.into()), domain: "player".into(), ..Default::default() }),
            pages: vec![CommandPage {
                header: Some(PageHeader::sequence(seq)),
                payload: Some(command_page::Payload::Command(cmd)),
                ..Default::default()
            }],
        }),
        sync_mode: SyncMode::Decision as i32,
        ..Default::default()
    }
}

/// Registers `root` and deposits 1 `deposits` times, DECISION each.
async fn write(channel: &Channel, root: Uuid, deposits: u32) {
    let mut client = CommandHandlerCoordinatorServiceClient::new(channel.clone());
    let register = pack(&RegisterPlayer { display_name: "Ada".into(), email: "a@x".into(), ..Default::default() });
    client.handle_command(command(root, 0, register)).await.unwrap();
    for seq in 1..=deposits {
        let deposit = pack(&DepositFunds { amount: Some(Currency { amount: 1, currency_code: "USD".into() }) });
        client.handle_command(command(root, seq, deposit)).await.unwrap();
    }
}

fn query(root: Uuid, selection: Option<Selection>) -> Query {
    Query { cover: Some(Cover { root: Some(root.into()), domain: "player".into(), ..Default::default() }), selection }
}

fn sequences(book: &EventBook) -> Vec<u32> {
    book.pages.iter().filter_map(|p| p.seq()).collect()
}

fn as_of(point: PointInTime) -> Option<Selection> {
    Some(Selection::Temporal(TemporalQuery { point_in_time: Some(point) }))
}

#[tokio::test]
async fn selections_roots_and_synchronize() {
    let dir = tempfile::tempdir().unwrap();
    let aggregates = poker::server().spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let path = dir.path().join("events.db");
    let mut config = Config::new(
        LogConfig::Embedded { path: path.clone(), partitions: 2, durability: Durability::Normal },
        GatewayConfig { listen: "127.0.0.1:0".parse().unwrap(), http_listen: None, ..Default::default() },
        BTreeMap::from([("player".to_string(), DomainConfig::served_by(format!("http://{}", aggregates.addr), 5))]),
    );
    config.domains.insert("table".into(), DomainConfig::served_by(format!("http://{}", aggregates.addr), 100));
    let log = EmbeddedLog::open(
        &EmbeddedConfig { path, partitions: 2, durability: Durability::Normal },
        config.log_domains(),
    )
    .unwrap();
    let running = runtime::start(&config, Arc::new(log), Roles::ALL, Shutdown::new()).await.unwrap();
    let channel =
        Channel::from_shared(format!("http://{}", running.grpc_addr.unwrap())).unwrap().connect().await.unwrap();
    let mut queries = EventQueryServiceClient::new(channel.clone());

    // Four events (0..=3), no snapshot yet (one every 5 events).
    let young = Uuid::new_v4();
    write(&channel, young, 1).await;
    // A time after sequence 1 and before sequence 2 (created_at has nanoseconds).
    tokio::time::sleep(Duration::from_millis(5)).await;
    let between = prost_types::Timestamp::from(std::time::SystemTime::now());
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut client = CommandHandlerCoordinatorServiceClient::new(channel.clone());
    for seq in 2..=3 {
        let deposit = pack(&DepositFunds { amount: Some(Currency { amount: 1, currency_code: "USD".into() }) });
        client.handle_command(command(young, seq, deposit)).await.unwrap();
    }
    let get = |q: Query| {
        let mut c = queries.clone();
        async move { c.get_event_book(q).await }
    };
    let whole = get(query(young, None)).await.unwrap().into_inner();
    assert_eq!((sequences(&whole), whole.next_sequence), (vec![0, 1, 2, 3], 4), "the positive control");

    let range = get(query(young, Some(Selection::Range(SequenceRange { lower: 1, upper: Some(2) })))).await.unwrap();
    assert_eq!(sequences(range.get_ref()), [1, 2]);
    let open = get(query(young, Some(Selection::Range(SequenceRange { lower: 2, upper: None })))).await.unwrap();
    assert_eq!(sequences(open.get_ref()), [2, 3]);
    let set = get(query(young, Some(Selection::Sequences(SequenceSet { values: vec![3, 0] })))).await.unwrap();
    assert_eq!(sequences(set.get_ref()), [0, 3]);
    let then = get(query(young, as_of(PointInTime::AsOfSequence(1)))).await.unwrap().into_inner();
    assert_eq!((sequences(&then), then.next_sequence), (vec![0, 1], 2), "the state as of sequence 1");
    let at = get(query(young, as_of(PointInTime::AsOfTime(between)))).await.unwrap().into_inner();
    assert_eq!((sequences(&at), at.next_sequence), (vec![0, 1], 2), "the state at a time between 1 and 2");
    let empty = get(query(young, Some(Selection::Range(SequenceRange { lower: 3, upper: Some(1) })))).await;
    assert_eq!(empty.unwrap_err().code(), tonic::Code::InvalidArgument);

    // Six events: a snapshot covers the first ones; reads of the past
    // replay the whole history instead of refusing.
    let old = Uuid::new_v4();
    write(&channel, old, 5).await;
    let whole = get(query(old, None)).await.unwrap().into_inner();
    let covered = whole.snapshot.as_ref().map(|s| s.sequence).expect("a snapshot");
    assert!(sequences(&whole).iter().all(|s| *s > covered), "the point read starts at the snapshot: {whole:?}");
    let below = get(query(old, Some(Selection::Range(SequenceRange { lower: 0, upper: None })))).await.unwrap();
    assert_eq!(sequences(below.get_ref()), (0..=5).collect::<Vec<_>>(), "a range below the snapshot, from the history");
    assert!(below.get_ref().snapshot.is_none());
    assert_eq!(below.get_ref().next_sequence, 6);
    let set = get(query(old, Some(Selection::Sequences(SequenceSet { values: vec![0, covered + 1] })))).await.unwrap();
    assert_eq!(sequences(set.get_ref()), [0, covered + 1]);
    let temporal = get(query(old, as_of(PointInTime::AsOfSequence(2)))).await.unwrap().into_inner();
    assert_eq!((sequences(&temporal), temporal.next_sequence), (vec![0, 1, 2], 3), "as of 2, never from a snapshot");
    assert!(temporal.snapshot.is_none());
    let now = prost_types::Timestamp::from(std::time::SystemTime::now());
    let latest = get(query(old, as_of(PointInTime::AsOfTime(now)))).await.unwrap().into_inner();
    assert_eq!((sequences(&latest), latest.next_sequence), ((0..=5).collect::<Vec<_>>(), 6), "as of now: everything");
    let above = get(query(old, Some(Selection::Range(SequenceRange { lower: covered + 1, upper: None })))).await;
    assert_eq!(sequences(above.unwrap().get_ref()), ((covered + 1)..=5).collect::<Vec<_>>());

    // Every root of the log, by domain.
    let mut roots = queries.get_aggregate_roots(()).await.unwrap().into_inner();
    let mut seen = Vec::new();
    while let Some(r) = roots.message().await.unwrap() {
        seen.push((r.domain, Uuid::from_slice(&r.root.unwrap().value).unwrap()));
    }
    let mut want = vec![("player".to_string(), young), ("player".to_string(), old)];
    want.sort();
    assert_eq!(seen, want, "both players, no table (none written)");

    // Synchronize: each query answered in order.
    let requests = futures::stream::iter(vec![query(old, None), query(young, as_of(PointInTime::AsOfSequence(0)))]);
    let mut answers = queries.synchronize(requests).await.unwrap().into_inner();
    let first = answers.message().await.unwrap().unwrap();
    let second = answers.message().await.unwrap().unwrap();
    assert_eq!(first.next_sequence, 6);
    assert_eq!(sequences(&second), [0]);
    assert!(answers.message().await.unwrap().is_none(), "no more answers than queries");
    running.stop().await.unwrap();
}
