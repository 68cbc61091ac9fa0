//! An upcaster: old event shapes in, current shapes out — on read, never
//! rewriting the log. Event types it does not map pass through unchanged.

use std::collections::HashMap;
use std::sync::Arc;

use angzarr_proto::angzarr::{UpcastRequest, UpcastResponse, event_page};
use angzarr_proto::{pack, type_name};
use prost::{Message, Name};
use prost_types::Any;
use tonic::Status;

type MapFn = Arc<dyn Fn(&Any) -> Result<Any, Status> + Send + Sync>;

/// Maps from old event types to current ones.
#[derive(Clone, Default)]
pub struct Upcaster {
    maps: HashMap<String, MapFn>,
}

impl Upcaster {
    /// An upcaster that changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rewrites events of type `Old` as `New`.
    pub fn map<Old, New, F>(mut self, f: F) -> Self
    where
        Old: Message + Name + Default,
        New: Message + Name,
        F: Fn(Old) -> New + Send + Sync + 'static,
    {
        let m: MapFn = Arc::new(move |any| {
            let old = Old::decode(any.value.as_slice())
                .map_err(|e| Status::invalid_argument(format!("malformed {}: {e}", Old::full_name())))?;
            Ok(pack(&f(old)))
        });
        self.maps.insert(Old::full_name(), m);
        self
    }

    /// The contract of `UpcasterService.Upcast`: one event out per event in.
    pub fn upcast(&self, req: &UpcastRequest) -> Result<UpcastResponse, Status> {
        let mut events = req.events.clone();
        for page in &mut events {
            if let Some(event_page::Payload::Event(any)) = &mut page.payload
                && let Some(m) = self.maps.get(type_name(&any.type_url))
            {
                *any = m(any)?;
            }
        }
        Ok(UpcastResponse { events })
    }
}
