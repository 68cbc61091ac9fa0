//! Calling the business logic, and deciding what its answer means.
//!
//! A status from the handler is the aggregate's decision (a rejection, an
//! invalid command) and is passed to the caller as is. A transport failure
//! — the handler is down, restarting, or does not answer within the call
//! deadline — is not a decision: the command is in the log and must be
//! decided, so the call is retried with backoff **until the handler
//! answers** or the task is stopped (revocation, shutdown: the next owner
//! decides it). The partition holds meanwhile — its lag grows, a log line
//! and `angzarr.handler.unreachable` say why — and a caller waiting on
//! DECISION hears "outcome unknown" from its gateway's deadline, never a
//! rejection that did not happen.

use std::time::Duration;

use angzarr_proto::angzarr::{BusinessResponse, ContextualCommand};
use std::error::Error as _;
use tonic::{Code, Status};
use tracing::Instrument;

use crate::Shutdown;
use crate::handlers::Handlers;
use crate::telemetry::SPAN_AGGREGATE_EXECUTE;

/// How to call a handler, and how patiently to wait for one that does not answer.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Delay before the first retry; doubles each time.
    pub initial_backoff: Duration,
    /// Longest delay between retries.
    pub max_backoff: Duration,
    /// Deadline of one call.
    pub call_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            call_timeout: Duration::from_secs(10),
        }
    }
}

/// Whether a status means "the handler was not reached (or did not answer)"
/// rather than "the handler decided".
pub fn transient(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded)
        || (status.code() == Code::Unknown && status.source().is_some())
}

/// Calls `domain`'s handler with `request`, holding while it cannot be
/// reached. `None` when `stop` came first: the command stays undecided.
pub async fn execute(
    handlers: &Handlers,
    domain: &str,
    correlation_id: &str,
    request: ContextualCommand,
    policy: &RetryPolicy,
    stop: &Shutdown,
) -> Option<Result<BusinessResponse, Status>> {
    let span = tracing::info_span!(SPAN_AGGREGATE_EXECUTE, domain, correlation_id);
    async move {
        let Some(mut client) = handlers.get(domain) else {
            return Some(Err(Status::failed_precondition(format!(
                "no business logic configured for domain `{domain}`"
            ))));
        };
        let mut backoff = policy.initial_backoff;
        let mut attempt = 1u32;
        loop {
            let mut req = tonic::Request::new(request.clone());
            req.set_timeout(policy.call_timeout);
            match client.handle(req).await {
                Ok(resp) => return Some(Ok(resp.into_inner())),
                Err(status) if transient(&status) => {
                    tracing::warn!(attempt, code = ?status.code(), message = status.message(), ?backoff,
                        "business logic unreachable; the partition holds this command and retries");
                    metrics::counter!("angzarr.handler.unreachable", "domain" => domain.to_string()).increment(1);
                    let code = crate::http::code_name(status.code());
                    metrics::counter!(crate::telemetry::HANDLER_ERRORS, "domain" => domain.to_string(), "code" => code)
                        .increment(1);
                    tokio::select! {
                        _ = stop.wait() => return None,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(policy.max_backoff);
                    attempt += 1;
                }
                Err(status) => {
                    let code = crate::http::code_name(status.code());
                    metrics::counter!(crate::telemetry::HANDLER_ERRORS, "domain" => domain.to_string(), "code" => code)
                        .increment(1);
                    return Some(Err(status));
                }
            }
        }
    }
    .instrument(span)
    .await
}
