//! Command throughput on Kafka, sequences enforced, ASYNC and DECISION —
//! beside bare idempotent produce, transactional produce of the same
//! records, and the hand-rolled Kafka Streams application.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use angzarr_proto::angzarr::SyncMode;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use crate::common::{self, Env, Platform, Row};

const PARTITIONS: i32 = 6;

async fn topic(env: &Env, name: &str) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", &env.kafka).create()?;
    for r in admin
        .create_topics(&[NewTopic::new(name, PARTITIONS, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await?
    {
        r.map_err(|(t, e)| anyhow::anyhow!("creating {t}: {e}"))?;
    }
    Ok(())
}

/// Bare idempotent produce of `n` records of `size` bytes: records/s.
pub async fn bare_produce(env: &Env, n: usize, size: usize) -> anyhow::Result<f64> {
    let t = common::prefix("bare");
    topic(env, &t).await?;
    let p: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &env.kafka)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()?;
    let payload = vec![7u8; size];
    let started = Instant::now();
    let mut pending = Vec::with_capacity(n);
    for i in 0..n {
        let key = format!("{:036}", i % 1000);
        pending.push(p.send_result(FutureRecord::to(&t).key(&key).payload(&payload)).map_err(|(e, _)| e)?);
    }
    for d in pending {
        d.await?.map_err(|(e, _)| e)?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// Transactional produce of `n` records, `batch` per transaction: records/s.
async fn transactional_produce(env: &Env, n: usize, size: usize, batch: usize) -> anyhow::Result<f64> {
    let t = common::prefix("txn");
    topic(env, &t).await?;
    let (kafka, t2) = (env.kafka.clone(), t.clone());
    tokio::task::spawn_blocking(move || -> anyhow::Result<f64> {
        let p: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &kafka)
            .set("transactional.id", format!("{t2}-tx"))
            .set("linger.ms", "2")
            .set("retry.backoff.ms", "2")
            .create()?;
        p.init_transactions(Duration::from_secs(30))?;
        let payload = vec![7u8; size];
        let started = Instant::now();
        let mut sent = 0;
        while sent < n {
            p.begin_transaction()?;
            let mut pending = Vec::new();
            for i in sent..(sent + batch).min(n) {
                let key = format!("{:036}", i % 1000);
                pending.push(p.send_result(FutureRecord::to(&t2).key(&key).payload(&payload)).map_err(|(e, _)| e)?);
            }
            sent += pending.len();
            for d in pending {
                futures::executor::block_on(d)?.map_err(|(e, _)| e)?;
            }
            p.commit_transaction(Duration::from_secs(30))?;
        }
        Ok(n as f64 / started.elapsed().as_secs_f64())
    })
    .await?
}

/// The Kafka Streams application over the same kind of load: commands/s.
fn kstreams(env: &Env, n: usize, roots: usize) -> anyhow::Result<Option<f64>> {
    let Some(jar) = &env.kstreams_jar else { return Ok(None) };
    let t = common::prefix("kstreams");
    let rt = tokio::runtime::Handle::current();
    rt.block_on(topic(env, &format!("{t}.commands")))?;
    let mut app = Command::new("java")
        .args(["-jar"])
        .arg(jar)
        .args([
            "--bootstrap",
            &env.kafka,
            "--input",
            &format!("{t}.commands"),
            "--output",
            &format!("{t}.events"),
            "--app-id",
            &t,
        ])
        .args(["--state-dir", &format!("/tmp/{t}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut lines = BufReader::new(app.stdout.take().unwrap()).lines();
    let ready = lines.any(|l| l.map(|l| l.trim() == "ready").unwrap_or(false));
    anyhow::ensure!(ready, "the Kafka Streams app did not become ready");
    let verify = Command::new("java")
        .args(["-jar"])
        .arg(jar)
        .args(["--verify", "--expect", &n.to_string(), "--roots", &roots.to_string(), "--bootstrap", &env.kafka])
        .args(["--output", &format!("{t}.events"), "--settle-ms", "500"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    std::thread::sleep(Duration::from_secs(2));
    let produced = Command::new("java")
        .args(["-jar"])
        .arg(jar)
        .args(["--produce", &n.to_string(), "--roots", &roots.to_string(), "--bootstrap", &env.kafka])
        .args(["--input", &format!("{t}.commands")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    anyhow::ensure!(produced.success(), "kstreams produce failed");
    let out = verify.wait_with_output()?;
    unsafe {
        libc::kill(app.id() as i32, libc::SIGTERM);
    }
    let _ = app.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    let rate = text.lines().find_map(|l| {
        l.strip_prefix("throughput: ").and_then(|r| r.split_whitespace().next()).and_then(|x| x.parse().ok())
    });
    anyhow::ensure!(out.status.success(), "kstreams verify failed: {text}");
    Ok(rate)
}

/// Waits until the command handlers committed everything in the commands topic.
async fn wait_consumed(env: &Env, prefix: &str) -> anyhow::Result<()> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Offset, TopicPartitionList};
    let topic = format!("{prefix}.player.commands");
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &env.kafka)
        .set("group.id", format!("{prefix}.angzarr-command-handler"))
        .create()?;
    let mut tpl = TopicPartitionList::new();
    let mut ends = Vec::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(&topic, p);
        ends.push(c.fetch_watermarks(&topic, p, Duration::from_secs(10))?.1);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let committed = c.committed_offsets(tpl.clone(), Duration::from_secs(10))?;
        let done = (0..PARTITIONS).all(|p| {
            matches!(committed.find_partition(&topic, p).map(|e| e.offset()), Some(Offset::Offset(o)) if o >= ends[p as usize])
        });
        if done {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "ASYNC commands were not all consumed within 120 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub async fn run(env: &Env) -> anyhow::Result<Vec<Row>> {
    let (n, roots, clients, runs) = (env.n(3000, 30000), env.n(300, 3000), 64, env.n(1, 3));
    let size = common::command_bytes();
    eprintln!(
        "{n} commands over {roots} aggregates, {clients} concurrent clients, {size}-byte commands, {PARTITIONS} partitions"
    );

    let mut decision = Vec::new();
    let mut asynchronous = Vec::new();
    for _ in 0..runs {
        let prefix = common::prefix("tp");
        let p = Platform::start(common::kafka_log(env, &prefix, PARTITIONS as u32), 100).await?;
        let r = common::register_players(&p, roots).await?;
        let elapsed = common::deposits(&p, &r, n, clients, SyncMode::Decision).await?;
        decision.push(n as f64 / elapsed.as_secs_f64());

        // ASYNC: answered when durable; the clock stops when the partition
        // owners committed every command (their group's committed offsets
        // reach the end of the commands topic: all events are in).
        let r2 = common::register_players(&p, roots).await?;
        let started = Instant::now();
        common::deposits(&p, &r2, n, clients, SyncMode::Async).await?;
        wait_consumed(env, &prefix).await?;
        asynchronous.push(n as f64 / started.elapsed().as_secs_f64());
        p.running.stop().await?;
    }
    // The same load on the engine with its speed-ups turned off, one at a
    // time: what each is worth, measured in this run.
    let mut ablations = Vec::new();
    for (what, direct, concurrent) in [
        ("commands topic + replies topic, one business-logic call at a time", false, 1),
        ("direct to the owner, one business-logic call at a time", true, 1),
    ] {
        let mut runs_of = Vec::new();
        for _ in 0..runs {
            let prefix = common::prefix("tpa");
            let p = Platform::start_tuned(common::kafka_log(env, &prefix, PARTITIONS as u32), 100, |c| {
                c.command_handler.direct_routing = direct;
                c.command_handler.concurrent_roots = concurrent;
            })
            .await?;
            let r = common::register_players(&p, roots).await?;
            let elapsed = common::deposits(&p, &r, n, clients, SyncMode::Decision).await?;
            runs_of.push(n as f64 / elapsed.as_secs_f64());
            p.running.stop().await?;
        }
        eprintln!("DECISION, {what}: runs {} cmd/s", common::spread(&runs_of));
        ablations.push((what, common::median(runs_of)));
    }
    let mut bare = Vec::new();
    for _ in 0..runs {
        bare.push(bare_produce(env, n, size).await?);
    }
    let txn = transactional_produce(env, n, size, 64).await?;
    let (d, a, b) =
        (common::median(decision.clone()), common::median(asynchronous.clone()), common::median(bare.clone()));
    eprintln!(
        "DECISION runs {} cmd/s, ASYNC runs {} cmd/s, bare produce runs {} rec/s",
        common::spread(&decision),
        common::spread(&asynchronous),
        common::spread(&bare)
    );
    let mut rows: Vec<Row> = ablations
        .iter()
        .map(|(what, v)| {
            Row::higher(
                &format!("kafka throughput DECISION vs {what}"),
                "cmd/s",
                d,
                *v,
                "the same engine with that setting, same run",
                "informational",
            )
        })
        .collect();
    rows.extend(vec![
        Row::higher(
            "kafka throughput DECISION",
            "cmd/s",
            d,
            b,
            "bare idempotent produce (records/s)",
            ">= 50% of bare produce",
        ),
        Row::higher(
            "kafka throughput ASYNC",
            "cmd/s",
            a,
            b,
            "bare idempotent produce (records/s)",
            ">= 50% of bare produce",
        ),
        Row::higher(
            "kafka throughput DECISION vs txn produce",
            "cmd/s",
            d,
            txn,
            "transactional produce, 64/txn",
            "informational",
        ),
    ]);
    let ks = tokio::task::block_in_place(|| kstreams(env, n, roots))?;
    match ks {
        Some(k) => {
            rows.push(Row::higher(
                "kafka throughput DECISION vs Kafka Streams",
                "cmd/s",
                d,
                k,
                "Kafka Streams EOS v2 + state store",
                "beat it",
            ));
            rows.push(Row::higher(
                "kafka throughput ASYNC vs Kafka Streams",
                "cmd/s",
                a,
                k,
                "Kafka Streams EOS v2 + state store",
                "beat it",
            ));
        }
        None => eprintln!("no Kafka Streams jar (KSTREAMS_JAR): that baseline is missing"),
    }
    Ok(rows)
}
