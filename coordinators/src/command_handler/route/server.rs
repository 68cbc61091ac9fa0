//! `PartitionOwnerService`: how a gateway in another process hands this
//! worker a command for a partition it owns.

use std::sync::Arc;

use angzarr_connectors::{CommandEnvelope, CommandOutcome, Log, PartitionId};
use angzarr_proto::angzarr::EventBook;
use angzarr_proto::angzarr_kafka::partition_owner_service_server::PartitionOwnerService;
use angzarr_proto::angzarr_kafka::{OwnedCommand, OwnerAnswer, Rejected, owner_answer};
use prost::Message;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{Answer, Owners};

/// Serves this process's partition owners to other processes' gateways.
#[derive(Clone)]
pub struct OwnerServer {
    log: Arc<dyn Log>,
    owners: Owners,
}

impl OwnerServer {
    /// The service in front of `owners`.
    pub fn new(log: Arc<dyn Log>, owners: Owners) -> Self {
        OwnerServer { log, owners }
    }
}

#[tonic::async_trait]
impl PartitionOwnerService for OwnerServer {
    async fn decide(&self, request: Request<OwnedCommand>) -> Result<Response<OwnerAnswer>, Status> {
        let wire = request.into_inner();
        let root = Uuid::from_slice(&wire.root).map_err(|_| Status::invalid_argument("root must be 16 bytes"))?;
        // The partition is computed here, never taken from the caller: a
        // root decided by the wrong partition's owner would have two writers.
        let answer = match self.log.partition_of(&wire.domain, &root) {
            None => Answer::NotOwner(format!("domain `{}` is not served here", wire.domain)),
            Some(p) if p != wire.partition => Answer::NotOwner(format!(
                "{} root {root} belongs to partition {p}, not {}",
                wire.domain, wire.partition
            )),
            Some(p) => {
                let id = PartitionId::new(&wire.domain, p);
                match self.owners.send(&id, from_wire(wire, root)).await {
                    Err(_) => Answer::NotOwner(format!("{id} is not served by this worker now")),
                    Ok(rx) => rx.await.unwrap_or_else(|_| {
                        Answer::Unknown(format!("the task of {id} stopped before it could answer"))
                    }),
                }
            }
        };
        Ok(Response::new(answer_to_wire(answer)))
    }
}

/// A validated command as the gateway sends it.
pub(super) fn to_wire(cmd: &CommandEnvelope, partition: u32) -> OwnedCommand {
    OwnedCommand {
        domain: cmd.domain.clone(),
        partition,
        root: cmd.root.as_bytes().to_vec(),
        request_id: cmd.request_id.clone(),
        correlation_id: cmd.correlation_id.clone(),
        reply_to: cmd.reply_to.clone().unwrap_or_default(),
        sync_mode: cmd.sync_mode,
        book: cmd.book.clone(),
        traceparent: cmd.trace.clone().unwrap_or_default(),
    }
}

fn from_wire(w: OwnedCommand, root: Uuid) -> CommandEnvelope {
    CommandEnvelope {
        domain: w.domain,
        root,
        correlation_id: w.correlation_id,
        request_id: w.request_id,
        reply_to: Some(w.reply_to).filter(|r| !r.is_empty()),
        sync_mode: w.sync_mode,
        book: w.book,
        offset: -1,
        trace: Some(w.traceparent).filter(|t| !t.is_empty()),
    }
}

fn answer_to_wire(a: Answer) -> OwnerAnswer {
    use owner_answer::Answer as W;
    let answer = match a {
        Answer::Decided(CommandOutcome::Accepted(book)) => W::Accepted(book.encode_to_vec()),
        Answer::Decided(CommandOutcome::Rejected { code, message }) => W::Rejected(Rejected { code, message }),
        Answer::NotOwner(why) => W::NotOwner(why),
        Answer::Unknown(why) => W::Unknown(why),
    };
    OwnerAnswer { answer: Some(answer) }
}

/// The owner's answer as the gateway reads it.
pub(super) fn answer_from_wire(a: OwnerAnswer) -> Answer {
    use owner_answer::Answer as W;
    match a.answer {
        Some(W::Accepted(bytes)) => match EventBook::decode(bytes.as_slice()) {
            Ok(book) => Answer::Decided(CommandOutcome::Accepted(book)),
            Err(e) => Answer::Unknown(format!("the owner's answer does not decode: {e}")),
        },
        Some(W::Rejected(r)) => Answer::Decided(CommandOutcome::Rejected { code: r.code, message: r.message }),
        Some(W::NotOwner(why)) => Answer::NotOwner(why),
        Some(W::Unknown(why)) => Answer::Unknown(why),
        None => Answer::Unknown("the owner sent an empty answer".into()),
    }
}
