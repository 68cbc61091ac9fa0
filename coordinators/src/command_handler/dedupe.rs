//! Request ids: a retried command gets its original answer, and nothing is
//! written twice.
//!
//! A caller that could not learn a command's outcome (its gateway timed out,
//! the owner died around its commit) retries with the same request id. The
//! partition owner remembers, for a window, the outcome of every request id
//! it decided, and answers a repeat with that outcome instead of deciding it
//! again. A new owner seeds the window from the log: events carry the
//! request id of their command (`angzarr-request-id`), and
//! [`PartitionLog::recent_requests`] reads the window's tail.
//!
//! [`PartitionLog::recent_requests`]: angzarr_connectors::PartitionLog::recent_requests

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use angzarr_connectors::{CommandOutcome, RecentRequest};
use uuid::Uuid;

/// The outcomes of recent request ids of one partition.
pub struct Dedupe {
    window: Duration,
    max: usize,
    by_id: HashMap<String, (Uuid, CommandOutcome)>,
    order: VecDeque<(Instant, String)>,
}

/// What a repeated request id means.
pub enum Seen<'a> {
    /// Never decided here (within the window): decide it.
    New,
    /// Decided before: answer this, write nothing.
    Decided(&'a CommandOutcome),
    /// The id was used for another aggregate: refuse it.
    OtherRoot(Uuid),
}

impl Dedupe {
    /// Remembers at most `max` ids for `window` each.
    pub fn new(window: Duration, max: usize) -> Self {
        Dedupe { window, max, by_id: HashMap::new(), order: VecDeque::new() }
    }

    /// Seeds the window from what the log says was decided recently.
    pub fn seed(&mut self, recent: Vec<RecentRequest>) {
        for r in recent {
            self.insert(&r.request_id, r.root, CommandOutcome::Accepted(r.book));
        }
    }

    /// What `request_id` for `root` was answered, if anything.
    pub fn seen(&self, request_id: &str, root: &Uuid) -> Seen<'_> {
        match self.by_id.get(request_id) {
            None => Seen::New,
            Some((r, _)) if r != root => Seen::OtherRoot(*r),
            Some((_, outcome)) => Seen::Decided(outcome),
        }
    }

    /// Remembers a committed outcome.
    pub fn insert(&mut self, request_id: &str, root: Uuid, outcome: CommandOutcome) {
        if request_id.is_empty() || self.max == 0 {
            return;
        }
        self.expire();
        while self.by_id.len() >= self.max {
            let Some((_, old)) = self.order.pop_front() else { break };
            self.by_id.remove(&old);
        }
        if self.by_id.insert(request_id.to_string(), (root, outcome)).is_none() {
            self.order.push_back((Instant::now(), request_id.to_string()));
        }
    }

    fn expire(&mut self) {
        while let Some((at, _)) = self.order.front() {
            if at.elapsed() <= self.window {
                break;
            }
            let (_, id) = self.order.pop_front().expect("front exists");
            self.by_id.remove(&id);
        }
    }

    /// Ids remembered now.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(m: &str) -> CommandOutcome {
        CommandOutcome::Rejected { code: 9, message: m.into() }
    }

    #[test]
    fn a_repeat_gets_the_original_and_another_root_is_refused() {
        let mut d = Dedupe::new(Duration::from_secs(60), 10);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(matches!(d.seen("r1", &a), Seen::New));
        d.insert("r1", a, rejected("first"));
        assert!(
            matches!(d.seen("r1", &a), Seen::Decided(CommandOutcome::Rejected { message, .. }) if message == "first")
        );
        assert!(matches!(d.seen("r1", &b), Seen::OtherRoot(r) if r == a));
        d.insert("", a, rejected("no id"));
        assert_eq!(d.len(), 1, "commands without an id are not remembered");
    }

    #[test]
    fn bounded_by_count_oldest_first() {
        let mut d = Dedupe::new(Duration::from_secs(60), 2);
        let root = Uuid::new_v4();
        for id in ["a", "b", "c"] {
            d.insert(id, root, rejected(id));
        }
        assert_eq!(d.len(), 2);
        assert!(matches!(d.seen("a", &root), Seen::New));
        assert!(matches!(d.seen("c", &root), Seen::Decided(_)));
    }

    #[test]
    fn expires_after_the_window() {
        let mut d = Dedupe::new(Duration::ZERO, 10);
        let root = Uuid::new_v4();
        d.insert("a", root, rejected("a"));
        std::thread::sleep(Duration::from_millis(2));
        d.insert("b", root, rejected("b"));
        assert!(matches!(d.seen("a", &root), Seen::New));
    }
}
