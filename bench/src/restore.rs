//! Restore after reassignment: one partition holding A aggregates, each with
//! a snapshot, a long history behind it and a short tail — written straight
//! to the topics the way partition owners write them. Ours reads the
//! snapshots and the tail; the baseline replays the whole events partition.
//! The figure must not grow with history length.

use std::time::{Duration, Instant};

use angzarr_connectors::kafka::{KafkaConfig, restore_partition};
use angzarr_proto::angzarr::{Cover, EventBook, EventPage, PageHeader, Snapshot, event_page};
use angzarr_proto::examples::{Currency, FundsDeposited, PlayerState};
use angzarr_proto::pack;
use angzarr_topology::Topics;
use prost::Message;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use uuid::Uuid;

use crate::common::{self, Env, Row};

/// Writes A aggregates with `history` events each behind a snapshot, plus one tail event each.
/// Returns the roots.
pub async fn seed(env: &Env, prefix: &str, aggregates: usize, history: usize) -> anyhow::Result<Vec<Uuid>> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", &env.kafka).create()?;
    let events = format!("{prefix}.player.events");
    let snapshots = format!("{prefix}.player.snapshots");
    admin
        .create_topics(
            &[
                NewTopic::new(&events, 1, TopicReplication::Fixed(1))
                    .set("retention.ms", "-1")
                    .set("retention.bytes", "-1"),
                NewTopic::new(&snapshots, 1, TopicReplication::Fixed(1)).set("cleanup.policy", "compact"),
            ],
            &AdminOptions::new(),
        )
        .await?;
    let p: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &env.kafka)
        .set("linger.ms", "20")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .create()?;
    let roots: Vec<Uuid> = (0..aggregates).map(|_| Uuid::new_v4()).collect();
    let page = |seq: u32| EventPage {
        header: Some(PageHeader::sequence(seq)),
        payload: Some(event_page::Payload::Event(pack(&FundsDeposited {
            amount: Some(Currency { amount: 1, currency_code: "USD".into() }),
            new_balance: Some(Currency { amount: seq as i64, currency_code: "USD".into() }),
            deposited_at: None,
        }))),
        ..Default::default()
    };
    let cover = |r: &Uuid| Cover { root: Some((*r).into()), domain: "player".into(), ..Default::default() };
    let mut pending = Vec::new();
    let flush = |pending: &mut Vec<rdkafka::producer::DeliveryFuture>| {
        let batch = std::mem::take(pending);
        async move {
            for d in batch {
                d.await.map_err(|_| anyhow::anyhow!("canceled"))?.map_err(|(e, _)| e)?;
            }
            Ok::<_, anyhow::Error>(())
        }
    };
    for seq in 0..history as u32 {
        for r in &roots {
            let v = EventBook { cover: Some(cover(r)), pages: vec![page(seq)], ..Default::default() }.encode_to_vec();
            let k = r.hyphenated().to_string();
            pending
                .push(p.send_result(FutureRecord::to(&events).partition(0).key(&k).payload(&v)).map_err(|(e, _)| e)?);
            if pending.len() >= 50_000 {
                flush(&mut pending).await?;
            }
        }
    }
    flush(&mut pending).await?;
    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", &env.kafka).create()?;
    let (_, covered_to) = consumer.fetch_watermarks(&events, 0, Duration::from_secs(10))?;
    for r in &roots {
        let state = PlayerState {
            status: "active".into(),
            bankroll: Some(Currency { amount: history as i64, currency_code: "USD".into() }),
            ..Default::default()
        };
        let snap = Snapshot { sequence: history as u32 - 1, state: Some(pack(&state)), ..Default::default() };
        let v = EventBook { cover: Some(cover(r)), snapshot: Some(snap), ..Default::default() }.encode_to_vec();
        let k = r.hyphenated().to_string();
        pending.push(p.send_result(FutureRecord::to(&snapshots).partition(0).key(&k).payload(&v)).map_err(|(e, _)| e)?);
        let t = EventBook { cover: Some(cover(r)), pages: vec![page(history as u32)], ..Default::default() }
            .encode_to_vec();
        pending.push(p.send_result(FutureRecord::to(&events).partition(0).key(&k).payload(&t)).map_err(|(e, _)| e)?);
        if pending.len() >= 50_000 {
            flush(&mut pending).await?;
        }
    }
    let from = covered_to.to_string();
    pending.push(
        p.send_result(FutureRecord::to(&snapshots).partition(0).key("__restore_from").payload(&from))
            .map_err(|(e, _)| e)?,
    );
    flush(&mut pending).await?;
    Ok(roots)
}

/// Reads the whole events partition: the replay a store without snapshots does.
pub fn full_replay(env: &Env, prefix: &str) -> anyhow::Result<(f64, u64)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &env.kafka)
        .set("group.id", "bench-unused")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "10")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&format!("{prefix}.player.events"), 0, Offset::Beginning)?;
    c.assign(&tpl)?;
    let started = Instant::now();
    let mut n = 0u64;
    let mut last_progress = Instant::now();
    loop {
        match c.poll(Duration::from_secs(1)) {
            Some(Ok(m)) => {
                let _ = EventBook::decode(rdkafka::Message::payload(&m).unwrap_or_default())?;
                n += 1;
                last_progress = Instant::now();
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => break,
            Some(Err(e)) => anyhow::bail!("replay: {e}"),
            None if last_progress.elapsed() > Duration::from_secs(60) => anyhow::bail!("replay stalled at {n} events"),
            None => {}
        }
    }
    Ok((started.elapsed().as_secs_f64(), n))
}

pub async fn run(env: &Env) -> anyhow::Result<Vec<Row>> {
    let sizes: Vec<usize> = if env.quick { vec![10_000] } else { vec![10_000, 100_000, 1_000_000] };
    let mut rows = Vec::new();
    for aggregates in sizes {
        if let Err(e) = restore_size(env, aggregates, &mut rows).await {
            eprintln!("restore with {aggregates} aggregates failed: {e:#}");
        }
    }
    Ok(rows)
}

async fn restore_size(env: &Env, aggregates: usize, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    {
        let mut per_history = Vec::new();
        for history in [2usize, 8] {
            let prefix = common::prefix("restore");
            seed(env, &prefix, aggregates, history).await?;
            let mut cfg = KafkaConfig::new(env.kafka.clone());
            cfg.topics = Topics::new(prefix.clone());
            let started = Instant::now();
            let (histories, stats) =
                tokio::task::spawn_blocking(move || restore_partition(&cfg, "player", 0, None)).await??;
            let ours = started.elapsed().as_secs_f64();
            anyhow::ensure!(histories.len() == aggregates, "restored {} of {aggregates}", histories.len());
            let (replay, records) = tokio::task::block_in_place(|| full_replay(env, &prefix))?;
            eprintln!(
                "{aggregates} aggregates, history {history}: restore {ours:.2}s reading {} snapshots + {} events; full replay {replay:.2}s of {records} events",
                stats.snapshot_records, stats.event_records
            );
            per_history.push(ours);
            rows.push(Row::lower(
                &format!("restore {aggregates} aggregates, history {history}"),
                "s",
                ours,
                replay,
                "replaying the whole events partition",
                if aggregates >= 1_000_000 { "<= 10 s" } else { "flat in history" },
            ));
        }
        eprintln!("restore time, history 2 vs 8: {:.2}s vs {:.2}s", per_history[0], per_history[1]);
    }
    Ok(())
}
