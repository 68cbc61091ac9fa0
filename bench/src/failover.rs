//! Failover: time from `kill -9` of a worker to the first accepted command
//! on every partition, and from `SIGTERM` (graceful hand-off) to the same —
//! beside the session timeout, the floor for noticing a dead member.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use angzarr_coordinators::Shutdown;
use angzarr_coordinators::config::Config;
use angzarr_coordinators::runtime::{self, Roles};
use angzarr_proto::angzarr::SyncMode;
use angzarr_proto::angzarr::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::common::{self, Env, Row};

const PARTITIONS: u32 = 6;
const SESSION_MS: u64 = 3000;

fn worker(env: &Env, config: &std::path::Path, log: &std::path::Path) -> anyhow::Result<Child> {
    Ok(Command::new(&env.angzarr_bin)
        .args(["coordinator", "command-handler", "--config"])
        .arg(config)
        .env("RUST_LOG", "info,librdkafka=warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()?)
}

fn root_in(p: u32) -> Uuid {
    std::iter::repeat_with(Uuid::new_v4)
        .find(|r| angzarr_topology::partition_for(r.hyphenated().to_string().as_bytes(), PARTITIONS) == p)
        .unwrap()
}

/// Time until a fresh command is accepted on every partition.
async fn all_accept(channel: &Channel) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut probes = Vec::new();
    for p in 0..PARTITIONS {
        let mut c = CommandHandlerCoordinatorServiceClient::new(channel.clone());
        probes.push(tokio::spawn(async move {
            c.handle_command(common::request(root_in(p), 0, common::register(), SyncMode::Decision))
                .await
                .map(|_| started.elapsed())
        }));
    }
    let mut worst = Duration::ZERO;
    for p in probes {
        worst = worst.max(p.await??);
    }
    Ok(worst)
}

fn restored(log: &std::path::Path) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().matches("kafka partition restored").count()
}

async fn wait_restored(logs: &[&std::path::Path]) {
    for _ in 0..300 {
        if logs.iter().all(|l| restored(l) > 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn run(env: &Env) -> anyhow::Result<Vec<Row>> {
    let dir = tempfile::tempdir()?;
    let handler = poker::server().spawn("127.0.0.1:0".parse()?).await?;
    let prefix = common::prefix("failover");
    let yaml = format!(
        "log: {{type: kafka, bootstrap_servers: '{}', topic_prefix: '{prefix}', partitions: {PARTITIONS}, session_timeout: {SESSION_MS}ms}}\n\
         gateway: {{listen: '127.0.0.1:0', decision_timeout: 60s}}\n\
         domains: {{player: {{handler: 'http://{}'}}}}\n",
        env.kafka, handler.addr
    );
    let path = dir.path().join("angzarr.yaml");
    std::fs::write(&path, &yaml)?;
    let config = Config::parse(&yaml)?;
    let log = runtime::open_log(&config).await?;
    let gateway = runtime::start(
        &config,
        log,
        Roles { gateway: true, command_handler: false, downstream: false },
        Shutdown::new(),
    )
    .await?;
    let channel = Channel::from_shared(format!("http://{}", gateway.grpc_addr.unwrap()))?.connect().await?;

    let runs = env.n(1, 3);
    let (mut kills, mut handoffs) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let (la, lb) = (dir.path().join(format!("a{run}.log")), dir.path().join(format!("b{run}.log")));
        let mut a = worker(env, &path, &la)?;
        let mut b = worker(env, &path, &lb)?;
        wait_restored(&[&la, &lb]).await;
        all_accept(&channel).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        a.kill()?;
        let _ = a.wait();
        kills.push(all_accept(&channel).await?.as_secs_f64());

        let lc = dir.path().join(format!("c{run}.log"));
        let mut c = worker(env, &path, &lc)?;
        wait_restored(&[&lc]).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let started = Instant::now();
        unsafe {
            libc::kill(b.id() as i32, libc::SIGTERM);
        }
        let _ = b.wait();
        let stopped = started.elapsed();
        let handoff = all_accept(&channel).await? + stopped;
        handoffs.push(handoff.as_secs_f64());
        let _ = c.kill();
        let _ = c.wait();
    }
    gateway.stop().await?;
    eprintln!("kill -9 runs {:?} s, graceful hand-off runs {:?} s", kills, handoffs);
    let session = SESSION_MS as f64 / 1000.0;
    Ok(vec![
        Row::lower(
            "failover after kill -9",
            "s",
            common::median(kills),
            session,
            "session.timeout.ms (detection floor)",
            "informational",
        ),
        Row::lower(
            "graceful hand-off (SIGTERM)",
            "s",
            common::median(handoffs),
            session,
            "session.timeout.ms",
            "<= 1 s",
        ),
    ])
}
