//! A projector: events in, a read model out.
//!
//! Delivery is at-least-once: a coordinator that crashed before committing
//! its offset delivers again, and a replay delivers everything again on
//! purpose. Idempotence therefore belongs with the read model — store the
//! last sequence applied next to the data (the poker `bankroll` projector
//! does) — not in this process's memory, which a replay into a wiped read
//! model would wrongly trust.

use std::collections::HashMap;
use std::sync::Arc;

use angzarr_proto::angzarr::{EventBook, Projection};
use angzarr_proto::type_name;
use prost::{Message, Name};
use prost_types::Any;
use tonic::Status;
use uuid::Uuid;

type EventFn = Arc<dyn Fn(&Any, &Uuid, u32) -> Result<(), Status> + Send + Sync>;
type ViewFn = Arc<dyn Fn(&Uuid) -> Option<Any> + Send + Sync>;
/// Runs a batch's work (`apply`) inside whatever unit the read model needs.
type ScopeFn = Arc<dyn Fn(&mut dyn FnMut() -> Result<(), Status>) -> Result<(), Status> + Send + Sync>;

/// A projector: handlers per event type, each `(event, root, sequence)`.
#[derive(Clone)]
pub struct Projector {
    name: String,
    handlers: HashMap<String, EventFn>,
    view: Option<ViewFn>,
    scope: Option<ScopeFn>,
}

impl Projector {
    /// A projector called `name` (the `Projection.projector` it reports).
    pub fn new(name: impl Into<String>) -> Self {
        Projector { name: name.into(), handlers: HashMap::new(), view: None, scope: None }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Handles events of type `E`.
    pub fn on<E, F>(mut self, f: F) -> Self
    where
        E: Message + Name + Default,
        F: Fn(&E, &Uuid, u32) -> Result<(), String> + Send + Sync + 'static,
    {
        let h: EventFn = Arc::new(move |any, root, seq| {
            let e = E::decode(any.value.as_slice())
                .map_err(|err| Status::invalid_argument(format!("malformed {}: {err}", E::full_name())))?;
            f(&e, root, seq).map_err(Status::internal)
        });
        self.handlers.insert(E::full_name(), h);
        self
    }

    /// What `Projection.projection` carries for a root after handling.
    pub fn view(mut self, f: impl Fn(&Uuid) -> Option<Any> + Send + Sync + 'static) -> Self {
        self.view = Some(Arc::new(f));
        self
    }

    /// Wraps every batch ([`Projector::handle_batch`]) in `scope`, which must
    /// call the work it is given once and pass its error on: e.g. one
    /// read-model transaction per batch, committed when the work succeeded and
    /// rolled back otherwise. A batch fails as a whole and is handed over
    /// again, so a scope that rolls back never leaves half a batch behind.
    /// Single books through `Handle` do not use it.
    pub fn batch_scope(
        mut self,
        scope: impl Fn(&mut dyn FnMut() -> Result<(), Status>) -> Result<(), Status> + Send + Sync + 'static,
    ) -> Self {
        self.scope = Some(Arc::new(scope));
        self
    }

    /// Applies `books` in order, as many [`Projector::handle`] calls would,
    /// inside the batch scope; one projection per book. The contract of
    /// `angzarr_kafka.ProjectorBatchService.HandleBatch`.
    pub fn handle_batch(&self, books: &[EventBook]) -> Result<Vec<Projection>, Status> {
        let mut out = Vec::with_capacity(books.len());
        let mut work = || -> Result<(), Status> {
            out.clear();
            for book in books {
                out.push(self.handle(book)?);
            }
            Ok(())
        };
        match &self.scope {
            Some(scope) => scope(&mut work)?,
            None => work()?,
        }
        Ok(out)
    }

    /// Applies a book's new pages; the contract of `ProjectorService.Handle`.
    pub fn handle(&self, book: &EventBook) -> Result<Projection, Status> {
        let cover = book.cover.clone().unwrap_or_default();
        let root = cover.root.as_ref().and_then(|r| Uuid::try_from(r).ok()).unwrap_or_default();
        let mut last = None;
        for page in &book.pages {
            let Some(seq) = page.seq() else { continue };
            if let Some(event) = page.event()
                && let Some(h) = self.handlers.get(type_name(&event.type_url))
            {
                h(event, &root, seq)?;
            }
            last = Some(seq);
        }
        Ok(Projection {
            cover: Some(cover),
            projector: self.name.clone(),
            sequence: last.unwrap_or_default(),
            projection: self.view.as_ref().and_then(|v| v(&root)),
        })
    }
}
