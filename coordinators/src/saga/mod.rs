//! The saga coordinator: one consumer group per saga (`saga.<name>`); calls
//! the user's `SagaService` and appends the commands it returns to their
//! domains' commands logs **in the same transaction as the consumed
//! offset** (a Kafka transaction; one SQLite transaction on the embedded
//! log), so each reaction happens exactly once.
//!
//! Commands carry the source's correlation id, the source cover in
//! `Cover.ext`, and — unless the saga set one — a deferred sequence
//! (`AngzarrDeferredSequence { source, source_seq }`): the target aggregate
//! takes them at its current sequence.
//!
//! Policy for a command the coordinator cannot route (unknown domain, no
//! root, no payload): the reaction fails, is logged with the saga, event and
//! reason, and is retried with backoff; the offset does not move past it.
//! Nothing is skipped silently — fix the saga (or the config) and it resumes.

use std::time::{Duration, Instant};

use angzarr_connectors::{Notice, StoredEvent};
use angzarr_proto::angzarr::saga_service_client::SagaServiceClient;
use angzarr_proto::angzarr::{EventBook, SagaHandleRequest};
use tonic::Status;
use tonic::transport::{Channel, Endpoint};
use tracing::Instrument;

use crate::event_consumer::{Reaction, Reactor};
use crate::hub::{Hub, Signal};
use crate::outbound::Emitter;
use crate::telemetry::{SAGA_DURATION, SPAN_SAGA_ORCHESTRATE};

/// A saga as the coordinator drives it.
pub struct SagaReactor {
    name: String,
    domains: Vec<String>,
    targets: Vec<String>,
    client: SagaServiceClient<Channel>,
    hub: Hub,
}

impl SagaReactor {
    /// The saga `name` at `url`, over `domains`, allowed to command `targets`.
    pub fn new(
        name: &str,
        url: &str,
        domains: Vec<String>,
        targets: Vec<String>,
        hub: Hub,
    ) -> Result<Self, crate::CoordinatorError> {
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| crate::CoordinatorError::InvalidArgument(format!("saga `{name}` URL `{url}`: {e}")))?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true);
        Ok(SagaReactor {
            name: name.to_string(),
            domains,
            targets,
            client: SagaServiceClient::new(endpoint.connect_lazy()),
            hub,
        })
    }
}

#[tonic::async_trait]
impl Reactor for SagaReactor {
    fn group(&self) -> String {
        format!("saga.{}", self.name)
    }

    fn domains(&self) -> Vec<String> {
        self.domains.clone()
    }

    fn batches_by_root(&self) -> bool {
        false
    }

    async fn react(&self, source: &EventBook, events: &[StoredEvent]) -> Result<Reaction, Status> {
        let last = events.last().unwrap();
        let span = tracing::info_span!(SPAN_SAGA_ORCHESTRATE, saga = %self.name, domain = %last.domain, correlation_id = %last.correlation_id);
        crate::telemetry::traces::follow(&span, last.trace.as_deref());
        let started = Instant::now();
        let request = SagaHandleRequest { source: Some(source.clone()), ..Default::default() };
        let response = self.client.clone().handle(request).instrument(span.clone()).await?.into_inner();
        metrics::histogram!(SAGA_DURATION, "saga" => self.name.clone()).record(started.elapsed().as_secs_f64());
        let source_cover = source.cover.clone().unwrap_or_default();
        // Its commands carry the saga's span: their handling continues this trace.
        let out = span.in_scope(|| {
            Emitter {
                kind: "saga",
                name: &self.name,
                targets: &self.targets,
                source: &source_cover,
                source_seq: last.sequence,
                correlation_id: &last.correlation_id,
                request_prefix: format!("saga:{}:{}:{}:{}", self.name, last.domain, last.root, last.sequence),
                reply_to: last.reply_to.clone(),
            }
            .envelopes(response.commands)
        })?;
        let commands: Vec<String> = out.iter().map(|c| c.request_id.clone()).collect();
        self.hub.publish(Signal::SagaReacted {
            saga: self.name.clone(),
            domain: last.domain.clone(),
            root: last.root,
            sequence: last.sequence,
            commands: commands.clone(),
        });
        let notice = Notice::Reacted {
            saga: self.name.clone(),
            domain: last.domain.clone(),
            root: last.root,
            sequence: last.sequence,
            commands,
        };
        Ok(Reaction { commands: out, notice: Some(notice) })
    }
}
