//! Failure injection, for the tests that prove each failure has an owner.
//!
//! A log carries a shared [`Faults`]; production code leaves it empty and
//! pays one atomic load per transaction. A test arms a counter ("the next
//! two restores fail") and watches the coordinator recover. The faults are
//! placed where real ones happen — a restore read that fails, a commit whose
//! outcome the producer cannot report — so the recovery path under test is
//! the real one, against the real broker where the log is Kafka.

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

/// Counters of faults still to inject. Each fires once per unit, then the
/// log behaves normally again. The commit faults fire only on transactions
/// that append events (not on a partition's upkeep), and only on
/// [`Faults::partition`] when it is set — so a test knows which command met it.
#[derive(Debug)]
pub struct Faults {
    /// Only this partition number meets the faults; `-1` (the default): any.
    pub partition: AtomicI64,
    /// The next N partition restores fail before reading anything, as a
    /// transient broker error would make them.
    pub restore_failures: AtomicU32,
    /// The next N transactions really commit, and then report their outcome
    /// as unknown — what a commit that timed out after the broker completed
    /// it looks like to the producer.
    pub unknown_after_commit: AtomicU32,
    /// The next N transactions fail as a fatal producer error just before
    /// committing: their outcome is unknown to the task, and the log (once
    /// the partition is re-initialised) shows they never committed.
    pub fatal_before_commit: AtomicU32,
    /// The next N transactions abort: nothing of them is written, and the
    /// partition rewinds to its last commit (what a classified abort is).
    pub aborted_commits: AtomicU32,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            partition: AtomicI64::new(-1),
            restore_failures: AtomicU32::new(0),
            unknown_after_commit: AtomicU32::new(0),
            fatal_before_commit: AtomicU32::new(0),
            aborted_commits: AtomicU32::new(0),
        }
    }
}

impl Faults {
    /// Whether partition `p` is in scope.
    pub fn targets(&self, p: u32) -> bool {
        let only = self.partition.load(Ordering::SeqCst);
        only < 0 || only == p as i64
    }

    /// Consumes one fault of `counter` for partition `p`, if armed and in scope.
    pub fn take_for(&self, counter: &AtomicU32, p: u32) -> bool {
        self.targets(p) && Self::take(counter)
    }

    /// Arms `counter` for `n` more faults.
    pub fn arm(counter: &AtomicU32, n: u32) {
        counter.fetch_add(n, Ordering::SeqCst);
    }

    /// Consumes one fault of `counter`, if armed.
    pub fn take(counter: &AtomicU32) -> bool {
        counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }
}
