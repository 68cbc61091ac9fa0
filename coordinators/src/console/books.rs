//! An aggregate's book as the console shows it: events decoded by
//! descriptor, roots as UUIDs.

use angzarr_proto::angzarr::EventPage;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};

use super::{ConsoleState, log_error, parse_root};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct BookQuery {
    as_of_sequence: Option<u32>,
}

/// `GET /v1/books/{domain}/{root}[?asOfSequence=N]`.
pub(super) async fn book(
    State(app): State<ConsoleState>,
    Path((domain, root)): Path<(String, String)>,
    Query(q): Query<BookQuery>,
) -> Response {
    let root = match parse_root(&root) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let history = match app.log.read_book(&domain, &root).await {
        Ok(h) => h,
        Err(e) => return log_error(e),
    };
    // The state as of a sequence the latest snapshot is past: from the
    // whole history (a snapshot is never the start of a read of the past).
    let history = match (q.as_of_sequence, &history.snapshot) {
        (Some(n), Some(s)) if s.seq() > n => match app.log.read_history(&domain, &root).await {
            Ok(h) => h,
            Err(e) => return log_error(e),
        },
        _ => history,
    };
    let snapshot = history.decoded_snapshot();
    let events: Vec<serde_json::Value> = history
        .decoded_pages()
        .iter()
        .filter(|p| q.as_of_sequence.is_none_or(|n| p.seq().is_some_and(|s| s <= n)))
        .map(page)
        .collect();
    let snapshot =
        snapshot.map(|s| serde_json::json!({"sequence": s.sequence, "state": s.state.as_ref().map(any_json)}));
    Json(serde_json::json!({
        "domain": domain,
        "root": root.to_string(),
        "snapshot": snapshot,
        "events": events,
    }))
    .into_response()
}

fn page(p: &EventPage) -> serde_json::Value {
    use angzarr_proto::angzarr::event_page::Payload;
    let (kind, event) = match &p.payload {
        Some(Payload::Event(any)) => (angzarr_proto::type_name(&any.type_url).to_string(), any_json(any)),
        Some(Payload::External(r)) => {
            ("(external)".to_string(), crate::json_form::uuids_readable(crate::http::to_json(r)))
        }
        None => (String::new(), serde_json::Value::Null),
    };
    serde_json::json!({
        "sequence": p.seq(),
        "type": kind,
        "createdAt": p.created_at.as_ref().map(timestamp),
        "event": event,
    })
}

fn timestamp(t: &prost_types::Timestamp) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::new(t.seconds.max(0) as u64, t.nanos.max(0) as u32);
    humantime::format_rfc3339_millis(at).to_string()
}

/// A packed message as proto3 JSON by its descriptor; one this process does
/// not know shows its type and size.
pub(super) fn any_json(any: &prost_types::Any) -> serde_json::Value {
    let name = angzarr_proto::type_name(&any.type_url);
    let Some(desc) = angzarr_proto::descriptor_pool().get_message_by_name(name) else {
        return serde_json::json!({"@type": any.type_url, "unknownType": true, "bytes": any.value.len()});
    };
    match prost_reflect::DynamicMessage::decode(desc, any.value.as_slice()) {
        Ok(m) => crate::json_form::uuids_readable(
            m.serialize_with_options(
                serde_json::value::Serializer,
                &prost_reflect::SerializeOptions::new().skip_default_fields(true),
            )
            .unwrap_or(serde_json::Value::Null),
        ),
        Err(e) => serde_json::json!({"@type": any.type_url, "undecodable": e.to_string()}),
    }
}
