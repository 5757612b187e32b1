//! A channel to connect: its kind, its display name and its credentials.
//!
//! Credentials are a small JSON object of strings (a Twilio account SID and
//! auth token, an SMTP password). They are secrets: [`ChannelCredentials`]
//! cannot be printed, and the only way out of it is the JSON text that the
//! store seals at once. Their names are not secret and are kept in the
//! clear, so an owner can see which credentials a channel has.

use std::collections::BTreeMap;

use super::InvalidInput;

/// The kinds of channel a tenant may connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    Sms,
    Phone,
    Email,
    Web,
    Widget,
}

impl ChannelKind {
    pub const ALL: [Self; 5] = [Self::Sms, Self::Phone, Self::Email, Self::Web, Self::Widget];

    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw)
            .ok_or_else(|| InvalidInput::new("kind", "must be sms, phone, email, web or widget"))
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Phone => "phone",
            Self::Email => "email",
            Self::Web => "web",
            Self::Widget => "widget",
        }
    }
}

const MAX_NAME_CHARS: usize = 100;
const MAX_CREDENTIALS: usize = 10;
const MAX_CREDENTIAL_NAME_CHARS: usize = 64;
const MAX_CREDENTIAL_VALUE_CHARS: usize = 4096;
/// The whole JSON text, before parsing.
const MAX_CREDENTIALS_BYTES: usize = 16 * 1024;

/// A channel's display name: 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelName(String);

impl ChannelName {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let trimmed = raw.trim();
        let length = trimmed.chars().count();
        if length == 0 || length > MAX_NAME_CHARS {
            return Err(InvalidInput::new(
                "display_name",
                "must be 1 to 100 characters",
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidInput::new(
                "display_name",
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A channel's credentials: names in the clear, values secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelCredentials(BTreeMap<String, String>);

impl std::fmt::Debug for ChannelCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChannelCredentials({} redacted)", self.0.len())
    }
}

impl ChannelCredentials {
    /// Parses the request's JSON object; empty text or `{}` is no
    /// credentials (a widget needs none).
    pub fn parse(raw: &str) -> Result<Option<Self>, InvalidInput> {
        const FIELD: &str = "credentials";
        if raw.trim().is_empty() {
            return Ok(None);
        }
        if raw.len() > MAX_CREDENTIALS_BYTES {
            return Err(InvalidInput::new(FIELD, "must be at most 16 KiB"));
        }
        let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(raw)
            .map_err(|_| InvalidInput::new(FIELD, "must be a JSON object of strings"))?;
        if map.len() > MAX_CREDENTIALS {
            return Err(InvalidInput::new(FIELD, "must hold at most 10 entries"));
        }
        let mut credentials = BTreeMap::new();
        for (name, value) in map {
            let name_ok = !name.is_empty()
                && name.chars().count() <= MAX_CREDENTIAL_NAME_CHARS
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !name_ok {
                return Err(InvalidInput::new(
                    FIELD,
                    "names must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -",
                ));
            }
            let value = match value {
                serde_json::Value::String(value)
                    if !value.is_empty()
                        && value.chars().count() <= MAX_CREDENTIAL_VALUE_CHARS
                        && !value.chars().any(char::is_control) =>
                {
                    value
                }
                _ => {
                    return Err(InvalidInput::new(
                        format!("{FIELD}.{name}"),
                        "must be a string of 1 to 4096 characters without control characters",
                    ));
                }
            };
            credentials.insert(name, value);
        }
        Ok((!credentials.is_empty()).then_some(Self(credentials)))
    }

    /// The credentials' names, sorted.
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    /// The JSON text to seal; the only way to the values.
    #[must_use]
    pub fn to_sealable_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_by_name() {
        for kind in ChannelKind::ALL {
            assert_eq!(ChannelKind::parse(kind.as_str()).unwrap(), kind);
        }
        assert_eq!(ChannelKind::parse("fax").unwrap_err().field(), "kind");
    }

    #[test]
    fn credentials_are_a_bounded_object_of_strings() {
        let parsed = ChannelCredentials::parse(r#"{"auth_token": "s3cret", "account_sid": "AC1"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(parsed.names(), ["account_sid", "auth_token"]);
        assert!(!format!("{parsed:?}").contains("s3cret"));
        assert!(ChannelCredentials::parse("").unwrap().is_none());
        assert!(ChannelCredentials::parse("{}").unwrap().is_none());
        for bad in [
            "[]",
            r#"{"a": 1}"#,
            r#"{"a b": "x"}"#,
            r#"{"a": ""}"#,
            "nope",
        ] {
            assert!(ChannelCredentials::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            ChannelCredentials::parse(r#"{"token": 5}"#)
                .unwrap_err()
                .field(),
            "credentials.token"
        );
    }

    #[test]
    fn display_names_are_bounded() {
        assert!(ChannelName::parse(" Front desk ").is_ok());
        assert!(ChannelName::parse("").is_err());
        assert!(ChannelName::parse(&"x".repeat(101)).is_err());
    }
}
