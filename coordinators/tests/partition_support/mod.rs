//! What the partition-level tests (the task on the in-memory partition)
//! send: command envelopes as a gateway or the commands log hands them over.
// Each test binary uses its own subset.
#![allow(dead_code)]

use angzarr_connectors::CommandEnvelope;
use angzarr_proto::angzarr::{CommandBook, CommandPage, Cover, PageHeader, command_page};
use angzarr_proto::examples::{Currency, DepositFunds, RegisterPlayer};
use angzarr_proto::pack;
use prost::Message;
use uuid::Uuid;

/// A DECISION command for `player` `root` at `seq`, named `request_id`,
/// waited for by gateway `gw`.
pub fn command(root: Uuid, seq: u32, cmd: prost_types::Any, request_id: &str) -> CommandEnvelope {
    let book = CommandBook {
        cover: Some(Cover { root: Some(root.into()), domain: "player".into(), ..Default::default() }),
        pages: vec![CommandPage {
            header: Some(PageHeader::sequence(seq)),
            payload: Some(command_page::Payload::Command(cmd)),
            ..Default::default()
        }],
    };
    CommandEnvelope {
        trace: None,
        domain: "player".into(),
        root,
        correlation_id: format!("corr-{request_id}"),
        request_id: request_id.into(),
        reply_to: Some("gw".into()),
        sync_mode: 3,
        book: book.encode_to_vec(),
        offset: -1,
    }
}

pub fn register() -> prost_types::Any {
    pack(&RegisterPlayer { display_name: "Ada".into(), email: "a@x".into(), ..Default::default() })
}

pub fn deposit(n: i64) -> prost_types::Any {
    pack(&DepositFunds { amount: Some(Currency { amount: n, currency_code: "USD".into() }) })
}
