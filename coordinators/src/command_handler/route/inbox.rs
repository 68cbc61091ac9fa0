//! The inboxes of this process's serving partition tasks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use angzarr_connectors::{CommandEnvelope, CommandOutcome, Log, PartitionId};
use dashmap::DashMap;
use tokio::sync::{mpsc, oneshot};

/// What the owner says about a command handed to it.
// Moved once per command through a oneshot: boxing the common variant
// would cost an allocation to save a copy.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Answer {
    /// Decided and, if it wrote anything, committed.
    Decided(CommandOutcome),
    /// Not decided here: this process does not own the partition (any more).
    NotOwner(String),
    /// The owner could not learn whether its transaction committed.
    Unknown(String),
}

/// A command handed to a partition task, with where its answer goes.
pub struct Direct {
    /// The command, as the gateway validated it.
    pub cmd: CommandEnvelope,
    /// Answered once the decision committed (or could not be learned).
    pub answer: oneshot::Sender<Answer>,
}

struct Slot {
    generation: u64,
    inbox: mpsc::Sender<Direct>,
}

/// Where this process announces its partitions, once it serves them.
struct Announce {
    log: Arc<dyn Log>,
    endpoint: String,
}

/// The inboxes of the partition tasks of this process that serve now,
/// shared by its gateway, its `PartitionOwnerService` and its tasks.
#[derive(Clone, Default)]
pub struct Owners {
    slots: Arc<DashMap<PartitionId, Slot>>,
    generation: Arc<AtomicU64>,
    announce: Arc<std::sync::OnceLock<Announce>>,
}

/// A task's registration; dropping it (the task stops serving) removes the
/// inbox, unless a later task of the same partition registered since.
pub struct Registration {
    owners: Owners,
    id: PartitionId,
    generation: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.owners.slots.remove_if(&self.id, |_, slot| slot.generation == self.generation);
    }
}

impl std::fmt::Debug for Owners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Owners").field("serving", &self.slots.len()).finish()
    }
}

impl Owners {
    /// Announces every partition registered from now on through `log`'s
    /// owner directory as served at `endpoint` (this process's `PartitionOwnerService`).
    pub fn announce_at(&self, log: Arc<dyn Log>, endpoint: String) {
        let _ = self.announce.set(Announce { log, endpoint });
    }

    /// Opens the inbox of partition `id`: its task serves it now.
    pub fn register(&self, id: &PartitionId, capacity: usize) -> (Registration, mpsc::Receiver<Direct>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        self.slots.insert(id.clone(), Slot { generation, inbox: tx });
        if let Some(a) = self.announce.get() {
            let (log, endpoint, id) = (a.log.clone(), a.endpoint.clone(), id.clone());
            tokio::spawn(async move {
                match log.announce_owner(&id, &endpoint).await {
                    Ok(()) => tracing::debug!(partition = %id, endpoint, "announced as owner"),
                    // Gateways elsewhere then use the commands topic: slower, still correct.
                    Err(e) => tracing::warn!(partition = %id, error = %e, "could not announce ownership"),
                }
            });
        }
        (Registration { owners: self.clone(), id: id.clone(), generation }, rx)
    }

    /// Hands `cmd` to the task serving `id` in this process; gives the
    /// command back when there is none (or it stopped meanwhile).
    pub async fn send(
        &self,
        id: &PartitionId,
        cmd: CommandEnvelope,
    ) -> Result<oneshot::Receiver<Answer>, CommandEnvelope> {
        let Some(inbox) = self.slots.get(id).map(|s| s.inbox.clone()) else { return Err(cmd) };
        let (tx, rx) = oneshot::channel();
        match inbox.send(Direct { cmd, answer: tx }).await {
            Ok(()) => Ok(rx),
            Err(mpsc::error::SendError(d)) => Err(d.cmd),
        }
    }

    /// Whether a task of this process serves `id` now.
    pub fn serves(&self, id: &PartitionId) -> bool {
        self.slots.contains_key(id)
    }
}
