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

/// Peak RSS (KiB) of a worker once it restored `prefix`'s single partition.
async fn worker_peak(env: &Env, prefix: &str) -> anyhow::Result<u64> {
    let dir = tempfile::tempdir()?;
    let handler = poker::server().spawn("127.0.0.1:0".parse()?).await?;
    let yaml = format!(
        "log: {{type: kafka, bootstrap_servers: '{}', topic_prefix: '{prefix}', partitions: 1}}\n\
         domains: {{player: {{handler: 'http://{}'}}}}\n",
        env.kafka, handler.addr
    );
    let path = dir.path().join("angzarr.yaml");
    std::fs::write(&path, yaml)?;
    let log = dir.path().join("worker.log");
    let mut child = Command::new(&env.angzarr_bin)
        .args(["coordinator", "command-handler", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info,librdkafka=warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()?;
    for _ in 0..1200 {
        if std::fs::read_to_string(&log).unwrap_or_default().contains("partition restored") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let peak = peak_kib(child.id()).unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    Ok(peak)
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
    Ok(vec![Row::lower(
        "worker peak RSS per 100k live aggregates",
        "MiB",
        per_100k,
        base,
        "peak RSS of the same worker with none",
        "informational",
    )])
}
