//! `angzarr dev` and `angzarr standalone`: a whole runtime in one process.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use angzarr_coordinators::Shutdown;
use angzarr_coordinators::config::{Config, DomainConfig, GatewayConfig, LogConfig};
use angzarr_coordinators::runtime::{self, Roles};
use anyhow::Context;

/// Options of `angzarr dev`.
#[derive(clap::Args)]
pub struct DevArgs {
    /// Gateway gRPC address.
    #[arg(long, default_value = "127.0.0.1:1313")]
    listen: SocketAddr,
    /// Where the embedded log keeps its file.
    #[arg(long, default_value = "./data")]
    data: PathBuf,
    /// Use your own business logic for a domain: `--handler player=http://127.0.0.1:50051` (repeatable).
    #[arg(long = "handler", value_name = "DOMAIN=URL", value_parser = parse_handler)]
    handlers: Vec<(String, String)>,
    /// Snapshot every N events.
    #[arg(long, default_value_t = 100)]
    snapshot_every: u32,
    /// Run on a Kafka broker instead of the embedded log (creates the topics).
    /// A second `angzarr dev --kafka` with another `--listen` joins the same
    /// consumer group and takes half the partitions.
    #[arg(long, value_name = "HOST:PORT")]
    kafka: Option<String>,
    /// Topic prefix on Kafka.
    #[arg(long, default_value = "angzarr")]
    topic_prefix: String,
    /// Partitions of topics created on Kafka (and of the embedded log).
    #[arg(long, default_value_t = 8)]
    partitions: u32,
}

fn parse_handler(s: &str) -> Result<(String, String), String> {
    let (d, u) = s.split_once('=').ok_or_else(|| format!("`{s}`: expected DOMAIN=URL"))?;
    if !u.starts_with("http://") && !u.starts_with("https://") {
        return Err(format!("`{u}`: the handler URL must start with http:// or https://"));
    }
    Ok((d.to_string(), u.to_string()))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn terminated() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    // The example's business logic runs in this process, on a loopback port.
    let builtin = poker::server().spawn("127.0.0.1:0".parse()?).await.context("starting the example handlers")?;
    let mut domains = BTreeMap::new();
    domains.insert(
        poker::player::DOMAIN.to_string(),
        DomainConfig { handler: format!("http://{}", builtin.addr), snapshot_every: args.snapshot_every },
    );
    for (domain, url) in &args.handlers {
        domains.insert(domain.clone(), DomainConfig { handler: url.clone(), snapshot_every: args.snapshot_every });
    }
    let log = match &args.kafka {
        None => LogConfig::Embedded {
            path: args.data.join("events.db"),
            partitions: args.partitions,
            durability: Default::default(),
        },
        Some(bootstrap) => {
            let yaml = format!(
                "type: kafka\nbootstrap_servers: '{bootstrap}'\ntopic_prefix: '{}'\npartitions: {}\n",
                args.topic_prefix, args.partitions
            );
            serde_yaml_ng(&yaml)?
        }
    };
    let config = Config { log, gateway: GatewayConfig { listen: args.listen, ..Default::default() }, domains };
    let result = serve(&config).await;
    builtin.shutdown().await;
    result
}

/// A Kafka log section with its defaults, through the same parser as files.
fn serde_yaml_ng(yaml: &str) -> anyhow::Result<LogConfig> {
    Ok(angzarr_coordinators::config::parse_log(yaml)?)
}

pub async fn standalone(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    serve(&config).await
}

/// `angzarr coordinator ROLE --config FILE`: one role as its own process.
pub async fn coordinator(role: Roles, path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let log = runtime::open_log(&config).await?;
    let shutdown = Shutdown::new();
    let running = runtime::start(&config, log, role, shutdown.clone()).await?;
    if let Some(addr) = running.grpc_addr {
        eprintln!("gateway listening on grpc://{addr}");
    }
    terminated().await;
    eprintln!("stopping…");
    running.stop().await?;
    Ok(())
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let log = runtime::open_log(config).await?;
    let shutdown = Shutdown::new();
    let running = runtime::start(config, log, Roles::ALL, shutdown.clone()).await?;
    let addr = running.grpc_addr.expect("the gateway runs");
    let where_ = match &config.log {
        LogConfig::Embedded { path, .. } => format!("embedded log at {}", path.display()),
        LogConfig::Kafka(k) => format!("kafka at {}", k.bootstrap_servers),
    };
    let handlers: Vec<String> = config.domains.iter().map(|(d, c)| format!("{d} → {}", c.handler)).collect();
    eprintln!(
        "angzarr is up: gateway grpc://{addr}, {where_}\n  domains: {}\n\nTry:\n  angzarr send player RegisterPlayer --root 5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11 --json '{{\"displayName\":\"Ada\",\"email\":\"ada@example.com\"}}' --gateway http://{addr}\n  angzarr send player DepositFunds --root 5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11 --json '{{\"amount\":{{\"amount\":\"100\",\"currencyCode\":\"USD\"}}}}' --gateway http://{addr}\n  angzarr book player --root 5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11 --gateway http://{addr}\n\nCtrl-C stops.",
        handlers.join(", ")
    );
    tokio::select! {
        _ = terminated() => eprintln!("stopping…"),
        _ = shutdown.wait() => {}
    }
    running.stop().await?;
    Ok(())
}
