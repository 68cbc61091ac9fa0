//! A saga: events in, commands to other aggregates out.
//!
//! The coordinator produces the returned commands in the same transaction
//! as its consumer offset, so each reaction happens exactly once. Commands
//! need no sequence: the coordinator marks them deferred, and the target
//! aggregate takes them at its current sequence.

use std::collections::HashMap;
use std::sync::Arc;

use angzarr_proto::angzarr::{CommandBook, CommandPage, Cover, EventBook, SagaResponse, command_page};
use angzarr_proto::{pack, type_name};
use prost::{Message, Name};
use prost_types::Any;
use tonic::Status;
use uuid::Uuid;

type EventFn = Arc<dyn Fn(&Any, &Cover, u32) -> Result<Vec<CommandBook>, Status> + Send + Sync>;

/// A saga: handlers per event type, each `(event, source cover, sequence) -> commands`.
#[derive(Clone)]
pub struct Saga {
    name: String,
    handlers: HashMap<String, EventFn>,
}

/// A command for `domain`/`root`, as a saga returns it.
pub fn command<C: Name>(domain: &str, root: Uuid, cmd: &C) -> CommandBook {
    CommandBook {
        cover: Some(Cover { root: Some(root.into()), domain: domain.to_string(), ..Default::default() }),
        pages: vec![CommandPage { payload: Some(command_page::Payload::Command(pack(cmd))), ..Default::default() }],
    }
}

impl Saga {
    /// A saga called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Saga { name: name.into(), handlers: HashMap::new() }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reacts to events of type `E`.
    pub fn on<E, F>(mut self, f: F) -> Self
    where
        E: Message + Name + Default,
        F: Fn(&E, &Cover, u32) -> Vec<CommandBook> + Send + Sync + 'static,
    {
        let h: EventFn = Arc::new(move |any, cover, seq| {
            let e = E::decode(any.value.as_slice())
                .map_err(|err| Status::invalid_argument(format!("malformed {}: {err}", E::full_name())))?;
            Ok(f(&e, cover, seq))
        });
        self.handlers.insert(E::full_name(), h);
        self
    }

    /// The contract of `SagaService.Handle`: the commands for a book's pages.
    pub fn handle(&self, source: &EventBook) -> Result<SagaResponse, Status> {
        let cover = source.cover.clone().unwrap_or_default();
        let mut commands = Vec::new();
        for page in &source.pages {
            if let (Some(event), Some(seq)) = (page.event(), page.seq())
                && let Some(h) = self.handlers.get(type_name(&event.type_url))
            {
                commands.extend(h(event, &cover, seq)?);
            }
        }
        Ok(SagaResponse { commands, events: Vec::new() })
    }
}
