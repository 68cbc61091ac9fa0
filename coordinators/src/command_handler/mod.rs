//! The command path, one step per module, in the order a command takes:
//!
//! 1. [`validate`] — the gateway refuses what can never succeed, before
//!    anything is written (missing root, unknown domain, oversized, …).
//! 2. [`gateway`] — `CommandHandlerCoordinatorService.HandleCommand`: an
//!    ASYNC command goes on `<domain>.commands`; one the caller waits for goes
//!    straight to its partition's owner ([`route`]), and on the commands log
//!    only when that path cannot answer.
//! 3. [`worker`] — a consumer-group member of the commands logs; one task per
//!    owned partition, created on assignment, stopped on revocation.
//! 4. [`task`] — the partition owner: restores its aggregates, then per batch
//!    of commands checks sequences ([`aggregate`]), calls the business logic
//!    ([`execute`]) and commits events + snapshots + offset atomically.
//!
//! [`query`] serves `EventQueryService` from the log.

pub mod aggregate;
pub mod dedupe;
pub mod execute;
pub mod gateway;
pub mod query;
pub mod route;
pub mod spill;
pub mod task;
pub mod validate;
pub mod worker;

/// The consumer group of command-handler workers.
pub const GROUP: &str = "angzarr-command-handler";
