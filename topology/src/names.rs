//! Topic names: `<prefix>.<domain>.commands|events|snapshots`.

/// The default topic prefix.
pub const DEFAULT_PREFIX: &str = "angzarr";

/// The three topics of a domain, by role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TopicKind {
    /// Commands waiting for their partition owner; short retention.
    Commands,
    /// The event store itself: never compacted, never expires.
    Events,
    /// Latest snapshot per root: compacted.
    Snapshots,
}

impl TopicKind {
    /// The suffix of the topic name.
    pub fn suffix(self) -> &'static str {
        match self {
            TopicKind::Commands => "commands",
            TopicKind::Events => "events",
            TopicKind::Snapshots => "snapshots",
        }
    }

    /// Every kind, in the order topics are created.
    pub const ALL: [TopicKind; 3] = [TopicKind::Events, TopicKind::Commands, TopicKind::Snapshots];
}

/// Builds topic names under one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics::new(DEFAULT_PREFIX)
    }
}

impl Topics {
    /// Topic names under `prefix` (e.g. `angzarr`).
    pub fn new(prefix: impl Into<String>) -> Self {
        Topics { prefix: prefix.into() }
    }

    /// The prefix in use.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>.<domain>.<kind>`.
    pub fn name(&self, domain: &str, kind: TopicKind) -> String {
        format!("{}.{}.{}", self.prefix, domain, kind.suffix())
    }

    /// The topic the gateways read command outcomes from.
    pub fn replies(&self) -> String {
        format!("{}._replies", self.prefix)
    }

    /// Which worker owns each commands partition now, and where it listens
    /// (compacted; keyed `<domain>/<partition>`): how a gateway finds the
    /// owner to hand a command it waits for straight to.
    pub fn owners(&self) -> String {
        format!("{}._owners", self.prefix)
    }

    /// Commands rejected with nobody waiting for the answer, keyed by root.
    pub fn rejections(&self) -> String {
        format!("{}._rejections", self.prefix)
    }

    /// The dead-letter log of consumer group `group` (e.g.
    /// `projector.bankroll`): `<prefix>.<group>.dlq`.
    pub fn dead_letters(&self, group: &str) -> String {
        format!("{}.{}.dlq", self.prefix, group)
    }

    /// The domain and kind of a topic name under this prefix, if it is one of ours.
    pub fn parse(&self, topic: &str) -> Option<(String, TopicKind)> {
        let rest = topic.strip_prefix(&self.prefix)?.strip_prefix('.')?;
        let (domain, suffix) = rest.rsplit_once('.')?;
        let kind = TopicKind::ALL.into_iter().find(|k| k.suffix() == suffix)?;
        Some((domain.to_string(), kind))
    }
}

/// Whether `domain` is usable in a topic name: Kafka allows `[a-zA-Z0-9._-]`,
/// and we forbid `.` so names parse back unambiguously.
pub fn valid_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 200
        && domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let t = Topics::new("acme");
        let n = t.name("player", TopicKind::Snapshots);
        assert_eq!(n, "acme.player.snapshots");
        assert_eq!(t.parse(&n), Some(("player".into(), TopicKind::Snapshots)));
        assert_eq!(t.parse("other.player.events"), None);
        assert_eq!(t.parse("acme.player.nope"), None);
    }

    #[test]
    fn domain_validation() {
        assert!(valid_domain("player"));
        assert!(valid_domain("hand_v2-x"));
        assert!(!valid_domain(""));
        assert!(!valid_domain("a.b"));
        assert!(!valid_domain("a b"));
    }
}
