//! `EventQueryService`: an aggregate's committed history, from the log.
//!
//! Selections are answered from what a point read returns — the latest
//! snapshot and the pages after it — when that holds what they ask for: a
//! sequence range or set above the snapshot. A selection that reaches below
//! the snapshot, and every temporal read (the state as of a sequence or a
//! time replays from the first event and never starts from a snapshot),
//! reads the aggregate's whole history instead ([`Log::read_history`]):
//! the events log keeps every event, so the past is always answerable.

use std::pin::Pin;
use std::sync::Arc;

use angzarr_connectors::Log;
use angzarr_proto::angzarr::event_query_service_server::EventQueryService;
use angzarr_proto::angzarr::query::Selection;
use angzarr_proto::angzarr::{AggregateRoot, EventBook, Query};
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use tonic::{Request, Response, Status, Streaming};
use uuid::Uuid;

use super::aggregate::Book;
use crate::CoordinatorError;
use crate::upcast::Upcasters;

/// Serves reads of aggregates.
#[derive(Clone)]
pub struct QueryService {
    log: Arc<dyn Log>,
    upcasters: Upcasters,
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

impl QueryService {
    /// Reads from `log`.
    pub fn new(log: Arc<dyn Log>) -> Self {
        QueryService { log, upcasters: Upcasters::default() }
    }

    /// Answers with events upcast by `upcasters` (what is stored is unchanged).
    pub fn with_upcasters(mut self, upcasters: Upcasters) -> Self {
        self.upcasters = upcasters;
        self
    }

    /// The book of the query's cover: latest snapshot, pages after it, next sequence.
    pub async fn book(&self, query: &Query) -> Result<EventBook, CoordinatorError> {
        let invalid = |m: &str| CoordinatorError::InvalidArgument(m.to_string());
        let cover = query.cover.as_ref().ok_or_else(|| invalid("query has no cover"))?;
        if cover.domain.is_empty() {
            return Err(invalid("cover.domain is empty"));
        }
        let root = cover.root.as_ref().ok_or_else(|| invalid("cover.root is missing"))?;
        let root = Uuid::try_from(root).map_err(|_| invalid("cover.root must be 16 bytes (a UUID)"))?;
        if let Some(selection) = &query.selection {
            check(selection)?;
        }
        let latest = self.log.read_book(&cover.domain, &root).await?;
        // What the aggregate expects next, whatever part of it is answered.
        let next_sequence = Book::from(latest.clone()).next_sequence();
        let covered = latest.snapshot.as_ref().map(|s| s.seq());
        let history = match &query.selection {
            Some(selection) if reaches_below(selection, covered) => self.log.read_history(&cover.domain, &root).await?,
            _ => latest,
        };
        let pages = self
            .upcasters
            .pages(&cover.domain, history.decoded_pages())
            .await
            .map_err(|s| CoordinatorError::Rejected { code: s.code(), message: s.message().to_string() })?;
        let mut cover = cover.clone();
        cover.correlation_id.clear();
        let book = EventBook { cover: Some(cover), snapshot: history.decoded_snapshot(), pages, next_sequence };
        match &query.selection {
            None => Ok(book),
            Some(selection) => select(book, selection),
        }
    }
}

/// A selection that cannot be answered, refused before anything is read.
fn check(selection: &Selection) -> Result<(), CoordinatorError> {
    match selection {
        Selection::Range(r) if r.upper.is_some_and(|u| u < r.lower) => Err(CoordinatorError::InvalidArgument(format!(
            "range {}..={} is empty: upper is below lower",
            r.lower,
            r.upper.unwrap_or_default()
        ))),
        Selection::Temporal(t) if t.point_in_time.is_none() => {
            Err(CoordinatorError::InvalidArgument("temporal query without a point in time".into()))
        }
        _ => Ok(()),
    }
}

/// Whether `selection` needs pages at or below a snapshot covering up to
/// `covered` — or is temporal, which never starts from a snapshot.
fn reaches_below(selection: &Selection, covered: Option<u32>) -> bool {
    let Some(covered) = covered else { return false };
    match selection {
        Selection::Range(r) => r.lower <= covered,
        Selection::Sequences(set) => set.values.iter().any(|v| *v <= covered),
        Selection::Temporal(_) => true,
    }
}

/// The part of `book` that `selection` asks for. `book` holds every page the
/// selection needs (its whole history when [`reaches_below`] said so).
fn select(mut book: EventBook, selection: &Selection) -> Result<EventBook, CoordinatorError> {
    use angzarr_proto::angzarr::temporal_query::PointInTime;
    match selection {
        Selection::Range(r) => {
            book.pages.retain(|p| p.seq().is_some_and(|s| s >= r.lower && r.upper.is_none_or(|u| s <= u)));
            book.snapshot = None;
        }
        Selection::Sequences(set) => {
            book.pages.retain(|p| p.seq().is_some_and(|s| set.values.contains(&s)));
            book.snapshot = None;
        }
        Selection::Temporal(t) => {
            match &t.point_in_time {
                Some(PointInTime::AsOfSequence(n)) => book.pages.retain(|p| p.seq().is_some_and(|s| s <= *n)),
                Some(PointInTime::AsOfTime(at)) => {
                    let at = (at.seconds, at.nanos);
                    // A page without a time cannot be placed: not included.
                    book.pages.retain(|p| p.created_at.as_ref().is_some_and(|c| (c.seconds, c.nanos) <= at));
                }
                None => {}
            }
            // The state as of that point: what a command then would have expected.
            book.next_sequence = book.pages.last().and_then(|p| p.seq()).map_or(0, |s| s + 1);
        }
    }
    Ok(book)
}

#[tonic::async_trait]
impl EventQueryService for QueryService {
    async fn get_event_book(&self, request: Request<Query>) -> Result<Response<EventBook>, Status> {
        self.book(request.get_ref()).await.map(Response::new).map_err(Status::from)
    }

    type GetEventsStream = BoxStream<EventBook>;

    async fn get_events(&self, request: Request<Query>) -> Result<Response<Self::GetEventsStream>, Status> {
        let book = self.book(request.get_ref()).await.map_err(Status::from)?;
        Ok(Response::new(Box::pin(futures::stream::once(async { Ok(book) }))))
    }

    type SynchronizeStream = BoxStream<EventBook>;

    /// Answers each query as it arrives, in order; a query that fails ends
    /// the stream with its error.
    async fn synchronize(
        &self,
        request: Request<Streaming<Query>>,
    ) -> Result<Response<Self::SynchronizeStream>, Status> {
        let this = self.clone();
        let answers = request.into_inner().then(move |query| {
            let this = this.clone();
            async move {
                match query {
                    Ok(q) => this.book(&q).await.map_err(Status::from),
                    Err(s) => Err(s),
                }
            }
        });
        Ok(Response::new(Box::pin(answers)))
    }

    type GetAggregateRootsStream = BoxStream<AggregateRoot>;

    /// Every root of every domain of the log, domain by domain in UUID
    /// order, read a page at a time as the caller consumes them.
    async fn get_aggregate_roots(&self, _: Request<()>) -> Result<Response<Self::GetAggregateRootsStream>, Status> {
        const PAGE: usize = 500;
        let log = self.log.clone();
        let mut domains = log.domains();
        domains.sort();
        let pages = futures::stream::try_unfold((domains.into_iter(), None::<String>, None::<Uuid>), move |state| {
            let log = log.clone();
            async move {
                let (mut rest, mut domain, mut after) = state;
                loop {
                    let Some(d) = domain.clone().or_else(|| rest.next()) else { return Ok::<_, Status>(None) };
                    let roots =
                        log.roots(&d, after, PAGE).await.map_err(|e| Status::from(CoordinatorError::from(e)))?;
                    let full = roots.len() == PAGE;
                    (domain, after) = if full { (Some(d.clone()), roots.last().copied()) } else { (None, None) };
                    if roots.is_empty() {
                        continue;
                    }
                    let batch: Vec<Result<AggregateRoot, Status>> = roots
                        .into_iter()
                        .map(|r| Ok(AggregateRoot { domain: d.clone(), root: Some(r.into()) }))
                        .collect();
                    return Ok(Some((futures::stream::iter(batch), (rest, domain, after))));
                }
            }
        });
        Ok(Response::new(Box::pin(pages.try_flatten())))
    }
}
