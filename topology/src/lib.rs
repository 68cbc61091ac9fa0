//! Where things live on the log.
//!
//! Every coordinator and every connector asks this crate the same two
//! questions — *which topic* and *which partition* — so that the embedded log,
//! the Kafka connector and any plain Kafka client agree on where an aggregate's
//! commands, events and snapshots are.

#[cfg(feature = "kafka")]
pub mod kafka;
pub mod names;
pub mod partitioner;

pub use names::{TopicKind, Topics};
pub use partitioner::{murmur2, partition_for};
