//! `EventStreamService`: the events of one correlation id as they are
//! committed — a gRPC server stream, and the same as Server-Sent Events on
//! the HTTP listener (`GET /v1/stream/{correlation_id}`, see [`crate::http`]).
//!
//! It follows the log's tail from the moment of subscription: subscribe
//! before sending the command whose events you want to see.

use std::pin::Pin;
use std::sync::Arc;

use angzarr_connectors::{Log, StoredEvent};
use angzarr_proto::angzarr::event_stream_service_server::EventStreamService;
use angzarr_proto::angzarr::{EventBook, EventStreamFilter};
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;
use tonic::{Request, Response, Status};

use crate::Shutdown;

/// Serves event streams from a log's tail.
#[derive(Clone)]
pub struct EventStream {
    log: Arc<dyn Log>,
    shutdown: Shutdown,
}

impl EventStream {
    /// Streams from `log`; every stream ends when `shutdown` is triggered,
    /// so open subscriptions never hold a stopping server.
    pub fn new(log: Arc<dyn Log>, shutdown: Shutdown) -> Self {
        EventStream { log, shutdown }
    }

    /// The committed events of `correlation_id`, from now on. A subscriber
    /// that falls far behind is told and the stream ends, rather than
    /// silently skipping events.
    pub fn follow(
        &self,
        correlation_id: &str,
    ) -> Result<impl Stream<Item = Result<EventBook, Status>> + Send + 'static + use<>, Status> {
        if correlation_id.is_empty() {
            return Err(Status::invalid_argument("correlation_id is empty: say whose events to stream"));
        }
        let wanted = correlation_id.to_string();
        let stop = self.shutdown.clone();
        let stream = BroadcastStream::new(self.log.tail()).take_until(async move { stop.wait().await }).filter_map(
            move |item| {
                let wanted = wanted.clone();
                async move {
                    match item {
                        Ok(e) if e.correlation_id == wanted => Some(Ok(book_of(&e))),
                        Ok(_) => None,
                        Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
                            Some(Err(Status::data_loss(format!("subscriber fell {n} events behind; resubscribe"))))
                        }
                    }
                }
            },
        );
        Ok(stream)
    }
}

fn book_of(e: &StoredEvent) -> EventBook {
    e.book.clone()
}

#[tonic::async_trait]
impl EventStreamService for EventStream {
    type SubscribeStream = Pin<Box<dyn Stream<Item = Result<EventBook, Status>> + Send>>;

    async fn subscribe(&self, request: Request<EventStreamFilter>) -> Result<Response<Self::SubscribeStream>, Status> {
        let stream = self.follow(&request.get_ref().correlation_id)?;
        Ok(Response::new(Box::pin(stream)))
    }
}
