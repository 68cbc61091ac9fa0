//! Projector replay from earliest: events/s through the coordinator with a
//! no-op projector (batch contract, and upstream-style unary `Handle` only)
//! and with the example's bankroll read model (SQLite, PostgreSQL) — beside
//! a bare `read_committed` consumer reading the same partition.

use std::sync::Arc;
use std::time::{Duration, Instant};

use angzarr_connectors::kafka::{KafkaConfig, KafkaLog};
use angzarr_coordinators::Shutdown;
use angzarr_coordinators::event_consumer::EventWorker;
use angzarr_coordinators::hub::{Hub, Signal};
use angzarr_coordinators::projector::ProjectorReactor;
use angzarr_topology::Topics;

use crate::common::{self, Env, Row};
use crate::restore;

async fn project(
    env: &Env,
    prefix: &str,
    projector: angzarr_client::Projector,
    unary_only: bool,
    total: u64,
) -> anyhow::Result<f64> {
    project_as(env, prefix, projector.name().to_string(), projector, unary_only, total).await
}

/// As [`project`], with the coordinator's own name for it (its consumer
/// group): one projector measured twice needs two groups.
async fn project_as(
    env: &Env,
    prefix: &str,
    name: String,
    projector: angzarr_client::Projector,
    unary_only: bool,
    total: u64,
) -> anyhow::Result<f64> {
    let server = angzarr_client::Server::new().projector(projector);
    let server = if unary_only { server.unary_only() } else { server };
    let server = server.spawn("127.0.0.1:0".parse()?).await?;
    let mut cfg = KafkaConfig::new(env.kafka.clone());
    cfg.topics = Topics::new(prefix.to_string());
    cfg.partitions = 1;
    let log = KafkaLog::connect(cfg, vec!["player".into()], Duration::from_secs(30)).await?;
    let hub = Hub::default();
    let mut signals = hub.subscribe();
    let reactor = ProjectorReactor::new(&name, &format!("http://{}", server.addr), vec!["player".into()], hub)?;
    let shutdown = Shutdown::new();
    let worker = tokio::spawn(EventWorker::new(Arc::new(log), Arc::new(reactor)).run(shutdown.clone()));
    let mut done = 0u64;
    let mut started = None;
    while done < total {
        match tokio::time::timeout(Duration::from_secs(60), signals.recv()).await {
            Ok(Ok(s)) => {
                if let Signal::Projected { events, .. } = s.as_ref() {
                    started.get_or_insert_with(Instant::now);
                    done += *events as u64;
                }
            }
            Ok(Err(_)) => {}
            Err(_) => anyhow::bail!("projected only {done} of {total}"),
        }
    }
    // The clock starts at the first projection: group join and fencing are not replay.
    let secs = started.map_or(f64::NAN, |s| s.elapsed().as_secs_f64());
    shutdown.trigger();
    worker.await??;
    server.shutdown().await;
    Ok(done as f64 / secs)
}

/// Reads `topic`'s partition 0 from the beginning with `read_committed` and
/// counts its records.
fn count_committed(env: &Env, topic: &str) -> anyhow::Result<u64> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &env.kafka)
        .set("group.id", "bench-unused")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "10")
        .create()?;
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning)?;
    c.assign(&tpl)?;
    let (mut n, deadline) = (0u64, Instant::now() + Duration::from_secs(120));
    loop {
        match c.poll(Duration::from_millis(500)) {
            Some(Ok(_)) => n += 1,
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => return Ok(n),
            Some(Err(e)) => anyhow::bail!("counting {topic}: {e}"),
            None if Instant::now() > deadline => anyhow::bail!("counting {topic} stalled at {n}"),
            None => {}
        }
    }
}

/// A saga turning every event into one command (exactly once: the commands
/// and the consumed offset are one transaction): events/s from its first
/// reaction until its committed offset reached the end, then the commands
/// topic is counted.
async fn saga(env: &Env, prefix: &str, total: u64) -> anyhow::Result<f64> {
    use angzarr_connectors::Log as _;
    use angzarr_connectors::log::Stream;
    use angzarr_proto::examples::{DepositFunds, FundsDeposited};
    let echo = angzarr_client::Saga::new("echo").on(|e: &FundsDeposited, cover, _| {
        let root = cover.root.as_ref().and_then(|r| uuid::Uuid::try_from(r).ok()).unwrap_or_default();
        vec![angzarr_client::command("player", root, &DepositFunds { amount: e.amount.clone() })]
    });
    let server = angzarr_client::Server::new().saga(echo).spawn("127.0.0.1:0".parse()?).await?;
    let mut cfg = KafkaConfig::new(env.kafka.clone());
    cfg.topics = Topics::new(prefix.to_string());
    cfg.partitions = 1;
    let log = Arc::new(KafkaLog::connect(cfg, vec!["player".into()], Duration::from_secs(30)).await?);
    let hub = Hub::default();
    let mut signals = hub.subscribe();
    let reactor = angzarr_coordinators::saga::SagaReactor::new(
        "echo",
        &format!("http://{}", server.addr),
        vec!["player".into()],
        vec!["player".into()],
        hub,
    )?;
    let shutdown = Shutdown::new();
    let worker = tokio::spawn(EventWorker::new(log.clone(), Arc::new(reactor)).run(shutdown.clone()));
    let end = log.lag("saga.echo", &["player".into()], Stream::Events).await?.iter().map(|l| l.end).sum::<i64>();
    let started = loop {
        match tokio::time::timeout(Duration::from_secs(60), signals.recv()).await {
            Ok(Ok(s)) if matches!(s.as_ref(), Signal::SagaReacted { .. }) => break Instant::now(),
            Ok(_) => {}
            Err(_) => anyhow::bail!("the saga never reacted"),
        }
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let lag = log.lag("saga.echo", &["player".into()], Stream::Events).await?;
        if lag.iter().all(|l| l.drained || l.committed.unwrap_or(0) >= end) {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the saga did not reach the end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    shutdown.trigger();
    worker.await??;
    server.shutdown().await;
    let commands = tokio::task::block_in_place(|| count_committed(env, &format!("{prefix}.player.commands")))?;
    anyhow::ensure!(commands == total, "the saga wrote {commands} commands for {total} events (exactly once: {total})");
    Ok(total as f64 / secs)
}

pub async fn run(env: &Env) -> anyhow::Result<Vec<Row>> {
    let aggregates = env.n(5_000, 20_000);
    let prefix = common::prefix("replay");
    restore::seed(env, &prefix, aggregates, 10).await?;
    let total = (aggregates * 11) as u64;
    eprintln!(
        "{total} events over {aggregates} aggregates (one run of consecutive events per aggregate is rare: the seed interleaves them)"
    );
    let (secs, n) = tokio::task::block_in_place(|| restore::full_replay(env, &prefix))?;
    let bare = n as f64 / secs;
    let noop = project(env, &prefix, angzarr_client::Projector::new("noop"), false, total).await?;
    let unary = project(env, &prefix, angzarr_client::Projector::new("noop-unary"), true, total).await?;
    let dir = tempfile::tempdir()?;
    let model = poker::bankroll::ReadModel::open(&dir.path().join("bankroll.db"))?;
    let bankroll = project(env, &prefix, poker::bankroll::projector(model), false, total).await?;
    let postgres = match &env.pg {
        Some(url) => {
            let schema = format!("bench_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
            let model = poker::bankroll::ReadModel::postgres(url, &schema).map_err(anyhow::Error::msg)?;
            let projector = poker::bankroll::projector(model);
            Some(project_as(env, &prefix, "bankroll-pg".into(), projector, false, total).await?)
        }
        None => None,
    };
    let saga = saga(env, &prefix, total).await?;
    eprintln!(
        "{total} events: bare consumer {bare:.0}/s, saga {saga:.0}/s (one command per event, counted exactly once), \
         no-op projector {noop:.0}/s (unary {unary:.0}/s), \
         bankroll projector {bankroll:.0}/s on SQLite, {} on PostgreSQL",
        postgres.map_or("not run (no PG_URL)".to_string(), |p| format!("{p:.0}/s"))
    );
    let mut rows = vec![
        Row::higher(
            "projector replay, no-op projector",
            "events/s",
            noop,
            bare,
            "bare read_committed consumer",
            ">= 200k events/s and >= 0.5x the bare consumer",
        ),
        Row::higher(
            "projector replay, no-op, unary Handle only (upstream-style)",
            "events/s",
            unary,
            bare,
            "bare read_committed consumer",
            "reported",
        ),
        Row::higher(
            "projector replay, bankroll (SQLite)",
            "events/s",
            bankroll,
            bare,
            "bare read_committed consumer",
            ">= 50k events/s",
        ),
    ];
    rows.push(Row::higher(
        "saga, one command per event, exactly once (commands counted)",
        "events/s",
        saga,
        bare,
        "bare read_committed consumer",
        "reported",
    ));
    if let Some(pg) = postgres {
        rows.push(Row::higher(
            "projector replay, bankroll (PostgreSQL)",
            "events/s",
            pg,
            bare,
            "bare read_committed consumer",
            "reported",
        ));
    }
    Ok(rows)
}
