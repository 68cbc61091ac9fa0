//! The embedded log: one SQLite file and an in-process bus.
//!
//! It keeps the design's guarantees on one machine — a command's events,
//! snapshot and consumer offset are one SQLite transaction — so newcomers and
//! tests run the same coordinators as on Kafka with no infrastructure. It is
//! a single-node log: one process owns the file (an exclusive lock enforces
//! it), and that process's one worker owns every partition.

mod bus;
mod events;
mod partition;
pub mod store;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use uuid::Uuid;

use angzarr_topology::partitioner::{partition_for, root_key};

use crate::log::{Assignment, EventPartition, Log, Membership, PartitionLog, Submitted};
use crate::record::{AggregateHistory, CommandEnvelope, PartitionId, StoredEvent};
use crate::{LogError, Result};

pub use store::Durability;

/// Settings of the embedded log.
#[derive(Clone, Debug)]
pub struct EmbeddedConfig {
    /// The SQLite file.
    pub path: PathBuf,
    /// Partitions per domain: how many commands are in flight at once.
    pub partitions: u32,
    /// fsync policy.
    pub durability: Durability,
}

/// The embedded log. Cheap to clone; every clone shares the file and the bus.
#[derive(Clone)]
pub struct EmbeddedLog {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Mutex<store::Store>>,
    bus: bus::Bus,
    domains: BTreeSet<String>,
    partitions: u32,
    instance_id: String,
}

impl EmbeddedLog {
    /// Opens the file at `config.path` for `domains`.
    pub fn open(config: &EmbeddedConfig, domains: impl IntoIterator<Item = String>) -> Result<Self> {
        if config.partitions == 0 {
            return Err(LogError::Config("partitions must be at least 1".into()));
        }
        let store = store::Store::open(&config.path, config.durability)?;
        Ok(EmbeddedLog {
            inner: Arc::new(Inner {
                store: Arc::new(Mutex::new(store)),
                bus: bus::Bus::default(),
                domains: domains.into_iter().collect(),
                partitions: config.partitions,
                instance_id: format!("embedded-{}", Uuid::new_v4()),
            }),
        })
    }

    /// Runs `f` on the store off the async runtime.
    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut store::Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| LogError::Unavailable(format!("store task failed: {e}")))?
    }

    /// Sets `group`'s position on every partition of `domain`: `-1` replays
    /// from the beginning. The group's consumers must not be running (and
    /// on the embedded log cannot be: the file has one owner).
    pub async fn reset_group(&self, group: &str, domain: &str, to: i64) -> Result<()> {
        self.check_domain(domain)?;
        let (g, d, n) = (group.to_string(), domain.to_string(), self.inner.partitions);
        self.with_store(move |s| s.reset_offsets(&g, &d, n, to)).await
    }

    /// Rewinds `group` on every partition of `domain` to the first event
    /// written at or after `ms` (milliseconds since the epoch).
    pub async fn reset_group_to_time(&self, group: &str, domain: &str, ms: i64) -> Result<()> {
        self.check_domain(domain)?;
        for p in 0..self.inner.partitions {
            let (g, d) = (group.to_string(), domain.to_string());
            self.with_store(move |s| {
                let first = s.offset_at_time(&d, p, ms)?;
                s.reset_partition_offset(&g, &d, p, first - 1)
            })
            .await?;
        }
        Ok(())
    }

    /// `group`'s committed position on each partition of `domain` (the
    /// offset of the last consumed record; `None` before its first commit).
    pub async fn group_position(&self, group: &str, domain: &str) -> Result<Vec<Option<i64>>> {
        let mut out = Vec::new();
        for p in 0..self.inner.partitions {
            let (g, d) = (group.to_string(), domain.to_string());
            out.push(self.with_store(move |s| s.committed_offset(&g, &d, p)).await?);
        }
        Ok(out)
    }

    /// Events stored for `domain`.
    pub async fn event_count(&self, domain: &str) -> Result<i64> {
        let d = domain.to_string();
        self.with_store(move |s| s.event_counts(&d)).await
    }

    /// `(commands, events, snapshots)` rows of a domain — for tests that
    /// prove bad input wrote nothing.
    pub async fn counts(&self, domain: &str) -> Result<(i64, i64, i64)> {
        let domain = domain.to_string();
        self.with_store(move |s| s.counts(&domain)).await
    }

    fn check_domain(&self, domain: &str) -> Result<()> {
        if self.inner.domains.contains(domain) { Ok(()) } else { Err(LogError::UnknownDomain(domain.to_string())) }
    }

    /// The commands partition each of `commands` goes to; refuses unknown domains.
    fn route(&self, commands: &[CommandEnvelope]) -> Result<Vec<PartitionId>> {
        commands
            .iter()
            .map(|c| {
                self.check_domain(&c.domain)?;
                Ok(PartitionId::new(&c.domain, self.partition_by_root(&c.root)))
            })
            .collect()
    }

    pub(crate) fn partition_by_root(&self, root: &Uuid) -> u32 {
        partition_for(root_key(root).as_bytes(), self.inner.partitions)
    }
}

#[async_trait]
impl Log for EmbeddedLog {
    fn domains(&self) -> Vec<String> {
        self.inner.domains.iter().cloned().collect()
    }

    fn instance_id(&self) -> &str {
        &self.inner.instance_id
    }

    fn forget(&self, request_id: &str) {
        self.inner.bus.forget_reply(request_id);
    }

    fn partition_of(&self, domain: &str, root: &Uuid) -> Option<u32> {
        self.check_domain(domain).ok().map(|_| self.partition_by_root(root))
    }

    async fn roots(&self, domain: &str, after: Option<Uuid>, limit: usize) -> Result<Vec<Uuid>> {
        self.check_domain(domain)?;
        let d = domain.to_string();
        self.with_store(move |s| s.roots(&d, after, limit)).await
    }

    async fn lag(
        &self,
        group: &str,
        domains: &[String],
        stream: crate::log::Stream,
    ) -> Result<Vec<crate::log::PartitionLag>> {
        for d in domains {
            self.check_domain(d)?;
        }
        let (group, domains, n) = (group.to_string(), domains.to_vec(), self.inner.partitions);
        self.with_store(move |s| {
            let mut all = Vec::new();
            for d in &domains {
                all.extend(s.lag(&group, d, n, stream)?);
            }
            Ok(all)
        })
        .await
    }

    async fn rejections(&self, correlation_id: Option<&str>) -> Result<Vec<crate::record::Rejection>> {
        let correlation_id = correlation_id.map(str::to_string);
        self.with_store(move |s| s.rejections(correlation_id.as_deref())).await
    }

    async fn submit(&self, cmd: CommandEnvelope, want_reply: bool) -> Result<Submitted> {
        self.check_domain(&cmd.domain)?;
        let partition = self.partition_by_root(&cmd.root);
        let reply = want_reply.then(|| self.inner.bus.expect_reply(&cmd.request_id));
        let request_id = cmd.request_id.clone();
        let id = PartitionId::new(&cmd.domain, partition);
        let appended = self.with_store(move |s| s.append_command(partition, &cmd)).await;
        match appended {
            Ok(offset) => {
                self.inner.bus.commands_appended(&id);
                Ok(Submitted { partition, offset, reply })
            }
            Err(e) => {
                self.inner.bus.forget_reply(&request_id);
                Err(e)
            }
        }
    }

    async fn join(&self, group: &str, domains: &[String]) -> Result<Box<dyn Membership<dyn PartitionLog>>> {
        let mut pending: Vec<Box<dyn PartitionLog>> = Vec::new();
        for domain in domains {
            self.check_domain(domain)?;
            for p in 0..self.inner.partitions {
                let id = PartitionId::new(domain, p);
                let (g, d) = (group.to_string(), domain.clone());
                let committed = self.with_store(move |s| s.committed_offset(&g, &d, p)).await?;
                pending.push(Box::new(partition::EmbeddedPartition::new(
                    self.clone(),
                    group.to_string(),
                    id,
                    committed.unwrap_or(-1),
                )));
            }
        }
        Ok(Box::new(EmbeddedMembership { pending, settled: false }))
    }

    async fn join_events(&self, group: &str, domains: &[String]) -> Result<Box<dyn Membership<dyn EventPartition>>> {
        let mut pending: Vec<Box<dyn EventPartition>> = Vec::new();
        for domain in domains {
            self.check_domain(domain)?;
            for p in 0..self.inner.partitions {
                let id = PartitionId::new(domain, p);
                let (g, d) = (group.to_string(), domain.clone());
                let committed = self.with_store(move |s| s.committed_offset(&g, &d, p)).await?;
                pending.push(Box::new(events::EmbeddedEventPartition::new(
                    self.clone(),
                    group.to_string(),
                    id,
                    committed.unwrap_or(-1),
                )));
            }
        }
        Ok(Box::new(EmbeddedMembership { pending, settled: false }))
    }

    fn tail(&self) -> tokio::sync::broadcast::Receiver<std::sync::Arc<StoredEvent>> {
        self.inner.bus.tail.subscribe()
    }

    fn notices(&self) -> tokio::sync::broadcast::Receiver<std::sync::Arc<crate::record::Notice>> {
        self.inner.bus.notices.subscribe()
    }

    async fn read_book(&self, domain: &str, root: &Uuid) -> Result<AggregateHistory> {
        self.check_domain(domain)?;
        let (domain, root) = (domain.to_string(), *root);
        self.with_store(move |s| s.read_book(&domain, &root)).await
    }

    async fn read_history(&self, domain: &str, root: &Uuid) -> Result<AggregateHistory> {
        self.check_domain(domain)?;
        let (domain, root) = (domain.to_string(), *root);
        self.with_store(move |s| s.read_history(&domain, &root)).await
    }

    async fn dead_letters(&self, group: &str) -> Result<Vec<crate::record::DeadLetter>> {
        let group = group.to_string();
        self.with_store(move |s| s.dead_letters(&group)).await
    }

    async fn settle_dead_letter(
        &self,
        group: &str,
        letter: &crate::record::DeadLetter,
        replayed: Option<Vec<CommandEnvelope>>,
    ) -> Result<bool> {
        let commands = replayed.unwrap_or_default();
        let targets = self.route(&commands)?;
        let partitions: Vec<u32> = targets.iter().map(|t| t.partition).collect();
        let (group, letter) = (group.to_string(), letter.clone());
        let settled = self.with_store(move |s| s.settle_dead_letter(&group, &letter, &commands, &partitions)).await?;
        for t in targets {
            self.inner.bus.commands_appended(&t);
        }
        Ok(settled)
    }
}

/// On one machine the single worker owns every partition, forever.
struct EmbeddedMembership<P: ?Sized> {
    pending: Vec<Box<P>>,
    settled: bool,
}

#[async_trait]
impl<P: ?Sized + Send> Membership<P> for EmbeddedMembership<P> {
    async fn next(&mut self) -> Option<Assignment<P>> {
        match self.pending.pop() {
            Some(p) => Some(Assignment::Assigned(p)),
            None if !self.settled => {
                self.settled = true;
                Some(Assignment::Settled)
            }
            // Nothing is ever revoked: park until the coordinator shuts down.
            None => std::future::pending().await,
        }
    }

    async fn leave(self: Box<Self>) {}
}

#[cfg(test)]
mod tests;
