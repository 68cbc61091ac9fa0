//! The process-manager coordinator: a saga with its own event-sourced
//! state, keyed by correlation id.
//!
//! A process manager `NAME` is stored like an aggregate of the domain
//! `NAME` — its own commands, events and snapshots logs — whose root is
//! derived from the correlation id ([`root_of`]). That gives it, unchanged,
//! what aggregates have: one writer per partition, fenced zombies, sequence
//! numbers, snapshots and restore. It runs in two steps:
//!
//! 1. [`router`]: a consumer group (`pm.NAME`) over the domains it listens
//!    to forwards every triggering event (one with a correlation id) to
//!    `NAME`'s commands log, keyed by that correlation's root — exactly
//!    once, in the same transaction as its offset, as a saga's commands
//!    are. Events of different domains and partitions that share a
//!    correlation id now meet in one partition, in one order.
//! 2. [`orchestrate`]: the partition owner of `NAME` takes each forwarded
//!    trigger with the process's state (its book), asks the user's
//!    `ProcessManagerService` which destinations it needs (`Prepare`),
//!    reads their next sequences, calls `Handle`, and commits the process
//!    events and the commands it emitted **in one transaction** with the
//!    consumed trigger.
//!
//! Failure policy, as for sagas: a process manager that is down or answers
//! something unusable (a command for an unknown domain, facts) is retried
//! with backoff and logged; its partition does not move past the trigger.

pub mod orchestrate;
pub mod router;

use std::sync::Arc;
use std::time::Duration;

use angzarr_connectors::Log;
use angzarr_proto::angzarr::process_manager_service_client::ProcessManagerServiceClient;
use tonic::transport::{Channel, Endpoint};
use uuid::Uuid;

pub use router::PmRouter;

/// Namespace of process roots: `uuid5(NAMESPACE, correlation id)`.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_0c5e_4a7d_4f0e_9d3c_a2b1_7e55_9c01);

/// The root of the process a correlation id belongs to: every event of a
/// correlation reaches the same process instance, in the same partition.
pub fn root_of(correlation_id: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, correlation_id.as_bytes())
}

/// A process manager as its partition owner drives it.
pub struct ProcessManager {
    /// Its name, which is also the domain of its own logs.
    pub name: String,
    /// Domains it may command.
    pub targets: Vec<String>,
    client: ProcessManagerServiceClient<Channel>,
    /// Where destination sequences are read.
    log: Arc<dyn Log>,
}

impl ProcessManager {
    /// The process manager `name` at `url`, allowed to command `targets`.
    pub fn new(
        name: &str,
        url: &str,
        targets: Vec<String>,
        log: Arc<dyn Log>,
    ) -> Result<Self, crate::CoordinatorError> {
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| {
                crate::CoordinatorError::InvalidArgument(format!("process manager `{name}` URL `{url}`: {e}"))
            })?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true);
        Ok(ProcessManager {
            name: name.to_string(),
            targets,
            client: ProcessManagerServiceClient::new(endpoint.connect_lazy()).max_decoding_message_size(64 << 20),
            log,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_correlation_one_process() {
        assert_eq!(root_of("hand-7"), root_of("hand-7"));
        assert_ne!(root_of("hand-7"), root_of("hand-8"));
        assert_eq!(root_of("x").get_version_num(), 5);
    }
}
