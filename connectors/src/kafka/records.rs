//! Records on the wire: keys, values and headers of each topic.
//!
//! | topic | key | value | headers |
//! |---|---|---|---|
//! | commands | root (UUID text) | `CommandBook` | domain, root, correlation, type, request id, reply-to, sync mode |
//! | events | root | `EventBook` (cover + one page) | domain, root, sequence, correlation, type, edition, isolated, reply-to |
//! | snapshots | root | `EventBook` (cover + snapshot) | domain, root, sequence |
//! | snapshots | `__restore_from` | decimal offset | — |
//! | _replies | gateway instance | `EventBook` or reason text | request id, status |
//! | _replies | gateway instance | `Projection`, or request ids one per line | notice, component, domain, root, sequence |
//! | _rejections | root | `Notification` of a `RejectionNotification` | domain, root, correlation, request id, status, type |

use prost::Message;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use uuid::Uuid;

use angzarr_proto::angzarr::{CommandBook, EventBook, Snapshot};

use crate::record::{CommandEnvelope, CommandOutcome, EventRecord, Notice, headers as h};

/// Key of the restore-point record in a snapshots partition.
pub const RESTORE_FROM_KEY: &str = "__restore_from";

fn owned(pairs: &[(&str, &str)]) -> OwnedHeaders {
    pairs.iter().fold(OwnedHeaders::new_with_capacity(pairs.len()), |acc, (k, v)| {
        acc.insert(Header { key: k, value: Some(v.as_bytes()) })
    })
}

/// Headers of a command record.
pub fn command_headers(cmd: &CommandEnvelope) -> OwnedHeaders {
    let root = cmd.root.hyphenated().to_string();
    let sync = cmd.sync_mode.to_string();
    let type_name = CommandBook::decode(cmd.book.as_slice())
        .ok()
        .and_then(|b| {
            b.pages.first().and_then(|p| p.command().map(|a| angzarr_proto::type_name(&a.type_url).to_string()))
        })
        .unwrap_or_default();
    let mut pairs = vec![
        (h::DOMAIN, cmd.domain.as_str()),
        (h::ROOT, root.as_str()),
        (h::CORRELATION_ID, cmd.correlation_id.as_str()),
        (h::TYPE, type_name.as_str()),
        (h::REQUEST_ID, cmd.request_id.as_str()),
        (h::SYNC_MODE, sync.as_str()),
    ];
    if let Some(r) = &cmd.reply_to {
        pairs.push((h::REPLY_TO, r.as_str()));
    }
    if let Some(t) = &cmd.trace {
        pairs.push((h::TRACEPARENT, t.as_str()));
    }
    owned(&pairs)
}

/// A header's value as text.
pub fn header<M: rdkafka::Message>(msg: &M, key: &str) -> Option<String> {
    let headers = msg.headers()?;
    headers.iter().find(|hd| hd.key == key).and_then(|hd| hd.value).map(|v| String::from_utf8_lossy(v).into_owned())
}

/// A command record back as an envelope. A record that does not carry a
/// valid root still becomes an envelope (with the nil root and no reply
/// address) so the task consumes it and reports it, rather than stalling
/// the partition on it.
pub fn parse_command<M: rdkafka::Message>(msg: &M, domain: &str) -> CommandEnvelope {
    let root = msg.key().and_then(|k| std::str::from_utf8(k).ok()).and_then(|k| Uuid::parse_str(k).ok());
    if root.is_none() {
        tracing::error!(
            topic = msg.topic(),
            partition = msg.partition(),
            offset = msg.offset(),
            "command record without a valid root key"
        );
    }
    CommandEnvelope {
        domain: domain.to_string(),
        root: root.unwrap_or(Uuid::nil()),
        correlation_id: header(msg, h::CORRELATION_ID).unwrap_or_default(),
        request_id: header(msg, h::REQUEST_ID).unwrap_or_default(),
        reply_to: root.and(header(msg, h::REPLY_TO)),
        sync_mode: header(msg, h::SYNC_MODE).and_then(|s| s.parse().ok()).unwrap_or(0),
        book: if root.is_some() { msg.payload().unwrap_or_default().to_vec() } else { vec![0xff] },
        offset: msg.offset(),
        trace: header(msg, h::TRACEPARENT),
    }
}

/// Headers of an event record.
pub fn event_headers(domain: &str, ev: &EventRecord) -> OwnedHeaders {
    let owned_pairs = ev.headers(domain);
    let pairs: Vec<(&str, &str)> = owned_pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    owned(&pairs)
}

/// Headers of a snapshot record.
pub fn snapshot_headers(domain: &str, root: &Uuid, snapshot: &Snapshot) -> OwnedHeaders {
    let root = root.hyphenated().to_string();
    let seq = snapshot.sequence.to_string();
    owned(&[(h::DOMAIN, domain), (h::ROOT, &root), (h::SEQUENCE, &seq)])
}

/// Value and headers of a reply.
pub fn reply(request_id: &str, outcome: &CommandOutcome) -> (Vec<u8>, OwnedHeaders) {
    match outcome {
        CommandOutcome::Accepted(book) => {
            (book.encode_to_vec(), owned(&[(h::REQUEST_ID, request_id), (h::STATUS, "0")]))
        }
        CommandOutcome::Rejected { code, message } => {
            let code = code.to_string();
            (message.clone().into_bytes(), owned(&[(h::REQUEST_ID, request_id), (h::STATUS, &code)]))
        }
    }
}

/// A reply record back as `(request id, outcome)`.
pub fn parse_reply<M: rdkafka::Message>(msg: &M) -> Option<(String, CommandOutcome)> {
    let request_id = header(msg, h::REQUEST_ID)?;
    let status: i32 = header(msg, h::STATUS)?.parse().ok()?;
    let payload = msg.payload().unwrap_or_default();
    let outcome = if status == 0 {
        CommandOutcome::Accepted(EventBook::decode(payload).ok()?)
    } else {
        CommandOutcome::Rejected { code: status, message: String::from_utf8_lossy(payload).into_owned() }
    };
    Some((request_id, outcome))
}

/// Value and headers of a notice for a gateway (`Decided` notices are
/// replies, not records of their own).
pub fn notice(n: &Notice) -> Option<(Vec<u8>, OwnedHeaders)> {
    let (kind, component, domain, root, sequence, value) = match n {
        Notice::Projected { projector, domain, root, sequence, projection } => {
            ("projected", projector, domain, root, sequence, projection.encode_to_vec())
        }
        Notice::Reacted { saga, domain, root, sequence, commands } => {
            ("reacted", saga, domain, root, sequence, commands.join("\n").into_bytes())
        }
        Notice::Decided { .. } => return None,
    };
    let (root, sequence) = (root.hyphenated().to_string(), sequence.to_string());
    let headers = owned(&[
        (h::NOTICE, kind),
        (h::COMPONENT, component),
        (h::DOMAIN, domain),
        (h::ROOT, &root),
        (h::SEQUENCE, &sequence),
    ]);
    Some((value, headers))
}

/// A notice record back; `None` for a reply or a malformed record.
pub fn parse_notice<M: rdkafka::Message>(msg: &M) -> Option<Notice> {
    let kind = header(msg, h::NOTICE)?;
    let component = header(msg, h::COMPONENT)?;
    let domain = header(msg, h::DOMAIN)?;
    let root = Uuid::parse_str(&header(msg, h::ROOT)?).ok()?;
    let sequence = header(msg, h::SEQUENCE)?.parse().ok()?;
    let payload = msg.payload().unwrap_or_default();
    match kind.as_str() {
        "projected" => Some(Notice::Projected {
            projector: component,
            domain,
            root,
            sequence,
            projection: angzarr_proto::angzarr::Projection::decode(payload).ok()?,
        }),
        "reacted" => Some(Notice::Reacted {
            saga: component,
            domain,
            root,
            sequence,
            commands: String::from_utf8_lossy(payload).lines().map(str::to_string).collect(),
        }),
        _ => None,
    }
}

/// A rejection nobody waited for: an upstream `Notification` carrying a
/// `RejectionNotification` (the rejected command and the reason), so any
/// consumer decodes it with the published protos; the rest in headers.
pub fn rejection(r: &crate::record::Rejection) -> (Vec<u8>, OwnedHeaders) {
    use angzarr_proto::angzarr::{Cover, Notification, RejectionNotification};
    let notice = RejectionNotification {
        rejected_command: CommandBook::decode(r.command.as_slice()).ok(),
        rejection_reason: r.message.clone(),
    };
    let value = Notification {
        cover: Some(Cover {
            root: Some(r.root.into()),
            domain: r.domain.clone(),
            correlation_id: r.correlation_id.clone(),
            ..Default::default()
        }),
        payload: Some(angzarr_proto::pack(&notice)),
        sent_at: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
        ..Default::default()
    };
    let (root, code) = (r.root.hyphenated().to_string(), r.code.to_string());
    let headers = owned(&[
        (h::DOMAIN, r.domain.as_str()),
        (h::ROOT, root.as_str()),
        (h::CORRELATION_ID, r.correlation_id.as_str()),
        (h::REQUEST_ID, r.request_id.as_str()),
        (h::STATUS, code.as_str()),
        (h::TYPE, "angzarr.RejectionNotification"),
    ]);
    (value.encode_to_vec(), headers)
}

/// A rejections record back, from its headers and value.
pub fn parse_rejection<M: rdkafka::Message>(msg: &M) -> Option<crate::record::Rejection> {
    use angzarr_proto::angzarr::{Notification, RejectionNotification};
    let notification = Notification::decode(msg.payload()?).ok()?;
    let notice: RejectionNotification =
        notification.payload.as_ref().and_then(angzarr_proto::unpack).and_then(|r| r.ok())?;
    Some(crate::record::Rejection {
        domain: header(msg, h::DOMAIN).unwrap_or_default(),
        root: header(msg, h::ROOT).and_then(|r| Uuid::parse_str(&r).ok()).unwrap_or_default(),
        request_id: header(msg, h::REQUEST_ID).unwrap_or_default(),
        correlation_id: header(msg, h::CORRELATION_ID).unwrap_or_default(),
        code: header(msg, h::STATUS).and_then(|c| c.parse().ok()).unwrap_or(0),
        message: notice.rejection_reason,
        command: notice.rejected_command.map(|c| c.encode_to_vec()).unwrap_or_default(),
    })
}
