//! Embedded-log throughput (DECISION, fsync per commit) — beside the usual
//! event-store design on PostgreSQL: one transaction per command appending
//! its event under a unique (root, sequence) constraint, same concurrency,
//! `fsync=on` and `synchronous_commit=on`.

use std::time::Instant;

use angzarr_connectors::embedded::Durability;
use angzarr_coordinators::config::LogConfig;
use angzarr_proto::angzarr::SyncMode;
use uuid::Uuid;

use crate::common::{self, Env, Platform, Row};

async fn postgres(url: &str, n: usize, roots: usize, clients: usize, size: usize) -> anyhow::Result<f64> {
    let table = format!("events_{}", &Uuid::new_v4().simple().to_string()[..8]);
    let (setup, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    setup
        .batch_execute(&format!(
            "CREATE TABLE {table} (id BIGSERIAL PRIMARY KEY, root UUID NOT NULL, seq INT NOT NULL, body BYTEA NOT NULL, UNIQUE (root, seq))"
        ))
        .await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (url, table) = (url.to_string(), table.clone());
        let share = n / clients + usize::from(c < n % clients);
        let mine: Vec<Uuid> = (0..roots / clients).map(|_| Uuid::new_v4()).collect();
        tasks.push(tokio::spawn(async move {
            let (mut client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(conn);
            let insert = client.prepare(&format!("INSERT INTO {table} (root, seq, body) VALUES ($1, $2, $3)")).await?;
            let body = vec![7u8; size];
            let mut next = vec![0i32; mine.len()];
            for k in 0..share {
                let j = k % mine.len();
                let tx = client.transaction().await?;
                tx.execute(&insert, &[&mine[j], &next[j], &body]).await?;
                tx.commit().await?;
                next[j] += 1;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

pub async fn run(env: &Env) -> anyhow::Result<Vec<Row>> {
    let (n, roots, clients) = (env.n(2000, 20000), env.n(256, 2048), 32);
    let dir = tempfile::tempdir()?;
    let log = LogConfig::Embedded { path: dir.path().join("events.db"), partitions: 8, durability: Durability::Full };
    let p = Platform::start(log, 100).await?;
    let r = common::register_players(&p, roots).await?;
    let elapsed = common::deposits(&p, &r, n, clients, SyncMode::Decision).await?;
    let ours = n as f64 / elapsed.as_secs_f64();
    p.running.stop().await?;
    let Some(url) = &env.pg else {
        eprintln!("no PostgreSQL (PG_URL): that baseline is missing");
        return Ok(vec![Row::higher(
            "embedded throughput DECISION",
            "cmd/s",
            ours,
            f64::NAN,
            "PostgreSQL append (missing)",
            ">= 2x",
        )]);
    };
    let base = postgres(url, n, roots, clients, common::command_bytes()).await?;
    Ok(vec![Row::higher(
        "embedded throughput DECISION (fsync)",
        "cmd/s",
        ours,
        base,
        "PostgreSQL txn/command, UNIQUE(root,seq)",
        ">= 2x the baseline",
    )])
}
