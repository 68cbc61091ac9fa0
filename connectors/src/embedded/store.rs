//! The SQLite file behind the embedded log.
//!
//! One table per log of the design (`commands`, `events`, `snapshots`) plus
//! consumer `offsets`. Every multi-row change is one SQLite transaction, so a
//! crash leaves either all of a command's effects or none.
//! `UNIQUE(domain, edition, root, sequence)` is the last line of defence for
//! sequence numbers: even a bug upstream cannot store a duplicate.

use std::path::Path;

use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use angzarr_proto::angzarr::{EventBook, EventPage, Snapshot};

use crate::record::{
    AggregateHistory, CommandEnvelope, DeadLetter, Encoded, EventTx, StoredEvent, TxBatch, Undecodable,
};
use crate::{LogError, Result};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS commands (
    domain TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    root BLOB NOT NULL,
    correlation_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    reply_to TEXT,
    sync_mode INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (domain, partition, offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    domain TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    root BLOB NOT NULL,
    edition TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    correlation_id TEXT NOT NULL,
    type TEXT NOT NULL,
    isolated INTEGER NOT NULL DEFAULT 0,
    body BLOB NOT NULL,
    PRIMARY KEY (domain, partition, offset),
    UNIQUE (domain, edition, root, sequence)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_correlation ON events (correlation_id);
CREATE TABLE IF NOT EXISTS snapshots (
    domain TEXT NOT NULL,
    root BLOB NOT NULL,
    partition INTEGER NOT NULL,
    sequence INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (domain, root)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS snapshots_by_partition ON snapshots (domain, partition);
CREATE TABLE IF NOT EXISTS rejections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    domain TEXT NOT NULL,
    root BLOB NOT NULL,
    request_id TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    code INTEGER NOT NULL,
    message TEXT NOT NULL,
    command BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS rejections_by_correlation ON rejections (correlation_id);
CREATE TABLE IF NOT EXISTS dead_letters (
    grp TEXT NOT NULL,
    domain TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    root BLOB,
    sequence INTEGER,
    correlation_id TEXT NOT NULL,
    error TEXT NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (grp, domain, partition, offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS offsets (
    grp TEXT NOT NULL,
    domain TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    PRIMARY KEY (grp, domain, partition)
) WITHOUT ROWID;
"#;

/// Durability of a commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// fsync on every commit (`synchronous=FULL`): survives power loss.
    #[default]
    Full,
    /// WAL `synchronous=NORMAL`: survives a process crash, may lose the last
    /// commits on power loss. Faster.
    Normal,
}

/// The open SQLite file.
pub struct Store {
    conn: Connection,
}

fn corrupt(location: String, e: impl std::fmt::Display) -> LogError {
    LogError::Corrupt { location, reason: e.to_string() }
}

fn uuid_of(bytes: &[u8], location: impl Fn() -> String) -> Result<Uuid> {
    Uuid::from_slice(bytes).map_err(|e| corrupt(location(), e))
}

impl Store {
    /// Opens (creating if needed) the store at `path`, taking an exclusive
    /// lock so a second process cannot become a second writer.
    pub fn open(path: &Path, durability: Durability) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| LogError::Config(format!("creating {}: {e}", dir.display())))?;
        }
        let in_use = |e: rusqlite::Error| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy => LogError::Config(
                format!("{} is in use by another process: the embedded log has one writer", path.display()),
            ),
            e => e.into(),
        };
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_millis(200))?;
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE").map_err(in_use)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(in_use)?;
        conn.pragma_update(None, "synchronous", sync).map_err(in_use)?;
        conn.execute_batch(SCHEMA).map_err(in_use)?;
        // Files written before events carried the waiting gateway.
        let has_reply_to: bool =
            conn.query_row("SELECT COUNT(*) FROM pragma_table_info('events') WHERE name = 'reply_to'", [], |r| {
                r.get(0)
            })?;
        if !has_reply_to {
            conn.execute_batch("ALTER TABLE events ADD COLUMN reply_to TEXT")?;
        }
        // Files written before events carried their command's request id.
        let has_request_id: bool =
            conn.query_row("SELECT COUNT(*) FROM pragma_table_info('events') WHERE name = 'request_id'", [], |r| {
                r.get(0)
            })?;
        if !has_request_id {
            conn.execute_batch("ALTER TABLE events ADD COLUMN request_id TEXT")?;
        }
        Ok(Store { conn })
    }

    /// Appends a command at the partition's next offset.
    pub fn append_command(&mut self, partition: u32, cmd: &CommandEnvelope) -> Result<i64> {
        let tx = self.conn.transaction()?;
        let offset = insert_command(&tx, partition, cmd)?;
        tx.commit()?;
        Ok(offset)
    }

    /// Up to `max` events of a partition after `after`, in offset order.
    pub fn events_after(&self, domain: &str, partition: u32, after: i64, max: usize) -> Result<Vec<StoredEvent>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT offset, root, sequence, correlation_id, isolated, body, reply_to FROM events
             WHERE domain = ?1 AND partition = ?2 AND offset > ?3 ORDER BY offset LIMIT ?4",
        )?;
        let rows = stmt.query_map(params![domain, partition, after, max as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, u32>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, Vec<u8>>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (offset, root, sequence, correlation_id, isolated, body, reply_to) = row?;
            let loc = || format!("events {domain}[{partition}]@{offset}");
            let root = uuid_of(&root, loc)?;
            // A body that does not decode is the consumers' poison, not a
            // reason to stop every consumer of the file.
            let (book, undecodable) = match EventBook::decode(body.as_slice()) {
                Ok(book) => (book, None),
                Err(e) => {
                    tracing::error!(location = loc(), error = %e, "undecodable event");
                    let raw = Undecodable {
                        reason: format!("value is not an EventBook: {e}"),
                        key: root.to_string().into_bytes(),
                        value: body,
                    };
                    (EventBook::default(), Some(std::sync::Arc::new(raw)))
                }
            };
            out.push(StoredEvent {
                trace: None,
                domain: domain.to_string(),
                partition,
                offset,
                root,
                sequence,
                correlation_id,
                isolated,
                reply_to,
                book,
                undecodable,
            });
        }
        Ok(out)
    }

    /// Appends a downstream task's commands and advances its group's offset, in one transaction.
    pub fn commit_events(
        &mut self,
        group: &str,
        domain: &str,
        partition: u32,
        tx_in: &EventTx,
        command_partitions: &[u32],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (cmd, p) in tx_in.commands.iter().zip(command_partitions) {
            insert_command(&tx, *p, cmd)?;
        }
        for d in &tx_in.dead_letters {
            tx.execute(
                "INSERT OR REPLACE INTO dead_letters
                 (grp, domain, partition, offset, root, sequence, correlation_id, error, key, value, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    group,
                    d.domain,
                    d.partition,
                    d.offset,
                    d.root.map(|r| r.as_bytes().to_vec()),
                    d.sequence,
                    d.correlation_id,
                    d.error,
                    d.key,
                    d.value,
                    d.at_ms
                ],
            )?;
        }
        if let Some(offset) = tx_in.consumed_through {
            tx.execute(
                "INSERT INTO offsets (grp, domain, partition, offset) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (grp, domain, partition) DO UPDATE SET offset = excluded.offset",
                params![group, domain, partition, offset],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The dead letters of `group` still waiting for a decision, oldest first.
    pub fn dead_letters(&self, group: &str) -> Result<Vec<DeadLetter>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT domain, partition, offset, root, sequence, correlation_id, error, key, value, at_ms
             FROM dead_letters WHERE grp = ?1 ORDER BY at_ms, domain, partition, offset",
        )?;
        let rows = stmt.query_map(params![group], |r| {
            Ok((
                DeadLetter {
                    domain: r.get(0)?,
                    partition: r.get(1)?,
                    offset: r.get(2)?,
                    root: None,
                    sequence: r.get(4)?,
                    correlation_id: r.get(5)?,
                    error: r.get(6)?,
                    key: r.get(7)?,
                    value: r.get(8)?,
                    at_ms: r.get(9)?,
                },
                r.get::<_, Option<Vec<u8>>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (mut letter, root) = row?;
            if let Some(root) = root {
                letter.root = Some(uuid_of(&root, || format!("dead letter {group} {}", letter.id()))?);
            }
            out.push(letter);
        }
        Ok(out)
    }

    /// Removes `group`'s dead letter `letter` and appends `commands` (what
    /// its replay produced), in one transaction; `false` if it was not there.
    pub fn settle_dead_letter(
        &mut self,
        group: &str,
        letter: &DeadLetter,
        commands: &[CommandEnvelope],
        command_partitions: &[u32],
    ) -> Result<bool> {
        let tx = self.conn.transaction()?;
        let removed = tx.execute(
            "DELETE FROM dead_letters WHERE grp = ?1 AND domain = ?2 AND partition = ?3 AND offset = ?4",
            params![group, letter.domain, letter.partition, letter.offset],
        )?;
        if removed == 0 {
            return Ok(false);
        }
        for (cmd, p) in commands.iter().zip(command_partitions) {
            insert_command(&tx, *p, cmd)?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// Sets a group's position on every partition of `domain` (replay).
    pub fn reset_offsets(&mut self, group: &str, domain: &str, partitions: u32, to: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        for p in 0..partitions {
            tx.execute(
                "INSERT INTO offsets (grp, domain, partition, offset) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (grp, domain, partition) DO UPDATE SET offset = excluded.offset",
                params![group, domain, p, to],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Sets `group`'s position on one partition (`to`: the last consumed offset).
    pub fn reset_partition_offset(&mut self, group: &str, domain: &str, partition: u32, to: i64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO offsets (grp, domain, partition, offset) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (grp, domain, partition) DO UPDATE SET offset = excluded.offset",
            params![group, domain, partition, to],
        )?;
        Ok(())
    }

    /// The offset of the first event of `domain`'s `partition` written at or
    /// after `ms` (its first page's `created_at`, stamped at the decision),
    /// or the partition's end when none was: where a replay `--to <time>`
    /// starts. Offsets follow decision time within a partition (one
    /// writer), so a binary search over them finds it.
    pub fn offset_at_time(&self, domain: &str, partition: u32, ms: i64) -> Result<i64> {
        let (low, high): (Option<i64>, Option<i64>) = self.conn.query_row(
            "SELECT MIN(offset), MAX(offset) FROM events WHERE domain = ?1 AND partition = ?2",
            params![domain, partition],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let (Some(mut low), Some(high)) = (low, high) else { return Ok(0) };
        let mut stmt =
            self.conn.prepare_cached("SELECT body FROM events WHERE domain = ?1 AND partition = ?2 AND offset = ?3")?;
        let mut time_of = |offset: i64| -> Result<i64> {
            let body: Vec<u8> = stmt.query_row(params![domain, partition, offset], |r| r.get(0))?;
            let book = EventBook::decode(body.as_slice()).map_err(|e| LogError::Corrupt {
                location: format!("{domain}[{partition}]@{offset}"),
                reason: e.to_string(),
            })?;
            Ok(book
                .pages
                .first()
                .and_then(|p| p.created_at)
                .map_or(i64::MIN, |t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000))
        };
        // The first offset in [low, high + 1) whose time is >= ms.
        let mut end = high + 1;
        while low < end {
            let mid = low + (end - low) / 2;
            if time_of(mid)? >= ms {
                end = mid;
            } else {
                low = mid + 1;
            }
        }
        Ok(low)
    }

    /// Events of `domain` stored so far and the highest offset per partition (replay progress).
    pub fn event_counts(&self, domain: &str) -> Result<i64> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM events WHERE domain = ?1", params![domain], |r| r.get(0))?)
    }
}

fn insert_command(tx: &rusqlite::Transaction<'_>, partition: u32, cmd: &CommandEnvelope) -> Result<i64> {
    let offset: i64 = tx.query_row(
        "SELECT COALESCE(MAX(offset), -1) + 1 FROM commands WHERE domain = ?1 AND partition = ?2",
        params![cmd.domain, partition],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO commands (domain, partition, offset, root, correlation_id, request_id, reply_to, sync_mode, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            cmd.domain,
            partition,
            offset,
            cmd.root.as_bytes().as_slice(),
            cmd.correlation_id,
            cmd.request_id,
            cmd.reply_to,
            cmd.sync_mode,
            cmd.book
        ],
    )?;
    Ok(offset)
}

impl Store {
    /// Roots of `domain` with events, in UUID (byte) order, after `after`.
    pub fn roots(&self, domain: &str, after: Option<Uuid>, limit: usize) -> Result<Vec<Uuid>> {
        let after = after.map(|a| a.as_bytes().to_vec()).unwrap_or_default();
        let mut q = self.conn.prepare_cached(
            "SELECT DISTINCT root FROM events WHERE domain = ?1 AND root > ?2 ORDER BY root LIMIT ?3",
        )?;
        let rows = q.query_map(params![domain, after, limit as i64], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for row in rows {
            let bytes = row?;
            out.push(Uuid::from_slice(&bytes).map_err(|e| crate::LogError::Corrupt {
                location: format!("events of {domain}"),
                reason: format!("root: {e}"),
            })?);
        }
        Ok(out)
    }

    /// `group`'s position on each partition of `domain`'s commands or events,
    /// beside the partition's first and next offsets (Kafka's meaning: the
    /// committed position is the next offset to read).
    pub fn lag(
        &self,
        group: &str,
        domain: &str,
        partitions: u32,
        stream: crate::log::Stream,
    ) -> Result<Vec<crate::log::PartitionLag>> {
        let table = match stream {
            crate::log::Stream::Commands => "commands",
            crate::log::Stream::Events => "events",
        };
        let mut bounds = self.conn.prepare_cached(&format!(
            "SELECT MIN(offset), MAX(offset) FROM {table} WHERE domain = ?1 AND partition = ?2"
        ))?;
        let mut out = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            let (min, max): (Option<i64>, Option<i64>) =
                bounds.query_row(params![domain, p], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let committed = self.committed_offset(group, domain, p)?.map(|last| last + 1);
            let end = max.map_or(0, |m| m + 1);
            out.push(crate::log::PartitionLag {
                domain: domain.to_string(),
                partition: p,
                committed,
                start: min.unwrap_or(end),
                end,
                drained: false,
            });
        }
        Ok(out)
    }

    /// The group's committed position: the offset of the last consumed command.
    pub fn committed_offset(&self, group: &str, domain: &str, partition: u32) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT offset FROM offsets WHERE grp = ?1 AND domain = ?2 AND partition = ?3",
                params![group, domain, partition],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Up to `max` commands after `after`, in offset order.
    pub fn commands_after(&self, domain: &str, partition: u32, after: i64, max: usize) -> Result<Vec<CommandEnvelope>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT offset, root, correlation_id, request_id, reply_to, sync_mode, body FROM commands
             WHERE domain = ?1 AND partition = ?2 AND offset > ?3 ORDER BY offset LIMIT ?4",
        )?;
        let rows = stmt.query_map(params![domain, partition, after, max as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, i32>(5)?,
                r.get::<_, Vec<u8>>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (offset, root, correlation_id, request_id, reply_to, sync_mode, book) = row?;
            let root = uuid_of(&root, || format!("commands {domain}[{partition}]@{offset}"))?;
            out.push(CommandEnvelope {
                trace: None,
                domain: domain.to_string(),
                root,
                correlation_id,
                request_id,
                reply_to,
                sync_mode,
                book,
                offset,
            });
        }
        Ok(out)
    }

    /// Commits one task's batch in one SQLite transaction.
    pub fn commit_batch(
        &mut self,
        group: &str,
        domain: &str,
        partition: u32,
        batch: &TxBatch,
        command_partitions: &[u32],
    ) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        for (cmd, p) in batch.commands.iter().zip(command_partitions) {
            insert_command(&tx, *p, cmd)?;
        }
        let mut offsets = Vec::with_capacity(batch.events.len());
        {
            let next: i64 = tx.query_row(
                "SELECT COALESCE(MAX(offset), -1) + 1 FROM events WHERE domain = ?1 AND partition = ?2",
                params![domain, partition],
                |r| r.get(0),
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (domain, partition, offset, root, edition, sequence, correlation_id, type, isolated, body, reply_to, request_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for (ev, offset) in batch.events.iter().zip(next..) {
                insert
                    .execute(params![
                        domain,
                        partition,
                        offset,
                        ev.root.as_bytes().as_slice(),
                        ev.edition,
                        ev.sequence,
                        ev.correlation_id,
                        ev.type_name,
                        ev.isolated,
                        ev.book.encode_to_vec(),
                        ev.reply_to,
                        (!ev.request_id.is_empty()).then_some(ev.request_id.as_str())
                    ])
                    .map_err(|e| match e {
                        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                            LogError::Conflict(format!("{domain}/{} already has sequence {}", ev.root, ev.sequence))
                        }
                        e => e.into(),
                    })?;
                offsets.push(offset);
            }
            let mut snap = tx.prepare_cached(
                "INSERT INTO snapshots (domain, root, partition, sequence, body) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (domain, root) DO UPDATE SET sequence = excluded.sequence, body = excluded.body",
            )?;
            for s in &batch.snapshots {
                snap.execute(params![
                    domain,
                    s.root.as_bytes().as_slice(),
                    partition,
                    s.snapshot.sequence,
                    s.snapshot.encode_to_vec()
                ])?;
            }
            if let Some(offset) = batch.consumed_through {
                tx.execute(
                    "INSERT INTO offsets (grp, domain, partition, offset) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (grp, domain, partition) DO UPDATE SET offset = excluded.offset",
                    params![group, domain, partition, offset],
                )?;
            }
            let mut reject = tx.prepare_cached(
                "INSERT INTO rejections (domain, root, request_id, correlation_id, code, message, command)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for r in &batch.rejections {
                reject.execute(params![
                    r.domain,
                    r.root.as_bytes().as_slice(),
                    r.request_id,
                    r.correlation_id,
                    r.code,
                    r.message,
                    r.command
                ])?;
            }
        }
        tx.commit()?;
        metrics::counter!(crate::kafka::TRANSACTIONS, "log" => "embedded", "outcome" => "committed").increment(1);
        Ok(offsets)
    }

    /// Commands of a partition that carried a request id, with their pages,
    /// among its last `max` events — newest last; the caller keeps those
    /// within its window.
    pub fn recent_requests(
        &self,
        domain: &str,
        partition: u32,
        max: usize,
    ) -> Result<Vec<crate::record::RecentRequest>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT offset, request_id, root, body FROM
               (SELECT offset, request_id, root, body FROM events WHERE domain = ?1 AND partition = ?2
                ORDER BY offset DESC LIMIT ?3)
             WHERE request_id IS NOT NULL ORDER BY offset",
        )?;
        let rows = stmt.query_map(params![domain, partition, max as i64], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?, r.get::<_, Vec<u8>>(3)?))
        })?;
        let mut out = crate::record::RecentRequests::default();
        for row in rows {
            let (offset, request_id, root, body) = row?;
            let loc = || format!("events {domain}[{partition}]@{offset}");
            let root = uuid_of(&root, loc)?;
            let book = EventBook::decode(body.as_slice()).map_err(|e| corrupt(loc(), e))?;
            out.add(request_id, root, book);
        }
        Ok(out.into_vec())
    }

    /// Recorded rejections, oldest first (of `correlation_id` only, when given).
    pub fn rejections(&self, correlation_id: Option<&str>) -> Result<Vec<crate::record::Rejection>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT domain, root, request_id, correlation_id, code, message, command FROM rejections
             WHERE ?1 IS NULL OR correlation_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![correlation_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (domain, root, request_id, correlation_id, code, message, command) = row?;
            let root = uuid_of(&root, || format!("rejections of {domain}"))?;
            out.push(crate::record::Rejection { domain, root, request_id, correlation_id, code, message, command });
        }
        Ok(out)
    }

    /// The latest snapshot of a root.
    fn snapshot(&self, domain: &str, root: &Uuid) -> Result<Option<Snapshot>> {
        let body: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT body FROM snapshots WHERE domain = ?1 AND root = ?2",
                params![domain, root.as_bytes().as_slice()],
                |r| r.get(0),
            )
            .optional()?;
        body.map(|b| Snapshot::decode(b.as_slice()).map_err(|e| corrupt(format!("snapshots {domain}/{root}"), e)))
            .transpose()
    }

    /// One aggregate's latest snapshot and the pages after it.
    pub fn read_book(&self, domain: &str, root: &Uuid) -> Result<AggregateHistory> {
        let snapshot = self.snapshot(domain, root)?;
        let after: i64 = snapshot.as_ref().map(|s| s.sequence as i64).unwrap_or(-1);
        let pages = self.pages_after(domain, root, after)?;
        Ok(AggregateHistory {
            root: *root,
            snapshot: snapshot.as_ref().map(Encoded::snapshot),
            pages,
            first_offset: None,
        })
    }

    /// Every page of an aggregate (main timeline), from its first event.
    pub fn read_history(&self, domain: &str, root: &Uuid) -> Result<AggregateHistory> {
        Ok(AggregateHistory { root: *root, pages: self.pages_after(domain, root, -1)?, ..Default::default() })
    }

    /// The pages of `root` with a sequence above `after`, in order.
    fn pages_after(&self, domain: &str, root: &Uuid, after: i64) -> Result<Vec<Encoded<EventPage>>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT offset, partition, body FROM events WHERE domain = ?1 AND edition = '' AND root = ?2 AND sequence > ?3
             ORDER BY sequence",
        )?;
        let rows = stmt.query_map(params![domain, root.as_bytes().as_slice(), after], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, u32>(1)?, r.get::<_, Vec<u8>>(2)?))
        })?;
        let mut pages = Vec::new();
        for row in rows {
            let (offset, partition, body) = row?;
            let book = EventBook::decode(body.as_slice())
                .map_err(|e| corrupt(format!("events {domain}[{partition}]@{offset}"), e))?;
            pages.extend(book.pages.iter().filter_map(Encoded::page));
        }
        Ok(pages)
    }

    /// Every aggregate of a partition: snapshots, then the events they do not cover.
    pub fn restore(&self, domain: &str, partition: u32) -> Result<Vec<AggregateHistory>> {
        use std::collections::HashMap;
        let mut by_root: HashMap<Uuid, AggregateHistory> = HashMap::new();
        let mut snaps =
            self.conn.prepare_cached("SELECT root, body FROM snapshots WHERE domain = ?1 AND partition = ?2")?;
        let rows =
            snaps.query_map(params![domain, partition], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        for row in rows {
            let (root, body) = row?;
            let loc = || format!("snapshots {domain}[{partition}]");
            let root = uuid_of(&root, loc)?;
            let snapshot = Snapshot::decode(body.as_slice()).map_err(|e| corrupt(loc(), e))?;
            by_root.insert(
                root,
                AggregateHistory {
                    root,
                    snapshot: Some(Encoded::snapshot(&snapshot)),
                    pages: Vec::new(),
                    first_offset: None,
                },
            );
        }
        let mut events = self.conn.prepare_cached(
            "SELECT e.offset, e.root, e.body FROM events e
             LEFT JOIN snapshots s ON s.domain = e.domain AND s.root = e.root
             WHERE e.domain = ?1 AND e.partition = ?2 AND e.edition = ''
               AND (s.sequence IS NULL OR e.sequence > s.sequence)
             ORDER BY e.offset",
        )?;
        let rows = events.query_map(params![domain, partition], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(2)?))
        })?;
        for row in rows {
            let (offset, root, body) = row?;
            let loc = || format!("events {domain}[{partition}]@{offset}");
            let root = uuid_of(&root, loc)?;
            let book = EventBook::decode(body.as_slice()).map_err(|e| corrupt(loc(), e))?;
            let history = by_root.entry(root).or_insert_with(|| AggregateHistory { root, ..Default::default() });
            history.first_offset.get_or_insert(offset);
            history.pages.extend(book.pages.iter().filter_map(Encoded::page));
        }
        Ok(by_root.into_values().collect())
    }

    /// Counts rows, for tests and diagnostics: `(commands, events, snapshots)` of a domain.
    pub fn counts(&self, domain: &str) -> Result<(i64, i64, i64)> {
        let count = |table: &str| -> Result<i64> {
            Ok(self.conn.query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE domain = ?1"),
                params![domain],
                |r| r.get(0),
            )?)
        };
        Ok((count("commands")?, count("events")?, count("snapshots")?))
    }
}
