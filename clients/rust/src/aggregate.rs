//! An aggregate: state, appliers, handlers — dispatched by proto type name.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use angzarr_proto::angzarr::{
    BusinessResponse, ContextualCommand, EventBook, EventPage, PageHeader, Snapshot, business_response,
};
use angzarr_proto::{pack, type_name};
use prost::{Message, Name};
use prost_types::Any;
use tonic::Status;

use crate::error::CommandRejected;
use crate::events::Events;

type HandlerFn<S> = Arc<dyn Fn(&Any, &S, u32) -> Result<Events, Status> + Send + Sync>;
type ApplierFn<S> = Arc<dyn Fn(&mut S, &Any) -> Result<(), Status> + Send + Sync>;

/// An aggregate of one domain.
///
/// `S` is the state, rebuilt for every command from the snapshot and events
/// the coordinator sends; it is returned as the snapshot state so the
/// coordinator can store snapshots without knowing the type.
pub struct Aggregate<S> {
    domain: String,
    handlers: HashMap<String, HandlerFn<S>>,
    appliers: HashMap<String, ApplierFn<S>>,
}

impl<S> Clone for Aggregate<S> {
    fn clone(&self) -> Self {
        Aggregate { domain: self.domain.clone(), handlers: self.handlers.clone(), appliers: self.appliers.clone() }
    }
}

fn decode<M: Message + Default + Name>(any: &Any, what: &str) -> Result<M, Status> {
    M::decode(any.value.as_slice())
        .map_err(|e| Status::invalid_argument(format!("malformed {what} {}: {e}", M::full_name())))
}

impl<S> Aggregate<S>
where
    S: Message + Name + Default + Clone + Send + Sync + 'static,
{
    /// An aggregate of `domain` with no handlers yet.
    pub fn new(domain: impl Into<String>) -> Self {
        Aggregate { domain: domain.into(), handlers: HashMap::new(), appliers: HashMap::new() }
    }

    /// The domain it serves.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Registers the handler of command type `C`:
    /// `fn handle_deposit_funds(cmd: &DepositFunds, state: &PlayerState, seq: u32) -> Result<Events, CommandRejected>`.
    /// `seq` is the sequence the first new event will get.
    pub fn handle<C, F>(mut self, f: F) -> Self
    where
        C: Message + Name + Default,
        F: Fn(&C, &S, u32) -> Result<Events, CommandRejected> + Send + Sync + 'static,
    {
        let h: HandlerFn<S> = Arc::new(move |any, state, seq| {
            let cmd: C = decode(any, "command")?;
            f(&cmd, state, seq).map_err(Status::from)
        });
        self.handlers.insert(C::full_name(), h);
        self
    }

    /// Registers how event type `E` changes the state.
    pub fn apply<E, F>(mut self, f: F) -> Self
    where
        E: Message + Name + Default,
        F: Fn(&mut S, &E) + Send + Sync + 'static,
    {
        let a: ApplierFn<S> = Arc::new(move |state, any| {
            let event: E = decode(any, "event")?;
            f(state, &event);
            Ok(())
        });
        self.appliers.insert(E::full_name(), a);
        self
    }

    /// The command types this aggregate handles.
    pub fn command_types(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }

    /// Folds one event into `state`. Event types without an applier leave the
    /// state as it is: old events may outlive the code that cared about them.
    pub fn apply_event(&self, state: &mut S, event: &Any) -> Result<(), Status> {
        match self.appliers.get(type_name(&event.type_url)) {
            Some(apply) => apply(state, event),
            None => Ok(()),
        }
    }

    /// The state after a snapshot and the pages after it.
    pub fn rebuild(&self, snapshot: Option<&Snapshot>, pages: &[EventPage]) -> Result<S, Status> {
        let mut state = match snapshot.and_then(|s| s.state.as_ref()) {
            Some(any) if type_name(&any.type_url) == S::full_name() => decode::<S>(any, "snapshot state")?,
            Some(any) => {
                return Err(Status::invalid_argument(format!(
                    "snapshot state is {}, this aggregate keeps {}",
                    type_name(&any.type_url),
                    S::full_name()
                )));
            }
            None => S::default(),
        };
        for page in pages {
            if let Some(event) = page.event() {
                self.apply_event(&mut state, event)?;
            }
        }
        Ok(state)
    }

    /// The state of a stored book.
    pub fn state_of(&self, book: &EventBook) -> Result<S, Status> {
        self.rebuild(book.snapshot.as_ref(), &book.pages)
    }

    /// Runs one command against its history: the whole contract of
    /// `CommandHandlerService.Handle`, without any network.
    pub fn execute(&self, request: &ContextualCommand) -> Result<BusinessResponse, Status> {
        let command = request.command.as_ref().ok_or_else(|| Status::invalid_argument("no command book"))?;
        let page = command.pages.first().ok_or_else(|| Status::invalid_argument("command book has no pages"))?;
        let any = page.command().ok_or_else(|| Status::invalid_argument("command page has no inline command"))?;
        let name = type_name(&any.type_url);
        let handler = self.handlers.get(name).ok_or_else(|| {
            Status::invalid_argument(format!("unknown command type `{name}` for domain `{}`", self.domain))
        })?;
        let empty = EventBook::default();
        let book = request.events.as_ref().unwrap_or(&empty);
        let mut state = self.state_of(book)?;
        let next = next_sequence(book);

        let events = catch_unwind(AssertUnwindSafe(|| handler(any, &state, next)))
            .map_err(|_| Status::internal(format!("handler for `{name}` panicked")))??;

        let mut pages = Vec::with_capacity(events.0.len());
        for (i, event) in events.0.into_iter().enumerate() {
            self.apply_event(&mut state, &event)?;
            pages.push(EventPage {
                header: Some(PageHeader::sequence(next + i as u32)),
                payload: Some(angzarr_proto::angzarr::event_page::Payload::Event(event)),
                ..Default::default()
            });
        }
        let snapshot = (!pages.is_empty()).then(|| Snapshot {
            sequence: next + pages.len() as u32 - 1,
            state: Some(pack(&state)),
            ..Default::default()
        });
        Ok(BusinessResponse {
            result: Some(business_response::Result::Events(EventBook {
                cover: command.cover.clone(),
                snapshot,
                pages,
                next_sequence: 0,
            })),
        })
    }
}

/// The sequence the next event gets: the coordinator sends it in
/// `next_sequence`; older coordinators did not, so fall back to counting.
pub(crate) fn next_sequence(book: &EventBook) -> u32 {
    if book.next_sequence > 0 {
        return book.next_sequence;
    }
    let from_pages = book.pages.iter().filter_map(|p| p.seq()).max().map(|s| s + 1);
    let from_snapshot = book.snapshot.as_ref().filter(|s| s.state.is_some()).map(|s| s.sequence + 1);
    from_pages.or(from_snapshot).unwrap_or(book.pages.len() as u32)
}

impl From<&CommandRejected> for Status {
    fn from(r: &CommandRejected) -> Self {
        Status::failed_precondition(r.0.clone())
    }
}
