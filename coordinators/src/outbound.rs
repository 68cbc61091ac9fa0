//! Commands a saga or a process manager emits, made ready for the log.
//!
//! Both roles hand back `CommandBook`s; before they are committed (with the
//! offset or process events that caused them) each is checked — a known
//! target domain, a valid root, exactly one page with a payload — and
//! stamped with what the coordinator owns: the correlation id of the
//! trigger, the trigger's cover in `Cover.ext`, and a deferred sequence
//! unless the emitter set one. A command that fails a check fails the whole
//! reaction, which is then retried: nothing half-done is committed.

use angzarr_connectors::CommandEnvelope;
use angzarr_proto::angzarr::{AngzarrDeferredSequence, CommandBook, Cover, PageHeader, SyncMode, page_header};
use angzarr_proto::pack;
use prost::Message;
use tonic::Status;
use uuid::Uuid;

/// Who emitted the commands and what they react to.
pub struct Emitter<'a> {
    /// `saga` or `process manager` — for error messages.
    pub kind: &'static str,
    /// The saga's or process manager's name.
    pub name: &'a str,
    /// Domains it may command.
    pub targets: &'a [String],
    /// The cover of the triggering event's aggregate.
    pub source: &'a Cover,
    /// The triggering event's sequence.
    pub source_seq: u32,
    /// Correlation id carried onto every command.
    pub correlation_id: &'a str,
    /// Prefix of the request ids; `:{i}` is appended. Derived from the
    /// trigger, so a retried reaction produces the same ids.
    pub request_prefix: String,
    /// The gateway waiting on the trigger's CASCADE: the commands are
    /// answered to it and their events notify it in turn.
    pub reply_to: Option<String>,
}

impl Emitter<'_> {
    /// Checks and stamps `books`; the first bad one refuses them all.
    pub fn envelopes(&self, books: Vec<CommandBook>) -> Result<Vec<CommandEnvelope>, Status> {
        let refuse = |i: usize, why: String| {
            Status::failed_precondition(format!("{} `{}` returned command #{i} {why}", self.kind, self.name))
        };
        let mut out = Vec::with_capacity(books.len());
        for (i, mut book) in books.into_iter().enumerate() {
            let cover = book.cover.as_mut().ok_or_else(|| refuse(i, "without a cover".into()))?;
            if !self.targets.contains(&cover.domain) {
                return Err(refuse(
                    i,
                    format!(
                        "for unknown domain `{}` (reacting to {}/{} sequence {})",
                        cover.domain,
                        self.source.domain,
                        self.source.root.as_ref().and_then(|r| Uuid::try_from(r).ok()).unwrap_or_default(),
                        self.source_seq
                    ),
                ));
            }
            let root = cover
                .root
                .as_ref()
                .and_then(|r| Uuid::try_from(r).ok())
                .filter(|r| !r.is_nil())
                .ok_or_else(|| refuse(i, "without a valid root".into()))?;
            cover.correlation_id = self.correlation_id.to_string();
            cover.ext = Some(pack(self.source));
            let domain = cover.domain.clone();
            let pages = book.pages.len();
            let [page] = book.pages.as_mut_slice() else {
                return Err(refuse(i, format!("with {pages} pages; one is required")));
            };
            if page.command().is_none() {
                return Err(refuse(i, "without a payload".into()));
            }
            if page.header.as_ref().and_then(|h| h.sequence_type.as_ref()).is_none() {
                page.header = Some(PageHeader {
                    sequence_type: Some(page_header::SequenceType::AngzarrDeferred(AngzarrDeferredSequence {
                        source: Some(self.source.clone()),
                        source_seq: self.source_seq,
                    })),
                });
            }
            out.push(CommandEnvelope {
                trace: crate::telemetry::traces::current(),
                domain,
                root,
                correlation_id: self.correlation_id.to_string(),
                request_id: format!("{}:{i}", self.request_prefix),
                reply_to: self.reply_to.clone(),
                sync_mode: if self.reply_to.is_some() { SyncMode::Cascade as i32 } else { SyncMode::Async as i32 },
                book: book.encode_to_vec(),
                offset: -1,
            });
        }
        Ok(out)
    }
}
