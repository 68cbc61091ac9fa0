//! Memory: peak RSS of a worker process holding A live aggregates (restored
//! from snapshots), per 100k aggregates — beside the same worker with none.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{self, Env, Row};
use crate::restore;

fn peak_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Peak RSS (KiB) of a worker once it restored `prefix`'s single partition.
async fn worker_peak(env: &Env, prefix: &str) -> anyhow::Result<u64> {
    let dir = tempfile::tempdir()?;
    let handler = poker::server().spawn("127.0.0.1:0".parse()?).await?;
    let yaml = config_yaml(env, prefix, &format!("http://{}", handler.addr), "");
    let mut child = spawn_worker(env, dir.path(), &yaml)?;
    let log = dir.path().join("worker.log");
    wait_restored(&log).await;
    let peak = peak_kib(child.id()).unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    Ok(peak)
}

fn config_yaml(env: &Env, prefix: &str, handler: &str, extra: &str) -> String {
    format!(
        "log: {{type: kafka, bootstrap_servers: '{}', topic_prefix: '{prefix}', partitions: 1}}\n\
         gateway: {{listen: '127.0.0.1:0', decision_timeout: 120s}}\n\
         domains: {{player: {{handler: '{handler}'}}}}\n{extra}",
        env.kafka
    )
}

fn spawn_worker(env: &Env, dir: &std::path::Path, yaml: &str) -> anyhow::Result<std::process::Child> {
    let path = dir.join("angzarr.yaml");
    std::fs::write(&path, yaml)?;
    let log = dir.join("worker.log");
    Ok(Command::new(&env.angzarr_bin)
        .args(["coordinator", "command-handler", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info,librdkafka=warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()?)
}

async fn wait_restored(log: &std::path::Path) {
    for _ in 0..3000 {
        if std::fs::read_to_string(log).unwrap_or_default().contains("partition restored") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// A worker restores `roots` aggregates of one partition with at most
/// `cap` in memory, then decides `commands` deposits to random ones through
/// a gateway: (peak RSS, RSS after serving, MiB; commands accepted).
async fn served_under_cap(
    env: &Env,
    prefix: &str,
    roots: &[uuid::Uuid],
    cap: Option<usize>,
    commands: usize,
) -> anyhow::Result<(f64, f64, usize)> {
    use angzarr_coordinators::runtime::{self, Roles};
    let dir = tempfile::tempdir()?;
    let handler = poker::server().spawn("127.0.0.1:0".parse()?).await?;
    let extra = cap.map_or(String::new(), |c| {
        format!("command_handler: {{max_cached_aggregates: {c}, state_dir: '{}'}}\n", dir.path().display())
    });
    let yaml = config_yaml(env, prefix, &format!("http://{}", handler.addr), &extra);
    let mut child = spawn_worker(env, dir.path(), &yaml)?;
    wait_restored(&dir.path().join("worker.log")).await;
    let config = angzarr_coordinators::config::Config::parse(&yaml)?;
    let log = runtime::open_log(&config).await?;
    let gateway = runtime::start(
        &config,
        log,
        Roles { gateway: true, command_handler: false, downstream: false },
        angzarr_coordinators::Shutdown::new(),
    )
    .await?;
    let channel =
        tonic::transport::Channel::from_shared(format!("http://{}", gateway.grpc_addr.unwrap()))?.connect().await?;
    let mut accepted = 0;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let mut client =
            angzarr_proto::angzarr::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient::new(
                channel.clone(),
            );
        let picks: Vec<uuid::Uuid> = (0..commands / 8).map(|i| roots[(i * 7919 + t * 104_729) % roots.len()]).collect();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for root in picks {
                // The seeded history puts every aggregate at sequence 3.
                let req = common::request(root, 3, common::deposit(), angzarr_proto::angzarr::SyncMode::Decision);
                match client.handle_command(req).await {
                    Ok(_) => ok += 1,
                    // Picked twice: its sequence moved on; that is still served.
                    Err(s) if s.message().contains("next sequence is") => ok += 1,
                    Err(s) => eprintln!("command failed: {s}"),
                }
            }
            ok
        }));
    }
    for t in tasks {
        accepted += t.await?;
    }
    let (peak, now) = (peak_kib(child.id()).unwrap_or(0), rss_kib(child.id()).unwrap_or(0));
    let _ = child.kill();
    let _ = child.wait();
    gateway.stop().await?;
    Ok((peak as f64 / 1024.0, now as f64 / 1024.0, accepted))
}

pub async fn run(env: &Env) -> anyhow::Result<Vec<Row>> {
    let aggregates = env.n(20_000, 100_000);
    let empty = common::prefix("mem0");
    restore::seed(env, &empty, 1, 1).await?;
    let full = common::prefix("mem");
    restore::seed(env, &full, aggregates, 2).await?;
    let base = worker_peak(env, &empty).await? as f64 / 1024.0;
    let loaded = worker_peak(env, &full).await? as f64 / 1024.0;
    let per_100k = (loaded - base) * 100_000.0 / aggregates as f64;
    eprintln!(
        "worker peak RSS: {base:.1} MiB empty, {loaded:.1} MiB with {aggregates} aggregates → {per_100k:.1} MiB per 100k"
    );
    let mut rows = vec![Row::lower(
        "worker peak RSS per 100k live aggregates",
        "MiB",
        per_100k,
        base,
        "peak RSS of the same worker with none",
        "≤ 50",
    )];

    // A big partition served with a bounded cache, beside the same partition
    // with every aggregate in memory.
    let (big, cap, commands) = (env.n(100_000, 1_000_000), env.n(10_000, 100_000), env.n(2_000, 10_000));
    let prefix = common::prefix("memcap");
    let roots = restore::seed(env, &prefix, big, 2).await?;
    let (cap_peak, cap_rss, cap_ok) = served_under_cap(env, &prefix, &roots, Some(cap), commands).await?;
    let (all_peak, all_rss, all_ok) = served_under_cap(env, &prefix, &roots, None, commands).await?;
    eprintln!(
        "{big} aggregates, max_cached_aggregates {cap}: peak {cap_peak:.0} MiB, {cap_rss:.0} MiB after {cap_ok}/{commands} commands; \
         uncapped: peak {all_peak:.0} MiB, {all_rss:.0} MiB after {all_ok}/{commands}"
    );
    anyhow::ensure!(cap_ok == commands / 8 * 8, "only {cap_ok} of the commands were served under the cap");
    rows.push(Row::lower(
        &format!("RSS serving {big} aggregates, max_cached_aggregates {cap}"),
        "MiB",
        cap_rss,
        all_rss,
        "the same partition, every aggregate in memory",
        "informational",
    ));
    rows.push(Row::lower(
        &format!("peak RSS restoring {big} aggregates, max_cached_aggregates {cap}"),
        "MiB",
        cap_peak,
        all_peak,
        "the same partition, every aggregate in memory",
        "informational",
    ));
    Ok(rows)
}
