//! `EventQueryService`: an aggregate's committed history, from the log.

use std::pin::Pin;
use std::sync::Arc;

use angzarr_connectors::Log;
use angzarr_proto::angzarr::event_query_service_server::EventQueryService;
use angzarr_proto::angzarr::{AggregateRoot, EventBook, Query};
use futures::Stream;
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
        if query.selection.is_some() {
            return Err(CoordinatorError::Unimplemented(
                "query selections (range, set, temporal) are not supported yet".into(),
            ));
        }
        let history = self.log.read_book(&cover.domain, &root).await?;
        let pages = self
            .upcasters
            .pages(&cover.domain, history.decoded_pages())
            .await
            .map_err(|s| CoordinatorError::Rejected { code: s.code(), message: s.message().to_string() })?;
        let mut cover = cover.clone();
        cover.correlation_id.clear();
        let next_sequence = Book::from(history.clone()).next_sequence();
        Ok(EventBook { cover: Some(cover), snapshot: history.decoded_snapshot(), pages, next_sequence })
    }
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

    async fn synchronize(&self, _: Request<Streaming<Query>>) -> Result<Response<Self::SynchronizeStream>, Status> {
        Err(Status::unimplemented("Synchronize is not supported yet"))
    }

    type GetAggregateRootsStream = BoxStream<AggregateRoot>;

    async fn get_aggregate_roots(&self, _: Request<()>) -> Result<Response<Self::GetAggregateRootsStream>, Status> {
        Err(Status::unimplemented("GetAggregateRoots is not supported yet"))
    }
}
