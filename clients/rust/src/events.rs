//! What a handler returns: the events it decided, in order.

use prost_types::Any;

/// Events decided by a handler, each packed as `Any` with its full type name.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Events(pub Vec<Any>);

impl Events {
    /// No events (the command changes nothing).
    pub fn none() -> Self {
        Events(Vec::new())
    }

    /// One event.
    pub fn one<E: prost::Name>(event: E) -> Self {
        Events(vec![angzarr_proto::pack(&event)])
    }

    /// Appends another event.
    pub fn and<E: prost::Name>(mut self, event: E) -> Self {
        self.0.push(angzarr_proto::pack(&event));
        self
    }
}
