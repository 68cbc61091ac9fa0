//! `angzarr replay projector NAME --config FILE --to earliest|<RFC 3339>|<offset>`:
//! rewind a projector's consumer group and rebuild it.
//!
//! The projector's coordinator must be stopped — replay refuses otherwise:
//! on Kafka the broker rejects offsets for a group with live members; the
//! embedded file has a single owner. Replay then runs the projector's
//! coordinator itself until the group's committed offsets reach the ends the
//! partitions had when it started, showing progress (a bar with rate and
//! ETA on a terminal, a plain line otherwise), and exits. `--to <time>`
//! works on both logs: Kafka's offsets-for-times, the embedded log's first
//! event decided at or after it.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use angzarr_connectors::Log;
use angzarr_connectors::embedded::{EmbeddedConfig, EmbeddedLog};
use angzarr_connectors::log::Stream;
use angzarr_coordinators::Shutdown;
use angzarr_coordinators::config::{Config, LogConfig};
use angzarr_coordinators::event_consumer::EventWorker;
use angzarr_coordinators::hub::{Hub, Signal};
use angzarr_coordinators::projector::ProjectorReactor;
use anyhow::{Context, bail};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// Where to rewind to.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// The first event.
    Earliest,
    /// The first event at or after a time (milliseconds since the epoch).
    Time(i64),
    /// An offset, on every partition.
    Offset(i64),
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "earliest" {
            return Ok(Target::Earliest);
        }
        if let Ok(o) = s.parse::<i64>() {
            return if o >= 0 { Ok(Target::Offset(o)) } else { Err("an offset is 0 or more".into()) };
        }
        humantime::parse_rfc3339_weak(s)
            .map(|t| Target::Time(t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)))
            .map_err(|_| format!("`{s}`: use earliest, an RFC 3339 time (2026-11-26T10:00:00Z) or an offset"))
    }
}

/// Rewinds projector `name` of `path`'s config to `to`, then rebuilds it.
pub async fn run(name: &str, path: &Path, to: Target) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let projector = config.projectors.get(name).with_context(|| {
        format!(
            "no projector `{name}` in {} (it has: {:?})",
            path.display(),
            config.projectors.keys().collect::<Vec<_>>()
        )
    })?;
    let group = format!("projector.{name}");
    let domains = projector.domains.clone();
    let (log, total): (Arc<dyn Log>, u64) = match &config.log {
        LogConfig::Embedded { path: file, partitions, durability } => {
            let cfg = EmbeddedConfig { path: file.clone(), partitions: *partitions, durability: *durability };
            let log = EmbeddedLog::open(&cfg, config.log_domains())
                .context("opening the embedded log (is the projector's process still running? stop it first)")?;
            let mut total = 0;
            for d in &domains {
                match to {
                    Target::Earliest => log.reset_group(&group, d, -1).await?,
                    Target::Offset(o) => log.reset_group(&group, d, o - 1).await?,
                    Target::Time(ms) => log.reset_group_to_time(&group, d, ms).await?,
                }
            }
            for lag in log.lag(&group, &domains, Stream::Events).await? {
                total += lag.lag() as u64;
            }
            (Arc::new(log), total)
        }
        LogConfig::Kafka(k) => {
            let total = reset_kafka(k, &group, &domains, &to)?;
            (angzarr_coordinators::runtime::open_log(&config).await?, total)
        }
    };
    eprintln!("rewound `{group}` to {to:?}; rebuilding ({total} events to project)");

    // Done when the group's committed offsets reach the ends captured now
    // (events written later are the running projector's, not the replay's).
    let ends: std::collections::HashMap<(String, u32), i64> = log
        .lag(&group, &domains, Stream::Events)
        .await?
        .into_iter()
        .map(|l| ((l.domain, l.partition), l.end))
        .collect();

    let hub = Hub::default();
    let mut signals = hub.subscribe();
    let reactor = Arc::new(ProjectorReactor::new(name, &projector.handler, domains.clone(), hub.clone())?);
    let shutdown = Shutdown::new();
    let worker = tokio::spawn(EventWorker::new(log.clone(), reactor.clone()).run(shutdown.clone()));
    let started = Instant::now();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} events  {per_sec}  ETA {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut done = 0u64;
    let mut last_log = Instant::now();
    let mut last_progress = started;
    let mut check = tokio::time::interval(Duration::from_millis(250));
    let mut worker = worker;
    loop {
        tokio::select! {
            signal = signals.recv() => match signal {
                Ok(s) => {
                    if let Signal::Projected { events, .. } = s.as_ref() {
                        done += *events as u64;
                        last_progress = Instant::now();
                        if let Some(b) = &bar {
                            b.set_position(done.min(total));
                        } else if last_log.elapsed() > Duration::from_secs(2) {
                            let secs = started.elapsed().as_secs_f64();
                            let rate = done as f64 / secs;
                            let eta = total.saturating_sub(done) as f64 / rate.max(1.0);
                            eprintln!("replay: {done}/{total} events, {rate:.0} events/s, ETA {eta:.0} s");
                            last_log = Instant::now();
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "replay progress signals dropped");
                }
                Err(_) => bail!("the projector's coordinator stopped reporting"),
            },
            ended = &mut worker => {
                ended??;
                bail!("the projector's coordinator stopped before the replay finished");
            }
            _ = check.tick() => {
                let now = log.lag(&group, &domains, Stream::Events).await?;
                let caught_up = now.iter().all(|l| {
                    let end = ends.get(&(l.domain.clone(), l.partition)).copied().unwrap_or(0);
                    l.drained || l.committed.unwrap_or(l.start) >= end
                });
                if caught_up {
                    break;
                }
            }
        }
    }
    if let Some(b) = &bar {
        b.finish();
    }
    shutdown.trigger();
    worker.await??;
    // The rate counts until the last event projected, not the last check.
    let secs = last_progress.duration_since(started).as_secs_f64();
    let path = match reactor.serves_batches() {
        Some(true) => "through ProjectorBatchService.HandleBatch",
        Some(false) => "through unary ProjectorService.Handle",
        None => "no call needed",
    };
    eprintln!(
        "replay of `{name}` done: {done} events in {secs:.2} s ({:.0} events/s, {path})",
        done as f64 / secs.max(1e-9)
    );
    Ok(())
}

/// Commits the group's new position on Kafka; refused while the group has members.
fn reset_kafka(
    k: &angzarr_coordinators::config::KafkaLogConfig,
    group: &str,
    domains: &[String],
    to: &Target,
) -> anyhow::Result<u64> {
    let group_id = format!("{}.{}", k.topic_prefix, group);
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &k.bootstrap_servers).set("group.id", &group_id).set("enable.auto.commit", "false");
    for (key, v) in &k.settings {
        cfg.set(key, v);
    }
    let consumer: BaseConsumer = cfg.create()?;
    let md = consumer.fetch_metadata(None, Duration::from_secs(10))?;
    let mut tpl = TopicPartitionList::new();
    let mut total = 0u64;
    for d in domains {
        let topic = format!("{}.{d}.events", k.topic_prefix);
        let t = md.topics().iter().find(|t| t.name() == topic).with_context(|| format!("no topic {topic}"))?;
        for p in t.partitions() {
            let (low, high) = consumer.fetch_watermarks(&topic, p.id(), Duration::from_secs(10))?;
            let start = match to {
                Target::Earliest => low,
                Target::Offset(o) => (*o).clamp(low, high),
                Target::Time(ms) => {
                    let mut q = TopicPartitionList::new();
                    q.add_partition_offset(&topic, p.id(), Offset::Offset(*ms))?;
                    let found = consumer.offsets_for_times(q, Duration::from_secs(10))?;
                    match found.find_partition(&topic, p.id()).map(|e| e.offset()) {
                        Some(Offset::Offset(o)) => o,
                        _ => high,
                    }
                }
            };
            total += (high - start).max(0) as u64;
            tpl.add_partition_offset(&topic, p.id(), Offset::Offset(start))?;
        }
    }
    consumer.commit(&tpl, CommitMode::Sync).map_err(|e| {
        anyhow::anyhow!("cannot rewind `{group_id}`: {e} — is the projector still running? stop it first")
    })?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn targets_parse() {
        assert_eq!("earliest".parse::<Target>(), Ok(Target::Earliest));
        assert_eq!("42".parse::<Target>(), Ok(Target::Offset(42)));
        assert!(matches!("2026-11-26T10:00:00Z".parse::<Target>(), Ok(Target::Time(ms)) if ms > 1_700_000_000_000));
        assert!("yesterday".parse::<Target>().is_err());
        assert!("-3".parse::<Target>().is_err());
    }
}
