//! Step 2: the gateway — `CommandHandlerCoordinatorService`.
//!
//! Stateless: it validates, appends the command to its domain's commands log
//! and, depending on the sync mode, answers at once (ASYNC: the command is
//! durable) or when the partition owner's commit delivers the outcome
//! (DECISION and stronger). The reply comes back to this instance whichever
//! worker owns the partition, and survives a change of owner: the command
//! stays in the log until some owner decides it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use angzarr_connectors::{CommandEnvelope, CommandOutcome, Log};
use angzarr_proto::angzarr::command_handler_coordinator_service_server::CommandHandlerCoordinatorService;
use angzarr_proto::angzarr::{
    BusinessResponse, CommandRequest, CommandResponse, EventBook, EventRequest, FactInjectionResponse,
    SpeculateCommandHandlerRequest, SyncMode,
};
use prost::Message;
use tonic::{Code, Request, Response, Status};
use tracing::Instrument;
use uuid::Uuid;

use super::validate::{Limits, validate};
use crate::CoordinatorError;
use crate::telemetry::{COMMAND_DURATION, COMMANDS_TOTAL, SPAN_AGGREGATE_HANDLE};

/// The gateway of one process.
#[derive(Clone)]
pub struct Gateway {
    log: Arc<dyn Log>,
    limits: Limits,
    decision_timeout: Duration,
}

impl Gateway {
    /// A gateway in front of `log`.
    pub fn new(log: Arc<dyn Log>, limits: Limits, decision_timeout: Duration) -> Self {
        Gateway { log, limits, decision_timeout }
    }

    /// Handles one request; the whole command path as seen from the caller.
    pub async fn handle(&self, req: CommandRequest) -> Result<CommandResponse, CoordinatorError> {
        let domains = self.log.domains();
        let valid =
            validate(&req, &self.limits, |d| domains.iter().any(|k| k == d), Some(angzarr_proto::descriptor_pool()))?;
        let mode = SyncMode::try_from(req.sync_mode)
            .map_err(|_| CoordinatorError::InvalidArgument(format!("unknown sync mode {}", req.sync_mode)))?;
        let cover = valid.book.cover.clone();
        let envelope = CommandEnvelope {
            domain: valid.domain,
            root: valid.root,
            correlation_id: valid.correlation_id,
            request_id: Uuid::new_v4().to_string(),
            reply_to: (mode != SyncMode::Async).then(|| self.log.instance_id().to_string()),
            sync_mode: mode as i32,
            book: valid.book.encode_to_vec(),
            offset: -1,
        };
        let submitted = self.log.submit(envelope, mode != SyncMode::Async).await?;
        let Some(reply) = submitted.reply else {
            return Ok(CommandResponse {
                events: Some(EventBook { cover, ..Default::default() }),
                ..Default::default()
            });
        };
        // SIMPLE and CASCADE wait for downstream reactions too; with no sync
        // projectors or sagas configured, the decision is all there is to wait for.
        match tokio::time::timeout(self.decision_timeout, reply).await {
            Err(_) => Err(CoordinatorError::Timeout(self.decision_timeout)),
            Ok(Err(_)) => Err(CoordinatorError::Log(angzarr_connectors::LogError::Shutdown)),
            Ok(Ok(CommandOutcome::Accepted(events))) => {
                Ok(CommandResponse { events: Some(events), ..Default::default() })
            }
            Ok(Ok(CommandOutcome::Rejected { code, message })) => {
                Err(CoordinatorError::Rejected { code: Code::from(code), message })
            }
        }
    }
}

#[tonic::async_trait]
impl CommandHandlerCoordinatorService for Gateway {
    async fn handle_command(&self, request: Request<CommandRequest>) -> Result<Response<CommandResponse>, Status> {
        let req = request.into_inner();
        let cover = req.command.as_ref().and_then(|c| c.cover.as_ref());
        let domain = cover.map(|c| c.domain.clone()).unwrap_or_default();
        let correlation_id = cover.map(|c| c.correlation_id.clone()).unwrap_or_default();
        let span = tracing::info_span!(SPAN_AGGREGATE_HANDLE, %domain, %correlation_id, sync_mode = req.sync_mode);
        let started = Instant::now();
        let result = self.handle(req).instrument(span).await;
        let outcome = match &result {
            Ok(_) => "accepted",
            Err(CoordinatorError::Rejected { .. }) => "rejected",
            Err(_) => "error",
        };
        metrics::histogram!(COMMAND_DURATION, "domain" => domain.clone(), "outcome" => outcome)
            .record(started.elapsed().as_secs_f64());
        metrics::counter!(COMMANDS_TOTAL, "domain" => domain, "outcome" => outcome).increment(1);
        result.map(Response::new).map_err(Status::from)
    }

    async fn handle_event(&self, _: Request<EventRequest>) -> Result<Response<FactInjectionResponse>, Status> {
        Err(Status::unimplemented("fact injection (HandleEvent) is not supported yet"))
    }

    async fn handle_sync_speculative(
        &self,
        _: Request<SpeculateCommandHandlerRequest>,
    ) -> Result<Response<CommandResponse>, Status> {
        Err(Status::unimplemented("speculative execution is not supported yet"))
    }

    async fn handle_compensation(&self, _: Request<CommandRequest>) -> Result<Response<BusinessResponse>, Status> {
        Err(Status::unimplemented("compensation is not supported yet"))
    }
}
