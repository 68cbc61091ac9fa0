//! How business logic says "no".

/// A command refused by business rules. It reaches the caller as
/// `FAILED_PRECONDITION` with this message, and nothing is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CommandRejected(pub String);

impl CommandRejected {
    /// A rejection with a reason the caller will read.
    pub fn new(reason: impl Into<String>) -> Self {
        CommandRejected(reason.into())
    }
}

/// Rejects with `reason` unless `cond` holds: `ensure(amount > 0, "amount must be positive")?`.
pub fn ensure(cond: bool, reason: impl Into<String>) -> Result<(), CommandRejected> {
    if cond { Ok(()) } else { Err(CommandRejected::new(reason)) }
}

impl From<CommandRejected> for tonic::Status {
    fn from(r: CommandRejected) -> Self {
        tonic::Status::failed_precondition(r.0)
    }
}
