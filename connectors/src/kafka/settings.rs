//! librdkafka settings as configured, with secrets kept out of `Debug`.
//!
//! A `{:?}` of a configuration is the easiest way for a password to reach a
//! log; this type prints every key but only the values of settings that
//! are not credentials.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, DerefMut};

/// librdkafka `key: value` settings (`security.protocol`, `sasl.password`, …).
#[derive(Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Settings(pub BTreeMap<String, String>);

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(super::client::redact(&self.0)).finish()
    }
}

impl Deref for Settings {
    type Target = BTreeMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Settings {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<'a> IntoIterator for &'a Settings {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<const N: usize> From<[(String, String); N]> for Settings {
    fn from(pairs: [(String, String); N]) -> Self {
        Settings(BTreeMap::from(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_keys_and_plain_values_but_never_credentials() {
        let s = Settings::from([
            ("security.protocol".to_string(), "SASL_SSL".to_string()),
            ("sasl.password".to_string(), "hunter2".to_string()),
            ("ssl.key.password".to_string(), "k3y".to_string()),
            ("sasl.oauthbearer.client.secret".to_string(), "s3cret".to_string()),
        ]);
        let shown = format!("{s:?}");
        assert!(shown.contains("SASL_SSL") && shown.contains("sasl.password"), "{shown}");
        for secret in ["hunter2", "k3y", "s3cret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
