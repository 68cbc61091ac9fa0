//! The two JSON forms of the contract's messages.
//!
//! proto3 JSON writes the contract's `UUID` message as `{"value": "<base64
//! of 16 bytes>"}`: exact, but nobody recognises the root they typed. For
//! people (the CLI, the REST mapping, Server-Sent Events, the console) every
//! such object is written as the UUID's text instead; `?json=proto` (HTTP)
//! or `--output proto-json` (CLI) gives the exact proto3 form for programs
//! that parse it by descriptor. On the way in, a `root` given as UUID text
//! is read as that UUID, so both forms are accepted.

use base64::Engine as _;
use serde_json::Value;

/// Which JSON form to write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    /// proto3 JSON with UUIDs as their text (the default).
    #[default]
    Readable,
    /// proto3 JSON exactly (`?json=proto`).
    #[serde(alias = "proto-json")]
    Proto,
}

impl Form {
    /// `value` (proto3 JSON) in this form.
    pub fn apply(self, value: Value) -> Value {
        match self {
            Form::Readable => uuids_readable(value),
            Form::Proto => value,
        }
    }
}

/// Replaces every `{"value": "<base64 of 16 bytes>"}` (the contract's
/// `UUID` message in proto3 JSON) by the UUID's text.
pub fn uuids_readable(v: Value) -> Value {
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

/// The inverse for input: every `"root": "<UUID text>"` becomes the
/// `UUID` message's proto3 JSON, so a body may name roots as people write
/// them. Anything else is left for the proto3 parser to judge.
pub fn uuids_from_text(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| match (&*k, v) {
                    ("root", Value::String(s)) if uuid::Uuid::parse_str(&s).is_ok() => {
                        let bytes = uuid::Uuid::parse_str(&s).expect("checked").into_bytes();
                        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
                        (k, serde_json::json!({ "value": b64 }))
                    }
                    (_, v) => (k, uuids_from_text(v)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(uuids_from_text).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_messages_read_as_uuids_and_nothing_else_changes() {
        let v = serde_json::json!({
            "root": {"value": "XwwLjj9dTB6dVWp8fg4qEQ=="},
            "other": {"value": "AAEC"},
            "n": 1,
        });
        let r = uuids_readable(v.clone());
        assert_eq!(r["root"], "5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11");
        assert_eq!(r["other"], serde_json::json!({"value": "AAEC"}), "3 bytes is not a UUID");
        assert_eq!(r["n"], 1);
        assert_eq!(Form::Proto.apply(v.clone()), v, "the exact form is untouched");
        assert_eq!(uuids_from_text(r)["root"], v["root"], "and back");
    }

    #[test]
    fn only_roots_given_as_uuid_text_are_rewritten() {
        let v = serde_json::json!({"cover": {"root": "not a uuid", "domain": "5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11"}});
        assert_eq!(uuids_from_text(v.clone()), v);
    }
}
