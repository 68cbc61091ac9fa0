//! Coordinator errors, mapped to gRPC statuses in one place.

use angzarr_connectors::LogError;
use thiserror::Error;
use tonic::{Code, Status};

/// Response metadata that says whether a failed call's outcome is known:
/// `unknown` means the command may or may not have been committed.
pub const OUTCOME_HEADER: &str = "angzarr-outcome";

/// Request metadata naming the command for retries (the idempotency key).
pub const REQUEST_ID_HEADER: &str = "angzarr-request-id";

/// Why a coordinator refused or failed a request.
#[derive(Debug, Error)]
pub enum CoordinatorError {
    /// The request is malformed or incomplete; nothing was written.
    #[error("{0}")]
    InvalidArgument(String),
    /// The domain is not served here; nothing was written.
    #[error("unknown domain `{0}`")]
    UnknownDomain(String),
    /// The payload exceeds the configured limit; nothing was written.
    #[error("command is {size} bytes, the limit is {limit}")]
    TooLarge {
        /// Encoded size.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
    /// The feature asked for is not available.
    #[error("{0}")]
    Unimplemented(String),
    /// The answer did not come in time; the command may still be processed.
    #[error(
        "outcome unknown: no decision within {0:?}; the command may still be decided — retry with the same request id"
    )]
    Timeout(std::time::Duration),
    /// SIMPLE or CASCADE: the command was decided, but what it waits for
    /// downstream did not report in time.
    #[error("{0}")]
    DownstreamTimeout(String),
    /// The gateway could not learn whether the command committed (its
    /// deadline passed, or the log could not confirm the append). Not a
    /// rejection: retry with the same request id, which is answered with the
    /// original outcome if there was one.
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(String),
    /// A partition task died; the process stops rather than run without it.
    #[error("partition task died: {0}")]
    TaskDied(String),
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The command was refused by the aggregate or by sequence checks.
    #[error("{message}")]
    Rejected {
        /// gRPC code.
        code: Code,
        /// Why.
        message: String,
    },
}

impl From<CoordinatorError> for Status {
    fn from(e: CoordinatorError) -> Self {
        let msg = e.to_string();
        match e {
            CoordinatorError::InvalidArgument(_) => Status::invalid_argument(msg),
            CoordinatorError::UnknownDomain(_) => Status::not_found(msg),
            CoordinatorError::TooLarge { .. } => Status::resource_exhausted(msg),
            CoordinatorError::Unimplemented(_) => Status::unimplemented(msg),
            CoordinatorError::Timeout(_) | CoordinatorError::OutcomeUnknown(_) => {
                let mut status = Status::deadline_exceeded(msg);
                status.metadata_mut().insert(OUTCOME_HEADER, tonic::metadata::MetadataValue::from_static("unknown"));
                status
            }
            CoordinatorError::TaskDied(_) => Status::internal(msg),
            CoordinatorError::DownstreamTimeout(_) => Status::deadline_exceeded(msg),
            CoordinatorError::Log(LogError::UnknownDomain(_)) => Status::not_found(msg),
            CoordinatorError::Log(LogError::Unavailable(_)) => Status::unavailable(msg),
            CoordinatorError::Log(LogError::Shutdown) => Status::unavailable(msg),
            CoordinatorError::Log(_) => Status::internal(msg),
            CoordinatorError::Rejected { code, message } => Status::new(code, message),
        }
    }
}
