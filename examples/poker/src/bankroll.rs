//! The bankroll projector: a leaderboard of players and their balances,
//! kept in SQLite by default, or in PostgreSQL when configured (`bankroll`
//! table either way).
//!
//! Idempotent across restarts: each row remembers the last sequence applied
//! for its player, and an event at or below it is ignored — so a
//! coordinator's redelivery, or a replay from the beginning into an existing
//! read model, never counts money twice. On PostgreSQL the read, the check
//! and the write of a row are one transaction (`SELECT … FOR UPDATE`).
//!
//! A batch (`HandleBatch`) is applied in one read-model transaction on
//! either store ([`ReadModel::batch`]): one commit (one fsync) per batch
//! instead of one per event, and a batch that fails half-way leaves nothing.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use angzarr_client::Projector;
use angzarr_proto::examples::{Currency, FundsDeposited, FundsTransferred, FundsWithdrawn, PlayerRegistered};
use angzarr_proto::pack;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

/// The projector's name.
pub const NAME: &str = "bankroll";

/// A row of the leaderboard: `(root, display_name, balance, last_sequence)`.
pub type Row = (String, String, i64, i64);

type Update = Box<dyn FnOnce(&mut String, &mut i64) + Send>;

/// The read model.
#[derive(Clone)]
pub struct ReadModel {
    store: Store,
    /// Held by a batch for its whole transaction, and by a single apply
    /// outside a batch: nothing joins or interleaves with an open batch.
    batches: Arc<Mutex<()>>,
}

thread_local! {
    /// Whether this thread is running a batch's work (handlers are
    /// synchronous: a batch runs on one thread from begin to commit).
    static IN_BATCH: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[derive(Clone)]
enum Store {
    Sqlite(Arc<Mutex<Connection>>),
    Postgres(Postgres),
}

impl ReadModel {
    /// Opens (creating) the read model in the SQLite file at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE IF NOT EXISTS bankroll (
                 root TEXT PRIMARY KEY, display_name TEXT NOT NULL DEFAULT '',
                 balance INTEGER NOT NULL DEFAULT 0, last_sequence INTEGER NOT NULL)",
        )?;
        Ok(ReadModel { store: Store::Sqlite(Arc::new(Mutex::new(conn))), batches: Arc::default() })
    }

    /// Connects to PostgreSQL at `url` (`postgres://user@host:port/db`) and
    /// creates the `bankroll` table in `schema` if missing.
    pub fn postgres(url: &str, schema: &str) -> Result<Self, String> {
        Ok(ReadModel { store: Store::Postgres(Postgres::connect(url, schema)?), batches: Arc::default() })
    }

    /// Runs `work` (a batch's applies) in one transaction: committed when it
    /// succeeds, rolled back when it fails.
    pub fn batch(&self, work: &mut dyn FnMut() -> Result<(), tonic::Status>) -> Result<(), tonic::Status> {
        let _only = self.batches.lock().unwrap_or_else(|p| p.into_inner());
        let internal = |e: String| tonic::Status::internal(format!("bankroll read model: {e}"));
        self.control("BEGIN").map_err(internal)?;
        IN_BATCH.with(|b| b.set(true));
        let done = work();
        IN_BATCH.with(|b| b.set(false));
        match done {
            Ok(()) => self.control("COMMIT").map_err(|e| {
                let _ = self.control("ROLLBACK");
                internal(e)
            }),
            Err(e) => {
                if let Err(rollback) = self.control("ROLLBACK") {
                    tracing::error!(error = rollback, "bankroll read model: rollback failed");
                }
                Err(e)
            }
        }
    }

    /// `BEGIN`, `COMMIT` or `ROLLBACK` on the store's connection.
    fn control(&self, statement: &'static str) -> Result<(), String> {
        match &self.store {
            Store::Sqlite(conn) => conn.lock().unwrap().execute_batch(statement).map_err(|e| e.to_string()),
            Store::Postgres(pg) => pg.control(statement),
        }
    }

    /// Applies `f` to a player's row unless `seq` was applied already.
    fn apply(
        &self,
        root: &Uuid,
        seq: u32,
        f: impl FnOnce(&mut String, &mut i64) + Send + 'static,
    ) -> Result<(), String> {
        let key = root.hyphenated().to_string();
        let in_batch = IN_BATCH.with(|b| b.get());
        // Outside a batch, wait for any open batch to finish first.
        let _only = (!in_batch).then(|| self.batches.lock().unwrap_or_else(|p| p.into_inner()));
        match &self.store {
            Store::Sqlite(conn) => {
                let conn = conn.lock().unwrap();
                let row: Option<(String, i64, i64)> = conn
                    .query_row(
                        "SELECT display_name, balance, last_sequence FROM bankroll WHERE root = ?1",
                        params![key],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()
                    .map_err(|e| e.to_string())?;
                let (mut name, mut balance, last) = row.unwrap_or((String::new(), 0, -1));
                if i64::from(seq) <= last {
                    return Ok(());
                }
                f(&mut name, &mut balance);
                conn.execute(
                    "INSERT INTO bankroll (root, display_name, balance, last_sequence) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (root) DO UPDATE SET display_name = excluded.display_name,
                         balance = excluded.balance, last_sequence = excluded.last_sequence",
                    params![key, name, balance, seq],
                )
                .map_err(|e| e.to_string())?;
                Ok(())
            }
            Store::Postgres(pg) => pg.apply(key, i64::from(seq), Box::new(f), in_batch),
        }
    }

    /// A player's balance.
    pub fn balance(&self, root: &Uuid) -> Option<i64> {
        let key = root.hyphenated().to_string();
        match &self.store {
            Store::Sqlite(conn) => conn
                .lock()
                .unwrap()
                .query_row("SELECT balance FROM bankroll WHERE root = ?1", params![key], |r| r.get(0))
                .optional()
                .ok()
                .flatten(),
            Store::Postgres(pg) => pg.balance(key).ok().flatten(),
        }
    }

    /// Every row, richest first.
    pub fn leaderboard(&self) -> Vec<Row> {
        match &self.store {
            Store::Sqlite(conn) => {
                let conn = conn.lock().unwrap();
                let mut stmt = conn
                    .prepare(
                        "SELECT root, display_name, balance, last_sequence FROM bankroll ORDER BY balance DESC, root",
                    )
                    .unwrap();
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .unwrap()
                    .filter_map(Result::ok)
                    .collect()
            }
            Store::Postgres(pg) => pg.leaderboard().unwrap_or_default(),
        }
    }

    /// Empties the read model (before a replay).
    pub fn wipe(&self) -> Result<(), String> {
        match &self.store {
            Store::Sqlite(conn) => {
                conn.lock().unwrap().execute("DELETE FROM bankroll", []).map(|_| ()).map_err(|e| e.to_string())
            }
            Store::Postgres(pg) => pg.wipe(),
        }
    }
}

/// A PostgreSQL connection owned by one thread with its own small runtime.
/// Projector handlers are synchronous and may run on any runtime (or none):
/// they hand a job over and wait for its answer, as they wait for SQLite's
/// mutex, without nesting runtimes.
#[derive(Clone)]
struct Postgres {
    jobs: mpsc::Sender<Job>,
    table: Arc<str>,
}

type Job = Box<dyn FnOnce(&mut tokio_postgres::Client, &tokio::runtime::Runtime) + Send>;

impl Postgres {
    fn connect(url: &str, schema: &str) -> Result<Self, String> {
        if schema.is_empty() || !schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(format!("schema `{schema}`: use lowercase letters, digits and `_`"));
        }
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, started) = mpsc::channel::<Result<(), String>>();
        let url = url.to_string();
        std::thread::Builder::new()
            .name("bankroll-postgres".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => return drop(ready.send(Err(e.to_string()))),
                };
                let mut client = match rt.block_on(tokio_postgres::connect(&url, tokio_postgres::NoTls)) {
                    Ok((client, connection)) => {
                        rt.spawn(async move {
                            if let Err(e) = connection.await {
                                tracing::error!(error = %e, "bankroll read model: PostgreSQL connection lost");
                            }
                        });
                        client
                    }
                    Err(e) => return drop(ready.send(Err(format!("connecting to PostgreSQL: {e}")))),
                };
                let _ = ready.send(Ok(()));
                while let Ok(job) = queue.recv() {
                    job(&mut client, &rt);
                }
            })
            .map_err(|e| e.to_string())?;
        started.recv().map_err(|e| e.to_string())??;
        let pg = Postgres { jobs, table: Arc::from(format!("{schema}.bankroll")) };
        let (schema, table) = (schema.to_string(), pg.table.clone());
        pg.call(move |client, rt| {
            rt.block_on(client.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema};
                 CREATE TABLE IF NOT EXISTS {table} (
                     root TEXT PRIMARY KEY, display_name TEXT NOT NULL DEFAULT '',
                     balance BIGINT NOT NULL DEFAULT 0, last_sequence BIGINT NOT NULL)"
            )))
            .map_err(|e| e.to_string())
        })??;
        Ok(pg)
    }

    /// Runs `f` on the connection's thread and waits for its result.
    fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut tokio_postgres::Client, &tokio::runtime::Runtime) -> R + Send + 'static,
    ) -> Result<R, String> {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |client, rt| {
            let _ = tx.send(f(client, rt));
        });
        self.jobs.send(job).map_err(|_| "the PostgreSQL connection thread stopped".to_string())?;
        rx.recv().map_err(|_| "the PostgreSQL connection thread stopped".to_string())
    }

    fn control(&self, statement: &'static str) -> Result<(), String> {
        self.call(move |client, rt| rt.block_on(client.batch_execute(statement)).map_err(|e| e.to_string()))?
    }

    /// Applies one row update: in a transaction of its own, or — `in_batch` —
    /// inside the batch's open one.
    fn apply(&self, key: String, seq: i64, f: Update, in_batch: bool) -> Result<(), String> {
        let table = self.table.clone();
        self.call(move |client, rt| {
            rt.block_on(async move {
                if in_batch {
                    return upsert(client, &table, &key, seq, f).await;
                }
                let tx = client.transaction().await?;
                upsert(&tx, &table, &key, seq, f).await?;
                tx.commit().await
            })
            .map_err(|e| e.to_string())
        })?
    }

    fn balance(&self, key: String) -> Result<Option<i64>, String> {
        let table = self.table.clone();
        self.call(move |client, rt| {
            rt.block_on(client.query_opt(&format!("SELECT balance FROM {table} WHERE root = $1"), &[&key]))
                .map(|row| row.map(|r| r.get(0)))
                .map_err(|e| e.to_string())
        })?
    }

    fn leaderboard(&self) -> Result<Vec<Row>, String> {
        let table = self.table.clone();
        self.call(move |client, rt| {
            rt.block_on(client.query(
                &format!("SELECT root, display_name, balance, last_sequence FROM {table} ORDER BY balance DESC, root"),
                &[],
            ))
            .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
            .map_err(|e| e.to_string())
        })?
    }

    fn wipe(&self) -> Result<(), String> {
        let table = self.table.clone();
        self.call(move |client, rt| {
            rt.block_on(client.execute(&format!("DELETE FROM {table}"), &[])).map(|_| ()).map_err(|e| e.to_string())
        })?
    }
}

/// Reads a player's row (locking it), and writes `f`'s change unless `seq`
/// was applied already — on `client`, inside whatever transaction it is in.
async fn upsert(
    client: &impl tokio_postgres::GenericClient,
    table: &str,
    key: &str,
    seq: i64,
    f: Update,
) -> Result<(), tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!("SELECT display_name, balance, last_sequence FROM {table} WHERE root = $1 FOR UPDATE"),
            &[&key],
        )
        .await?;
    let (mut name, mut balance, last): (String, i64, i64) =
        row.map_or((String::new(), 0, -1), |r| (r.get(0), r.get(1), r.get(2)));
    if seq <= last {
        return Ok(());
    }
    f(&mut name, &mut balance);
    client
        .execute(
            &format!(
                "INSERT INTO {table} (root, display_name, balance, last_sequence) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (root) DO UPDATE SET display_name = excluded.display_name,
                     balance = excluded.balance, last_sequence = excluded.last_sequence"
            ),
            &[&key, &name, &balance, &seq],
        )
        .await
        .map(|_| ())
}

fn amount(c: &Option<Currency>) -> i64 {
    c.as_ref().map_or(0, |c| c.amount)
}

/// The projector over `model`; its projection is the player's balance.
pub fn projector(model: ReadModel) -> Projector {
    let (m1, m2, m3, m4, view) = (model.clone(), model.clone(), model.clone(), model.clone(), model.clone());
    let batches = model;
    Projector::new(NAME)
        .on(move |e: &PlayerRegistered, root, seq| {
            let name = e.display_name.clone();
            m1.apply(root, seq, move |n, _| *n = name)
        })
        .on(move |e: &FundsDeposited, root, seq| {
            let balance = amount(&e.new_balance);
            m2.apply(root, seq, move |_, b| *b = balance)
        })
        .on(move |e: &FundsWithdrawn, root, seq| {
            let balance = amount(&e.new_balance);
            m3.apply(root, seq, move |_, b| *b = balance)
        })
        .on(move |e: &FundsTransferred, root, seq| {
            let balance = amount(&e.new_balance);
            m4.apply(root, seq, move |_, b| *b = balance)
        })
        .view(move |root| view.balance(root).map(|b| pack(&Currency { amount: b, currency_code: "USD".into() })))
        .batch_scope(move |work| batches.batch(work))
}
