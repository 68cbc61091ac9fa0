//! Step 2: the gateway — `CommandHandlerCoordinatorService`.
//!
//! Stateless: it validates, then
//! - ASYNC: appends the command to its domain's commands log and answers
//!   once it is durable;
//! - DECISION and stronger: hands the command to its partition's owner
//!   ([`super::route`]) and answers when the owner's commit delivers the
//!   outcome. When that path cannot answer, the command goes on the commands
//!   log with the same request id and the reply comes back through the log
//!   to this instance, whichever worker owns the partition, surviving a
//!   change of owner: the command stays in the log until some owner decides it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use angzarr_connectors::{CommandEnvelope, CommandOutcome, Log};
use angzarr_proto::angzarr::command_handler_coordinator_service_server::CommandHandlerCoordinatorService;
use angzarr_proto::angzarr::{
    BusinessResponse, CascadeError, CommandRequest, CommandResponse, EventBook, EventRequest, FactInjectionResponse,
    Projection, SpeculateCommandHandlerRequest, SyncMode,
};
use std::collections::HashMap;

use crate::hub::{Hub, Signal};
use prost::Message;
use tonic::{Code, Request, Response, Status};
use tracing::Instrument;
use uuid::Uuid;

use super::route::{Routed, Router};
use super::validate::{Limits, validate};
use crate::CoordinatorError;
use crate::telemetry::{COMMAND_DURATION, COMMANDS_TOTAL, SPAN_GATEWAY_COMMAND};

/// What SIMPLE and CASCADE wait for, per domain.
#[derive(Clone, Default)]
pub struct Downstream {
    /// Sync projectors by the domain they project.
    pub sync_projectors: HashMap<String, Vec<String>>,
    /// Sagas by the domain they react to.
    pub sagas: HashMap<String, Vec<String>>,
    /// How deep CASCADE follows saga commands.
    pub max_depth: u32,
    /// Where this process's coordinators announce what they did.
    pub hub: Hub,
}

/// The gateway of one process.
#[derive(Clone)]
pub struct Gateway {
    log: Arc<dyn Log>,
    limits: Limits,
    decision_timeout: Duration,
    downstream: Downstream,
    router: Option<Arc<Router>>,
}

/// Signals seen so far, so several waits can match against one subscription.
struct Waiter {
    rx: tokio::sync::broadcast::Receiver<Arc<Signal>>,
    seen: Vec<Arc<Signal>>,
    deadline: tokio::time::Instant,
}

impl Waiter {
    /// Every seen or coming signal matching `pred`, until `done` says enough.
    async fn until(
        &mut self,
        what: &str,
        mut pred: impl FnMut(&Signal) -> bool,
        mut done: impl FnMut(&Signal) -> bool,
    ) -> Result<Vec<Arc<Signal>>, CoordinatorError> {
        let mut matched: Vec<Arc<Signal>> = self.seen.iter().filter(|s| pred(s)).cloned().collect();
        if matched.iter().any(|s| done(s)) {
            return Ok(matched);
        }
        loop {
            let s = match tokio::time::timeout_at(self.deadline, self.rx.recv()).await {
                Err(_) => {
                    return Err(CoordinatorError::DownstreamTimeout(format!(
                        "timed out waiting for {what}; is it configured and running (in any process on this log)?"
                    )));
                }
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(n))) => {
                    return Err(CoordinatorError::Unimplemented(format!(
                        "missed {n} downstream signals waiting for {what}"
                    )));
                }
                Ok(Err(_)) => return Err(CoordinatorError::Log(angzarr_connectors::LogError::Shutdown)),
                Ok(Ok(s)) => s,
            };
            self.seen.push(s.clone());
            if pred(&s) {
                matched.push(s.clone());
                if done(&s) {
                    return Ok(matched);
                }
            }
        }
    }
}

impl Gateway {
    /// A gateway in front of `log`.
    pub fn new(log: Arc<dyn Log>, limits: Limits, decision_timeout: Duration) -> Self {
        Gateway { log, limits, decision_timeout, downstream: Downstream::default(), router: None }
    }

    /// Hands commands a caller waits for straight to their partition's owner.
    pub fn with_router(mut self, router: Arc<Router>) -> Self {
        self.router = Some(router);
        self
    }

    /// Waits for `downstream` on SIMPLE and CASCADE.
    pub fn with_downstream(mut self, downstream: Downstream) -> Self {
        self.downstream = downstream;
        self
    }

    /// SIMPLE: the sync projectors' projections of `book`'s events.
    async fn projections(&self, w: &mut Waiter, book: &EventBook) -> Result<Vec<Projection>, CoordinatorError> {
        let Some((domain, root, first, last)) = span_of(book) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for projector in self.downstream.sync_projectors.get(&domain).into_iter().flatten() {
            let what = format!("projector `{projector}` to project {domain}/{root}@{last}");
            let got = w
                .until(
                    &what,
                    |s| matches!(s, Signal::Projected { projector: p, domain: d, root: r, sequence, .. } if p == projector && *d == domain && *r == root && *sequence >= first),
                    |s| matches!(s, Signal::Projected { sequence, .. } if *sequence >= last),
                )
                .await?;
            if let Some(Signal::Projected { projection, .. }) = got.last().map(|s| s.as_ref()) {
                out.push(projection.clone());
            }
        }
        Ok(out)
    }

    /// CASCADE: projections, then every saga's commands, decided, recursively.
    async fn cascade(
        &self,
        w: &mut Waiter,
        book: EventBook,
        response: &mut CommandResponse,
    ) -> Result<(), CoordinatorError> {
        let mut level = vec![book];
        let mut depth = 0;
        while !level.is_empty() {
            if depth > self.downstream.max_depth {
                return Err(CoordinatorError::Rejected {
                    code: Code::FailedPrecondition,
                    message: format!(
                        "cascade deeper than {} levels (a saga cycle?); the commands so far were processed",
                        self.downstream.max_depth
                    ),
                });
            }
            let mut next = Vec::new();
            for book in level {
                response.projections.extend(self.projections(w, &book).await?);
                let Some((domain, root, first, last)) = span_of(&book) else { continue };
                for saga in self.downstream.sagas.get(&domain).into_iter().flatten() {
                    let what = format!("saga `{saga}` to react to {domain}/{root}@{last}");
                    let reacted = w
                        .until(
                            &what,
                            |s| matches!(s, Signal::SagaReacted { saga: n, domain: d, root: r, sequence, .. } if n == saga && *d == domain && *r == root && *sequence >= first),
                            |s| matches!(s, Signal::SagaReacted { sequence, .. } if *sequence >= last),
                        )
                        .await?;
                    // A signal may arrive twice (announced here and notified
                    // through the log): each command is followed once.
                    let mut ids: Vec<String> = Vec::new();
                    for s in &reacted {
                        if let Signal::SagaReacted { commands, .. } = s.as_ref() {
                            ids.extend(commands.iter().filter(|c| !ids.contains(c)).cloned().collect::<Vec<_>>());
                        }
                    }
                    for id in ids {
                        let decided = w
                            .until(
                                &format!("command {id} of saga `{saga}` to be decided"),
                                |s| matches!(s, Signal::Decided { request_id, .. } if *request_id == id),
                                |_| true,
                            )
                            .await?;
                        match decided.last().map(|s| s.as_ref()) {
                            Some(Signal::Decided { outcome: CommandOutcome::Accepted(b), .. }) => next.push(b.clone()),
                            Some(Signal::Decided { outcome: CommandOutcome::Rejected { message, .. }, .. }) => {
                                response.cascade_errors.push(CascadeError {
                                    component_name: saga.clone(),
                                    component_type: "saga".into(),
                                    error_message: message.clone(),
                                    source_domain: domain.clone(),
                                });
                            }
                            _ => {}
                        }
                    }
                }
            }
            level = next;
            depth += 1;
        }
        Ok(())
    }

    /// Handles one request; the whole command path as seen from the caller.
    /// `request_id` is the caller's idempotency key (`angzarr-request-id`):
    /// a retry with it is answered with the original outcome and writes
    /// nothing twice. Without one, the gateway names the command itself.
    pub async fn handle(
        &self,
        req: CommandRequest,
        request_id: Option<String>,
    ) -> Result<CommandResponse, CoordinatorError> {
        let request_id = match request_id {
            Some(id) => check_request_id(id)?,
            None => Uuid::new_v4().to_string(),
        };
        let domains = self.log.domains();
        let valid =
            validate(&req, &self.limits, |d| domains.iter().any(|k| k == d), Some(angzarr_proto::descriptor_pool()))?;
        let mode = SyncMode::try_from(req.sync_mode)
            .map_err(|_| CoordinatorError::InvalidArgument(format!("unknown sync mode {}", req.sync_mode)))?;
        let cover = valid.book.cover.clone();
        let envelope = CommandEnvelope {
            trace: crate::telemetry::traces::current(),
            domain: valid.domain,
            root: valid.root,
            correlation_id: valid.correlation_id,
            request_id: request_id.clone(),
            reply_to: (mode != SyncMode::Async).then(|| self.log.instance_id().to_string()),
            sync_mode: mode as i32,
            book: valid.book.encode_to_vec(),
            offset: -1,
        };
        // Listen before submitting: downstream may be faster than our reply.
        let mut waiter = Waiter {
            rx: self.downstream.hub.subscribe(),
            seen: Vec::new(),
            deadline: tokio::time::Instant::now() + self.decision_timeout,
        };
        let direct = match (&self.router, mode) {
            (Some(router), SyncMode::Decision | SyncMode::Simple | SyncMode::Cascade | SyncMode::Isolated) => {
                match router.decide(envelope, waiter.deadline).await {
                    Routed::Answered(outcome) => Ok(outcome),
                    Routed::TimedOut => return Err(CoordinatorError::Timeout(self.decision_timeout)),
                    Routed::ViaLog(envelope, why) => {
                        tracing::debug!(
                            request_id,
                            why,
                            "direct path did not answer; the command goes on the commands log"
                        );
                        metrics::counter!("angzarr.commands.routed", "path" => "log").increment(1);
                        Err(envelope)
                    }
                }
            }
            _ => Err(envelope),
        };
        let outcome = match direct {
            Ok(outcome) => outcome,
            Err(envelope) => match self.via_log(envelope, mode, &request_id, waiter.deadline).await? {
                Some(outcome) => outcome,
                None => {
                    return Ok(CommandResponse {
                        events: Some(EventBook { cover, ..Default::default() }),
                        ..Default::default()
                    });
                }
            },
        };
        let events = match outcome {
            CommandOutcome::Accepted(events) => events,
            CommandOutcome::Rejected { code, message } => {
                return Err(CoordinatorError::Rejected { code: Code::from(code), message });
            }
        };
        let mut response = CommandResponse { events: Some(events.clone()), ..Default::default() };
        match mode {
            SyncMode::Simple => response.projections = self.projections(&mut waiter, &events).await?,
            SyncMode::Cascade => self.cascade(&mut waiter, events, &mut response).await?,
            SyncMode::Async | SyncMode::Decision | SyncMode::Isolated => {}
        }
        Ok(response)
    }
}

impl Gateway {
    /// The commands-log path: appends `envelope` and, unless ASYNC, waits
    /// for the reply through the log until `deadline`. `None`: ASYNC, durable now.
    async fn via_log(
        &self,
        envelope: CommandEnvelope,
        mode: SyncMode,
        request_id: &str,
        deadline: tokio::time::Instant,
    ) -> Result<Option<CommandOutcome>, CoordinatorError> {
        let submitted = match self.log.submit(envelope, mode != SyncMode::Async).await {
            Ok(s) => s,
            Err(angzarr_connectors::LogError::OutcomeUnknown(_, e)) => {
                return Err(CoordinatorError::OutcomeUnknown(format!(
                    "the commands log did not confirm the append ({e}); retry with request id `{request_id}`"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let Some(reply) = submitted.reply else { return Ok(None) };
        // Whatever ends this wait — answer, deadline, or the caller going
        // away — the waiter is removed.
        let _waiting = Forget { log: &self.log, request_id };
        match tokio::time::timeout_at(deadline, reply).await {
            Err(_) => Err(CoordinatorError::Timeout(self.decision_timeout)),
            Ok(Err(_)) => Err(CoordinatorError::Log(angzarr_connectors::LogError::Shutdown)),
            Ok(Ok(outcome)) => Ok(Some(outcome)),
        }
    }
}

/// Removes a reply waiter when dropped.
struct Forget<'a> {
    log: &'a Arc<dyn Log>,
    request_id: &'a str,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.log.forget(self.request_id);
    }
}

/// Longest request id accepted.
pub const MAX_REQUEST_ID: usize = 128;

/// A caller's request id, if usable: it travels in record headers and
/// metadata, so printable ASCII of bounded length.
fn check_request_id(id: String) -> Result<String, CoordinatorError> {
    if id.is_empty() || id.len() > MAX_REQUEST_ID || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CoordinatorError::InvalidArgument(format!(
            "request id must be 1 to {MAX_REQUEST_ID} printable ASCII characters without spaces"
        )));
    }
    Ok(id)
}

/// The request id in `metadata`, if the caller sent one.
pub fn request_id_of(metadata: &tonic::metadata::MetadataMap) -> Result<Option<String>, CoordinatorError> {
    match metadata.get(crate::error::REQUEST_ID_HEADER) {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.to_string())).map_err(|_| {
            CoordinatorError::InvalidArgument(format!("{} must be ASCII", crate::error::REQUEST_ID_HEADER))
        }),
    }
}

#[tonic::async_trait]
impl CommandHandlerCoordinatorService for Gateway {
    async fn handle_command(&self, request: Request<CommandRequest>) -> Result<Response<CommandResponse>, Status> {
        let request_id = request_id_of(request.metadata()).map_err(Status::from)?;
        let req = request.into_inner();
        let cover = req.command.as_ref().and_then(|c| c.cover.as_ref());
        let domain = cover.map(|c| c.domain.clone()).unwrap_or_default();
        let correlation_id = cover.map(|c| c.correlation_id.clone()).unwrap_or_default();
        let span = tracing::info_span!(SPAN_GATEWAY_COMMAND, %domain, %correlation_id, sync_mode = req.sync_mode);
        let started = Instant::now();
        let in_flight = metrics::gauge!(crate::telemetry::COMMANDS_IN_FLIGHT, "domain" => domain.clone());
        in_flight.increment(1.0);
        let result = self.handle(req, request_id).instrument(span).await;
        in_flight.decrement(1.0);
        let outcome = match &result {
            Ok(_) => "accepted",
            Err(CoordinatorError::Rejected { .. }) => "rejected",
            Err(CoordinatorError::Timeout(_) | CoordinatorError::OutcomeUnknown(_)) => "unknown",
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

/// The domain, root and first/last sequence of an accepted book's new pages.
fn span_of(book: &EventBook) -> Option<(String, Uuid, u32, u32)> {
    let cover = book.cover.as_ref()?;
    let root = cover.root.as_ref().and_then(|r| Uuid::try_from(r).ok())?;
    let first = book.pages.first()?.seq()?;
    let last = book.pages.last()?.seq()?;
    Some((cover.domain.clone(), root, first, last))
}
