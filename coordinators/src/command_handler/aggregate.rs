//! A partition task's state: every live aggregate's book, in memory.
//!
//! Sequence numbers are checked here, against `next_sequence`, and nowhere
//! else: the task is the only writer of its partition, so the in-memory
//! book is the truth as long as the task owns it. A batch works on a
//! [`Staged`] overlay that is folded in only after the commit succeeded.

use std::collections::{BTreeSet, HashMap};

use angzarr_connectors::{AggregateHistory, Encoded};
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
    pub latest_state: Option<prost_types::Any>,
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
            self.latest_state.clone()
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
        Book { snapshot: h.snapshot, pages: h.pages, first_uncovered: h.first_offset, latest_state: None }
    }
}

/// Every aggregate of the partition.
#[derive(Default)]
pub struct Books {
    by_root: HashMap<Uuid, Book>,
    /// `(first_uncovered, root)` of every aggregate with uncovered events,
    /// kept in step with `by_root`: where restore may start, and which
    /// aggregates hold it back, without a scan of every book per batch.
    uncovered: BTreeSet<(i64, Uuid)>,
}

impl Books {
    /// The restored state of a partition.
    pub fn restore(histories: Vec<AggregateHistory>) -> Self {
        let mut by_root: HashMap<Uuid, Book> = HashMap::with_capacity(histories.len());
        by_root.extend(histories.into_iter().map(|h| (h.root, h.into())));
        let uncovered = by_root.iter().filter_map(|(r, b)| b.first_uncovered.map(|o| (o, *r))).collect();
        Books { by_root, uncovered }
    }

    /// Number of live aggregates.
    pub fn len(&self) -> usize {
        self.by_root.len()
    }

    /// Whether no aggregate lives here.
    pub fn is_empty(&self) -> bool {
        self.by_root.is_empty()
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

    #[test]
    fn the_restore_point_follows_snapshots_without_scanning() {
        let state = prost_types::Any { type_url: "t/S".into(), value: vec![1] };
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut books = Books::restore(vec![
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
        ]);
        assert_eq!(books.restore_from(), Some(10));
        assert!(books.laggards(100, 10).is_empty(), "a's latest state is unknown after a restore");
        assert!(books.by_root[&b].latest().is_some(), "a snapshot with nothing after it is the latest state");
        assert!(books.by_root[&b].latest_state.is_none(), "and it is not kept twice");
        // b gets an event at offset 20; a is snapshotted: the point moves to 20.
        let changes = {
            let mut staged = books.stage();
            staged.get_mut(&b).advance(&[page(5)], None);
            let ab = staged.get_mut(&a);
            ab.latest_state = Some(state.clone());
            ab.snapshot_now().unwrap();
            staged.into_changes()
        };
        books.apply(changes, &[(b, 5)], &[20]);
        assert_eq!(books.restore_from(), Some(20));
        assert!(books.laggards(21, 10).is_empty(), "b's state after page 5 is unknown until its handler returns it");
    }
}
