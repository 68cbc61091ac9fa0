//! `{type: NAME, …}` maps read into one of several settings types, keeping
//! the YAML parser's key paths and line numbers in errors.
//!
//! Why not `#[serde(tag = "type")]`: serde buffers an internally tagged map
//! before choosing the variant, and errors found in the buffer carry no
//! location ("invalid type: string, expected u32" — which key? which line?).
//! Here, when `type` is the map's first key (as every example writes it),
//! the rest of the map is read straight from the parser into the chosen
//! type; otherwise the map is buffered as before and errors name the key
//! only.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, Error, MapAccess, Visitor};

/// A settings type chosen by a `type` key.
pub(super) trait Tagged: Sized {
    /// The accepted values of `type`.
    const TYPES: &'static [&'static str];
    /// Reads the rest of the map (without `type`) as the settings of `tag`.
    fn from_tag<'de, D: Deserializer<'de>>(tag: &str, rest: D) -> Result<Self, D::Error>;
}

/// Deserializes a [`Tagged`] type.
pub(super) fn deserialize<'de, T: Tagged, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    d.deserialize_map(TaggedVisitor(PhantomData))
}

struct TaggedVisitor<T>(PhantomData<T>);

impl<'de, T: Tagged> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a map with `type` one of {:?}", T::TYPES)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Err(A::Error::missing_field("type"));
        };
        if first == "type" {
            let tag: String = map.next_value()?;
            check(&tag, T::TYPES)?;
            return T::from_tag(&tag, MapAccessDeserializer::new(map));
        }
        // `type` later in the map: buffer, then choose.
        let mut rest = serde_yaml::Mapping::new();
        rest.insert(first.into(), map.next_value()?);
        while let Some(k) = map.next_key::<String>()? {
            rest.insert(k.into(), map.next_value()?);
        }
        let tag = match rest.remove("type") {
            Some(serde_yaml::Value::String(t)) => t,
            Some(other) => return Err(A::Error::custom(format!("`type` must be a string, not {other:?}"))),
            None => return Err(A::Error::missing_field("type")),
        };
        check(&tag, T::TYPES)?;
        T::from_tag(&tag, serde_yaml::Value::Mapping(rest)).map_err(A::Error::custom)
    }
}

fn check<E: Error>(tag: &str, types: &'static [&'static str]) -> Result<(), E> {
    if types.contains(&tag) { Ok(()) } else { Err(E::unknown_variant(tag, types)) }
}
