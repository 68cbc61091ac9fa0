//! `angzarr dev`: the poker example and a whole runtime in one process
//! (built with the `example` feature, on by default).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use angzarr_coordinators::config::{
    Config, DomainConfig, GatewayConfig, LogConfig, ProcessManagerConfig, ProjectorConfig, SagaConfig,
};
use anyhow::Context;

/// Options of `angzarr dev`.
#[derive(clap::Args)]
pub struct DevArgs {
    /// Gateway gRPC address [default: 127.0.0.1:1313; with `--kafka`, a
    /// free port when that one is taken].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Gateway HTTP address: the console (`/ui`), Server-Sent Events and
    /// REST/JSON [default: 127.0.0.1:1311; with `--kafka`, a free port when
    /// that one is taken].
    #[arg(long)]
    http_listen: Option<SocketAddr>,
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
    /// A second `angzarr dev --kafka` (it finds free ports by itself) joins
    /// the same consumer group and takes half the partitions.
    #[arg(long, value_name = "HOST:PORT")]
    kafka: Option<String>,
    /// Topic prefix on Kafka.
    #[arg(long, default_value = "angzarr")]
    topic_prefix: String,
    /// Partitions of topics created on Kafka (and of the embedded log).
    #[arg(long, default_value_t = 8)]
    partitions: u32,
    /// Keep the bankroll read model in PostgreSQL (`postgres://user@host:port/db`)
    /// instead of SQLite in the data folder.
    #[arg(long, value_name = "URL")]
    read_model: Option<String>,
}

fn parse_handler(s: &str) -> Result<(String, String), String> {
    let (d, u) = s.split_once('=').ok_or_else(|| format!("`{s}`: expected DOMAIN=URL"))?;
    if !u.starts_with("http://") && !u.starts_with("https://") {
        return Err(format!("`{u}`: the handler URL must start with http:// or https://"));
    }
    Ok((d.to_string(), u.to_string()))
}

/// Where a listener goes: `chosen`, else `default` — or, when that is
/// taken and several `angzarr dev` may share the log (`--kafka`), a free
/// port. A taken address is an error naming the flag that moves it.
fn listen_on(chosen: Option<SocketAddr>, default: &str, flag: &str, may_move: bool) -> anyhow::Result<SocketAddr> {
    let addr = chosen.unwrap_or(default.parse()?);
    match std::net::TcpListener::bind(addr) {
        Ok(_) => Ok(addr),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && chosen.is_none() && may_move => {
            Ok(SocketAddr::new(addr.ip(), 0))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => anyhow::bail!(
            "cannot listen on {addr}: another process uses it (another `angzarr dev`?); \
             pass {flag} with a free address, e.g. {flag} 127.0.0.1:0"
        ),
        Err(e) => anyhow::bail!("cannot listen on {addr}: {e} (set {flag})"),
    }
}

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    // The example's business logic runs in this process, on loopback ports:
    // the player, hand and table aggregates, the bankroll projector (read
    // model in the data folder, or PostgreSQL), the transfer- and
    // hand-settlement sagas, the hand-flow process manager and the player
    // upcaster.
    std::fs::create_dir_all(&args.data).with_context(|| format!("creating {}", args.data.display()))?;
    let read_model = match &args.read_model {
        None => poker::bankroll::ReadModel::open(&args.data.join("bankroll.db")).context("opening the read model")?,
        Some(url) => poker::bankroll::ReadModel::postgres(url, "poker")
            .map_err(|e| anyhow::anyhow!("opening the read model in PostgreSQL: {e}"))?,
    };
    let loopback: SocketAddr = "127.0.0.1:0".parse()?;
    let aggregates = poker::server().spawn(loopback).await.context("starting the example handlers")?;
    let projector =
        angzarr_client::Server::new().projector(poker::bankroll::projector(read_model)).spawn(loopback).await?;
    let saga = angzarr_client::Server::new().saga(poker::settlement::saga()).spawn(loopback).await?;
    let hand_saga = angzarr_client::Server::new().saga(poker::hand_settlement::saga()).spawn(loopback).await?;
    let hand_flow =
        angzarr_client::Server::new().process_manager(poker::hand_flow::process_manager()).spawn(loopback).await?;
    let upcaster = angzarr_client::Server::new().upcaster(poker::upcaster::upcaster()).spawn(loopback).await?;

    let mut domains = BTreeMap::new();
    for domain in [poker::player::DOMAIN, poker::hand::DOMAIN, poker::table::DOMAIN] {
        domains.insert(
            domain.to_string(),
            DomainConfig::served_by(format!("http://{}", aggregates.addr), args.snapshot_every),
        );
    }
    if let Some(player) = domains.get_mut(poker::player::DOMAIN) {
        player.upcaster = Some(format!("http://{}", upcaster.addr));
    }
    for (domain, url) in &args.handlers {
        domains.insert(domain.clone(), DomainConfig::served_by(url.clone(), args.snapshot_every));
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
            angzarr_coordinators::config::parse_log(&yaml)?
        }
    };
    let shared = args.kafka.is_some();
    let gateway = GatewayConfig {
        listen: listen_on(args.listen, "127.0.0.1:1313", "--listen", shared)?,
        http_listen: Some(listen_on(args.http_listen, "127.0.0.1:1311", "--http-listen", shared)?),
        console_commands: true,
        ..Default::default()
    };
    let mut config = Config::new(log, gateway, domains);
    config.projectors.insert(
        poker::bankroll::NAME.into(),
        ProjectorConfig {
            handler: format!("http://{}", projector.addr),
            domains: vec!["player".into()],
            sync: true,
            on_poison: Default::default(),
        },
    );
    config.sagas.insert(
        poker::settlement::NAME.into(),
        SagaConfig {
            handler: format!("http://{}", saga.addr),
            domains: vec!["player".into()],
            on_poison: Default::default(),
        },
    );
    config.sagas.insert(
        poker::hand_settlement::NAME.into(),
        SagaConfig {
            handler: format!("http://{}", hand_saga.addr),
            domains: vec!["hand".into()],
            on_poison: Default::default(),
        },
    );
    config.process_managers.insert(
        poker::hand_flow::NAME.into(),
        ProcessManagerConfig {
            handler: format!("http://{}", hand_flow.addr),
            domains: vec![poker::table::DOMAIN.into(), poker::hand::DOMAIN.into()],
            snapshot_every: args.snapshot_every,
            on_poison: Default::default(),
        },
    );
    let result = crate::serve::serve(&config).await;
    for server in [aggregates, projector, saga, hand_saga, hand_flow, upcaster] {
        server.shutdown().await;
    }
    result
}
