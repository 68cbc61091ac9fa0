//! The log behind one interface.
//!
//! Coordinators never talk to SQLite or Kafka directly: they talk to a
//! [`Log`]. A log is a set of partitioned, append-only logs per domain —
//! commands, events, snapshots — plus consumer offsets and a way to route a
//! command's outcome back to the gateway that is waiting for it.
//!
//! Two implementations stand behind it:
//! - [`embedded`]: one SQLite file and an in-process bus, for one machine;
//! - `kafka`: topics on an Apache Kafka cluster, transactional producers
//!   fenced per partition, `read_committed` readers.
//!
//! The interface follows Kafka Streams' vocabulary: a worker [`Log::join`]s a
//! group and receives [`Assignment`]s; each assigned partition is a
//! [`PartitionLog`] that restores its state, polls commands in order and
//! commits a [`TxBatch`] atomically.

pub mod embedded;
pub mod error;
pub mod faults;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod log;
pub mod memory;
pub mod record;
pub mod restore;

pub use error::{LogError, Result};
pub use faults::Faults;
pub use log::{Assignment, EventPartition, Log, Membership, PartitionLog, Submitted};
pub use record::{
    AggregateHistory, CommandEnvelope, CommandOutcome, DeadLetter, Encoded, EventRecord, EventTx, Notice, PartitionId,
    RecentRequest, Rejection, Reply, SnapshotRecord, StoredEvent, TxBatch, Undecodable,
};
pub use restore::{RestoreSink, RestoreStream, Restored};
