//! An aggregate's book as the console shows it: events decoded by
//! descriptor, roots as UUIDs.

use angzarr_proto::angzarr::EventPage;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::{ConsoleState, error, log_error, parse_root};

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
    let snapshot = history.decoded_snapshot();
    if let (Some(n), Some(s)) = (q.as_of_sequence, &snapshot)
        && s.sequence > n
    {
        return error(
            StatusCode::CONFLICT,
            "FAILED_PRECONDITION",
            format!(
                "the latest snapshot is at sequence {}: the state at {n} would need the history before it, \
                 which point reads do not replay yet",
                s.sequence
            ),
        );
    }
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
        Some(Payload::External(r)) => ("(external)".to_string(), uuids_readable(crate::http::to_json(r))),
        None => (String::new(), serde_json::Value::Null),
    };
    serde_json::json!({
        "sequence": p.seq(),
        "type": kind,
        "createdAt": p.created_at.as_ref().map(timestamp),
        "correlationId": serde_json::Value::Null,
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
        Ok(m) => uuids_readable(
            m.serialize_with_options(
                serde_json::value::Serializer,
                &prost_reflect::SerializeOptions::new().skip_default_fields(true),
            )
            .unwrap_or(serde_json::Value::Null),
        ),
        Err(e) => serde_json::json!({"@type": any.type_url, "undecodable": e.to_string()}),
    }
}

/// Replaces every `{"value": "<base64 of 16 bytes>"}` (the contract's
/// `UUID` message in proto3 JSON) by the UUID's text, for people.
pub(crate) fn uuids_readable(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            if map.len() == 1
                && let Some(Value::String(b64)) = map.get("value")
                && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64)
                && let Ok(u) = uuid::Uuid::from_slice(&bytes)
            {
                return Value::String(u.to_string());
            }
            Value::Object(map.into_iter().map(|(k, v)| (k, uuids_readable(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(uuids_readable).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_messages_read_as_uuids_and_nothing_else_changes() {
        let u = uuid::Uuid::new_v4();
        let b64 = base64::engine::general_purpose::STANDARD.encode(u.as_bytes());
        let v = serde_json::json!({"cover": {"root": {"value": b64}, "domain": "player"},
            "other": {"value": "AAEC"}, "list": [{"value": b64}]});
        let r = uuids_readable(v);
        assert_eq!(r["cover"]["root"], serde_json::json!(u.to_string()));
        assert_eq!(r["list"][0], serde_json::json!(u.to_string()));
        assert_eq!(r["other"], serde_json::json!({"value": "AAEC"}), "3 bytes is not a UUID");
        assert_eq!(r["cover"]["domain"], "player");
    }
}
