//! Coordinator errors, mapped to gRPC statuses in one place.

use angzarr_connectors::LogError;
use thiserror::Error;
use tonic::{Code, Status};

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
    #[error("no decision within {0:?}; the command is in the log and may still be processed")]
    Timeout(std::time::Duration),
    /// SIMPLE or CASCADE: the command was decided, but what it waits for
    /// downstream did not report in time.
    #[error("{0}")]
    DownstreamTimeout(String),
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
            CoordinatorError::Timeout(_) => Status::deadline_exceeded(msg),
            CoordinatorError::DownstreamTimeout(_) => Status::deadline_exceeded(msg),
            CoordinatorError::Log(LogError::UnknownDomain(_)) => Status::not_found(msg),
            CoordinatorError::Log(LogError::Unavailable(_)) => Status::unavailable(msg),
            CoordinatorError::Log(LogError::Shutdown) => Status::unavailable(msg),
            CoordinatorError::Log(_) => Status::internal(msg),
            CoordinatorError::Rejected { code, message } => Status::new(code, message),
        }
    }
}
