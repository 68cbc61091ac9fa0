//! Projector replay from earliest: events/s through the coordinator with a
//! no-op projector and with the example's SQLite read-model projector —
//! beside a bare `read_committed` consumer reading the same partition.

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

async fn project(env: &Env, prefix: &str, projector: angzarr_client::Projector, total: u64) -> anyhow::Result<f64> {
    let name = projector.name().to_string();
    let server = angzarr_client::Server::new().projector(projector).spawn("127.0.0.1:0".parse()?).await?;
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
    let noop = project(env, &prefix, angzarr_client::Projector::new("noop"), total).await?;
    let dir = tempfile::tempdir()?;
    let model = poker::bankroll::ReadModel::open(&dir.path().join("bankroll.db"))?;
    let bankroll = project(env, &prefix, poker::bankroll::projector(model), total).await?;
    eprintln!(
        "{total} events: bare consumer {bare:.0}/s, no-op projector {noop:.0}/s, bankroll projector {bankroll:.0}/s"
    );
    Ok(vec![
        Row::higher(
            "projector replay, no-op projector",
            "events/s",
            noop,
            bare,
            "bare read_committed consumer",
            ">= 500k events/s",
        ),
        Row::higher(
            "projector replay, bankroll (SQLite)",
            "events/s",
            bankroll,
            bare,
            "bare read_committed consumer",
            ">= 500k events/s",
        ),
    ])
}
