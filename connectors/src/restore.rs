//! A partition's aggregates as a restore reads them: **streamed**.
//!
//! A partition owner holds every live aggregate of its partition. If a
//! restore first gathered the partition into a collection of its own and
//! handed that over, the worker would briefly hold the partition twice (or
//! three times, with the list in between) — that, not the books, was the
//! worker's peak memory. So a log sends what it reads, in chunks and in log
//! order, over a bounded channel, and the owner builds its books as the
//! chunks arrive: at most a few chunks exist beside the books.
//!
//! Order: a root's snapshot comes before any of its pages, and its pages in
//! sequence order. Pages a snapshot covers, or that repeat a sequence, may
//! be sent; [`extends`] is the one rule that drops them, on every receiver.

use std::collections::HashMap;

use angzarr_proto::angzarr::{EventPage, Snapshot};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::record::{AggregateHistory, Encoded};
use crate::{LogError, Result};

/// Items per chunk: large enough that the channel is not the cost, small
/// enough that the chunks in flight are noise beside the books.
const CHUNK: usize = 4096;
/// Chunks in flight between the reader and the books.
const CHUNKS_IN_FLIGHT: usize = 2;

/// One thing a restore read.
#[derive(Debug)]
pub enum Restored {
    /// The latest snapshot of `root`.
    Snapshot {
        /// The root.
        root: Uuid,
        /// The snapshot, encoded.
        snapshot: Encoded<Snapshot>,
    },
    /// A page of `root`, read at log position `offset` (when the log has
    /// offsets).
    Page {
        /// The root.
        root: Uuid,
        /// Position of the record that carried it.
        offset: Option<i64>,
        /// The page, encoded and stamped.
        page: Encoded<EventPage>,
    },
}

/// Whether a page with `seq` belongs after a book whose snapshot covers up
/// to `snapshot` and whose last page is `last`: not covered by the
/// snapshot, and not a repeat of a sequence already held.
pub fn extends(snapshot: Option<u32>, last: Option<u32>, seq: u32) -> bool {
    match (last, snapshot) {
        (Some(last), _) => seq > last,
        (None, Some(covered)) => seq > covered,
        (None, None) => true,
    }
}

/// The receiving end: chunks of [`Restored`] until the log read everything
/// (the channel closes) or failed (an `Err` chunk).
pub struct RestoreStream {
    rx: mpsc::Receiver<Result<Vec<Restored>>>,
}

/// The sending end, for the log's reader (often a blocking thread).
pub struct RestoreSink {
    tx: mpsc::Sender<Result<Vec<Restored>>>,
    chunk: Vec<Restored>,
    closed: bool,
}

/// A bounded channel from a log's reader to the partition owner.
pub fn channel() -> (RestoreSink, RestoreStream) {
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    (RestoreSink { tx, chunk: Vec::with_capacity(CHUNK), closed: false }, RestoreStream { rx })
}

impl RestoreSink {
    /// Adds one item, sending a full chunk (blocking the calling thread
    /// while the owner is behind). Returns `false` once the owner stopped
    /// listening (revoked, shut down): the reader should stop.
    pub fn blocking_push(&mut self, item: Restored) -> bool {
        if let Some(full) = self.add(item) {
            self.closed = self.tx.blocking_send(Ok(full)).is_err();
        }
        !self.closed
    }

    /// Adds `item` (unless nobody listens); a chunk that is full now, to send.
    fn add(&mut self, item: Restored) -> Option<Vec<Restored>> {
        if self.closed {
            return None;
        }
        self.chunk.push(item);
        (self.chunk.len() >= CHUNK).then(|| std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK)))
    }

    /// Sends what is left: the restore is complete once this sink drops.
    /// `false` if the owner stopped listening before it had everything.
    pub fn blocking_finish(mut self) -> bool {
        if !self.closed && !self.chunk.is_empty() {
            self.closed = self.tx.blocking_send(Ok(std::mem::take(&mut self.chunk))).is_err();
        }
        !self.closed && !self.tx.is_closed()
    }

    /// Ends the restore with an error; the owner sees it instead of the end.
    pub fn blocking_fail(self, error: LogError) {
        let _ = self.tx.blocking_send(Err(error));
    }

    /// [`RestoreSink::blocking_push`] from async code.
    pub async fn push(&mut self, item: Restored) -> bool {
        if let Some(full) = self.add(item) {
            self.closed = self.tx.send(Ok(full)).await.is_err();
        }
        !self.closed
    }

    /// [`RestoreSink::blocking_finish`] from async code.
    pub async fn finish(mut self) {
        if !self.closed && !self.chunk.is_empty() {
            let _ = self.tx.send(Ok(std::mem::take(&mut self.chunk))).await;
        }
    }

    /// [`RestoreSink::blocking_fail`] from async code.
    pub async fn fail(self, error: LogError) {
        let _ = self.tx.send(Err(error)).await;
    }
}

impl RestoreStream {
    /// The next chunk; `None` when the restore is complete.
    pub async fn next(&mut self) -> Option<Result<Vec<Restored>>> {
        self.rx.recv().await
    }

    /// A stream of histories already in memory (logs whose store answers a
    /// whole partition at once, upcast histories).
    pub fn from_histories(histories: Vec<AggregateHistory>) -> Self {
        let items = histories.into_iter().flat_map(|h| {
            let (root, first_offset) = (h.root, h.first_offset);
            let snapshot = h.snapshot.map(|snapshot| Restored::Snapshot { root, snapshot });
            let pages = h.pages.into_iter().enumerate().map(move |(i, page)| Restored::Page {
                root,
                offset: if i == 0 { first_offset } else { None },
                page,
            });
            snapshot.into_iter().chain(pages)
        });
        let mut chunks = Vec::new();
        let mut items = items.peekable();
        while items.peek().is_some() {
            chunks.push(items.by_ref().take(CHUNK).collect::<Vec<_>>());
        }
        // Room for every chunk: nothing reads until this returns.
        let (tx, rx) = mpsc::channel(chunks.len().max(1));
        for chunk in chunks {
            tx.try_send(Ok(chunk)).expect("the channel has room for every chunk");
        }
        RestoreStream { rx }
    }

    /// Everything, gathered per root — for readers that want histories
    /// (upcasting, tests); a partition owner builds its books from
    /// [`RestoreStream::next`] instead.
    pub async fn histories(mut self) -> Result<Vec<AggregateHistory>> {
        let mut gathered = Histories::default();
        while let Some(chunk) = self.next().await {
            chunk?.into_iter().for_each(|item| gathered.add(item));
        }
        Ok(gathered.into_vec())
    }
}

/// Restored items gathered per root, by the same rule as a partition
/// owner's books ([`extends`]).
#[derive(Default)]
pub struct Histories {
    by_root: HashMap<Uuid, AggregateHistory>,
}

impl Histories {
    /// Adds one item.
    pub fn add(&mut self, item: Restored) {
        match item {
            Restored::Snapshot { root, snapshot } => {
                self.entry(root).snapshot = Some(snapshot);
            }
            Restored::Page { root, offset, page } => {
                let h = self.entry(root);
                if extends(h.snapshot.as_ref().map(Encoded::seq), h.pages.last().map(Encoded::seq), page.seq()) {
                    if h.first_offset.is_none() {
                        h.first_offset = offset;
                    }
                    h.pages.push(page);
                }
            }
        }
    }

    fn entry(&mut self, root: Uuid) -> &mut AggregateHistory {
        self.by_root.entry(root).or_insert_with(|| AggregateHistory { root, ..Default::default() })
    }

    /// The histories, in no particular order.
    pub fn into_vec(self) -> Vec<AggregateHistory> {
        self.by_root.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::angzarr::PageHeader;

    fn page(seq: u32) -> Encoded<EventPage> {
        Encoded::page(&EventPage { header: Some(PageHeader::sequence(seq)), ..Default::default() }).unwrap()
    }

    #[test]
    fn a_page_extends_only_past_the_snapshot_and_the_last_page() {
        assert!(extends(None, None, 0));
        assert!(!extends(Some(3), None, 3));
        assert!(extends(Some(3), None, 4));
        assert!(!extends(Some(3), Some(5), 5), "a repeat");
        assert!(extends(Some(3), Some(5), 6));
    }

    #[tokio::test]
    async fn histories_survive_the_stream_whole_and_deduplicated() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let snapshot = Encoded::snapshot(&Snapshot { sequence: 1, ..Default::default() });
        let (mut sink, stream) = channel();
        let reader = tokio::task::spawn_blocking(move || {
            sink.blocking_push(Restored::Snapshot { root: a, snapshot });
            // Many pages of b interleaved with a's, so several chunks travel.
            for seq in 0..10_000u32 {
                sink.blocking_push(Restored::Page { root: b, offset: Some(seq as i64 * 2), page: page(seq) });
                // a's pages 0 and 1 are covered by its snapshot; 2.. extend it, each sent twice.
                if seq < 5 {
                    sink.blocking_push(Restored::Page { root: a, offset: Some(seq as i64 * 2 + 1), page: page(seq) });
                    sink.blocking_push(Restored::Page { root: a, offset: None, page: page(seq) });
                }
            }
            sink.blocking_finish();
        });
        let mut histories = stream.histories().await.unwrap();
        reader.await.unwrap();
        histories.sort_by_key(|h| h.root != a);
        let (ha, hb) = (&histories[0], &histories[1]);
        assert_eq!(ha.snapshot.as_ref().map(Encoded::seq), Some(1));
        assert_eq!(ha.pages.iter().map(Encoded::seq).collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!(ha.first_offset, Some(5), "the offset of the first page kept");
        assert_eq!(hb.pages.len(), 10_000);
        assert_eq!(hb.first_offset, Some(0));
    }

    #[tokio::test]
    async fn a_failure_reaches_the_owner_instead_of_the_end() {
        let (mut sink, stream) = channel();
        sink.push(Restored::Page { root: Uuid::new_v4(), offset: None, page: page(0) }).await;
        sink.fail(LogError::Unavailable("broker gone".into())).await;
        assert!(matches!(stream.histories().await, Err(LogError::Unavailable(m)) if m == "broker gone"));
    }

    #[tokio::test]
    async fn a_reader_learns_that_nobody_listens_any_more() {
        let (mut sink, stream) = channel();
        drop(stream);
        let mut pushed = 0;
        while sink.push(Restored::Page { root: Uuid::new_v4(), offset: None, page: page(0) }).await {
            pushed += 1;
            assert!(pushed <= CHUNK, "the sink kept accepting after the owner left");
        }
        assert_eq!(pushed, CHUNK - 1, "the first full chunk finds the channel closed");
    }

    #[tokio::test]
    async fn from_histories_round_trips() {
        let root = Uuid::new_v4();
        let h = AggregateHistory {
            root,
            snapshot: Some(Encoded::snapshot(&Snapshot { sequence: 0, ..Default::default() })),
            pages: (1..=3 * CHUNK as u32 + 10).map(page).collect(),
            first_offset: Some(7),
        };
        let back = RestoreStream::from_histories(vec![h]).histories().await.unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].pages.len(), 3 * CHUNK + 10, "every chunk arrives");
        assert_eq!(back[0].first_offset, Some(7));
    }
}
