//! The projector coordinator: one consumer group per projector
//! (`projector.<name>`) over the domains it projects; calls the user's
//! projector; offsets are committed only after the projector answered.
//! Replay = rewind the group (`angzarr replay projector`).
//!
//! A batch of events goes to the projector in as few calls as it allows.
//! The first batch probes `angzarr_kafka.ProjectorBatchService.HandleBatch`
//! (every client library of this repository serves it): then each batch is
//! one call (a few calls when its books pass [`MAX_CALL_BYTES`]). A projector
//! that answers UNIMPLEMENTED — one built with upstream's published
//! clients — gets upstream's unary `ProjectorService.Handle`, one call per
//! root's run of events, distinct roots concurrently.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use angzarr_connectors::{Notice, StoredEvent};
use angzarr_proto::angzarr::projector_service_client::ProjectorServiceClient;
use angzarr_proto::angzarr::{EventBook, Projection};
use angzarr_proto::angzarr_kafka::ProjectorBatch;
use angzarr_proto::angzarr_kafka::projector_batch_service_client::ProjectorBatchServiceClient;
use prost::Message as _;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tracing::Instrument;

use crate::event_consumer::{CONCURRENT_CALLS, Reaction, Reactor, Run, concurrently_by_root};
use crate::hub::{Hub, Signal};
use crate::telemetry::{PROJECTOR_DURATION, SPAN_PROJECTOR_HANDLE};

/// Most encoded bytes of books in one `HandleBatch` call: under the 4 MiB
/// every gRPC implementation accepts by default, so a projector needs no
/// setting for it. (A single larger book still goes alone.)
pub const MAX_CALL_BYTES: usize = 3 << 20;

/// What the projector was found to serve.
const UNPROBED: u8 = 0;
const BATCH: u8 = 1;
const UNARY: u8 = 2;

/// A projector as the coordinator drives it.
pub struct ProjectorReactor {
    name: String,
    domains: Vec<String>,
    client: ProjectorServiceClient<Channel>,
    batch: ProjectorBatchServiceClient<Channel>,
    /// [`UNPROBED`], [`BATCH`] or [`UNARY`].
    contract: AtomicU8,
    hub: Hub,
}

impl ProjectorReactor {
    /// The projector `name` at `url`, over `domains`; reports to `hub`.
    pub fn new(name: &str, url: &str, domains: Vec<String>, hub: Hub) -> Result<Self, crate::CoordinatorError> {
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| crate::CoordinatorError::InvalidArgument(format!("projector `{name}` URL `{url}`: {e}")))?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true);
        let channel = endpoint.connect_lazy();
        Ok(ProjectorReactor {
            name: name.to_string(),
            domains,
            client: ProjectorServiceClient::new(channel.clone()),
            batch: ProjectorBatchServiceClient::new(channel)
                .max_decoding_message_size(64 << 20)
                .max_encoding_message_size(64 << 20),
            contract: AtomicU8::new(UNPROBED),
            hub,
        })
    }

    /// Whether the projector was found to serve the batch contract (`None`
    /// before the first batch).
    pub fn serves_batches(&self) -> Option<bool> {
        match self.contract.load(Ordering::Relaxed) {
            BATCH => Some(true),
            UNARY => Some(false),
            _ => None,
        }
    }

    /// The reaction to a run the projector answered with `projection`:
    /// announced on the hub, and a notice for gateways that wait on it.
    fn reaction(&self, events: &[StoredEvent], projection: Projection) -> Reaction {
        let last = events.last().unwrap();
        let waited = events.iter().any(|e| e.reply_to.is_some());
        let notice = waited.then(|| Notice::Projected {
            projector: self.name.clone(),
            domain: last.domain.clone(),
            root: last.root,
            sequence: last.sequence,
            projection: projection.clone(),
        });
        self.hub.publish(Signal::Projected {
            projector: self.name.clone(),
            domain: last.domain.clone(),
            root: last.root,
            sequence: last.sequence,
            events: events.len(),
            projection,
        });
        Reaction { commands: Vec::new(), notice }
    }

    /// One `HandleBatch` call for `runs`; one projection per run.
    async fn handle_batch(&self, runs: &[Run]) -> Result<Vec<Projection>, Status> {
        let first = &runs[0].1[0];
        let span = tracing::info_span!(SPAN_PROJECTOR_HANDLE, projector = %self.name, domain = %first.domain,
            correlation_id = %first.correlation_id, books = runs.len());
        crate::telemetry::traces::follow(&span, first.trace.as_deref());
        let started = Instant::now();
        let request = ProjectorBatch { books: runs.iter().map(|(book, _)| book.clone()).collect() };
        let projections = self.batch.clone().handle_batch(request).instrument(span).await?.into_inner().projections;
        metrics::histogram!(PROJECTOR_DURATION, "projector" => self.name.clone())
            .record(started.elapsed().as_secs_f64());
        if projections.len() != runs.len() {
            return Err(Status::internal(format!(
                "projector `{}` answered {} projections for {} books",
                self.name,
                projections.len(),
                runs.len()
            )));
        }
        Ok(projections)
    }
}

/// `runs` cut into calls of at most [`MAX_CALL_BYTES`] of books each.
fn calls(runs: &[Run]) -> Vec<&[Run]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, (book, _)) in runs.iter().enumerate() {
        let len = book.encoded_len();
        if i > start && bytes + len > MAX_CALL_BYTES {
            out.push(&runs[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += len;
    }
    if start < runs.len() {
        out.push(&runs[start..]);
    }
    out
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
        Ok(self.reaction(events, projection))
    }

    async fn react_all(&self, runs: &[Run]) -> Result<Vec<Reaction>, Status> {
        if self.contract.load(Ordering::Relaxed) == UNARY {
            return concurrently_by_root(self, runs, CONCURRENT_CALLS).await;
        }
        let mut reactions = Vec::with_capacity(runs.len());
        for call in calls(runs) {
            match self.handle_batch(call).await {
                Ok(projections) => {
                    self.contract.store(BATCH, Ordering::Relaxed);
                    reactions.extend(call.iter().zip(projections).map(|((_, evs), p)| self.reaction(evs, p)));
                }
                Err(status) if status.code() == Code::Unimplemented && reactions.is_empty() => {
                    tracing::info!(projector = %self.name,
                        "projector serves no angzarr_kafka.ProjectorBatchService: one ProjectorService.Handle call per root's run of events");
                    self.contract.store(UNARY, Ordering::Relaxed);
                    return concurrently_by_root(self, runs, CONCURRENT_CALLS).await;
                }
                Err(status) => return Err(status),
            }
        }
        Ok(reactions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(payload: usize) -> Run {
        let page = angzarr_proto::angzarr::EventPage {
            payload: Some(angzarr_proto::angzarr::event_page::Payload::Event(prost_types::Any {
                type_url: "t".into(),
                value: vec![0; payload],
            })),
            ..Default::default()
        };
        (EventBook { pages: vec![page], ..Default::default() }, Vec::new())
    }

    #[test]
    fn calls_stay_under_the_byte_limit_and_keep_every_run_in_order() {
        let runs: Vec<Run> = (0..10).map(|_| run(MAX_CALL_BYTES / 4)).collect();
        let cut = calls(&runs);
        assert_eq!(cut.iter().map(|c| c.len()).collect::<Vec<_>>(), vec![3, 3, 3, 1]);
        for c in &cut {
            assert!(c.iter().map(|(b, _)| b.encoded_len()).sum::<usize>() <= MAX_CALL_BYTES);
        }
        // A book above the limit still goes, alone.
        let big = vec![run(10), run(MAX_CALL_BYTES + 1), run(10)];
        assert_eq!(calls(&big).iter().map(|c| c.len()).collect::<Vec<_>>(), vec![1, 1, 1]);
        assert!(calls(&[]).is_empty());
    }
}
