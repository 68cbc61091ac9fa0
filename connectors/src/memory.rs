//! An in-memory commands partition with failure injection.
//!
//! Not a third log for users: the place where every failure the supervisor
//! handles — a restore that fails, a commit whose outcome is unknown after
//! it happened, a fatal error before it happened, an abort — is injected in
//! a few microseconds, so the task's recovery is tested without a broker.
//! It keeps the guarantees a real log gives: a commit is atomic, a second
//! event at an existing `(root, sequence)` is refused as a
//! [`LogError::Conflict`] (so a test sees a duplicate as an error, not as a
//! count), and a second `restore` rewinds to the last commit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use uuid::Uuid;

use angzarr_proto::angzarr::Snapshot;

use crate::faults::Faults;
use crate::log::PartitionLog;
use crate::record::{AggregateHistory, CommandEnvelope, EventRecord, PartitionId, RecentRequest, Reply, TxBatch};
use crate::{LogError, Result};

/// What the partition holds; read by tests through [`MemoryHandle`].
#[derive(Default)]
pub struct MemoryState {
    /// The commands partition, offset = index.
    pub commands: Vec<CommandEnvelope>,
    /// The events partition, offset = index.
    pub events: Vec<EventRecord>,
    /// Latest snapshot per root.
    pub snapshots: HashMap<Uuid, Snapshot>,
    /// Offset of the last consumed command; -1 before the first commit.
    pub committed: i64,
    /// Replies delivered by committed batches.
    pub replies: Vec<Reply>,
    /// Transactions committed.
    pub commits: u32,
    /// Rejections recorded (of commands nobody waited for).
    pub rejections: Vec<crate::record::Rejection>,
}

/// The test's side of a [`MemoryPartition`]: append commands, read the log.
#[derive(Clone)]
pub struct MemoryHandle {
    state: Arc<Mutex<MemoryState>>,
    arrived: Arc<Notify>,
    /// Faults to inject into the partition.
    pub faults: Arc<Faults>,
}

impl MemoryHandle {
    /// Appends a command; returns its offset.
    pub fn append(&self, mut cmd: CommandEnvelope) -> i64 {
        let mut s = self.state.lock().unwrap();
        cmd.offset = s.commands.len() as i64;
        s.commands.push(cmd);
        self.arrived.notify_one();
        s.commands.len() as i64 - 1
    }

    /// Reads the state.
    pub fn read<T>(&self, f: impl FnOnce(&MemoryState) -> T) -> T {
        f(&self.state.lock().unwrap())
    }
}

/// One commands partition in memory, as its task sees it.
pub struct MemoryPartition {
    id: PartitionId,
    state: Arc<Mutex<MemoryState>>,
    arrived: Arc<Notify>,
    faults: Arc<Faults>,
    polled_through: i64,
}

impl MemoryPartition {
    /// A new empty partition of `domain` and the test's handle on it.
    pub fn new(domain: &str, partition: u32) -> (Self, MemoryHandle) {
        let state = Arc::new(Mutex::new(MemoryState { committed: -1, ..Default::default() }));
        let (arrived, faults) = (Arc::new(Notify::new()), Arc::new(Faults::default()));
        let handle = MemoryHandle { state: state.clone(), arrived: arrived.clone(), faults: faults.clone() };
        (
            MemoryPartition { id: PartitionId::new(domain, partition), state, arrived, faults, polled_through: -1 },
            handle,
        )
    }
}

#[async_trait]
impl PartitionLog for MemoryPartition {
    fn id(&self) -> &PartitionId {
        &self.id
    }

    async fn restore(&mut self) -> Result<crate::RestoreStream> {
        let s = self.state.lock().unwrap();
        self.polled_through = s.committed;
        if self.faults.take_for(&self.faults.restore_failures, self.id.partition) {
            return Err(LogError::Unavailable(format!("injected: restore of {} failed", self.id)));
        }
        let mut by_root: HashMap<Uuid, AggregateHistory> = HashMap::new();
        for (root, snapshot) in &s.snapshots {
            by_root.insert(
                *root,
                AggregateHistory {
                    root: *root,
                    snapshot: Some(crate::record::Encoded::snapshot(snapshot)),
                    ..Default::default()
                },
            );
        }
        for (offset, e) in s.events.iter().enumerate() {
            let h = by_root.entry(e.root).or_insert_with(|| AggregateHistory { root: e.root, ..Default::default() });
            if h.snapshot.as_ref().is_some_and(|s| s.seq() >= e.sequence) {
                continue;
            }
            h.first_offset.get_or_insert(offset as i64);
            h.pages.extend(e.book.pages.iter().filter_map(crate::record::Encoded::page));
        }
        Ok(crate::RestoreStream::from_histories(by_root.into_values().collect()))
    }

    async fn recent_requests(&mut self, _window: Duration) -> Result<Vec<RecentRequest>> {
        let s = self.state.lock().unwrap();
        let mut out = crate::record::RecentRequests::default();
        for e in s.events.iter().filter(|e| !e.request_id.is_empty()) {
            out.add(e.request_id.clone(), e.root, e.book.clone());
        }
        Ok(out.into_vec())
    }

    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<CommandEnvelope>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.arrived.notified();
            {
                let s = self.state.lock().unwrap();
                let from = (self.polled_through + 1) as usize;
                if from < s.commands.len() {
                    let batch: Vec<_> = s.commands[from..].iter().take(max).cloned().collect();
                    self.polled_through = batch.last().map_or(self.polled_through, |c| c.offset);
                    return Ok(batch);
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(Vec::new());
            }
        }
    }

    async fn commit(&mut self, batch: TxBatch) -> Result<Vec<i64>> {
        if !batch.events.is_empty() && self.faults.take_for(&self.faults.fatal_before_commit, self.id.partition) {
            return Err(LogError::OutcomeUnknown(self.id.to_string(), "injected fatal error before commit".into()));
        }
        let mut s = self.state.lock().unwrap();
        if !batch.events.is_empty() && self.faults.take_for(&self.faults.aborted_commits, self.id.partition) {
            self.polled_through = s.committed;
            return Err(LogError::Aborted(self.id.to_string(), "injected abort".into()));
        }
        for e in &batch.events {
            if s.events.iter().any(|x| x.root == e.root && x.sequence == e.sequence) {
                self.polled_through = s.committed;
                return Err(LogError::Conflict(format!("{}/{} already has sequence {}", self.id, e.root, e.sequence)));
            }
        }
        let committed_events = !batch.events.is_empty();
        let first = s.events.len() as i64;
        let offsets: Vec<i64> = (first..first + batch.events.len() as i64).collect();
        s.events.extend(batch.events);
        for snap in batch.snapshots {
            s.snapshots.insert(snap.root, snap.snapshot);
        }
        if let Some(c) = batch.consumed_through {
            s.committed = c;
        }
        s.replies.extend(batch.replies);
        s.rejections.extend(batch.rejections);
        s.commits += 1;
        if !s.events.is_empty()
            && committed_events
            && self.faults.take_for(&self.faults.unknown_after_commit, self.id.partition)
        {
            return Err(LogError::OutcomeUnknown(self.id.to_string(), "injected: committed, reported unknown".into()));
        }
        Ok(offsets)
    }
}
