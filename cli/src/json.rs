//! proto3 JSON in and out, by descriptor — no hand-written mapping per type.

use angzarr_proto::descriptor_pool;
use prost_reflect::{DynamicMessage, MessageDescriptor, ReflectMessage};

/// Finds a message type by full name (`examples.DepositFunds`) or by a short
/// name that is unique among the known types (`DepositFunds`).
pub fn message_type(name: &str) -> anyhow::Result<MessageDescriptor> {
    let pool = descriptor_pool();
    if let Some(d) = pool.get_message_by_name(name) {
        return Ok(d);
    }
    let matches: Vec<_> = pool.all_messages().filter(|m| m.name() == name).collect();
    match matches.as_slice() {
        [one] => Ok(one.clone()),
        [] => anyhow::bail!("unknown message type `{name}`"),
        many => anyhow::bail!(
            "`{name}` is ambiguous: {}",
            many.iter().map(|m| m.full_name().to_string()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Parses `json` as a message of type `desc`, refusing unknown fields.
pub fn from_json(desc: &MessageDescriptor, json: &str) -> anyhow::Result<DynamicMessage> {
    let mut de = serde_json::Deserializer::from_str(json);
    let msg = DynamicMessage::deserialize(desc.clone(), &mut de)
        .map_err(|e| anyhow::anyhow!("JSON does not match {}: {e}", desc.full_name()))?;
    de.end().map_err(|e| anyhow::anyhow!("JSON does not match {}: {e}", desc.full_name()))?;
    Ok(msg)
}

/// The `Any` of a dynamic message.
pub fn to_any(msg: &DynamicMessage) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("{}{}", angzarr_proto::TYPE_URL_PREFIX, msg.descriptor().full_name()),
        value: prost::Message::encode_to_vec(msg),
    }
}
