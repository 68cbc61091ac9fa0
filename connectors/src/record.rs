//! What travels on the log, and the headers any Kafka tool can read.

use std::fmt;
use std::sync::Arc;

use angzarr_proto::angzarr::{EventBook, EventPage, Snapshot};
use uuid::Uuid;

/// Record header names, shared by every connector so that kcat, a Python
/// consumer or Kafka Connect can filter the store without our libraries.
pub mod headers {
    /// The W3C trace context (`traceparent`) of the span that wrote the
    /// record, so the next coordinator's spans continue its trace.
    pub const TRACEPARENT: &str = "traceparent";
    /// The domain of the aggregate.
    pub const DOMAIN: &str = "angzarr-domain";
    /// The root, canonical hyphenated UUID text.
    pub const ROOT: &str = "angzarr-root";
    /// The event's sequence number, decimal.
    pub const SEQUENCE: &str = "angzarr-sequence";
    /// The correlation id of the command that caused it.
    pub const CORRELATION_ID: &str = "angzarr-correlation-id";
    /// The event's (or command's) proto type name, e.g. `examples.FundsDeposited`.
    pub const TYPE: &str = "angzarr-type";
    /// The edition (timeline); empty for the main timeline.
    pub const EDITION: &str = "angzarr-edition";
    /// Set to `true` on events of an ISOLATED command: nothing downstream reacts.
    pub const ISOLATED: &str = "angzarr-isolated";
    /// On a notice for a gateway: `projected` or `reacted`.
    pub const NOTICE: &str = "angzarr-notice";
    /// On a notice: the projector or saga that sends it.
    pub const COMPONENT: &str = "angzarr-component";
    /// The request id a reply answers.
    pub const REQUEST_ID: &str = "angzarr-request-id";
    /// The gateway instance waiting for the reply.
    pub const REPLY_TO: &str = "angzarr-reply-to";
    /// The command's sync mode (the `SyncMode` number).
    pub const SYNC_MODE: &str = "angzarr-sync-mode";
    /// On a reply: the gRPC status code, `0` when accepted.
    pub const STATUS: &str = "angzarr-status";
    /// On a snapshot: the events-topic offset of the last event it covers.
    pub const EVENTS_OFFSET: &str = "angzarr-events-offset";
}

/// A partition of a domain. Commands and events of a domain are
/// co-partitioned, so this names both `commands[p]` and `events[p]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionId {
    /// The domain.
    pub domain: Arc<str>,
    /// The partition number.
    pub partition: u32,
}

impl PartitionId {
    /// A partition of `domain`.
    pub fn new(domain: &str, partition: u32) -> Self {
        PartitionId { domain: Arc::from(domain), partition }
    }
}

impl fmt::Display for PartitionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.domain, self.partition)
    }
}

/// A command as it travels through `<domain>.commands`: the record value is
/// the encoded `CommandBook`, the rest rides in headers.
#[derive(Clone, Debug)]
pub struct CommandEnvelope {
    /// The target domain.
    pub domain: String,
    /// The aggregate root (the record key).
    pub root: Uuid,
    /// Correlation id, carried onto every event.
    pub correlation_id: String,
    /// Unique id of this request, to match the reply.
    pub request_id: String,
    /// The gateway instance waiting for the outcome, if any.
    pub reply_to: Option<String>,
    /// The `SyncMode` number the caller asked for.
    pub sync_mode: i32,
    /// The encoded `CommandBook`.
    pub book: Vec<u8>,
    /// Position in the commands partition; set by the log when read back.
    pub offset: i64,
    /// W3C `traceparent` of the span that sent it (Kafka: a header).
    pub trace: Option<String>,
}

/// An aggregate's stored history: the latest snapshot and the pages after
/// it, **kept encoded**. A partition owner holds every live aggregate of its
/// partition; as decoded protobuf structs each one costs a dozen small
/// allocations (every `Any` owns its type URL), encoded it is two. Pages are
/// decoded when a command needs them, which replaces the clone the request
/// needs anyway.
#[derive(Clone, Debug, Default)]
pub struct AggregateHistory {
    /// The root.
    pub root: Uuid,
    /// Latest snapshot, if any.
    pub snapshot: Option<Encoded<Snapshot>>,
    /// Event pages after the snapshot, in sequence order, each stamped.
    pub pages: Vec<Encoded<EventPage>>,
    /// Log offset of the first of `pages`, when the log has offsets.
    pub first_offset: Option<i64>,
}

impl AggregateHistory {
    /// The snapshot, decoded.
    pub fn decoded_snapshot(&self) -> Option<Snapshot> {
        self.snapshot.as_ref().map(Encoded::decode)
    }

    /// The pages, decoded.
    pub fn decoded_pages(&self) -> Vec<EventPage> {
        self.pages.iter().map(Encoded::decode).collect()
    }
}

/// A message kept in its encoded form, with the sequence it carries (a
/// snapshot's, or a page's) at hand without decoding.
pub struct Encoded<M> {
    bytes: Box<[u8]>,
    seq: u32,
    _message: std::marker::PhantomData<fn() -> M>,
}

impl<M> Clone for Encoded<M> {
    fn clone(&self) -> Self {
        Encoded { bytes: self.bytes.clone(), seq: self.seq, _message: std::marker::PhantomData }
    }
}

impl<M> fmt::Debug for Encoded<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Encoded(seq {}, {} bytes)", self.seq, self.bytes.len())
    }
}

impl<M: prost::Message + Default> Encoded<M> {
    /// Decodes it. The bytes were encoded from an `M` by this process (or
    /// read and checked as one), so a failure is a bug, not bad input.
    pub fn decode(&self) -> M {
        M::decode(&*self.bytes).expect("an encoded message decodes")
    }

    /// Its encoded size.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it encodes to nothing (an empty message).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The sequence it carries.
    pub fn seq(&self) -> u32 {
        self.seq
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// From bytes that encode an `M` carrying `seq` (as [`Encoded::as_bytes`]
    /// gave them) — for stores that keep these as they are.
    pub fn from_parts(bytes: Box<[u8]>, seq: u32) -> Self {
        Encoded { bytes, seq, _message: std::marker::PhantomData }
    }
}

impl Encoded<Snapshot> {
    /// Encodes a snapshot.
    pub fn snapshot(s: &Snapshot) -> Self {
        Encoded { bytes: prost::Message::encode_to_vec(s).into(), seq: s.sequence, _message: Default::default() }
    }
}

impl Encoded<EventPage> {
    /// Encodes a stamped page; `None` if it carries no sequence.
    pub fn page(p: &EventPage) -> Option<Self> {
        Some(Encoded { seq: p.seq()?, bytes: prost::Message::encode_to_vec(p).into(), _message: Default::default() })
    }
}

/// One event to append: the value is an `EventBook` holding the cover and one page.
#[derive(Clone, Debug)]
pub struct EventRecord {
    /// The root (the record key).
    pub root: Uuid,
    /// The page's sequence number.
    pub sequence: u32,
    /// The event's proto type name.
    pub type_name: String,
    /// Correlation id.
    pub correlation_id: String,
    /// The request id of the command that produced it: a new owner finds
    /// recent requests by it and answers their retries with the original
    /// outcome.
    pub request_id: String,
    /// Edition name, empty for the main timeline.
    pub edition: String,
    /// Whether downstream must never react (ISOLATED).
    pub isolated: bool,
    /// The gateway instance waiting on this event's SIMPLE or CASCADE
    /// command: downstream coordinators send it their notices.
    pub reply_to: Option<String>,
    /// Cover + the single page, as stored.
    pub book: EventBook,
    /// W3C `traceparent` of the span that decided it (Kafka: a header).
    pub trace: Option<String>,
}

impl EventRecord {
    /// The record's headers, in the documented layout.
    pub fn headers(&self, domain: &str) -> Vec<(&'static str, String)> {
        let mut h = vec![
            (headers::DOMAIN, domain.to_string()),
            (headers::ROOT, self.root.hyphenated().to_string()),
            (headers::SEQUENCE, self.sequence.to_string()),
            (headers::CORRELATION_ID, self.correlation_id.clone()),
            (headers::TYPE, self.type_name.clone()),
            (headers::EDITION, self.edition.clone()),
        ];
        if !self.request_id.is_empty() {
            h.push((headers::REQUEST_ID, self.request_id.clone()));
        }
        if self.isolated {
            h.push((headers::ISOLATED, "true".to_string()));
        }
        if let Some(r) = &self.reply_to {
            h.push((headers::REPLY_TO, r.clone()));
        }
        if let Some(t) = &self.trace {
            h.push((headers::TRACEPARENT, t.clone()));
        }
        h
    }
}

/// A command a restore found decided in the log, by its request id: what
/// lets a new partition owner answer a retried request (after an outcome
/// the caller could not learn) with the original outcome, writing nothing.
#[derive(Clone, Debug)]
pub struct RecentRequest {
    /// The request id the command carried.
    pub request_id: String,
    /// Its aggregate.
    pub root: Uuid,
    /// Cover and the pages it appended, as the original answer carried them.
    pub book: EventBook,
}

/// Groups stored events by the request id of their command, in log order:
/// how every log turns its recent events into [`RecentRequest`]s.
#[derive(Default)]
pub struct RecentRequests {
    out: Vec<RecentRequest>,
    index: std::collections::HashMap<String, usize>,
}

impl RecentRequests {
    /// Adds one stored event (cover + page) of `request_id`'s command.
    pub fn add(&mut self, request_id: String, root: Uuid, event: EventBook) {
        let out = &mut self.out;
        let i = *self.index.entry(request_id.clone()).or_insert_with(|| {
            out.push(RecentRequest {
                request_id,
                root,
                book: EventBook { cover: event.cover.clone(), ..Default::default() },
            });
            out.len() - 1
        });
        let book = &mut self.out[i].book;
        book.pages.extend(event.pages);
        book.next_sequence = book.pages.last().and_then(|p| p.seq()).map_or(0, |s| s + 1);
    }

    /// Every request, in the order first seen.
    pub fn into_vec(self) -> Vec<RecentRequest> {
        self.out
    }
}

/// A snapshot to store as the root's latest.
#[derive(Clone, Debug)]
pub struct SnapshotRecord {
    /// The root.
    pub root: Uuid,
    /// The snapshot (its `sequence` is the last event it includes).
    pub snapshot: Snapshot,
}

/// The outcome of one command, routed back to the waiting gateway.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // accepted is the common case; boxing it would allocate on every command
pub enum CommandOutcome {
    /// Events were committed; the book holds the cover and the new pages.
    Accepted(EventBook),
    /// Nothing was written; a gRPC status code and a message say why.
    Rejected {
        /// The `tonic::Code` number.
        code: i32,
        /// Human-readable reason.
        message: String,
    },
}

/// A reply to deliver when (and only if) its batch commits.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The gateway instance waiting.
    pub reply_to: String,
    /// The request it answers.
    pub request_id: String,
    /// What happened.
    pub outcome: CommandOutcome,
}

/// A command rejected with nobody waiting for the answer (ASYNC, saga and
/// process-manager commands): recorded in the rejections log, in the same
/// commit that consumes the command, where an operator and the caller find
/// it by correlation id or request id.
#[derive(Clone, Debug)]
pub struct Rejection {
    /// The command's domain.
    pub domain: String,
    /// Its root.
    pub root: Uuid,
    /// Its request id.
    pub request_id: String,
    /// Its correlation id.
    pub correlation_id: String,
    /// The gRPC status code of the rejection.
    pub code: i32,
    /// Why.
    pub message: String,
    /// The encoded `CommandBook` that was rejected.
    pub command: Vec<u8>,
}

/// Everything one partition task commits at once: the events of its commands,
/// due snapshots, the replies, and how far the commands were consumed. Either
/// all of it becomes visible or none of it does.
#[derive(Debug, Default)]
pub struct TxBatch {
    /// Events to append, in order.
    pub events: Vec<EventRecord>,
    /// Snapshots to store.
    pub snapshots: Vec<SnapshotRecord>,
    /// Replies to deliver after commit.
    pub replies: Vec<Reply>,
    /// Commands for other domains' commands logs — a process manager's
    /// reactions, committed with the events that record its progress.
    pub commands: Vec<CommandEnvelope>,
    /// The offset of the last command consumed; the next poll starts after it.
    pub consumed_through: Option<i64>,
    /// Every event of the partition before this offset is covered by a
    /// snapshot: restore may start reading events here.
    pub restore_from: Option<i64>,
    /// Rejections nobody waits for, to record.
    pub rejections: Vec<Rejection>,
}

impl TxBatch {
    /// Whether committing would change nothing.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.snapshots.is_empty()
            && self.replies.is_empty()
            && self.commands.is_empty()
            && self.consumed_through.is_none()
            && self.restore_from.is_none()
            && self.rejections.is_empty()
    }
}

/// An event as downstream consumers read it back from the log.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    /// The domain.
    pub domain: String,
    /// Events partition.
    pub partition: u32,
    /// Offset in the events partition.
    pub offset: i64,
    /// The root.
    pub root: Uuid,
    /// The page's sequence.
    pub sequence: u32,
    /// Correlation id of the command that caused it.
    pub correlation_id: String,
    /// Whether it came from an ISOLATED command: no downstream reaction.
    pub isolated: bool,
    /// The gateway instance waiting on its SIMPLE or CASCADE command.
    pub reply_to: Option<String>,
    /// Cover + the one page, as stored (empty when `undecodable`).
    pub book: EventBook,
    /// Set when the record could not be read: the consumer's poison policy
    /// decides what happens to it; it is never silently skipped.
    pub undecodable: Option<Arc<Undecodable>>,
    /// W3C `traceparent` of the span that decided it, when the log kept one.
    pub trace: Option<String>,
}

/// An events record that does not decode, as it was in the log.
#[derive(Debug)]
pub struct Undecodable {
    /// What is wrong with it.
    pub reason: String,
    /// Its key, as stored.
    pub key: Vec<u8>,
    /// Its value, as stored.
    pub value: Vec<u8>,
}

/// A record a consumer gave up on (its poison policy said dead-letter):
/// kept in the group's dead-letter log with where it came from and why,
/// until someone replays or drops it (`angzarr dlq`).
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    /// The domain of the events log it came from.
    pub domain: String,
    /// Its partition there.
    pub partition: u32,
    /// Its offset there.
    pub offset: i64,
    /// Its root, when the record could be read.
    pub root: Option<Uuid>,
    /// Its sequence, when the record could be read.
    pub sequence: Option<u32>,
    /// The correlation id of the command that caused it.
    pub correlation_id: String,
    /// Why the consumer gave up (the handler's error or the decoding error).
    pub error: String,
    /// The original record's key.
    pub key: Vec<u8>,
    /// The original record's value.
    pub value: Vec<u8>,
    /// When it was dead-lettered (milliseconds since the Unix epoch).
    pub at_ms: i64,
}

impl DeadLetter {
    /// The record `event` as a dead letter, given up on because of `error`.
    pub fn of(event: &StoredEvent, error: impl Into<String>) -> Self {
        use prost::Message as _;
        let (root, sequence, key, value) = match &event.undecodable {
            Some(u) => (None, None, u.key.clone(), u.value.clone()),
            None => (
                Some(event.root),
                Some(event.sequence),
                event.root.to_string().into_bytes(),
                event.book.encode_to_vec(),
            ),
        };
        let at_ms =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        DeadLetter {
            domain: event.domain.clone(),
            partition: event.partition,
            offset: event.offset,
            root,
            sequence,
            correlation_id: event.correlation_id.clone(),
            error: error.into(),
            key,
            value,
            at_ms,
        }
    }

    /// Its name in the dead-letter log: where it came from,
    /// `<domain>/<partition>/<offset>` (unique per group).
    pub fn id(&self) -> String {
        format!("{}/{}/{}", self.domain, self.partition, self.offset)
    }

    /// The event again, for a replay; `None` if it still does not decode.
    pub fn event(&self) -> Option<StoredEvent> {
        use prost::Message as _;
        let book = EventBook::decode(self.value.as_slice()).ok()?;
        Some(StoredEvent {
            trace: None,
            domain: self.domain.clone(),
            partition: self.partition,
            offset: self.offset,
            root: self.root?,
            sequence: self.sequence?,
            correlation_id: self.correlation_id.clone(),
            isolated: false,
            reply_to: None,
            book,
            undecodable: None,
        })
    }
}

impl StoredEvent {
    /// The event's proto type name.
    pub fn type_name(&self) -> &str {
        self.book.pages.first().and_then(|p| p.event()).map(|a| angzarr_proto::type_name(&a.type_url)).unwrap_or("")
    }
}

/// What a downstream coordinator tells the gateway instance waiting on a
/// SIMPLE or CASCADE command. It travels like a reply (the replies topic,
/// keyed by the gateway), committed with the reaction it reports, because
/// the gateway may run in another process than the projectors and sagas.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // as CommandOutcome
pub enum Notice {
    /// A projector applied a root's events up to `sequence`.
    Projected {
        /// The projector.
        projector: String,
        /// The events' domain.
        domain: String,
        /// Their root.
        root: Uuid,
        /// The last sequence applied.
        sequence: u32,
        /// What the projector answered.
        projection: angzarr_proto::angzarr::Projection,
    },
    /// A saga reacted to a root's event at `sequence` with these commands.
    Reacted {
        /// The saga.
        saga: String,
        /// The event's domain.
        domain: String,
        /// Its root.
        root: Uuid,
        /// Its sequence.
        sequence: u32,
        /// Request ids of the commands it produced.
        commands: Vec<String>,
    },
    /// A command this gateway did not wait for itself was decided — a
    /// saga's command in a CASCADE.
    Decided {
        /// The command.
        request_id: String,
        /// What happened.
        outcome: CommandOutcome,
    },
}

/// What a downstream task commits at once: commands it produced and how far
/// it consumed.
#[derive(Debug, Default)]
pub struct EventTx {
    /// Commands to append, each to its domain's commands log.
    pub commands: Vec<CommandEnvelope>,
    /// Notices for waiting gateways, as `(gateway instance, notice)`.
    pub notices: Vec<(String, Notice)>,
    /// Offset of the last event consumed.
    pub consumed_through: Option<i64>,
    /// Records given up on, for the group's dead-letter log.
    pub dead_letters: Vec<DeadLetter>,
}
