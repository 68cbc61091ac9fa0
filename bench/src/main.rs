//! `angzarr-bench`: every scenario prints our figure beside a baseline
//! measured in the same run, on the same machine, against the same broker.
//! Run through `bench/run` (which builds in release mode and starts Kafka
//! and PostgreSQL); `--quick` uses small counts.

mod common;
mod embedded;
mod failover;
mod kafka_throughput;
mod latency;
mod memory;
mod replay;
mod restore;

use clap::Parser;
use common::{Env, Row};

#[derive(Parser)]
#[command(about = "angzarr benchmarks: each figure beside its baseline")]
struct Args {
    /// Small counts: every scenario in a few minutes.
    #[arg(long)]
    quick: bool,
    /// Run only scenarios whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// Where to write the results as JSON.
    #[arg(long, default_value = "bench/results.json")]
    out: std::path::PathBuf,
    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BOOTSTRAP")]
    kafka: String,
    /// PostgreSQL URL for the event-store baseline.
    #[arg(long, env = "PG_URL")]
    pg: Option<String>,
    /// The Kafka Streams baseline jar.
    #[arg(long, env = "KSTREAMS_JAR")]
    kstreams_jar: Option<std::path::PathBuf>,
    /// The release `angzarr` binary (worker processes for failover and memory).
    #[arg(long, env = "ANGZARR_BIN")]
    angzarr_bin: std::path::PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,rdkafka::client=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let env = Env {
        kafka: args.kafka,
        pg: args.pg,
        kstreams_jar: args.kstreams_jar,
        angzarr_bin: args.angzarr_bin,
        quick: args.quick,
    };
    let wanted = |name: &str| args.only.as_deref().is_none_or(|o| name.contains(o));
    let mut rows: Vec<Row> = Vec::new();
    macro_rules! scenario {
        ($name:expr, $f:expr) => {
            if wanted($name) {
                eprintln!("\n== {} ==", $name);
                match $f.await {
                    Ok(mut r) => rows.append(&mut r),
                    Err(e) => eprintln!("scenario {} failed: {e:#}", $name),
                }
            }
        };
    }
    scenario!("kafka-throughput", kafka_throughput::run(&env));
    scenario!("latency", latency::run(&env));
    scenario!("embedded-throughput", embedded::run(&env));
    scenario!("restore", restore::run(&env));
    scenario!("failover", failover::run(&env));
    scenario!("projector-replay", replay::run(&env));
    scenario!("memory", memory::run(&env));

    common::print_table(&rows);
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&rows)?)?;
    eprintln!("results written to {}", args.out.display());
    Ok(())
}
