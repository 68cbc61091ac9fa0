//! DECISION latency at a fixed offered load, open loop (commands are sent on
//! schedule whether or not earlier ones answered, so queuing shows) — beside
//! the latency of a bare `acks=all` produce at the same rate.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use angzarr_proto::angzarr::SyncMode;
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::common::{self, Env, Platform, Row};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub async fn run(env: &Env) -> anyhow::Result<Vec<Row>> {
    let (rate, secs) = (env.n(200, 500) as f64, env.n(5, 20) as f64);
    let count = (rate * secs) as usize;
    let roots_n = (rate * 2.0) as usize;
    eprintln!("{count} DECISION commands at {rate}/s, open loop, over {roots_n} aggregates");
    let p = Platform::start(common::kafka_log(env, &common::prefix("lat"), 6), 100).await?;
    let roots = common::register_players(&p, roots_n).await?;
    let next: Arc<Mutex<Vec<u32>>> = Arc::new(Mutex::new(vec![1; roots_n]));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let at = started + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(at.into()).await;
        let (mut c, root, next) = (p.client(), roots[i % roots_n], next.clone());
        let j = i % roots_n;
        tasks.push(tokio::spawn(async move {
            let seq = next.lock().unwrap()[j];
            let sent = Instant::now();
            let r = c.handle_command(common::request(root, seq, common::deposit(), SyncMode::Decision)).await;
            let took = sent.elapsed().as_secs_f64() * 1000.0;
            if let Ok(resp) = &r {
                next.lock().unwrap()[j] = resp.get_ref().events.as_ref().map_or(seq + 1, |b| b.next_sequence);
            }
            (took, r.is_ok())
        }));
    }
    let mut ours = Vec::new();
    let mut failed = 0;
    for t in tasks {
        let (ms, ok) = t.await?;
        if ok { ours.push(ms) } else { failed += 1 }
    }
    p.running.stop().await?;
    ours.sort_by(|a, b| a.total_cmp(b));

    // Baseline: bare produce latency at the same rate.
    let prod: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &env.kafka)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "0")
        .create()?;
    let topic = common::prefix("latbase");
    {
        use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
        let admin: AdminClient<rdkafka::client::DefaultClientContext> =
            ClientConfig::new().set("bootstrap.servers", &env.kafka).create()?;
        admin.create_topics(&[NewTopic::new(&topic, 6, TopicReplication::Fixed(1))], &AdminOptions::new()).await?;
    }
    let payload = vec![7u8; common::command_bytes()];
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        tokio::time::sleep_until((started + Duration::from_secs_f64(i as f64 / rate)).into()).await;
        let (prod, topic, payload) = (prod.clone(), topic.clone(), payload.clone());
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let key = format!("{i:036}");
            let r = prod.send(FutureRecord::to(&topic).key(&key).payload(&payload), Duration::from_secs(10)).await;
            (sent.elapsed().as_secs_f64() * 1000.0, r.is_ok())
        }));
    }
    let mut base = Vec::new();
    for t in tasks {
        let (ms, ok) = t.await?;
        if ok {
            base.push(ms);
        }
    }
    base.sort_by(|a, b| a.total_cmp(b));
    eprintln!("{failed} of {count} commands failed (sequence conflicts from queuing count here)");
    let b = "bare acks=all produce, same rate";
    Ok(vec![
        Row::lower("latency DECISION p50", "ms", percentile(&ours, 0.5), percentile(&base, 0.5), b, "<= 5 ms"),
        Row::lower("latency DECISION p99", "ms", percentile(&ours, 0.99), percentile(&base, 0.99), b, "<= 25 ms"),
        Row::lower(
            "latency DECISION p999",
            "ms",
            percentile(&ours, 0.999),
            percentile(&base, 0.999),
            b,
            "informational",
        ),
    ])
}
