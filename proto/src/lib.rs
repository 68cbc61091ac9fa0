//! The angzarr contract as Rust types.
//!
//! Everything here is generated from `proto/` at build time, plus the few
//! helpers every crate needs to speak it: packing `Any` with the
//! `type.googleapis.com/<full name>` URL, converting roots between the wire's
//! `UUID { bytes value }` and [`uuid::Uuid`], and the descriptor pool used for
//! proto3 JSON (CLI, REST) and for naming event types in record headers.

use std::sync::OnceLock;

/// Package `angzarr`: wire-compatible with upstream ⍼ Angzarr.
#[allow(clippy::all, missing_docs)]
pub mod angzarr {
    tonic::include_proto!("angzarr");
}

/// Package `examples`: the poker example's messages.
#[allow(clippy::all, missing_docs)]
pub mod examples {
    tonic::include_proto!("examples");
}

/// Package `angzarr_kafka`: what coordinators of one deployment speak to
/// each other (not part of the user contract).
#[allow(clippy::all, missing_docs)]
pub mod angzarr_kafka {
    tonic::include_proto!("angzarr_kafka");
}

/// The compiled `FileDescriptorSet` of every `.proto` in this crate.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));

/// The prefix of every `Any` type URL the framework writes.
pub const TYPE_URL_PREFIX: &str = "type.googleapis.com/";

/// Descriptors of the contract and the example, for JSON and reflection.
pub fn descriptor_pool() -> &'static prost_reflect::DescriptorPool {
    static POOL: OnceLock<prost_reflect::DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        prost_reflect::DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect("the compiled descriptor set decodes")
    })
}

/// Packs a message into `Any` under `type.googleapis.com/<full name>`.
pub fn pack<M: prost::Name>(msg: &M) -> prost_types::Any {
    prost_types::Any { type_url: M::type_url(), value: prost::Message::encode_to_vec(msg) }
}

/// Unpacks `any` as `M` if its type URL names `M`; `None` for another type.
pub fn unpack<M: prost::Name + Default>(any: &prost_types::Any) -> Option<Result<M, prost::DecodeError>> {
    if type_name(&any.type_url) == M::full_name() {
        Some(<M as prost::Message>::decode(any.value.as_slice()))
    } else {
        None
    }
}

/// The full proto name in a type URL: everything after the last `/`.
pub fn type_name(type_url: &str) -> &str {
    type_url.rsplit('/').next().unwrap_or(type_url)
}

impl From<uuid::Uuid> for angzarr::Uuid {
    fn from(u: uuid::Uuid) -> Self {
        angzarr::Uuid { value: u.as_bytes().to_vec() }
    }
}

impl TryFrom<&angzarr::Uuid> for uuid::Uuid {
    type Error = uuid::Error;
    fn try_from(u: &angzarr::Uuid) -> Result<Self, Self::Error> {
        uuid::Uuid::from_slice(&u.value)
    }
}

impl angzarr::PageHeader {
    /// A header carrying an explicit sequence number.
    pub fn sequence(seq: u32) -> Self {
        angzarr::PageHeader { sequence_type: Some(angzarr::page_header::SequenceType::Sequence(seq)) }
    }

    /// The explicit sequence, if this header carries one.
    pub fn explicit_sequence(&self) -> Option<u32> {
        match self.sequence_type {
            Some(angzarr::page_header::SequenceType::Sequence(s)) => Some(s),
            _ => None,
        }
    }
}

impl angzarr::EventPage {
    /// The page's explicit sequence, if stamped.
    pub fn seq(&self) -> Option<u32> {
        self.header.as_ref().and_then(|h| h.explicit_sequence())
    }

    /// The event payload, when inline.
    pub fn event(&self) -> Option<&prost_types::Any> {
        match &self.payload {
            Some(angzarr::event_page::Payload::Event(any)) => Some(any),
            _ => None,
        }
    }
}

impl angzarr::CommandPage {
    /// The command payload, when inline.
    pub fn command(&self) -> Option<&prost_types::Any> {
        match &self.payload {
            Some(angzarr::command_page::Payload::Command(any)) => Some(any),
            _ => None,
        }
    }
}
