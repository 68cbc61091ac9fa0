//! Step 2½: a command somebody waits for goes straight to its partition's owner.
//!
//! DECISION, SIMPLE, CASCADE and ISOLATED commands have a caller waiting on
//! the line. Putting them on the commands topic first costs a broker write,
//! a consumer poll and a reply record read back by the gateway with
//! `read_committed` — three more trips, and a reply that waits behind every
//! other open transaction on the shared `_replies` partition. Instead the
//! gateway hands such a command to the worker that owns its partition now:
//!
//! - **in process** when this process owns it ([`Owners`]: each serving
//!   partition task registers an inbox);
//! - **over gRPC** otherwise: each worker serves `PartitionOwnerService`
//!   ([`server`]) and announces the partitions it owns through the log's
//!   owner directory (Kafka: the compacted `_owners` topic), which the
//!   gateway reads ([`Router`]).
//!
//! The owner decides the command in its next batch, beside commands polled
//! from the topic, commits the batch's transaction, and only then answers.
//!
//! Why this stays safe:
//! - *Fencing still decides who may write.* The directory is a hint; the
//!   receiving worker looks the partition up in its own registry (only
//!   serving tasks are there) and answers "not owner" having written
//!   nothing otherwise, and a task that lost its partition is fenced by the
//!   new owner's transactional producer before it could commit.
//! - *The request id makes every retry safe.* When the direct path cannot
//!   answer — no known owner, not the owner any more, a connection that
//!   failed, an owner that could not learn whether it committed — the
//!   gateway puts the same command, with the same request id, on the
//!   commands topic. Whoever decides it there first seeds its memory of
//!   request ids from the events log (events carry their request id), so a
//!   command that did commit is answered with its original outcome and
//!   written once.
//! - ASYNC, saga and process-manager commands keep the commands topic:
//!   durable first, then decided, whoever owns the partition later.

mod inbox;
mod router;
pub mod server;

pub use inbox::{Answer, Direct, Owners, Registration};
pub use router::{Routed, Router};
