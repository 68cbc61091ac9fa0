//! Sending commands: a small client of the gateway that makes retries safe.
//!
//! Every send carries a request id (`angzarr-request-id`; generated when the
//! caller gives none), which the partition owner remembers for a window: a
//! retry with the same id gets the original outcome and writes nothing. So
//! when the answer is lost — the gateway's deadline passed, the owner died
//! around its commit — the gateway says the outcome is **unknown**
//! (`DEADLINE_EXCEEDED`, `angzarr-outcome: unknown`), never "rejected", and
//! [`Gateway::send_with_retry`] simply sends again with the same id.

use std::time::Duration;

use angzarr_proto::angzarr::command_handler_coordinator_service_client::CommandHandlerCoordinatorServiceClient;
use angzarr_proto::angzarr::{CommandRequest, CommandResponse};
use tonic::Code;
use tonic::transport::Channel;

/// Request metadata naming a command for retries.
pub const REQUEST_ID_HEADER: &str = "angzarr-request-id";
/// Response metadata saying a failed call's outcome is unknown.
pub const OUTCOME_HEADER: &str = "angzarr-outcome";

/// Why a send did not return a response.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The command was refused (business logic, sequence, validation):
    /// nothing was written. Retrying the same command would be refused again.
    #[error("rejected ({code:?}): {message}")]
    Rejected {
        /// The status code.
        code: Code,
        /// Why.
        message: String,
    },
    /// Whether the command committed is not known: retry with `request_id`.
    #[error("outcome unknown (retry with request id {request_id}): {message}")]
    OutcomeUnknown {
        /// The id to retry with.
        request_id: String,
        /// What the gateway said.
        message: String,
    },
    /// The gateway could not be reached or failed; `UNAVAILABLE` is worth a retry.
    #[error("transport ({code:?}): {message}")]
    Transport {
        /// The status code.
        code: Code,
        /// What failed.
        message: String,
        /// The id the command was sent with.
        request_id: String,
    },
}

impl GatewayError {
    /// Whether sending again with the same request id is the right move.
    pub fn retryable(&self) -> bool {
        match self {
            GatewayError::OutcomeUnknown { .. } => true,
            GatewayError::Transport { code, .. } => *code == Code::Unavailable,
            GatewayError::Rejected { .. } => false,
        }
    }

    fn of(status: tonic::Status, request_id: &str) -> Self {
        let unknown = status.metadata().get(OUTCOME_HEADER).is_some_and(|v| v.as_bytes() == b"unknown");
        let message = status.message().to_string();
        match status.code() {
            _ if unknown => GatewayError::OutcomeUnknown { request_id: request_id.into(), message },
            Code::DeadlineExceeded => GatewayError::OutcomeUnknown { request_id: request_id.into(), message },
            code @ (Code::InvalidArgument
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::Aborted
            | Code::ResourceExhausted
            | Code::Unimplemented) => GatewayError::Rejected { code, message },
            code => GatewayError::Transport { code, message, request_id: request_id.into() },
        }
    }
}

/// How patiently [`Gateway::send_with_retry`] retries.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Attempts in all.
    pub attempts: u32,
    /// First delay; doubles up to `max_backoff`.
    pub backoff: Duration,
    /// Longest delay.
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { attempts: 5, backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(5) }
    }
}

/// A client of the gateway (`CommandHandlerCoordinatorService`).
#[derive(Clone)]
pub struct Gateway {
    client: CommandHandlerCoordinatorServiceClient<Channel>,
}

impl Gateway {
    /// A client on `channel`.
    pub fn new(channel: Channel) -> Self {
        Gateway { client: CommandHandlerCoordinatorServiceClient::new(channel) }
    }

    /// Connects to the gateway at `url` (e.g. `http://127.0.0.1:1313`).
    pub async fn connect(url: impl Into<String>) -> Result<Self, tonic::transport::Error> {
        Ok(Gateway::new(tonic::transport::Endpoint::from_shared(url.into())?.connect().await?))
    }

    /// A fresh request id.
    pub fn new_request_id() -> String {
        uuid::Uuid::new_v4().to_string()
    }

    /// Sends `request` once, named `request_id` (a fresh one when `None`).
    pub async fn send(
        &mut self,
        request: CommandRequest,
        request_id: Option<&str>,
    ) -> Result<CommandResponse, GatewayError> {
        let id = request_id.map(str::to_string).unwrap_or_else(Self::new_request_id);
        let mut call = tonic::Request::new(request);
        let value = id.parse().map_err(|_| GatewayError::Rejected {
            code: Code::InvalidArgument,
            message: format!("request id `{id}` is not valid metadata"),
        })?;
        call.metadata_mut().insert(REQUEST_ID_HEADER, value);
        self.client.handle_command(call).await.map(tonic::Response::into_inner).map_err(|s| GatewayError::of(s, &id))
    }

    /// Sends `request`, and again with the same request id while the
    /// outcome is unknown or the gateway unavailable; a rejection is final.
    pub async fn send_with_retry(
        &mut self,
        request: CommandRequest,
        request_id: Option<&str>,
        retry: Retry,
    ) -> Result<CommandResponse, GatewayError> {
        let id = request_id.map(str::to_string).unwrap_or_else(Self::new_request_id);
        let mut delay = retry.backoff;
        let mut attempt = 1;
        loop {
            match self.send(request.clone(), Some(&id)).await {
                Err(e) if e.retryable() && attempt < retry.attempts => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(retry.max_backoff);
                    attempt += 1;
                }
                done => return done,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::angzarr::command_handler_coordinator_service_server::{
        CommandHandlerCoordinatorService, CommandHandlerCoordinatorServiceServer,
    };
    use angzarr_proto::angzarr::{
        BusinessResponse, EventRequest, FactInjectionResponse, SpeculateCommandHandlerRequest,
    };
    use std::sync::{Arc, Mutex};

    /// A gateway that answers "unknown" to the first call of an id, then
    /// succeeds; and rejects commands whose sync mode is 4.
    #[derive(Default, Clone)]
    struct Fake {
        seen: Arc<Mutex<Vec<String>>>,
    }

    #[tonic::async_trait]
    impl CommandHandlerCoordinatorService for Fake {
        async fn handle_command(
            &self,
            request: tonic::Request<CommandRequest>,
        ) -> Result<tonic::Response<CommandResponse>, tonic::Status> {
            let id = request.metadata().get(REQUEST_ID_HEADER).unwrap().to_str().unwrap().to_string();
            let first = {
                let mut seen = self.seen.lock().unwrap();
                let first = !seen.contains(&id);
                seen.push(id);
                first
            };
            if request.get_ref().sync_mode == 4 {
                return Err(tonic::Status::failed_precondition("sequence mismatch"));
            }
            if first {
                let mut s = tonic::Status::deadline_exceeded("outcome unknown: no decision in time");
                s.metadata_mut().insert(OUTCOME_HEADER, "unknown".parse().unwrap());
                return Err(s);
            }
            Ok(tonic::Response::new(CommandResponse::default()))
        }
        async fn handle_event(
            &self,
            _: tonic::Request<EventRequest>,
        ) -> Result<tonic::Response<FactInjectionResponse>, tonic::Status> {
            Err(tonic::Status::unimplemented(""))
        }
        async fn handle_sync_speculative(
            &self,
            _: tonic::Request<SpeculateCommandHandlerRequest>,
        ) -> Result<tonic::Response<CommandResponse>, tonic::Status> {
            Err(tonic::Status::unimplemented(""))
        }
        async fn handle_compensation(
            &self,
            _: tonic::Request<CommandRequest>,
        ) -> Result<tonic::Response<BusinessResponse>, tonic::Status> {
            Err(tonic::Status::unimplemented(""))
        }
    }

    async fn serve(fake: Fake) -> Gateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(CommandHandlerCoordinatorServiceServer::new(fake))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        Gateway::connect(format!("http://{addr}")).await.unwrap()
    }

    fn fast() -> Retry {
        Retry { attempts: 3, backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(5) }
    }

    #[tokio::test]
    async fn an_unknown_outcome_is_retried_with_the_same_request_id() {
        let fake = Fake::default();
        let mut gw = serve(fake.clone()).await;
        gw.send_with_retry(CommandRequest::default(), None, fast()).await.unwrap();
        let seen = fake.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0], seen[1], "the retry carried the same id");
        // An explicit id goes through unchanged; generated ids differ.
        let err = gw.send(CommandRequest::default(), Some("mine-1")).await.unwrap_err();
        assert!(matches!(&err, GatewayError::OutcomeUnknown { request_id, .. } if request_id == "mine-1"), "{err}");
        assert_eq!(fake.seen.lock().unwrap().last().unwrap(), "mine-1");
        assert_ne!(Gateway::new_request_id(), Gateway::new_request_id());
    }

    #[tokio::test]
    async fn a_rejection_is_not_retried() {
        let fake = Fake::default();
        let mut gw = serve(fake.clone()).await;
        let req = CommandRequest { sync_mode: 4, ..Default::default() };
        let err = gw.send_with_retry(req, None, fast()).await.unwrap_err();
        assert!(matches!(err, GatewayError::Rejected { code: Code::FailedPrecondition, .. }), "{err}");
        assert_eq!(fake.seen.lock().unwrap().len(), 1, "exactly one call");
    }
}
