//! Calling the business logic, and deciding what its answer means.
//!
//! A status from the handler is the aggregate's decision (a rejection, an
//! invalid command) and is passed to the caller as is. A transport failure
//! — the handler is down or restarting — is not a decision: it is retried
//! with backoff, and only after the retries are spent does the command fail
//! as `UNAVAILABLE`, with nothing written.

use std::time::Duration;

use angzarr_proto::angzarr::{BusinessResponse, ContextualCommand};
use std::error::Error as _;
use tonic::{Code, Status};
use tracing::Instrument;

use crate::handlers::Handlers;
use crate::telemetry::SPAN_AGGREGATE_EXECUTE;

/// How hard to try a handler that does not answer.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Delay before the first retry; doubles each time.
    pub initial_backoff: Duration,
    /// Deadline of one call.
    pub call_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 5, initial_backoff: Duration::from_millis(100), call_timeout: Duration::from_secs(10) }
    }
}

/// Whether a status means "the handler was not reached" rather than "the handler decided".
fn transient(status: &Status) -> bool {
    status.code() == Code::Unavailable || (status.code() == Code::Unknown && status.source().is_some())
}

/// Calls `domain`'s handler with `request`, retrying while it cannot be reached.
pub async fn execute(
    handlers: &Handlers,
    domain: &str,
    correlation_id: &str,
    request: ContextualCommand,
    policy: &RetryPolicy,
) -> Result<BusinessResponse, Status> {
    let span = tracing::info_span!(SPAN_AGGREGATE_EXECUTE, domain, correlation_id);
    async move {
        let mut client = handlers
            .get(domain)
            .ok_or_else(|| Status::failed_precondition(format!("no business logic configured for domain `{domain}`")))?;
        let mut backoff = policy.initial_backoff;
        let mut attempt = 1;
        loop {
            let mut req = tonic::Request::new(request.clone());
            req.set_timeout(policy.call_timeout);
            match client.handle(req).await {
                Ok(resp) => return Ok(resp.into_inner()),
                Err(status) if transient(&status) && attempt < policy.attempts => {
                    tracing::warn!(attempt, code = ?status.code(), message = status.message(), "business logic unreachable; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
                Err(status) if transient(&status) => {
                    return Err(Status::unavailable(format!(
                        "business logic of `{domain}` unreachable after {attempt} attempts: {}",
                        status.message()
                    )));
                }
                Err(status) => return Err(status),
            }
        }
    }
    .instrument(span)
    .await
}
