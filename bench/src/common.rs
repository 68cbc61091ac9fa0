//! What every scenario shares: the result row, the table, the example
//! platform in-process, and a load of deposits with sequences kept right.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use angzarr_coordinators::Shutdown;
use angzarr_coordinators::config::{Config, DomainConfig, GatewayConfig, LogConfig};
use angzarr_coordinators::runtime::{self, Roles, Running};
use angzarr_proto::angzarr::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_proto::angzarr::{CommandBook, CommandPage, CommandRequest, Cover, PageHeader, SyncMode, command_page};
use angzarr_proto::examples::{Currency, DepositFunds, RegisterPlayer};
use angzarr_proto::pack;
use prost::Message;
use serde::Serialize;
use tonic::transport::Channel;
use uuid::Uuid;

/// Where the run happens.
pub struct Env {
    pub kafka: String,
    pub pg: Option<String>,
    pub kstreams_jar: Option<PathBuf>,
    pub angzarr_bin: PathBuf,
    pub quick: bool,
}

impl Env {
    /// `quick` or `full` count.
    pub fn n(&self, quick: usize, full: usize) -> usize {
        if self.quick { quick } else { full }
    }
}

/// One line of the results.
#[derive(Debug, Serialize)]
pub struct Row {
    pub scenario: String,
    pub unit: String,
    pub ours: f64,
    pub baseline: f64,
    pub baseline_name: String,
    /// ours / baseline (for "lower is better" units, baseline / ours), so > 1 means we do better.
    pub ratio: f64,
    pub target: String,
}

impl Row {
    /// A row where a higher figure is better (throughput).
    pub fn higher(scenario: &str, unit: &str, ours: f64, baseline: f64, baseline_name: &str, target: &str) -> Row {
        Row {
            scenario: scenario.into(),
            unit: unit.into(),
            ours,
            baseline,
            baseline_name: baseline_name.into(),
            ratio: if baseline > 0.0 { ours / baseline } else { f64::NAN },
            target: target.into(),
        }
    }

    /// A row where a lower figure is better (latency, time, memory).
    pub fn lower(scenario: &str, unit: &str, ours: f64, baseline: f64, baseline_name: &str, target: &str) -> Row {
        Row {
            scenario: scenario.into(),
            unit: unit.into(),
            ours,
            baseline,
            baseline_name: baseline_name.into(),
            ratio: if ours > 0.0 { baseline / ours } else { f64::NAN },
            target: target.into(),
        }
    }
}

pub fn print_table(rows: &[Row]) {
    println!(
        "\n{:<44} {:>12} {:>12} {:<42} {:>7}  {:<10} target",
        "scenario", "ours", "baseline", "baseline is", "ratio", "unit"
    );
    println!("{}", "-".repeat(150));
    for r in rows {
        println!(
            "{:<44} {:>12.2} {:>12.2} {:<42} {:>7.2}  {:<10} {}",
            r.scenario, r.ours, r.baseline, r.baseline_name, r.ratio, r.unit, r.target
        );
    }
    println!("(ratio > 1: ours is better than the baseline; for times and sizes the ratio is baseline / ours)");
}

pub fn prefix(name: &str) -> String {
    format!("bench-{name}-{}", &Uuid::new_v4().simple().to_string()[..8])
}

pub fn kafka_log(env: &Env, prefix: &str, partitions: u32) -> LogConfig {
    angzarr_coordinators::config::parse_log(&format!(
        "type: kafka\nbootstrap_servers: '{}'\ntopic_prefix: '{prefix}'\npartitions: {partitions}\n",
        env.kafka
    ))
    .expect("kafka log config")
}

/// The example platform in this process: player handler, coordinator, gateway.
pub struct Platform {
    pub running: Running,
    pub channel: Channel,
    _handler: angzarr_client::ServerHandle,
}

impl Platform {
    pub async fn start(log: LogConfig, snapshot_every: u32) -> anyhow::Result<Platform> {
        Self::start_tuned(log, snapshot_every, |_| {}).await
    }

    /// As [`Platform::start`], with `tune` applied to the configuration.
    pub async fn start_tuned(
        log: LogConfig,
        snapshot_every: u32,
        tune: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Platform> {
        let handler = poker::server().spawn("127.0.0.1:0".parse()?).await?;
        let gateway = GatewayConfig {
            listen: "127.0.0.1:0".parse()?,
            decision_timeout: Duration::from_secs(120),
            ..Default::default()
        };
        let mut config = Config::new(
            log,
            gateway,
            BTreeMap::from([(
                "player".to_string(),
                DomainConfig::served_by(format!("http://{}", handler.addr), snapshot_every),
            )]),
        );
        tune(&mut config);
        let log = runtime::open_log(&config).await?;
        let running = runtime::start(&config, log, Roles::ALL, Shutdown::new()).await?;
        let channel = Channel::from_shared(format!("http://{}", running.grpc_addr.unwrap()))?.connect().await?;
        Ok(Platform { running, channel, _handler: handler })
    }

    pub fn client(&self) -> CommandHandlerCoordinatorServiceClient<Channel> {
        CommandHandlerCoordinatorServiceClient::new(self.channel.clone())
    }
}

pub fn request(root: Uuid, seq: u32, cmd: prost_types::Any, mode: SyncMode) -> CommandRequest {
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

pub fn register() -> prost_types::Any {
    pack(&RegisterPlayer { display_name: "Bench".into(), email: "bench@example.com".into(), ..Default::default() })
}

pub fn deposit() -> prost_types::Any {
    pack(&DepositFunds { amount: Some(Currency { amount: 1, currency_code: "USD".into() }) })
}

/// Encoded size of one deposit command book: the payload the figures are for.
pub fn command_bytes() -> usize {
    request(Uuid::new_v4(), 1, deposit(), SyncMode::Decision).command.unwrap().encoded_len()
}

/// Registers `n` players (concurrently), returns their roots.
pub async fn register_players(p: &Platform, n: usize) -> anyhow::Result<Vec<Uuid>> {
    let roots: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
    let mut tasks = Vec::new();
    for chunk in roots.chunks(n.div_ceil(32).max(1)) {
        let (mut c, chunk) = (p.client(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            for r in chunk {
                c.handle_command(request(r, 0, register(), SyncMode::Decision)).await?;
            }
            Ok::<_, tonic::Status>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(roots)
}

/// `n` deposits spread over `roots` by `clients` concurrent clients, each
/// owning a slice of the roots so sequences stay right; returns the elapsed time.
pub async fn deposits(
    p: &Platform,
    roots: &[Uuid],
    n: usize,
    clients: usize,
    mode: SyncMode,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let per_client = roots.len().div_ceil(clients);
    let mut tasks = Vec::new();
    for (i, chunk) in roots.chunks(per_client).enumerate() {
        let share = n / clients + usize::from(i < n % clients);
        let (mut c, chunk) = (p.client(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut next: Vec<u32> = vec![1; chunk.len()];
            for k in 0..share {
                let j = k % chunk.len();
                c.handle_command(request(chunk[j], next[j], deposit(), mode)).await?;
                next[j] += 1;
            }
            Ok::<_, tonic::Status>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(started.elapsed())
}

/// Median of samples.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Spread (min..max) as text.
pub fn spread(v: &[f64]) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{min:.0}..{max:.0}")
}
