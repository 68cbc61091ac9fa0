//! Handler tests without any framework running: given events, when a
//! command, then events or a rejection.

use angzarr_proto::angzarr::{
    CommandBook, CommandPage, ContextualCommand, Cover, EventBook, EventPage, PageHeader, business_response,
    command_page, event_page,
};
use angzarr_proto::{pack, unpack};
use prost::{Message, Name};
use prost_types::Any;
use tonic::{Code, Status};

use crate::aggregate::Aggregate;

/// A given/when/then run of one aggregate.
pub struct Scenario<'a, S> {
    aggregate: &'a Aggregate<S>,
    history: Vec<Any>,
}

/// What a command produced.
#[derive(Debug)]
pub struct Outcome<S> {
    /// Accepted events, or the status the coordinator would report.
    pub result: Result<Vec<Any>, Status>,
    /// The state after the events (unchanged on rejection).
    pub state: S,
}

impl<'a, S> Scenario<'a, S>
where
    S: Message + Name + Default + Clone + Send + Sync + 'static,
{
    /// A scenario on a fresh aggregate.
    pub fn new(aggregate: &'a Aggregate<S>) -> Self {
        Scenario { aggregate, history: Vec::new() }
    }

    /// Adds a prior event.
    pub fn given<E: Name>(mut self, event: E) -> Self {
        self.history.push(pack(&event));
        self
    }

    /// Adds prior events already packed.
    pub fn given_any(mut self, events: impl IntoIterator<Item = Any>) -> Self {
        self.history.extend(events);
        self
    }

    /// Runs `command` against the history.
    pub fn when<C: Name>(&self, command: C) -> Outcome<S> {
        let pages: Vec<EventPage> = self
            .history
            .iter()
            .enumerate()
            .map(|(i, e)| EventPage {
                header: Some(PageHeader::sequence(i as u32)),
                payload: Some(event_page::Payload::Event(e.clone())),
                ..Default::default()
            })
            .collect();
        let cover = Cover { domain: self.aggregate.domain().to_string(), ..Default::default() };
        let request = ContextualCommand {
            events: Some(EventBook {
                cover: Some(cover.clone()),
                next_sequence: pages.len() as u32,
                pages: pages.clone(),
                snapshot: None,
            }),
            command: Some(CommandBook {
                cover: Some(cover),
                pages: vec![CommandPage {
                    header: Some(PageHeader::sequence(pages.len() as u32)),
                    payload: Some(command_page::Payload::Command(pack(&command))),
                    ..Default::default()
                }],
            }),
        };
        let before = self.aggregate.rebuild(None, &pages).expect("history applies");
        match self.aggregate.execute(&request).map(|r| r.result) {
            Ok(Some(business_response::Result::Events(book))) => {
                let events: Vec<Any> = book.pages.into_iter().filter_map(|p| p.event().cloned()).collect();
                let mut state = before;
                for e in &events {
                    self.aggregate.apply_event(&mut state, e).expect("new events apply");
                }
                Outcome { result: Ok(events), state }
            }
            Ok(_) => Outcome { result: Ok(Vec::new()), state: before },
            Err(status) => Outcome { result: Err(status), state: before },
        }
    }
}

impl<S: std::fmt::Debug> Outcome<S> {
    /// The accepted events; panics with the status if rejected.
    pub fn events(&self) -> &[Any] {
        match &self.result {
            Ok(e) => e,
            Err(s) => panic!("expected events, the command was rejected: {s:?}"),
        }
    }

    /// The single event of type `E`; panics if absent.
    pub fn event<E: Name + Message + Default>(&self) -> E {
        self.events()
            .iter()
            .find_map(|a| unpack::<E>(a))
            .unwrap_or_else(|| panic!("no {} among {:?}", E::full_name(), self.events()))
            .expect("event decodes")
    }

    /// The rejection reason; panics if accepted or failed for another reason.
    pub fn rejection(&self) -> &str {
        match &self.result {
            Err(s) if s.code() == Code::FailedPrecondition => s.message(),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
}
