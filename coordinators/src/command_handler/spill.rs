//! Where cold aggregates go when a partition has more than
//! `max_cached_aggregates`: a local file, as Kafka Streams keeps its state
//! stores on local disk in front of the changelog.
//!
//! It is a cache, not a store: the log stays the truth. The file lives in
//! the worker's state directory, is never synced (`synchronous=OFF`, no
//! journal) and is deleted with the task; after a crash or a restart the
//! partition is restored from the log as always. A book goes in when it has
//! been the least recently used for a while, and comes back — moved, not
//! copied — before a batch touches its root.

use std::path::Path;

use angzarr_connectors::Encoded;
use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::aggregate::Book;

/// The cold books of one partition task.
pub struct Spill {
    conn: Connection,
    count: usize,
    _file: tempfile::TempPath,
}

impl Spill {
    /// A new, empty spill file in `dir`.
    pub fn open(dir: &Path) -> Result<Self, SpillError> {
        std::fs::create_dir_all(dir).map_err(|e| SpillError(format!("state dir {}: {e}", dir.display())))?;
        let file = tempfile::Builder::new()
            .prefix("angzarr-books-")
            .suffix(".db")
            .tempfile_in(dir)
            .map_err(|e| SpillError(format!("spill file in {}: {e}", dir.display())))?
            .into_temp_path();
        let conn = Connection::open(&file)?;
        conn.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
             CREATE TABLE books (root BLOB PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;",
        )?;
        Ok(Spill { conn, count: 0, _file: file })
    }

    /// Books spilled now.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether nothing is spilled.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Moves `books` out of memory, in one transaction.
    pub fn put(&mut self, books: impl IntoIterator<Item = (Uuid, Book)>) -> Result<(), SpillError> {
        let tx = self.conn.transaction()?;
        let mut added = 0;
        {
            let mut insert = tx.prepare_cached("INSERT OR REPLACE INTO books (root, body) VALUES (?1, ?2)")?;
            for (root, book) in books {
                added += insert.execute(params![root.as_bytes().as_slice(), encode(&book)])?;
            }
        }
        tx.commit()?;
        self.count += added;
        Ok(())
    }

    /// Moves the book of `root` back, if it is here.
    pub fn take(&mut self, root: &Uuid) -> Result<Option<Book>, SpillError> {
        let body: Option<Vec<u8>> = self
            .conn
            .prepare_cached("DELETE FROM books WHERE root = ?1 RETURNING body")?
            .query_row(params![root.as_bytes().as_slice()], |r| r.get(0))
            .optional()?;
        let Some(body) = body else { return Ok(None) };
        self.count -= 1;
        decode(&body).map(Some)
    }
}

/// The spill file failed (disk full, permissions): the task fails, and its
/// supervisor restarts it from the log.
#[derive(Debug, thiserror::Error)]
#[error("spilling cold aggregates: {0}")]
pub struct SpillError(String);

impl From<rusqlite::Error> for SpillError {
    fn from(e: rusqlite::Error) -> Self {
        SpillError(e.to_string())
    }
}

// A book on disk: first_uncovered (i64, -1 = none), the latest state
// (length-prefixed `Any`, 0 = none), the snapshot (seq, length-prefixed, or
// u32::MAX = none), then each page (seq, length-prefixed).
fn encode(book: &Book) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + book.pages.iter().map(|p| p.len() + 8).sum::<usize>());
    out.extend(book.first_uncovered.unwrap_or(-1).to_le_bytes());
    let latest = book.latest_state.as_deref().map(Message::encode_to_vec).unwrap_or_default();
    put(&mut out, &latest);
    match &book.snapshot {
        Some(s) => {
            out.extend(s.seq().to_le_bytes());
            put(&mut out, s.as_bytes());
        }
        None => out.extend(u32::MAX.to_le_bytes()),
    }
    for p in &book.pages {
        out.extend(p.seq().to_le_bytes());
        put(&mut out, p.as_bytes());
    }
    out
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend((bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn decode(mut b: &[u8]) -> Result<Book, SpillError> {
    let bad = || SpillError("a spilled book does not decode".into());
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (b.get(..n)?, b.get(n..)?);
        *b = rest;
        Some(head)
    }
    let u32_of = |b: &mut &[u8]| take(b, 4).map(|x| u32::from_le_bytes(x.try_into().unwrap()));
    let first = i64::from_le_bytes(take(&mut b, 8).ok_or_else(bad)?.try_into().unwrap());
    let n = u32_of(&mut b).ok_or_else(bad)? as usize;
    let latest = take(&mut b, n).ok_or_else(bad)?;
    let latest_state = if n == 0 { None } else { Some(Box::new(prost_types::Any::decode(latest).map_err(|_| bad())?)) };
    let snap_seq = u32_of(&mut b).ok_or_else(bad)?;
    let snapshot = if snap_seq == u32::MAX {
        None
    } else {
        let n = u32_of(&mut b).ok_or_else(bad)? as usize;
        Some(Encoded::from_parts(take(&mut b, n).ok_or_else(bad)?.into(), snap_seq))
    };
    let mut pages = Vec::new();
    while !b.is_empty() {
        let seq = u32_of(&mut b).ok_or_else(bad)?;
        let n = u32_of(&mut b).ok_or_else(bad)? as usize;
        pages.push(Encoded::from_parts(take(&mut b, n).ok_or_else(bad)?.into(), seq));
    }
    Ok(Book { snapshot, pages, first_uncovered: (first >= 0).then_some(first), latest_state, ..Default::default() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::angzarr::{EventPage, PageHeader, Snapshot};

    #[test]
    fn a_book_comes_back_as_it_went() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::open(dir.path()).unwrap();
        let mut book = Book::default();
        let state = prost_types::Any { type_url: "t/S".into(), value: vec![7; 10] };
        book.advance(&[], Some(Snapshot { sequence: 3, state: Some(state.clone()), ..Default::default() }));
        book.advance(&[EventPage { header: Some(PageHeader::sequence(4)), ..Default::default() }], None);
        book.latest_state = Some(Box::new(state));
        book.first_uncovered = Some(42);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        spill.put([(a, book.clone()), (b, Book::default())]).unwrap();
        assert_eq!(spill.len(), 2);
        let back = spill.take(&a).unwrap().unwrap();
        assert_eq!(back.next_sequence(), 5);
        assert_eq!(back.first_uncovered, Some(42));
        assert_eq!(back.latest_state, book.latest_state);
        assert_eq!(back.to_event_book(Default::default()), book.to_event_book(Default::default()));
        assert!(spill.take(&a).unwrap().is_none(), "taken means moved");
        assert_eq!(spill.take(&b).unwrap().unwrap().next_sequence(), 0);
        assert!(spill.is_empty());
    }
}
