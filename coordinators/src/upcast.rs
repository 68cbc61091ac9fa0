//! Upcasters: events are brought to their current shape on read, before an
//! aggregate, projector, saga or process manager sees them. What is stored
//! is never rewritten — an upcaster is a pure function of old events, so
//! deploying (or fixing) one changes what is read, not the log.
//!
//! Reads that go through here: a partition's restore (the aggregate's and
//! the process manager's history), every batch a projector, saga or process
//! manager consumes, and queries. Events written by the running handler are
//! already current and are not sent again.
//!
//! An upcaster answers with the same number of events, in order; the
//! coordinator keeps each page's header (its sequence is the log's, not the
//! upcaster's) and takes the payload. Any other answer — or an upcaster that
//! is down — fails the read: the reader retries and nothing moves past the
//! events (a partition is not served, a consumer's offset does not advance).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use angzarr_connectors::{AggregateHistory, StoredEvent};
use angzarr_proto::angzarr::upcaster_service_client::UpcasterServiceClient;
use angzarr_proto::angzarr::{EventPage, UpcastRequest};
use tonic::Status;
use tonic::transport::{Channel, Endpoint};

use crate::CoordinatorError;

/// Most events in one `Upcast` call.
const CHUNK: usize = 1000;

/// The configured upcasters, by domain.
#[derive(Clone, Default)]
pub struct Upcasters {
    by_domain: Arc<HashMap<String, UpcasterServiceClient<Channel>>>,
}

impl Upcasters {
    /// Clients for `(domain, url)` pairs; connections open on first use.
    pub fn new(urls: impl IntoIterator<Item = (String, String)>) -> Result<Self, CoordinatorError> {
        let mut by_domain = HashMap::new();
        for (domain, url) in urls {
            let endpoint = Endpoint::from_shared(url.clone())
                .map_err(|e| CoordinatorError::InvalidArgument(format!("upcaster URL `{url}` for `{domain}`: {e}")))?
                .connect_timeout(Duration::from_secs(2))
                .tcp_nodelay(true);
            let client = UpcasterServiceClient::new(endpoint.connect_lazy()).max_decoding_message_size(64 << 20);
            by_domain.insert(domain, client);
        }
        Ok(Upcasters { by_domain: Arc::new(by_domain) })
    }

    /// Whether `domain` has an upcaster.
    pub fn covers(&self, domain: &str) -> bool {
        self.by_domain.contains_key(domain)
    }

    /// `pages` of `domain` in their current shape.
    pub async fn pages(&self, domain: &str, pages: Vec<EventPage>) -> Result<Vec<EventPage>, Status> {
        let Some(client) = self.by_domain.get(domain) else { return Ok(pages) };
        let mut out = Vec::with_capacity(pages.len());
        for chunk in pages.chunks(CHUNK) {
            let request = UpcastRequest { domain: domain.to_string(), events: chunk.to_vec() };
            let answer = client.clone().upcast(request).await.map_err(|s| {
                Status::unavailable(format!("upcaster of `{domain}` failed: {:?}: {}", s.code(), s.message()))
            })?;
            let upcast = answer.into_inner().events;
            if upcast.len() != chunk.len() {
                return Err(Status::internal(format!(
                    "upcaster of `{domain}` returned {} events for {}; it must return one per event, in order",
                    upcast.len(),
                    chunk.len()
                )));
            }
            for (old, mut new) in chunk.iter().zip(upcast) {
                if new.payload.is_none() {
                    return Err(Status::internal(format!(
                        "upcaster of `{domain}` returned an event without a payload (for sequence {:?})",
                        old.seq()
                    )));
                }
                new.header = old.header.clone();
                new.created_at = old.created_at;
                out.push(new);
            }
        }
        Ok(out)
    }

    /// Restored histories with their pages upcast (one call per chunk of the
    /// partition, not per aggregate).
    pub async fn histories(
        &self,
        domain: &str,
        mut histories: Vec<AggregateHistory>,
    ) -> Result<Vec<AggregateHistory>, Status> {
        if !self.covers(domain) {
            return Ok(histories);
        }
        let counts: Vec<usize> = histories.iter().map(|h| h.pages.len()).collect();
        let all: Vec<EventPage> = histories.iter().flat_map(|h| h.decoded_pages()).collect();
        let mut upcast = self.pages(domain, all).await?.into_iter();
        // Pages were taken in order; each history gets back as many as it had.
        for (h, n) in histories.iter_mut().zip(counts) {
            let pages: Vec<EventPage> = upcast.by_ref().take(n).collect();
            h.pages = pages.iter().filter_map(angzarr_connectors::Encoded::page).collect();
            if h.pages.len() != n {
                return Err(Status::internal("an upcaster returned a page without a sequence"));
            }
        }
        Ok(histories)
    }

    /// Consumed events with their books upcast, grouped by domain.
    pub async fn events(&self, mut events: Vec<StoredEvent>) -> Result<Vec<StoredEvent>, Status> {
        let domains: Vec<String> = {
            let mut d: Vec<String> = events.iter().map(|e| e.domain.clone()).filter(|d| self.covers(d)).collect();
            d.sort();
            d.dedup();
            d
        };
        for domain in domains {
            let idx: Vec<usize> = (0..events.len())
                .filter(|&i| events[i].domain == domain && !events[i].isolated && !events[i].book.pages.is_empty())
                .collect();
            let pages: Vec<EventPage> = idx.iter().map(|&i| events[i].book.pages[0].clone()).collect();
            let upcast = self.pages(&domain, pages).await?;
            for (i, page) in idx.into_iter().zip(upcast) {
                events[i].book.pages[0] = page;
            }
        }
        Ok(events)
    }
}
