//! `projector_batch.feature` against a projector built with the Rust client,
//! served on 127.0.0.1:0 and called through real gRPC clients: the batch
//! through `angzarr_kafka.ProjectorBatchService`, single books through
//! `angzarr.ProjectorService`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use angzarr_client::{Projector, Server, ServerHandle};
use angzarr_proto::angzarr::projector_service_client::ProjectorServiceClient;
use angzarr_proto::angzarr::{Cover, EventBook, EventPage, PageHeader, Projection, event_page};
use angzarr_proto::angzarr_kafka::ProjectorBatch;
use angzarr_proto::angzarr_kafka::projector_batch_service_client::ProjectorBatchServiceClient;
use angzarr_proto::examples::{Currency, FundsDeposited};
use angzarr_proto::pack;
use cucumber::{World, given, then, when};
use tonic::transport::Channel;
use uuid::Uuid;

/// The ledger's records: per root, the sequences applied.
#[derive(Default)]
struct Ledger {
    applied: HashMap<Uuid, BTreeSet<u32>>,
    refused: HashSet<Uuid>,
}

#[derive(World)]
#[world(init = Self::new)]
struct BatchWorld {
    ledger: Arc<Mutex<Ledger>>,
    server: Option<ServerHandle>,
    unary: Option<ProjectorServiceClient<Channel>>,
    batch: Option<ProjectorBatchServiceClient<Channel>>,
    /// Next sequence per root, as the books were built.
    next: HashMap<Uuid, u32>,
    last_request: Option<ProjectorBatch>,
    answer: Option<Result<Vec<Projection>, tonic::Status>>,
}

impl std::fmt::Debug for BatchWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("projector batch world")
    }
}

impl BatchWorld {
    fn new() -> Self {
        BatchWorld {
            ledger: Arc::default(),
            server: None,
            unary: None,
            batch: None,
            next: HashMap::new(),
            last_request: None,
            answer: None,
        }
    }
}

/// Root "A": sixteen bytes, all zero but the last, the letter's ASCII code.
fn root(letter: &str) -> Uuid {
    let mut bytes = [0u8; 16];
    bytes[15] = letter.as_bytes()[0];
    Uuid::from_bytes(bytes)
}

/// The ledger projector, built with the client's projector helper only.
fn ledger(records: Arc<Mutex<Ledger>>) -> Projector {
    Projector::new("ledger").on(move |_: &FundsDeposited, root, seq| {
        let mut ledger = records.lock().unwrap();
        if ledger.refused.contains(root) {
            return Err(format!("refused: events of root {root}"));
        }
        let applied = ledger.applied.entry(*root).or_default();
        if applied.last().is_none_or(|last| seq > *last) {
            applied.insert(seq);
        }
        Ok(())
    })
}

/// `"A" with 2 events, "B" with 1 event` → books, continuing each root's sequences.
fn books(world: &mut BatchWorld, list: &str) -> Vec<EventBook> {
    if list.trim() == "none" {
        return Vec::new();
    }
    list.split(", ")
        .map(|part| {
            // `"A" with 2 events`
            let (name, count) = part.trim().split_once(" with ").unwrap_or_else(|| panic!("not a book: {part}"));
            let root = root(name.trim_matches('"'));
            let n: u32 =
                count.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("not a book: {part}"));
            let first = *world.next.get(&root).unwrap_or(&0);
            world.next.insert(root, first + n);
            let deposit = pack(&FundsDeposited {
                amount: Some(Currency { amount: 1, currency_code: "USD".into() }),
                ..Default::default()
            });
            EventBook {
                cover: Some(Cover { domain: "player".into(), root: Some(root.into()), ..Default::default() }),
                pages: (first..first + n)
                    .map(|seq| EventPage {
                        header: Some(PageHeader::sequence(seq)),
                        payload: Some(event_page::Payload::Event(deposit.clone())),
                        ..Default::default()
                    })
                    .collect(),
                next_sequence: first + n,
                snapshot: None,
            }
        })
        .collect()
}

async fn hand_batch(world: &mut BatchWorld, request: ProjectorBatch) {
    world.last_request = Some(request.clone());
    let answer = world.batch.as_mut().unwrap().handle_batch(request).await;
    world.answer = Some(answer.map(|r| r.into_inner().projections));
}

#[given("a ledger projector")]
async fn a_ledger_projector(world: &mut BatchWorld) {
    let server =
        Server::new().projector(ledger(world.ledger.clone())).spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = format!("http://{}", server.addr);
    world.unary = Some(ProjectorServiceClient::connect(url.clone()).await.unwrap());
    world.batch = Some(ProjectorBatchServiceClient::connect(url).await.unwrap());
    world.server = Some(server);
}

#[given(expr = "the projector refuses events of root {string}")]
async fn refuses(world: &mut BatchWorld, letter: String) {
    world.ledger.lock().unwrap().refused.insert(root(&letter));
}

#[when("the projector stops refusing")]
async fn stops_refusing(world: &mut BatchWorld) {
    world.ledger.lock().unwrap().refused.clear();
}

#[when(regex = r"^it is handed a batch of books: (.+)$")]
async fn handed_a_batch(world: &mut BatchWorld, list: String) {
    let books = books(world, &list);
    hand_batch(world, ProjectorBatch { books }).await;
}

#[when(regex = r"^it is handed books one at a time: (.+)$")]
async fn handed_one_at_a_time(world: &mut BatchWorld, list: String) {
    let mut projections = Vec::new();
    for book in books(world, &list) {
        match world.unary.as_mut().unwrap().handle(book).await {
            Ok(p) => projections.push(p.into_inner()),
            Err(status) => {
                world.answer = Some(Err(status));
                return;
            }
        }
    }
    world.answer = Some(Ok(projections));
}

#[when("the same batch is handed over again")]
async fn handed_again(world: &mut BatchWorld) {
    let request = world.last_request.clone().expect("a batch was handed over before");
    hand_batch(world, request).await;
}

#[then(expr = "the call answers {int} projections")]
async fn answers(world: &mut BatchWorld, n: usize) {
    let projections = world.answer.as_ref().unwrap().as_ref().expect("the call succeeded");
    assert_eq!(projections.len(), n);
    assert!(projections.iter().all(|p| p.projector == "ledger"), "{projections:?}");
}

#[then(expr = "projection {int} is for root {string} at sequence {int}")]
async fn projection_is(world: &mut BatchWorld, i: usize, letter: String, sequence: u32) {
    let projections = world.answer.as_ref().unwrap().as_ref().expect("the call succeeded");
    let p = &projections[i - 1];
    let got = p.cover.as_ref().and_then(|c| c.root.as_ref()).and_then(|r| Uuid::try_from(r).ok());
    assert_eq!(got, Some(root(&letter)), "{p:?}");
    assert_eq!(p.sequence, sequence, "{p:?}");
}

#[then(expr = "the call fails with a message containing {string}")]
async fn fails(world: &mut BatchWorld, text: String) {
    let status = world.answer.as_ref().unwrap().as_ref().expect_err("the call failed");
    assert!(!matches!(status.code(), tonic::Code::Ok | tonic::Code::Unimplemented), "{status:?}");
    assert!(status.message().contains(&text), "{status:?}");
}

#[then(regex = r#"^the ledger holds (\d+) events? of root "(\w)" and (\d+) events? of root "(\w)"$"#)]
async fn ledger_holds(world: &mut BatchWorld, n: usize, a: String, m: usize, b: String) {
    let ledger = world.ledger.lock().unwrap();
    let count = |letter: &str| ledger.applied.get(&root(letter)).map_or(0, BTreeSet::len);
    assert_eq!((count(&a), count(&b)), (n, m));
}

#[tokio::main]
async fn main() {
    let feature = concat!(env!("CARGO_MANIFEST_DIR"), "/projector_batch.feature");
    BatchWorld::cucumber().fail_on_skipped().run_and_exit(feature).await;
}
