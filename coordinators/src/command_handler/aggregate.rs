//! A partition task's state: every live aggregate's book, in memory.
//!
//! Sequence numbers are checked here, against `next_sequence`, and nowhere
//! else: the task is the only writer of its partition, so the in-memory
//! book is the truth as long as the task owns it. A batch works on a
//! [`Staged`] overlay that is folded in only after the commit succeeded.

use std::collections::{BTreeSet, HashMap};

use angzarr_connectors::{AggregateHistory, Encoded, LogError, RestoreStream, Restored};

use super::spill::{Spill, SpillError};
use angzarr_proto::angzarr::{Cover, EventBook, EventPage, Snapshot};
use uuid::Uuid;

/// One aggregate as its owner holds it: the latest snapshot and the pages
/// after it, encoded ([`Encoded`]) — a partition's worth of these is the
/// worker's memory, so they stay compact and are decoded per command.
#[derive(Clone, Debug, Default)]
pub struct Book {
    /// Latest stored snapshot.
    pub snapshot: Option<Encoded<Snapshot>>,
    /// Pages after the snapshot, in order.
    pub pages: Vec<Encoded<EventPage>>,
    /// Log offset of the first page not covered by the snapshot: restore
    /// must read from here (or earlier) to see this aggregate whole.
    pub first_uncovered: Option<i64>,
    /// The state the business logic returned after the last command, so a
    /// snapshot can be stored without calling it again — only while pages
    /// follow the snapshot: otherwise the snapshot's state is the latest and
    /// is not kept twice (see [`Book::latest`]).
    pub latest_state: Option<Box<prost_types::Any>>,
    /// When a batch last touched it (the partition's batch count): the
    /// least recently used are spilled first.
    pub used: u64,
}

impl Book {
    /// The sequence the next event gets.
    pub fn next_sequence(&self) -> u32 {
        if let Some(last) = self.pages.last() {
            return last.seq() + 1;
        }
        self.snapshot.as_ref().map_or(0, |s| s.seq() + 1)
    }

    /// Events stored since the last snapshot (drives snapshot cadence).
    pub fn since_snapshot(&self) -> usize {
        self.pages.len()
    }

    /// The book as the business logic receives it (decoded here).
    pub fn to_event_book(&self, cover: Cover) -> EventBook {
        EventBook {
            cover: Some(cover),
            snapshot: self.snapshot.as_ref().map(Encoded::decode),
            pages: self.pages.iter().map(Encoded::decode).collect(),
            next_sequence: self.next_sequence(),
        }
    }

    /// Whether the latest state is known (so the aggregate can be snapshotted
    /// without calling its business logic).
    pub fn knows_latest(&self) -> bool {
        if self.pages.is_empty() { self.snapshot.is_some() } else { self.latest_state.is_some() }
    }

    /// The latest state, when known: the snapshot's when no page follows it.
    pub fn latest(&self) -> Option<prost_types::Any> {
        if self.pages.is_empty() {
            self.snapshot.as_ref().and_then(|s| s.decode().state)
        } else {
            self.latest_state.as_deref().cloned()
        }
    }

    /// Appends committed pages, and replaces everything up to a new snapshot.
    pub fn advance(&mut self, pages: &[EventPage], snapshot: Option<Snapshot>) {
        self.pages.extend(pages.iter().filter_map(Encoded::page));
        if let Some(s) = snapshot {
            self.pages.retain(|p| p.seq() > s.sequence);
            self.snapshot = Some(Encoded::snapshot(&s));
            if self.pages.is_empty() {
                self.first_uncovered = None;
                // The snapshot holds the latest state now; never keep it twice.
                self.latest_state = None;
            }
        }
    }

    /// A snapshot of the latest state, covering every page — used to stop
    /// an idle aggregate from holding back where restore starts.
    pub fn snapshot_now(&mut self) -> Option<Snapshot> {
        let state = self.latest()?;
        let sequence = self.next_sequence().checked_sub(1)?;
        let snapshot = Snapshot {
            sequence,
            state: Some(state),
            created_at: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
            ..Default::default()
        };
        self.advance(&[], Some(snapshot.clone()));
        Some(snapshot)
    }
}

impl From<AggregateHistory> for Book {
    fn from(h: AggregateHistory) -> Self {
        // With no page after it, the snapshot's state is the latest state
        // ([`Book::latest`]); with pages after it, the latest is unknown
        // until the business logic returns it again.
        Book { snapshot: h.snapshot, pages: h.pages, first_uncovered: h.first_offset, latest_state: None, used: 0 }
    }
}

/// Every aggregate of the partition: the recently used in memory, the rest
/// (past `max_cached_aggregates`) in a [`Spill`] file.
#[derive(Default)]
pub struct Books {
    by_root: HashMap<Uuid, Book>,
    /// `(first_uncovered, root)` of every aggregate with uncovered events,
    /// spilled ones included: where restore may start, and which aggregates
    /// hold it back, without a scan of every book per batch.
    uncovered: BTreeSet<(i64, Uuid)>,
    cold: Option<Cold>,
    /// Batches so far: the clock of [`Book::used`].
    clock: u64,
}

struct Cold {
    max: usize,
    /// Behind a mutex only so the books stay `Sync` (SQLite connections
    /// are not); every use has `&mut` access and never waits on it.
    spill: std::sync::Mutex<Spill>,
}

impl Cold {
    fn spill(&mut self) -> &mut Spill {
        self.spill.get_mut().unwrap_or_else(|p| p.into_inner())
    }
}

impl Books {
    /// The restored state of a partition, built as the log streams it —
    /// the books are the only copy of the partition this worker holds; with
    /// `cache`, at most its `max` books stay in memory and the rest are
    /// spilled as they arrive.
    pub async fn restore(mut stream: RestoreStream, cache: Option<&CacheConfig>) -> Result<Self, RestoreError> {
        let cold = match cache {
            Some(c) => {
                Some(Cold { max: c.max_cached.max(1), spill: std::sync::Mutex::new(Spill::open(&c.state_dir)?) })
            }
            None => None,
        };
        let mut books = Books { by_root: HashMap::new(), uncovered: BTreeSet::new(), cold, clock: 0 };
        // Books past the cap, on their way to the spill file.
        let mut overflow: HashMap<Uuid, Book> = HashMap::new();
        while let Some(chunk) = stream.next().await {
            for item in chunk? {
                books.add_restored(item, &mut overflow)?;
            }
            if overflow.len() >= SPILL_CHUNK {
                books.cold.as_mut().expect("a limit means a spill").spill().put(overflow.drain())?;
            }
        }
        if !overflow.is_empty() {
            books.cold.as_mut().expect("a limit means a spill").spill().put(overflow)?;
        }
        Ok(books)
    }

    /// One restored snapshot or page into its book.
    fn add_restored(&mut self, item: Restored, overflow: &mut HashMap<Uuid, Book>) -> Result<(), SpillError> {
        let max = self.cold.as_ref().map_or(usize::MAX, |c| c.max);
        let root = match &item {
            Restored::Snapshot { root, .. } | Restored::Page { root, .. } => *root,
        };
        let book = if self.by_root.contains_key(&root) {
            self.by_root.get_mut(&root).expect("just checked")
        } else if overflow.contains_key(&root) {
            overflow.get_mut(&root).expect("just checked")
        } else {
            // A snapshot comes before the root's pages: a snapshot of a
            // root not in memory starts its book (a later snapshot record
            // of the same root replaces a spilled one on the next put); a
            // page may belong to a book already spilled.
            let spilled = match (&item, &mut self.cold) {
                (Restored::Page { .. }, Some(cold)) => cold.spill().take(&root)?,
                _ => None,
            };
            let book = spilled.unwrap_or_default();
            if self.by_root.len() < max {
                self.by_root.entry(root).or_insert(book)
            } else {
                overflow.entry(root).or_insert(book)
            }
        };
        match item {
            Restored::Snapshot { snapshot, .. } => book.snapshot = Some(snapshot),
            Restored::Page { offset, page, .. } => {
                let covered = book.snapshot.as_ref().map(Encoded::seq);
                if angzarr_connectors::restore::extends(covered, book.pages.last().map(Encoded::seq), page.seq()) {
                    if book.first_uncovered.is_none()
                        && let Some(o) = offset
                    {
                        book.first_uncovered = Some(o);
                        self.uncovered.insert((o, root));
                    }
                    if book.pages.capacity() == 0 {
                        // Most restored books hold a page or two past their
                        // snapshot: room for one, not `Vec`'s first four.
                        book.pages.reserve_exact(1);
                    }
                    book.pages.push(page);
                }
            }
        }
        Ok(())
    }

    /// Each book in memory with the sequence its next event gets (for
    /// tracing what a restore found).
    pub fn next_sequences(&self) -> impl Iterator<Item = (Uuid, u32)> + '_ {
        self.by_root.iter().map(|(r, b)| (*r, b.next_sequence()))
    }

    /// Number of live aggregates, in memory or spilled.
    pub fn len(&self) -> usize {
        self.by_root.len() + self.cold.as_ref().map_or(0, |c| c.spill.lock().unwrap_or_else(|p| p.into_inner()).len())
    }

    /// Aggregates held in memory.
    pub fn cached(&self) -> usize {
        self.by_root.len()
    }

    /// Whether no aggregate lives here.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Brings the books of `roots` into memory (from the spill) and marks
    /// them used — before a batch stages them.
    pub fn load(&mut self, roots: impl IntoIterator<Item = Uuid>) -> Result<(), SpillError> {
        self.clock += 1;
        for root in roots {
            if let Some(b) = self.by_root.get_mut(&root) {
                b.used = self.clock;
                continue;
            }
            if let Some(cold) = &mut self.cold
                && let Some(mut b) = cold.spill().take(&root)?
            {
                b.used = self.clock;
                self.by_root.insert(root, b);
            }
        }
        Ok(())
    }

    /// Spills the least recently used books once more than the limit are in
    /// memory, down to 90% of it (so eviction is not paid on every batch).
    pub fn evict(&mut self) -> Result<usize, SpillError> {
        let Some(cold) = &mut self.cold else { return Ok(0) };
        if self.by_root.len() <= cold.max {
            return Ok(0);
        }
        let keep = cold.max - cold.max / 10;
        let n = self.by_root.len() - keep;
        let mut by_use: Vec<(u64, Uuid)> = self.by_root.iter().map(|(r, b)| (b.used, *r)).collect();
        by_use.select_nth_unstable(n - 1);
        let out: Vec<(Uuid, Book)> =
            by_use[..n].iter().map(|(_, r)| (*r, self.by_root.remove(r).expect("listed from the map"))).collect();
        cold.spill().put(out)?;
        Ok(n)
    }

    /// A batch's working copy.
    pub fn stage(&self) -> Staged<'_> {
        Staged { base: self, changed: HashMap::new() }
    }
}

/// The books as a batch sees them: committed state plus this batch's changes.
pub struct Staged<'a> {
    base: &'a Books,
    changed: HashMap<Uuid, Book>,
}

impl Staged<'_> {
    /// The book of `root` as of this point of the batch.
    pub fn get(&self, root: &Uuid) -> Option<&Book> {
        self.changed.get(root).or_else(|| self.base.by_root.get(root))
    }

    /// A mutable book of `root`, copied from the committed state on first touch.
    pub fn get_mut(&mut self, root: &Uuid) -> &mut Book {
        let base = self.base;
        self.changed.entry(*root).or_insert_with(|| base.by_root.get(root).cloned().unwrap_or_default())
    }

    /// The changes, to fold in once committed.
    pub fn into_changes(self) -> HashMap<Uuid, Book> {
        self.changed
    }
}

impl Books {
    /// Folds a committed batch's changes in, with the offsets its events got.
    pub fn apply(&mut self, changes: HashMap<Uuid, Book>, appended: &[(Uuid, u32)], offsets: &[i64]) {
        let roots: Vec<Uuid> = changes.keys().copied().collect();
        for root in &roots {
            if let Some(o) = self.by_root.get(root).and_then(|b| b.first_uncovered) {
                self.uncovered.remove(&(o, *root));
            }
        }
        self.by_root.extend(changes);
        for (&(root, seq), &offset) in appended.iter().zip(offsets) {
            if let Some(book) = self.by_root.get_mut(&root) {
                let covered = book.snapshot.as_ref().is_some_and(|s| s.seq() >= seq);
                if !covered {
                    book.first_uncovered.get_or_insert(offset);
                }
            }
        }
        for root in roots {
            if let Some(o) = self.by_root.get(&root).and_then(|b| b.first_uncovered) {
                self.uncovered.insert((o, root));
            }
        }
    }

    /// Where restore may start: the first event some aggregate still needs.
    /// `None` when every event is covered by a snapshot.
    pub fn restore_from(&self) -> Option<i64> {
        self.uncovered.first().map(|(o, _)| *o)
    }

    /// Roots whose uncovered events start before `offset` and whose latest
    /// state is known: snapshot them to keep restore proportional to recent
    /// activity. Oldest first.
    pub fn laggards(&self, offset: i64, max: usize) -> Vec<Uuid> {
        self.uncovered
            .iter()
            .take_while(|(o, _)| *o < offset)
            .filter(|(_, r)| self.by_root.get(r).is_some_and(Book::knows_latest))
            .map(|(_, r)| *r)
            .take(max)
            .collect()
    }
}

/// Books spilled in one transaction while a partition is restored.
const SPILL_CHUNK: usize = 10_000;

/// A restore that could not finish: the log failed while it was read, or
/// the spill file did. Either way the task fails and is restored again.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// Reading the log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The spill file failed.
    #[error(transparent)]
    Spill(#[from] SpillError),
}

/// How many aggregates a partition keeps in memory, and where the rest go.
#[derive(Clone, Debug)]
pub struct CacheConfig {
    /// Books kept in memory.
    pub max_cached: usize,
    /// Directory of the spill files.
    pub state_dir: std::path::PathBuf,
}

/// The refusal text when a command's expected sequence is not the aggregate's next.
pub fn sequence_mismatch(domain: &str, root: &Uuid, expected: u32, next: u32) -> String {
    format!(
        "sequence mismatch on {domain}/{root}: the command expects sequence {expected}, the aggregate's next sequence is {next}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::angzarr::PageHeader;

    fn page(seq: u32) -> EventPage {
        EventPage { header: Some(PageHeader::sequence(seq)), ..Default::default() }
    }

    #[test]
    fn next_sequence_follows_pages_then_snapshot() {
        let mut b = Book::default();
        assert_eq!(b.next_sequence(), 0);
        b.advance(&[page(0), page(1)], None);
        assert_eq!(b.next_sequence(), 2);
        b.advance(&[page(2)], Some(Snapshot { sequence: 2, ..Default::default() }));
        assert!(b.pages.is_empty());
        assert_eq!(b.next_sequence(), 3);
        b.advance(&[page(3)], None);
        assert_eq!(b.next_sequence(), 4);
        assert_eq!(b.since_snapshot(), 1);
    }

    #[test]
    fn staged_changes_do_not_leak_until_applied() {
        let mut books = Books::default();
        let root = Uuid::new_v4();
        let changes = {
            let mut staged = books.stage();
            staged.get_mut(&root).advance(&[page(0)], None);
            assert_eq!(staged.get(&root).unwrap().next_sequence(), 1);
            assert!(books.by_root.is_empty());
            staged.into_changes()
        };
        books.apply(changes, &[(root, 0)], &[42]);
        assert_eq!(books.by_root[&root].next_sequence(), 1);
        assert_eq!(books.restore_from(), Some(42));
    }

    #[tokio::test]
    async fn the_restore_point_follows_snapshots_without_scanning() {
        let state = prost_types::Any { type_url: "t/S".into(), value: vec![1] };
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut books = Books::restore(
            RestoreStream::from_histories(vec![
                AggregateHistory {
                    root: a,
                    pages: vec![Encoded::page(&page(0)).unwrap()],
                    first_offset: Some(10),
                    ..Default::default()
                },
                AggregateHistory {
                    root: b,
                    snapshot: Some(Encoded::snapshot(&Snapshot {
                        sequence: 4,
                        state: Some(state.clone()),
                        ..Default::default()
                    })),
                    ..Default::default()
                },
            ]),
            None,
        )
        .await
        .unwrap();
        assert_eq!(books.restore_from(), Some(10));
        assert!(books.laggards(100, 10).is_empty(), "a's latest state is unknown after a restore");
        assert!(books.by_root[&b].latest().is_some(), "a snapshot with nothing after it is the latest state");
        assert!(books.by_root[&b].latest_state.is_none(), "and it is not kept twice");
        // b gets an event at offset 20; a is snapshotted: the point moves to 20.
        let changes = {
            let mut staged = books.stage();
            staged.get_mut(&b).advance(&[page(5)], None);
            let ab = staged.get_mut(&a);
            ab.latest_state = Some(Box::new(state.clone()));
            ab.snapshot_now().unwrap();
            staged.into_changes()
        };
        books.apply(changes, &[(b, 5)], &[20]);
        assert_eq!(books.restore_from(), Some(20));
        assert!(books.laggards(21, 10).is_empty(), "b's state after page 5 is unknown until its handler returns it");
    }

    #[tokio::test]
    async fn past_the_limit_cold_books_are_spilled_and_come_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CacheConfig { max_cached: 10, state_dir: dir.path().to_path_buf() };
        let roots: Vec<Uuid> = (0..25).map(|_| Uuid::new_v4()).collect();
        let histories = roots
            .iter()
            .enumerate()
            .map(|(i, r)| AggregateHistory {
                root: *r,
                pages: (0..=i as u32).map(|s| Encoded::page(&page(s)).unwrap()).collect(),
                first_offset: Some(i as i64),
                ..Default::default()
            })
            .collect();
        let mut books = Books::restore(RestoreStream::from_histories(histories), Some(&cache)).await.unwrap();
        assert_eq!((books.len(), books.cached()), (25, 10));
        assert_eq!(books.restore_from(), Some(0), "spilled books still hold the restore point");
        // A batch touches every root: each comes back with its own history.
        for (i, r) in roots.iter().enumerate() {
            books.load([*r]).unwrap();
            assert_eq!(books.stage().get(r).unwrap().next_sequence(), i as u32 + 1, "root {i}");
            books.evict().unwrap();
            assert!(books.cached() <= 10);
        }
        assert_eq!(books.len(), 25, "nothing lost on the way");
        // The most recently used stay in memory.
        assert!(books.by_root.contains_key(&roots[24]));
        assert!(!books.by_root.contains_key(&roots[0]));
    }

    /// Restore streams: snapshots first, then pages — a page may belong to
    /// a book that was spilled while the snapshots were read.
    #[tokio::test]
    async fn a_streamed_restore_past_the_limit_finds_spilled_books_for_their_pages() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CacheConfig { max_cached: 10, state_dir: dir.path().to_path_buf() };
        let roots: Vec<Uuid> = (0..SPILL_CHUNK + 20).map(|_| Uuid::new_v4()).collect();
        let (mut sink, stream) = angzarr_connectors::restore::channel();
        let sent = roots.clone();
        let reader = tokio::spawn(async move {
            let snapshot = Encoded::snapshot(&Snapshot { sequence: 0, ..Default::default() });
            for r in &sent {
                sink.push(Restored::Snapshot { root: *r, snapshot: snapshot.clone() }).await;
            }
            for (i, r) in sent.iter().enumerate() {
                sink.push(Restored::Page { root: *r, offset: Some(i as i64), page: Encoded::page(&page(1)).unwrap() })
                    .await;
            }
            // A repeat, and a page the snapshot covers: both dropped.
            sink.push(Restored::Page { root: sent[0], offset: Some(0), page: Encoded::page(&page(1)).unwrap() }).await;
            sink.push(Restored::Page { root: sent[1], offset: Some(1), page: Encoded::page(&page(0)).unwrap() }).await;
            sink.finish().await;
        });
        let mut books = Books::restore(stream, Some(&cache)).await.unwrap();
        reader.await.unwrap();
        assert_eq!((books.len(), books.cached()), (roots.len(), 10));
        assert_eq!(books.restore_from(), Some(0));
        for r in [roots[0], roots[1], roots[SPILL_CHUNK], *roots.last().unwrap()] {
            books.load([r]).unwrap();
            let staged = books.stage();
            let book = staged.get(&r).unwrap();
            assert_eq!(book.next_sequence(), 2, "snapshot 0 and page 1, once");
            assert_eq!(book.pages.len(), 1);
        }
    }

    #[tokio::test]
    async fn a_restore_that_fails_half_way_is_an_error_not_a_partial_partition() {
        let (mut sink, stream) = angzarr_connectors::restore::channel();
        sink.push(Restored::Page { root: Uuid::new_v4(), offset: Some(0), page: Encoded::page(&page(0)).unwrap() })
            .await;
        sink.fail(LogError::Unavailable("broker gone".into())).await;
        assert!(matches!(Books::restore(stream, None).await, Err(RestoreError::Log(LogError::Unavailable(_)))));
    }
}
