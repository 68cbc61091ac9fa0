//! A process manager: a saga with memory. Its state is event-sourced like
//! an aggregate's, one process per correlation id; each trigger event (from
//! any domain it listens to) may record process events and emit commands.
//!
//! The coordinator commits the process events, the commands and the
//! consumed trigger in one transaction, so a process never forgets a step
//! it took nor takes one twice.

use std::collections::HashMap;
use std::sync::Arc;

use angzarr_proto::angzarr::{
    CommandBook, Cover, EventBook, EventPage, PageHeader, ProcessManagerHandleRequest, ProcessManagerHandleResponse,
    ProcessManagerPrepareRequest, ProcessManagerPrepareResponse, Snapshot, event_page,
};
use angzarr_proto::{pack, type_name};
use prost::{Message, Name};
use prost_types::Any;
use tonic::Status;

use crate::aggregate::{Aggregate, next_sequence};
use crate::events::Events;

/// The trigger an `on` handler reacts to, beyond the event itself.
pub struct Trigger<'a> {
    /// Cover of the aggregate that emitted the event.
    pub cover: &'a Cover,
    /// The event's sequence in that aggregate.
    pub sequence: u32,
    /// Next sequence of each destination named by `prepare`, by domain.
    pub destinations: &'a HashMap<String, u32>,
}

/// What a process manager does about one trigger.
#[derive(Default)]
pub struct Reaction {
    /// Process events to record (the process's own history).
    pub events: Events,
    /// Commands for other aggregates.
    pub commands: Vec<CommandBook>,
}

impl Reaction {
    /// Nothing to do.
    pub fn none() -> Self {
        Reaction::default()
    }

    /// Records a process event.
    pub fn record<E: Name>(mut self, event: E) -> Self {
        self.events.0.push(pack(&event));
        self
    }

    /// Emits a command.
    pub fn send(mut self, command: CommandBook) -> Self {
        self.commands.push(command);
        self
    }
}

type OnFn<S> = Arc<dyn Fn(&Any, &S, &Trigger<'_>) -> Result<Reaction, Status> + Send + Sync>;
type PrepareFn<S> = Arc<dyn Fn(&Any, &S) -> Result<Vec<Cover>, Status> + Send + Sync>;

/// A process manager with state `S`.
pub struct ProcessManager<S> {
    name: String,
    state: Aggregate<S>,
    on: HashMap<String, OnFn<S>>,
    prepare: HashMap<String, PrepareFn<S>>,
}

impl<S> Clone for ProcessManager<S> {
    fn clone(&self) -> Self {
        ProcessManager {
            name: self.name.clone(),
            state: self.state.clone(),
            on: self.on.clone(),
            prepare: self.prepare.clone(),
        }
    }
}

fn decode<E: Message + Name + Default>(any: &Any) -> Result<E, Status> {
    E::decode(any.value.as_slice()).map_err(|e| Status::invalid_argument(format!("malformed {}: {e}", E::full_name())))
}

impl<S> ProcessManager<S>
where
    S: Message + Name + Default + Clone + Send + Sync + 'static,
{
    /// A process manager called `name` (also the domain of its own logs).
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        ProcessManager { state: Aggregate::new(name.clone()), name, on: HashMap::new(), prepare: HashMap::new() }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How process event `E` changes the state.
    pub fn apply<E, F>(mut self, f: F) -> Self
    where
        E: Message + Name + Default,
        F: Fn(&mut S, &E) + Send + Sync + 'static,
    {
        self.state = self.state.apply(f);
        self
    }

    /// Reacts to trigger events of type `E`.
    pub fn on<E, F>(mut self, f: F) -> Self
    where
        E: Message + Name + Default,
        F: Fn(&E, &S, &Trigger<'_>) -> Reaction + Send + Sync + 'static,
    {
        let h: OnFn<S> = Arc::new(move |any, state, trigger| Ok(f(&decode::<E>(any)?, state, trigger)));
        self.on.insert(E::full_name(), h);
        self
    }

    /// Names the aggregates whose next sequence the reaction to `E` needs.
    pub fn prepare<E, F>(mut self, f: F) -> Self
    where
        E: Message + Name + Default,
        F: Fn(&E, &S) -> Vec<Cover> + Send + Sync + 'static,
    {
        let h: PrepareFn<S> = Arc::new(move |any, state| Ok(f(&decode::<E>(any)?, state)));
        self.prepare.insert(E::full_name(), h);
        self
    }

    /// The state of a process's stored book.
    pub fn state_of(&self, book: &EventBook) -> Result<S, Status> {
        self.state.state_of(book)
    }

    /// The contract of `ProcessManagerService.Prepare`.
    pub fn handle_prepare(&self, req: &ProcessManagerPrepareRequest) -> Result<ProcessManagerPrepareResponse, Status> {
        let empty = EventBook::default();
        let state = self.state_of(req.process_state.as_ref().unwrap_or(&empty))?;
        let mut destinations = Vec::new();
        for event in req.trigger.iter().flat_map(|t| &t.pages).filter_map(|p| p.event()) {
            if let Some(f) = self.prepare.get(type_name(&event.type_url)) {
                destinations.extend(f(event, &state)?);
            }
        }
        Ok(ProcessManagerPrepareResponse { destinations })
    }

    /// The contract of `ProcessManagerService.Handle`: each trigger page's
    /// reaction, the process events numbered after the process's history,
    /// and the new state as the snapshot.
    pub fn handle(&self, req: &ProcessManagerHandleRequest) -> Result<ProcessManagerHandleResponse, Status> {
        let empty = EventBook::default();
        let process = req.process_state.as_ref().unwrap_or(&empty);
        let mut state = self.state_of(process)?;
        let trigger = req.trigger.as_ref().ok_or_else(|| Status::invalid_argument("no trigger"))?;
        let cover = trigger.cover.clone().unwrap_or_default();
        let next = next_sequence(process);
        let mut pages = Vec::new();
        let mut commands = Vec::new();
        for page in &trigger.pages {
            let (Some(event), Some(sequence)) = (page.event(), page.seq()) else { continue };
            let Some(f) = self.on.get(type_name(&event.type_url)) else { continue };
            let t = Trigger { cover: &cover, sequence, destinations: &req.destination_sequences };
            let reaction = f(event, &state, &t)?;
            for e in reaction.events.0 {
                self.state.apply_event(&mut state, &e)?;
                pages.push(EventPage {
                    header: Some(PageHeader::sequence(next + pages.len() as u32)),
                    payload: Some(event_page::Payload::Event(e)),
                    ..Default::default()
                });
            }
            commands.extend(reaction.commands);
        }
        let snapshot = (!pages.is_empty()).then(|| Snapshot {
            sequence: next + pages.len() as u32 - 1,
            state: Some(pack(&state)),
            ..Default::default()
        });
        let process_events = EventBook { cover: process.cover.clone(), snapshot, pages, next_sequence: 0 };
        Ok(ProcessManagerHandleResponse { process_events: Some(process_events), commands, facts: Vec::new() })
    }
}
