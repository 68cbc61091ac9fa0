//! Errors a log can report.

use thiserror::Error;

/// What went wrong talking to the log.
#[derive(Debug, Error)]
pub enum LogError {
    /// The domain has no topics/tables on this log.
    #[error("unknown domain `{0}`: no topics are configured for it")]
    UnknownDomain(String),
    /// The log cannot be reached or refused the operation; may succeed later.
    #[error("log unavailable: {0}")]
    Unavailable(String),
    /// This worker no longer owns the partition (fenced or revoked); its
    /// uncommitted work was discarded and must not be retried here.
    #[error("partition {0} is no longer owned by this worker: {1}")]
    Fenced(String, String),
    /// The transaction was aborted: nothing of it is visible, and the
    /// partition's position was rewound to the last commit. The task drops
    /// its staged changes and decides the same commands again.
    #[error("transaction aborted on {0}: {1}")]
    Aborted(String, String),
    /// Whether the transaction committed is not known (a commit that timed
    /// out past its retries, a fatal producer error, an abort that failed).
    /// Nothing may be decided until the partition is re-initialised — which
    /// fences our own earlier producer, so the log's answer becomes final —
    /// and restored from the log.
    #[error("transaction outcome unknown on {0}: {1}")]
    OutcomeUnknown(String, String),
    /// A stored record could not be decoded.
    #[error("corrupt record at {location}: {reason}")]
    Corrupt {
        /// Topic/partition/offset or table/row of the record.
        location: String,
        /// Why it did not decode.
        reason: String,
    },
    /// A uniqueness guarantee would have been broken (e.g. a duplicate
    /// `(root, sequence)`); nothing was written.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The log's configuration or topology is not usable.
    #[error("configuration: {0}")]
    Config(String),
    /// The embedded store failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Shutdown was requested while waiting.
    #[error("shutting down")]
    Shutdown,
}

/// Result with a [`LogError`].
pub type Result<T, E = LogError> = std::result::Result<T, E>;
