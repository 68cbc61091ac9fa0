//! Shared plumbing of the Kafka guarantee tests: a real broker (from
//! `scripts/kafka start`, via `KAFKA_BOOTSTRAP`), worker processes of the
//! `angzarr` binary, an in-process gateway and player handler, and an
//! independent `read_committed` reader of the events topic.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use angzarr_connectors::kafka::KafkaConfig;
use angzarr_coordinators::Shutdown;
use angzarr_coordinators::config::Config;
use angzarr_coordinators::runtime::{self, Roles, Running};
use angzarr_proto::angzarr::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_proto::angzarr::{
    CommandBook, CommandPage, CommandRequest, Cover, EventBook, PageHeader, SyncMode, command_page,
};
use angzarr_proto::examples::{Currency, DepositFunds, RegisterPlayer};
use angzarr_proto::pack;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use tonic::transport::Channel;
use uuid::Uuid;

pub const SESSION_TIMEOUT: &str = "3s";
pub const PARTITIONS: u32 = 6;

/// Serialises the tests of a binary: they kill and pause processes and
/// measure failover times, which parallel runs on 2 cores would distort.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub fn bootstrap() -> String {
    std::env::var("KAFKA_BOOTSTRAP").expect(
        "KAFKA_BOOTSTRAP is not set: these tests need the real broker — `export KAFKA_BOOTSTRAP=$(scripts/kafka start)`",
    )
}

pub fn prefix(name: &str) -> String {
    format!("{name}-{}", &Uuid::new_v4().simple().to_string()[..8])
}

/// A test's world: config file, handler, gateway, workers.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub config: Config,
    pub prefix: String,
    pub gateway: Running,
    pub channel: Channel,
    pub workers: Vec<Worker>,
    _handler: angzarr_client::ServerHandle,
}

pub struct Worker {
    pub child: Child,
    pub log: PathBuf,
}

impl Worker {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, sig: i32) {
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    pub fn kill9(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        self.signal(libc::SIGTERM);
        self.child.wait().unwrap()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn write_config(dir: &Path, prefix: &str, handler: &str, snapshot_every: u32) -> (PathBuf, Config) {
    write_config_with(dir, prefix, handler, snapshot_every, "")
}

/// A config with extra YAML appended (projectors, sagas).
pub fn write_config_with(
    dir: &Path,
    prefix: &str,
    handler: &str,
    snapshot_every: u32,
    extra: &str,
) -> (PathBuf, Config) {
    write_config_on(dir, &bootstrap(), prefix, handler, snapshot_every, extra, "")
}

/// A config on the broker at `bootstrap`, with extra top-level YAML and
/// extra `log:` settings.
pub fn write_config_on(
    dir: &Path,
    bootstrap: &str,
    prefix: &str,
    handler: &str,
    snapshot_every: u32,
    extra: &str,
    log_extra: &str,
) -> (PathBuf, Config) {
    let yaml = format!(
        "log:\n  type: kafka\n  bootstrap_servers: '{bootstrap}'\n  topic_prefix: '{prefix}'\n  partitions: {PARTITIONS}\n  session_timeout: {SESSION_TIMEOUT}\n{log_extra}\
         gateway:\n  listen: 127.0.0.1:0\n  decision_timeout: 60s\n\
         domains:\n  player:\n    handler: '{handler}'\n    snapshot_every: {snapshot_every}\n{extra}"
    );
    let path = dir.join("angzarr.yaml");
    std::fs::write(&path, &yaml).unwrap();
    (path, Config::parse(&yaml).unwrap())
}

impl Cluster {
    /// Topics, handler and an in-process gateway; no workers yet.
    pub async fn new(name: &str, snapshot_every: u32) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let handler = poker::server().spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let prefix = prefix(name);
        let (config_path, config) =
            write_config(dir.path(), &prefix, &format!("http://{}", handler.addr), snapshot_every);
        let log = runtime::open_log(&config).await.expect("kafka log");
        let gateway = runtime::start(
            &config,
            log,
            Roles { gateway: true, command_handler: false, downstream: false },
            Shutdown::new(),
        )
        .await
        .unwrap();
        let channel =
            Channel::from_shared(format!("http://{}", gateway.grpc_addr.unwrap())).unwrap().connect().await.unwrap();
        Cluster { dir, config_path, config, prefix, gateway, channel, workers: Vec::new(), _handler: handler }
    }

    /// Topics on the broker at `bootstrap` (with `log_extra` settings),
    /// `player` served by `player_handler` (the poker server when `None`),
    /// `extra` YAML appended, and an in-process gateway; no workers yet.
    pub async fn on(
        name: &str,
        bootstrap: &str,
        player_handler: Option<String>,
        extra: &str,
        log_extra: &str,
    ) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let handler = poker::server().spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let prefix = prefix(name);
        let player = player_handler.unwrap_or_else(|| format!("http://{}", handler.addr));
        let extra = extra.replace("{POKER}", &format!("http://{}", handler.addr));
        let (config_path, config) = write_config_on(dir.path(), bootstrap, &prefix, &player, 100, &extra, log_extra);
        let log = runtime::open_log(&config).await.expect("kafka log");
        let gateway = runtime::start(
            &config,
            log,
            Roles { gateway: true, command_handler: false, downstream: false },
            Shutdown::new(),
        )
        .await
        .unwrap();
        let channel =
            Channel::from_shared(format!("http://{}", gateway.grpc_addr.unwrap())).unwrap().connect().await.unwrap();
        Cluster { dir, config_path, config, prefix, gateway, channel, workers: Vec::new(), _handler: handler }
    }

    /// Topics, handler, a saga server and an in-process gateway; no workers yet.
    pub async fn with_saga(name: &str, saga: angzarr_client::Saga) -> Cluster {
        let saga_name = saga.name().to_string();
        Self::with_downstream(name, angzarr_client::Server::new().saga(saga), |addr| {
            format!("sagas:\n  {saga_name}:\n    handler: 'http://{addr}'\n    domains: [player]\n")
        })
        .await
    }

    /// Topics, handler, a process manager server and an in-process gateway; no workers yet.
    pub async fn with_process_manager<S>(name: &str, pm: angzarr_client::ProcessManager<S>) -> Cluster
    where
        S: prost::Message + prost::Name + Default + Clone + Send + Sync + 'static,
    {
        let pm_name = pm.name().to_string();
        Self::with_downstream(name, angzarr_client::Server::new().process_manager(pm), |addr| {
            format!("process_managers:\n  {pm_name}:\n    handler: 'http://{addr}'\n    domains: [player]\n")
        })
        .await
    }

    /// Topics, handler, `server` (a downstream role, configured by `extra`
    /// given its address) and an in-process gateway; no workers yet.
    pub async fn with_downstream(
        name: &str,
        server: angzarr_client::Server,
        extra: impl FnOnce(std::net::SocketAddr) -> String,
    ) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let handler = poker::server().spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let downstream = server.spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let prefix = prefix(name);
        let extra = extra(downstream.addr);
        let (config_path, config) =
            write_config_with(dir.path(), &prefix, &format!("http://{}", handler.addr), 100, &extra);
        std::mem::forget(downstream);
        let log = runtime::open_log(&config).await.expect("kafka log");
        let gateway = runtime::start(
            &config,
            log,
            Roles { gateway: true, command_handler: false, downstream: false },
            Shutdown::new(),
        )
        .await
        .unwrap();
        let channel =
            Channel::from_shared(format!("http://{}", gateway.grpc_addr.unwrap())).unwrap().connect().await.unwrap();
        Cluster { dir, config_path, config, prefix, gateway, channel, workers: Vec::new(), _handler: handler }
    }

    /// Starts a process of `role` (`command-handler`, `downstream`).
    pub fn start_role(&mut self, role: &str) -> usize {
        let n = self.workers.len();
        let log = self.dir.path().join(format!("{role}-{n}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_angzarr"))
            .args(["coordinator", role, "--config"])
            .arg(&self.config_path)
            .env("RUST_LOG", worker_log_filter())
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting a coordinator");
        self.workers.push(Worker { child, log });
        n
    }

    /// Starts a worker process and waits until it restored `min_partitions`.
    pub fn start_worker(&mut self) -> usize {
        let n = self.workers.len();
        let log = self.dir.path().join(format!("worker-{n}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_angzarr"))
            .args(["coordinator", "command-handler", "--config"])
            .arg(&self.config_path)
            .env("RUST_LOG", worker_log_filter())
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting a worker");
        self.workers.push(Worker { child, log });
        n
    }

    pub fn client(&self) -> CommandHandlerCoordinatorServiceClient<Channel> {
        CommandHandlerCoordinatorServiceClient::new(self.channel.clone())
    }

    pub fn kafka_config(&self) -> KafkaConfig {
        match &self.config.log {
            angzarr_coordinators::config::LogConfig::Kafka(k) => k.connector(),
            _ => unreachable!(),
        }
    }

    pub fn events_topic(&self) -> String {
        format!("{}.player.events", self.prefix)
    }
}

pub fn request(root: Uuid, seq: u32, command: prost_types::Any) -> CommandRequest {
    CommandRequest {
        command: Some(CommandBook {
            cover: Some(Cover { root: Some(root.into()), domain: "player".into(), ..Default::default() }),
            pages: vec![CommandPage {
                header: Some(PageHeader::sequence(seq)),
                payload: Some(command_page::Payload::Command(command)),
                ..Default::default()
            }],
        }),
        sync_mode: SyncMode::Decision as i32,
        ..Default::default()
    }
}

pub fn register() -> prost_types::Any {
    pack(&RegisterPlayer { display_name: "Ada".into(), email: "ada@example.com".into(), ..Default::default() })
}

pub fn deposit(n: i64) -> prost_types::Any {
    pack(&DepositFunds { amount: Some(Currency { amount: n, currency_code: "USD".into() }) })
}

/// The sequence the gateway said the aggregate is at, from a mismatch message.
pub fn next_from_mismatch(message: &str) -> Option<u32> {
    message.rsplit("next sequence is ").next()?.trim().parse().ok()
}

/// Sends until accepted, following sequence mismatches; returns the accepted
/// book and how many attempts it took.
pub async fn send_following(
    client: &mut CommandHandlerCoordinatorServiceClient<Channel>,
    root: Uuid,
    next: &mut u32,
    command: prost_types::Any,
) -> Result<EventBook, tonic::Status> {
    for _ in 0..50 {
        match client.handle_command(request(root, *next, command.clone())).await {
            Ok(resp) => {
                let book = resp.into_inner().events.unwrap_or_default();
                *next = book.next_sequence;
                return Ok(book);
            }
            Err(s) if s.code() == tonic::Code::FailedPrecondition && s.message().contains("sequence mismatch") => {
                *next = next_from_mismatch(s.message()).expect("mismatch names the next sequence");
            }
            Err(s) => return Err(s),
        }
    }
    panic!("50 sequence mismatches in a row for {root}");
}

/// One stored event as any Kafka client sees it: from the headers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stored {
    pub root: Uuid,
    pub sequence: u32,
    pub partition: i32,
    pub offset: i64,
}

/// Every record of `topic` (read_committed): (partition, offset, headers as a map).
pub fn read_headers(bootstrap: &str, topic: &str, partitions: u32) -> Vec<(i32, i64, BTreeMap<String, String>)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "verifier-unused")
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "10")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning).unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut eof = std::collections::HashSet::new();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while eof.len() < partitions as usize {
        assert!(Instant::now() < deadline, "reading {topic} did not finish");
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let headers = m
                    .headers()
                    .map(|hs| {
                        hs.iter()
                            .map(|h| {
                                (
                                    h.key.to_string(),
                                    h.value.map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push((m.partition(), m.offset(), headers));
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                eof.insert(p);
            }
            Some(Err(e)) => panic!("verifier: {e}"),
            None => {}
        }
    }
    out
}

/// Reads the whole events topic with an independent `read_committed`
/// consumer, relying only on the documented headers.
pub fn read_events(bootstrap: &str, topic: &str, partitions: u32) -> Vec<Stored> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "verifier-unused")
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "10")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning).unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut eof = std::collections::HashSet::new();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while eof.len() < partitions as usize {
        assert!(Instant::now() < deadline, "reading {topic} did not finish");
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let h = |k: &str| {
                    m.headers()
                        .and_then(|hs| hs.iter().find(|x| x.key == k).and_then(|x| x.value))
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .unwrap_or_else(|| panic!("event at {}@{} lacks header {k}", m.partition(), m.offset()))
                };
                let root = Uuid::parse_str(&h("angzarr-root")).unwrap();
                assert_eq!(
                    m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    Some(root.hyphenated().to_string())
                );
                out.push(Stored {
                    root,
                    sequence: h("angzarr-sequence").parse().unwrap(),
                    partition: m.partition(),
                    offset: m.offset(),
                });
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                eof.insert(p);
            }
            Some(Err(e)) => panic!("verifier: {e}"),
            None => {}
        }
    }
    out
}

/// Per root: sequences contiguous from 0, no duplicates, all in one partition.
pub fn check_sequences(events: &[Stored]) -> BTreeMap<Uuid, u32> {
    let mut by_root: BTreeMap<Uuid, Vec<&Stored>> = BTreeMap::new();
    for e in events {
        by_root.entry(e.root).or_default().push(e);
    }
    let mut counts = BTreeMap::new();
    for (root, mut evs) in by_root {
        evs.sort_by_key(|e| e.offset);
        let partitions: std::collections::BTreeSet<_> = evs.iter().map(|e| e.partition).collect();
        assert_eq!(partitions.len(), 1, "{root} has events in several partitions: {partitions:?}");
        let seqs: Vec<u32> = evs.iter().map(|e| e.sequence).collect();
        let want: Vec<u32> = (0..seqs.len() as u32).collect();
        let at: Vec<(i64, u32)> = evs.iter().map(|e| (e.offset, e.sequence)).collect();
        assert_eq!(
            seqs, want,
            "{root} (partition {partitions:?}): sequences must be contiguous from 0, in offset order, without duplicates; (offset, sequence): {at:?}"
        );
        counts.insert(root, seqs.len() as u32);
    }
    counts
}

/// Waits until `f` holds, or panics after `timeout`.
pub async fn eventually(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A root that lands in `partition` of `n`.
pub fn root_in(partition: u32, n: u32) -> Uuid {
    loop {
        let r = Uuid::new_v4();
        if angzarr_topology::partition_for(r.hyphenated().to_string().as_bytes(), n) == partition {
            return r;
        }
    }
}

/// Load: `clients` concurrent clients sending deposits to random roots among
/// `roots` until `stop`; returns every accepted (root, sequence) and the errors.
pub async fn load(
    cluster_channel: Channel,
    roots: Arc<Vec<Uuid>>,
    clients: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> (Vec<(Uuid, u32)>, Vec<String>) {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (channel, roots, stop) = (cluster_channel.clone(), roots.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = CommandHandlerCoordinatorServiceClient::new(channel);
            let mut next: BTreeMap<Uuid, u32> = roots.iter().map(|r| (*r, 1)).collect();
            let mut accepted = Vec::new();
            let mut errors = Vec::new();
            let mut i = c;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let root = roots[i % roots.len()];
                i += 7;
                let seq = next.get_mut(&root).unwrap();
                match send_following(&mut client, root, seq, deposit(1)).await {
                    Ok(book) => accepted.extend(book.pages.iter().map(|p| (root, p.seq().unwrap()))),
                    Err(s) => errors.push(format!("{:?}: {}", s.code(), s.message())),
                }
            }
            (accepted, errors)
        }));
    }
    let mut accepted = Vec::new();
    let mut errors = Vec::new();
    for t in tasks {
        let (a, e) = t.await.unwrap();
        accepted.extend(a);
        errors.extend(e);
    }
    (accepted, errors)
}

/// Registers `n` players (sequence 0) and returns their roots.
pub async fn register_players(client: &mut CommandHandlerCoordinatorServiceClient<Channel>, n: usize) -> Vec<Uuid> {
    let mut roots = Vec::new();
    for _ in 0..n {
        let root = Uuid::new_v4();
        client.handle_command(request(root, 0, register())).await.expect("registration");
        roots.push(root);
    }
    roots
}

/// A broker (or a 3-node cluster) of its own, started by `scripts/kafka`
/// on its own ports and state dir, for tests that kill it. Stopped on drop.
pub struct OwnBroker {
    pub bootstrap: String,
    port: u16,
    state: tempfile::TempDir,
}

impl OwnBroker {
    /// Starts `nodes` nodes with client ports from `port`.
    pub fn start(port: u16, nodes: u32) -> OwnBroker {
        let state = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(kafka_script());
        cmd.arg("start");
        if nodes > 1 {
            cmd.args(["--nodes", &nodes.to_string()]);
        }
        let out = cmd
            .env("KAFKA_PORT", port.to_string())
            .env("KAFKA_STATE_DIR", state.path())
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/kafka start");
        assert!(out.status.success(), "scripts/kafka start failed");
        let bootstrap = String::from_utf8(out.stdout).unwrap().trim().to_string();
        OwnBroker { bootstrap, port, state }
    }

    /// `scripts/kafka ARGS` on this broker's state dir.
    pub fn script(&self, args: &[&str]) {
        let status = Command::new(kafka_script())
            .args(args)
            .env("KAFKA_PORT", self.port.to_string())
            .env("KAFKA_STATE_DIR", self.state.path())
            .stdout(Stdio::null())
            .status()
            .expect("scripts/kafka");
        assert!(status.success(), "scripts/kafka {args:?} failed");
    }
}

impl OwnBroker {
    /// Kafka's own view of open transactions, for a failure's report:
    /// `kafka-transactions find-hanging` (transactions the coordinator does
    /// not know, holding a partition's last stable offset) on every node.
    pub fn hanging_transactions(&self, nodes: u32) -> String {
        let mut out = String::new();
        for node in 1..=nodes {
            let run = Command::new(kafka_script())
                .args(["tool", "org.apache.kafka.tools.TransactionsCommand", "--bootstrap-server", &self.bootstrap])
                .args(["find-hanging", "--broker-id", &node.to_string()])
                .env("KAFKA_PORT", self.port.to_string())
                .env("KAFKA_STATE_DIR", self.state.path())
                .output();
            match run {
                Ok(o) => {
                    out.push_str(&String::from_utf8_lossy(&o.stdout));
                    out.push_str(&String::from_utf8_lossy(&o.stderr));
                }
                Err(e) => out.push_str(&format!("kafka-transactions: {e}\n")),
            }
        }
        out
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        let _ = Command::new(kafka_script())
            .arg("stop")
            .env("KAFKA_PORT", self.port.to_string())
            .env("KAFKA_STATE_DIR", self.state.path())
            .stdout(Stdio::null())
            .status();
    }
}

fn kafka_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/kafka")
}

/// Every accepted (root, sequence) is in the topic exactly once, and nothing else is.
pub fn check_exactly_once(events: &[Stored], accepted: &[(Uuid, u32)], extra: usize) {
    let stored: BTreeSet<(Uuid, u32)> = events.iter().map(|e| (e.root, e.sequence)).collect();
    assert_eq!(stored.len(), events.len(), "duplicate (root, sequence) in the events topic");
    for a in accepted {
        assert!(stored.contains(a), "accepted {a:?} is not in the events topic");
    }
    let accepted_set: BTreeSet<_> = accepted.iter().collect();
    assert_eq!(accepted_set.len(), accepted.len(), "a (root, sequence) was accepted twice");
    assert_eq!(events.len(), accepted.len() + extra, "events that no caller was told about are in the topic");
}

/// Time until a fresh command is accepted on every partition.
pub async fn all_partitions_accept(cluster: &Cluster) -> Duration {
    let started = Instant::now();
    let mut probes = Vec::new();
    for p in 0..PARTITIONS {
        let mut client = cluster.client();
        probes.push(tokio::spawn(async move {
            let root = root_in(p, PARTITIONS);
            client.handle_command(request(root, 0, register())).await.expect("probe accepted");
            started.elapsed()
        }));
    }
    let mut worst = Duration::ZERO;
    for p in probes {
        worst = worst.max(p.await.unwrap());
    }
    worst
}

/// The workers' log filter: `ANGZARR_TEST_WORKER_LOG` when set (to trace a
/// failure: e.g. `info,angzarr_coordinators::command_handler::task=trace`).
pub fn worker_log_filter() -> String {
    std::env::var("ANGZARR_TEST_WORKER_LOG").unwrap_or_else(|_| "info,librdkafka=warn".into())
}
