//! The projector coordinator: one consumer group per projector
//! (`projector.<name>`) over the domains it projects; calls the user's
//! `ProjectorService`; offsets are committed only after the projector
//! answered. Replay = rewind the group (`angzarr replay projector`).

use std::time::{Duration, Instant};

use angzarr_connectors::{Notice, StoredEvent};
use angzarr_proto::angzarr::EventBook;
use angzarr_proto::angzarr::projector_service_client::ProjectorServiceClient;
use tonic::Status;
use tonic::transport::{Channel, Endpoint};
use tracing::Instrument;

use crate::event_consumer::{Reaction, Reactor};
use crate::hub::{Hub, Signal};
use crate::telemetry::{PROJECTOR_DURATION, SPAN_PROJECTOR_HANDLE};

/// A projector as the coordinator drives it.
pub struct ProjectorReactor {
    name: String,
    domains: Vec<String>,
    client: ProjectorServiceClient<Channel>,
    hub: Hub,
}

impl ProjectorReactor {
    /// The projector `name` at `url`, over `domains`; reports to `hub`.
    pub fn new(name: &str, url: &str, domains: Vec<String>, hub: Hub) -> Result<Self, crate::CoordinatorError> {
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| crate::CoordinatorError::InvalidArgument(format!("projector `{name}` URL `{url}`: {e}")))?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true);
        Ok(ProjectorReactor {
            name: name.to_string(),
            domains,
            client: ProjectorServiceClient::new(endpoint.connect_lazy()),
            hub,
        })
    }
}

#[tonic::async_trait]
impl Reactor for ProjectorReactor {
    fn group(&self) -> String {
        format!("projector.{}", self.name)
    }

    fn domains(&self) -> Vec<String> {
        self.domains.clone()
    }

    async fn react(&self, source: &EventBook, events: &[StoredEvent]) -> Result<Reaction, Status> {
        let first = &events[0];
        let span = tracing::info_span!(SPAN_PROJECTOR_HANDLE, projector = %self.name, domain = %first.domain, correlation_id = %first.correlation_id);
        crate::telemetry::traces::follow(&span, first.trace.as_deref());
        let started = Instant::now();
        let projection = self.client.clone().handle(source.clone()).instrument(span).await?.into_inner();
        metrics::histogram!(PROJECTOR_DURATION, "projector" => self.name.clone())
            .record(started.elapsed().as_secs_f64());
        let last = events.last().unwrap();
        self.hub.publish(Signal::Projected {
            projector: self.name.clone(),
            domain: last.domain.clone(),
            root: last.root,
            sequence: last.sequence,
            events: events.len(),
            projection: projection.clone(),
        });
        let notice = Notice::Projected {
            projector: self.name.clone(),
            domain: last.domain.clone(),
            root: last.root,
            sequence: last.sequence,
            projection,
        };
        Ok(Reaction { commands: Vec::new(), notice: Some(notice) })
    }
}
