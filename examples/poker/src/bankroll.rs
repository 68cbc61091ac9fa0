//! The bankroll projector: a leaderboard of players and their balances,
//! kept in SQLite (`bankroll` table).
//!
//! Idempotent across restarts: each row remembers the last sequence applied
//! for its player, and an event at or below it is ignored — so a
//! coordinator's redelivery, or a replay from the beginning into an existing
//! read model, never counts money twice.

use std::path::Path;
use std::sync::{Arc, Mutex};

use angzarr_client::Projector;
use angzarr_proto::examples::{Currency, FundsDeposited, FundsTransferred, FundsWithdrawn, PlayerRegistered};
use angzarr_proto::pack;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

/// The projector's name.
pub const NAME: &str = "bankroll";

/// The read model.
#[derive(Clone)]
pub struct ReadModel {
    conn: Arc<Mutex<Connection>>,
}

impl ReadModel {
    /// Opens (creating) the read model at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE IF NOT EXISTS bankroll (
                 root TEXT PRIMARY KEY, display_name TEXT NOT NULL DEFAULT '',
                 balance INTEGER NOT NULL DEFAULT 0, last_sequence INTEGER NOT NULL)",
        )?;
        Ok(ReadModel { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Applies `f` to a player's row unless `seq` was applied already.
    fn apply(&self, root: &Uuid, seq: u32, f: impl FnOnce(&mut String, &mut i64)) -> Result<(), String> {
        let conn = self.conn.lock().unwrap();
        let key = root.hyphenated().to_string();
        let row: Option<(String, i64, i64)> = conn
            .query_row("SELECT display_name, balance, last_sequence FROM bankroll WHERE root = ?1", params![key], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
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

    /// A player's balance.
    pub fn balance(&self, root: &Uuid) -> Option<i64> {
        let conn = self.conn.lock().unwrap();
        conn.query_row("SELECT balance FROM bankroll WHERE root = ?1", params![root.hyphenated().to_string()], |r| {
            r.get(0)
        })
        .optional()
        .ok()
        .flatten()
    }

    /// Every row `(root, display_name, balance, last_sequence)`, richest first.
    pub fn leaderboard(&self) -> Vec<(String, String, i64, i64)> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn
            .prepare("SELECT root, display_name, balance, last_sequence FROM bankroll ORDER BY balance DESC, root")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .filter_map(Result::ok)
            .collect()
    }

    /// Empties the read model (before a replay).
    pub fn wipe(&self) -> rusqlite::Result<()> {
        self.conn.lock().unwrap().execute("DELETE FROM bankroll", []).map(|_| ())
    }
}

fn amount(c: &Option<Currency>) -> i64 {
    c.as_ref().map_or(0, |c| c.amount)
}

/// The projector over `model`; its projection is the player's balance.
pub fn projector(model: ReadModel) -> Projector {
    let (m1, m2, m3, m4, view) = (model.clone(), model.clone(), model.clone(), model.clone(), model);
    Projector::new(NAME)
        .on(move |e: &PlayerRegistered, root, seq| m1.apply(root, seq, |name, _| *name = e.display_name.clone()))
        .on(move |e: &FundsDeposited, root, seq| m2.apply(root, seq, |_, b| *b = amount(&e.new_balance)))
        .on(move |e: &FundsWithdrawn, root, seq| m3.apply(root, seq, |_, b| *b = amount(&e.new_balance)))
        .on(move |e: &FundsTransferred, root, seq| m4.apply(root, seq, |_, b| *b = amount(&e.new_balance)))
        .view(move |root| view.balance(root).map(|b| pack(&Currency { amount: b, currency_code: "USD".into() })))
}
