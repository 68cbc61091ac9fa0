//! What a consumer does with a record it cannot get past: its poison policy.
//!
//! A record is poison when it does not decode, or when the consumer's
//! handler *answered* with an error for it `attempts` times in a row. A
//! handler that cannot be reached (down, timing out, overloaded) is an
//! outage, not poison: those calls are retried forever under every policy,
//! or an outage would empty the partition into the dead-letter log.
//!
//! - `retry` (default): hold the partition and keep trying; the lag grows
//!   and the log says why.
//! - `dead_letter`: write the record, where it came from and the error to
//!   the group's dead-letter log in the same transaction as the offset that
//!   moves past it (`angzarr dlq list|replay|drop`).
//! - `stop`: stop the process (non-zero exit), naming the record.

use serde::Deserialize;
use tonic::Code;

/// The policy.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PoisonPolicy {
    /// Hold the partition and retry.
    #[default]
    Retry,
    /// Move the record to the dead-letter log and go on.
    #[serde(alias = "dead-letter")]
    DeadLetter,
    /// Stop the process.
    Stop,
}

/// A consumer's `on_poison` setting.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct OnPoison {
    /// What to do.
    pub policy: PoisonPolicy,
    /// Answered errors in a row that make a record poison (`dead_letter`
    /// and `stop`; an undecodable record is poison at once).
    pub attempts: u32,
}

impl Default for OnPoison {
    fn default() -> Self {
        OnPoison { policy: PoisonPolicy::Retry, attempts: 5 }
    }
}

/// Whether `code` means the handler could not be reached or could not take
/// the call now — retried under every policy — rather than an answer about
/// the record.
pub fn is_outage(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::ResourceExhausted | Code::Aborted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_spelling_and_defaults_to_retry() {
        let p: OnPoison = serde_yaml::from_str("policy: dead-letter\nattempts: 2").unwrap();
        assert_eq!(p, OnPoison { policy: PoisonPolicy::DeadLetter, attempts: 2 });
        let p: OnPoison = serde_yaml::from_str("policy: stop").unwrap();
        assert_eq!(p, OnPoison { policy: PoisonPolicy::Stop, attempts: 5 });
        assert_eq!(OnPoison::default().policy, PoisonPolicy::Retry);
        assert!(serde_yaml::from_str::<OnPoison>("policy: skip").is_err());
    }

    #[test]
    fn outages_are_not_poison() {
        assert!(is_outage(Code::Unavailable) && is_outage(Code::DeadlineExceeded));
        assert!(!is_outage(Code::Unknown) && !is_outage(Code::InvalidArgument) && !is_outage(Code::Internal));
    }
}
