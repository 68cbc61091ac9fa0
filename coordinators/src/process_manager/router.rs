//! Step 1 of a process manager: route triggers to the process's partition.

use angzarr_connectors::{CommandEnvelope, StoredEvent};
use angzarr_proto::angzarr::{
    AngzarrDeferredSequence, CommandBook, CommandPage, Cover, EventBook, PageHeader, command_page, page_header,
};
use angzarr_proto::pack;
use prost::Message;
use tonic::Status;

use super::root_of;
use crate::event_consumer::{Reaction, Reactor};

/// Forwards each event with a correlation id to the process manager's
/// commands log; events without one belong to no process and are passed by.
pub struct PmRouter {
    name: String,
    domains: Vec<String>,
}

impl PmRouter {
    /// The router of process manager `name`, over `domains`.
    pub fn new(name: &str, domains: Vec<String>) -> Self {
        PmRouter { name: name.to_string(), domains }
    }
}

/// The command that carries `trigger` to the process of its correlation id.
pub fn forward(pm: &str, event: &StoredEvent) -> CommandEnvelope {
    let root = root_of(&event.correlation_id);
    let source = event.book.cover.clone().unwrap_or_default();
    let book = CommandBook {
        cover: Some(Cover {
            root: Some(root.into()),
            domain: pm.to_string(),
            correlation_id: event.correlation_id.clone(),
            ..Default::default()
        }),
        pages: vec![CommandPage {
            header: Some(PageHeader {
                sequence_type: Some(page_header::SequenceType::AngzarrDeferred(AngzarrDeferredSequence {
                    source: Some(source),
                    source_seq: event.sequence,
                })),
            }),
            payload: Some(command_page::Payload::Command(pack(&event.book))),
            ..Default::default()
        }],
    };
    CommandEnvelope {
        // The trigger's trace goes on through the process manager.
        trace: event.trace.clone(),
        domain: pm.to_string(),
        root,
        correlation_id: event.correlation_id.clone(),
        request_id: format!("pm:{pm}:{}:{}:{}", event.domain, event.root, event.sequence),
        reply_to: None,
        sync_mode: 0,
        book: book.encode_to_vec(),
        offset: -1,
    }
}

#[tonic::async_trait]
impl Reactor for PmRouter {
    fn group(&self) -> String {
        format!("pm.{}", self.name)
    }

    fn domains(&self) -> Vec<String> {
        self.domains.clone()
    }

    fn batches_by_root(&self) -> bool {
        false
    }

    async fn react(&self, _: &EventBook, events: &[StoredEvent]) -> Result<Reaction, Status> {
        let commands = events.iter().filter(|e| !e.correlation_id.is_empty()).map(|e| forward(&self.name, e)).collect();
        Ok(Reaction { commands, notice: None })
    }
}
