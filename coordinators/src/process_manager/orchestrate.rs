//! Step 2 of a process manager: the partition owner's call — `Prepare`,
//! destination sequences, `Handle` — and what it answers, checked.

use std::collections::HashMap;
use std::time::Instant;

use angzarr_connectors::CommandEnvelope;
use angzarr_proto::angzarr::{CommandBook, EventBook, ProcessManagerHandleRequest, ProcessManagerPrepareRequest};
use angzarr_proto::unpack;
use tonic::Status;
use tracing::Instrument;
use uuid::Uuid;

use super::ProcessManager;
use crate::Shutdown;
use crate::backoff::until_ok;
use crate::command_handler::aggregate::Book;
use crate::outbound::Emitter;
use crate::telemetry::{PM_DURATION, SPAN_ORCHESTRATION_EXECUTE, SPAN_PM_ORCHESTRATE};

/// What one trigger produced: the process's new events (and state, for a
/// snapshot) and the commands to emit with them.
pub struct Reaction {
    /// Process events, as a handler's `EventBook` (pages unstamped).
    pub events: EventBook,
    /// Commands for other domains, ready for the log.
    pub commands: Vec<CommandEnvelope>,
}

impl ProcessManager {
    /// Reacts to the trigger carried by `command` given the process `state`;
    /// retried with backoff until it succeeds or `stop` — `None` then, and
    /// nothing of the batch may be committed.
    pub async fn orchestrate_until_done(
        &self,
        envelope: &CommandEnvelope,
        command: &CommandBook,
        state: EventBook,
        stop: &Shutdown,
    ) -> Option<Reaction> {
        until_ok(
            stop,
            || self.orchestrate(envelope, command, state.clone()),
            |status, backoff| {
                tracing::error!(
                    process_manager = self.name,
                    root = %envelope.root,
                    correlation_id = envelope.correlation_id,
                    offset = envelope.offset,
                    code = ?status.code(),
                    message = status.message(),
                    ?backoff,
                    "process manager reaction failed; retrying (its partition does not move past the trigger)"
                )
            },
        )
        .await
    }

    /// One attempt: `Prepare`, read destinations, `Handle`, check the answer.
    pub async fn orchestrate(
        &self,
        envelope: &CommandEnvelope,
        command: &CommandBook,
        state: EventBook,
    ) -> Result<Reaction, Status> {
        let span = tracing::info_span!(SPAN_PM_ORCHESTRATE, process_manager = %self.name, correlation_id = %envelope.correlation_id);
        let started = Instant::now();
        let result = self.attempt(envelope, command, state).instrument(span).await;
        metrics::histogram!(PM_DURATION, "process_manager" => self.name.clone())
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn attempt(
        &self,
        envelope: &CommandEnvelope,
        command: &CommandBook,
        state: EventBook,
    ) -> Result<Reaction, Status> {
        let trigger: EventBook = command
            .pages
            .first()
            .and_then(|p| p.command())
            .and_then(unpack::<EventBook>)
            .and_then(Result::ok)
            .ok_or_else(|| Status::invalid_argument("a process manager command must carry its trigger EventBook"))?;
        let source = trigger.cover.clone().unwrap_or_default();
        let source_seq = trigger.pages.last().and_then(|p| p.seq()).unwrap_or_default();
        let mut client = self.client.clone();

        let prepared = client
            .prepare(ProcessManagerPrepareRequest {
                trigger: Some(trigger.clone()),
                process_state: Some(state.clone()),
            })
            .await?
            .into_inner();
        let mut destination_sequences = HashMap::new();
        for cover in prepared.destinations {
            if !self.targets.contains(&cover.domain) {
                return Err(Status::failed_precondition(format!(
                    "process manager `{}` asked for destination in unknown domain `{}`",
                    self.name, cover.domain
                )));
            }
            let root = cover.root.as_ref().and_then(|r| Uuid::try_from(r).ok()).ok_or_else(|| {
                Status::failed_precondition(format!(
                    "process manager `{}` named a destination without a root",
                    self.name
                ))
            })?;
            let history =
                self.log.read_book(&cover.domain, &root).await.map_err(|e| Status::unavailable(e.to_string()))?;
            destination_sequences.insert(cover.domain.clone(), Book::from(history).next_sequence());
        }

        let request =
            ProcessManagerHandleRequest { trigger: Some(trigger), process_state: Some(state), destination_sequences };
        let span = tracing::info_span!(SPAN_ORCHESTRATION_EXECUTE, process_manager = %self.name, correlation_id = %envelope.correlation_id);
        let answer = client.handle(request).instrument(span).await?.into_inner();
        if !answer.facts.is_empty() {
            return Err(Status::unimplemented(format!(
                "process manager `{}` returned {} facts; injecting facts is not supported yet",
                self.name,
                answer.facts.len()
            )));
        }
        let commands = Emitter {
            kind: "process manager",
            name: &self.name,
            targets: &self.targets,
            source: &source,
            source_seq,
            correlation_id: &envelope.correlation_id,
            request_prefix: format!(
                "pm:{}:{}:{}:{}:cmd",
                self.name,
                source.domain,
                source.root.as_ref().and_then(|r| Uuid::try_from(r).ok()).unwrap_or_default(),
                source_seq
            ),
            reply_to: None,
        }
        .envelopes(answer.commands)?;
        Ok(Reaction { events: answer.process_events.unwrap_or_default(), commands })
    }
}
