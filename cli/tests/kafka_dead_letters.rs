//! Poison events on Kafka, with the project's binary: a saga whose handler
//! keeps refusing one event, and a record in the events topic that does not
//! decode, under `on_poison: {policy: dead_letter}`. Both land in
//! `<prefix>.saga.<name>.dlq` with where they came from and why, the
//! partition moves on (the events after them get their reactions), and
//! `angzarr dlq list|replay|drop` show, replay (the saga's command written
//! once) and drop them.

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use angzarr_proto::angzarr::saga_service_server::{SagaService, SagaServiceServer};
use angzarr_proto::angzarr::{SagaHandleRequest, SagaResponse};
use angzarr_proto::examples::{Currency, DepositFunds, PlayerRegistered};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use support::*;
use uuid::Uuid;

/// Deposits 1 to every player that registers, except that it answers
/// INTERNAL for `refused` until `fixed`.
struct Welcome {
    saga: angzarr_client::Saga,
    refused: Uuid,
    fixed: Arc<AtomicBool>,
}

impl Welcome {
    fn react(
        &self,
        request: tonic::Request<SagaHandleRequest>,
    ) -> Result<tonic::Response<SagaResponse>, tonic::Status> {
        let source = request.into_inner().source.unwrap_or_default();
        let root = source.cover.as_ref().and_then(|c| c.root.as_ref()).and_then(|r| Uuid::from_slice(&r.value).ok());
        if root == Some(self.refused) && !self.fixed.load(Ordering::SeqCst) {
            return Err(tonic::Status::internal("welcome: no bonus account for this player yet"));
        }
        self.saga.handle(&source).map(tonic::Response::new)
    }
}

#[tonic::async_trait]
impl SagaService for Welcome {
    async fn handle(
        &self,
        request: tonic::Request<SagaHandleRequest>,
    ) -> Result<tonic::Response<SagaResponse>, tonic::Status> {
        self.react(request)
    }
}

fn dlq(cluster: &Cluster, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_angzarr"))
        .arg("dlq")
        .args(args)
        .arg("--config")
        .arg(&cluster.config_path)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Events per root, from an independent read_committed reader.
fn events_by_root(cluster: &Cluster) -> BTreeMap<Uuid, u32> {
    let mut by_root = BTreeMap::new();
    for e in read_events(&bootstrap(), &cluster.events_topic(), PARTITIONS) {
        *by_root.entry(e.root).or_insert(0) += 1;
    }
    by_root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_poison_events_go_to_the_dead_letter_topic_and_are_replayed_once_or_dropped() {
    let _serial = SERIAL.lock().await;
    let (refused, good_a, good_b) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    // Every player's deposit goes to itself.
    let saga = angzarr_client::Saga::new("welcome").on(|_: &PlayerRegistered, cover, _| {
        let root = cover.root.as_ref().and_then(|r| Uuid::from_slice(&r.value).ok()).unwrap();
        let gift = DepositFunds { amount: Some(Currency { amount: 1, currency_code: "USD".into() }) };
        vec![angzarr_client::command("player", root, &gift)]
    });
    let fixed = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(SagaServiceServer::new(Welcome { saga, refused, fixed: fixed.clone() }))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let extra = format!(
        "sagas:\n  welcome:\n    handler: 'http://{addr}'\n    domains: [player]\n    \
         on_poison: {{policy: dead_letter, attempts: 2}}\n"
    );
    let mut cluster = Cluster::on("dead-letters", &bootstrap(), None, &extra, "").await;
    cluster.start_role("command-handler");
    cluster.start_role("downstream");
    let mut client = cluster.client();

    // A record nobody can read, in the partition a registered player's
    // events go to, before that player's events.
    let garbage_root = root_in(angzarr_topology::partition_for(good_a.to_string().as_bytes(), PARTITIONS), PARTITIONS);
    let producer: BaseProducer = rdkafka::ClientConfig::new().set("bootstrap.servers", bootstrap()).create().unwrap();
    let key = garbage_root.to_string();
    let partition = angzarr_topology::partition_for(key.as_bytes(), PARTITIONS) as i32;
    let garbage = [0xffu8, 0xff, 0xff, 0xff];
    let headers = rdkafka::message::OwnedHeaders::new()
        .insert(rdkafka::message::Header { key: "angzarr-root", value: Some(key.as_str()) })
        .insert(rdkafka::message::Header { key: "angzarr-sequence", value: Some("0") });
    producer
        .send(
            BaseRecord::to(&cluster.events_topic())
                .key(&key)
                .payload(&garbage[..])
                .partition(partition)
                .headers(headers),
        )
        .map_err(|(e, _)| e)
        .unwrap();
    producer.flush(Duration::from_secs(10)).unwrap();

    for root in [refused, good_a, good_b] {
        client.handle_command(request(root, 0, register())).await.expect("registration");
    }

    // The partitions move on: both good players get their deposit (the
    // positive control of the path the refused one takes)…
    let c = &cluster;
    eventually(Duration::from_secs(90), "the saga's deposits for the good players", || {
        let by_root = events_by_root(c);
        by_root.get(&good_a) == Some(&2) && by_root.get(&good_b) == Some(&2)
    })
    .await;
    // …and the two poison records are listed with where they came from and why.
    let mut listed = String::new();
    for _ in 0..100 {
        let (ok, text) = dlq(&cluster, &["list", "saga.welcome"]);
        assert!(ok, "{text}");
        listed = text;
        if listed.contains("2 dead letters") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(listed.contains("2 dead letters"), "{listed}");
    let refused_line = listed.lines().find(|l| l.contains(&refused.to_string())).expect(&listed).to_string();
    assert!(
        refused_line.contains("seq 0") && refused_line.contains("Internal: welcome: no bonus account"),
        "{refused_line}"
    );
    let garbage_line = listed.lines().find(|l| l.contains("undecodable record")).expect(&listed).to_string();
    assert!(garbage_line.contains("undecodable: value is not an EventBook"), "{garbage_line}");
    assert_eq!(events_by_root(&cluster).get(&refused), Some(&1), "no deposit for the refused player yet");
    // The dead-letter topic is an ordinary topic any consumer reads: the
    // original location in its headers.
    let topic = format!("{}.saga.welcome.dlq", cluster.prefix);
    let records = read_headers(&bootstrap(), &topic, 1);
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(records.iter().any(|(_, _, h)| h.get("angzarr-dlq-root") == Some(&refused.to_string())
        && h.get("angzarr-dlq-domain").map(String::as_str) == Some("player")
        && h.contains_key("angzarr-dlq-offset")));

    let id = |line: &str| line.split_whitespace().nth(1).unwrap().to_string();
    let (refused_id, garbage_id) = (id(&refused_line), id(&garbage_line));

    // Replaying while the handler still refuses changes nothing.
    let (ok, text) = dlq(&cluster, &["replay", "saga.welcome", &refused_id]);
    assert!(!ok && text.contains("still failing") && text.contains("no bonus account"), "{text}");
    assert!(dlq(&cluster, &["list", "saga.welcome"]).1.contains("2 dead letters"));

    // Fixed: the replay writes the saga's command once, with the letter's removal.
    fixed.store(true, Ordering::SeqCst);
    let (ok, text) = dlq(&cluster, &["replay", "saga.welcome", &refused_id]);
    assert!(ok && text.contains(&format!("replayed: {refused_id}")), "{text}");
    eventually(Duration::from_secs(60), "the replayed deposit", || events_by_root(c).get(&refused) == Some(&2)).await;
    let (ok, text) = dlq(&cluster, &["replay", "saga.welcome", &refused_id]);
    assert!(!ok && text.contains("no dead letter"), "a settled letter is gone: {text}");

    // The undecodable record cannot be replayed; it can be dropped.
    let (ok, text) = dlq(&cluster, &["replay", "saga.welcome", "--all"]);
    assert!(!ok && text.contains("still does not decode"), "{text}");
    let (ok, text) = dlq(&cluster, &["drop", "saga.welcome", &garbage_id]);
    assert!(ok && text.contains(&format!("dropped: {garbage_id}")), "{text}");
    let (ok, text) = dlq(&cluster, &["list"]);
    assert!(ok && text.contains("0 dead letters"), "{text}");

    // Exactly once: each player has its registration and one deposit;
    // sequences contiguous.
    let events: Vec<Stored> = read_events(&bootstrap(), &cluster.events_topic(), PARTITIONS)
        .into_iter()
        .filter(|e| e.root != garbage_root)
        .collect();
    let counts = check_sequences(&events);
    for root in [refused, good_a, good_b] {
        assert_eq!(counts.get(&root), Some(&2), "{root}");
    }
    let text = cluster.workers.iter().map(|w| w.log_text()).collect::<String>();
    assert!(text.contains("record moved to the dead-letter log"), "the coordinator says what it did");
}
