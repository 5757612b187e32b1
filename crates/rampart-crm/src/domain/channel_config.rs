//! A channel to connect: its kind, its display name and its credentials.
//!
//! Credentials are a small JSON object of strings (a Twilio account SID and
//! auth token, an SMTP password). They are secrets: [`ChannelCredentials`]
//! cannot be printed, and the only way out of it is the JSON text that the
//! store seals at once. Their names are not secret and are kept in the
//! clear, so an owner can see which credentials a channel has.
//!
//! A `twilio` channel is a number a tenant connects for SMS and calls: it
//! needs its E.164 number (inbound webhooks find their tenant by the called
//! number, so the number is checked here and unique across tenants in the
//! store) and credentials holding a well-formed `account_sid` and an
//! `auth_token`, refused here rather than when the first webhook fails to
//! verify. No other kind takes a number.

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
    /// A Twilio number: inbound SMS and calls, outbound SMS.
    Twilio,
}

impl ChannelKind {
    pub const ALL: [Self; 6] = [
        Self::Sms,
        Self::Phone,
        Self::Email,
        Self::Web,
        Self::Widget,
        Self::Twilio,
    ];

    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw)
            .ok_or_else(|| {
                InvalidInput::new("kind", "must be sms, phone, email, web, widget or twilio")
            })
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Phone => "phone",
            Self::Email => "email",
            Self::Web => "web",
            Self::Widget => "widget",
            Self::Twilio => "twilio",
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

/// The number a `twilio` channel answers: E.164, `+` then 8 to 15 digits,
/// the first not 0, nothing else (the form Twilio sends in `To`, so the
/// stored number and the called number compare as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct E164Number(String);

impl E164Number {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        const FIELD: &str = "phone_number";
        let digits = raw
            .strip_prefix('+')
            .ok_or_else(|| InvalidInput::new(FIELD, "must start with + (E.164)"))?;
        let well_formed = (8..=15).contains(&digits.len())
            && digits.bytes().all(|byte| byte.is_ascii_digit())
            && !digits.starts_with('0');
        if !well_formed {
            return Err(InvalidInput::new(
                FIELD,
                "must be + and 8 to 15 digits, not starting with 0 (E.164)",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Checks what a channel of `kind` needs besides its name: a `twilio`
/// channel a number and an account (`account_sid`: `AC` and 32 hex digits,
/// `auth_token`: 32 hex digits or longer API secrets, no whitespace); any
/// other kind no number. Answers the parsed number, if any.
pub fn check_channel_setup(
    kind: ChannelKind,
    phone_number: &str,
    credentials: Option<&ChannelCredentials>,
) -> Result<Option<E164Number>, InvalidInput> {
    if kind != ChannelKind::Twilio {
        if !phone_number.is_empty() {
            return Err(InvalidInput::new(
                "phone_number",
                "only a twilio channel has a phone number",
            ));
        }
        return Ok(None);
    }
    if phone_number.is_empty() {
        return Err(InvalidInput::new(
            "phone_number",
            "is required for a twilio channel",
        ));
    }
    let number = E164Number::parse(phone_number)?;
    let credentials = credentials.ok_or_else(|| {
        InvalidInput::new(
            "credentials",
            "a twilio channel needs account_sid and auth_token",
        )
    })?;
    let sid = credentials.0.get("account_sid").ok_or_else(|| {
        InvalidInput::new(
            "credentials.account_sid",
            "is required for a twilio channel",
        )
    })?;
    let sid_ok = sid.len() == 34
        && sid.starts_with("AC")
        && sid[2..].bytes().all(|byte| byte.is_ascii_hexdigit());
    if !sid_ok {
        return Err(InvalidInput::new(
            "credentials.account_sid",
            "must be AC followed by 32 hexadecimal digits",
        ));
    }
    let token = credentials.0.get("auth_token").ok_or_else(|| {
        InvalidInput::new("credentials.auth_token", "is required for a twilio channel")
    })?;
    if token.chars().count() < 16 || token.chars().any(char::is_whitespace) {
        return Err(InvalidInput::new(
            "credentials.auth_token",
            "must be at least 16 characters without spaces",
        ));
    }
    Ok(Some(number))
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

    fn twilio_credentials(sid: &str, token: &str) -> ChannelCredentials {
        ChannelCredentials::parse(
            &serde_json::json!({ "account_sid": sid, "auth_token": token }).to_string(),
        )
        .unwrap()
        .unwrap()
    }

    const SID: &str = "AC0123456789abcdef0123456789abcdef";
    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_twilio_channel_needs_a_number_and_an_account() {
        let good = twilio_credentials(SID, TOKEN);
        let number = check_channel_setup(ChannelKind::Twilio, "+14155550100", Some(&good))
            .unwrap()
            .unwrap();
        assert_eq!(number.as_str(), "+14155550100");
        for bad in [
            "",
            "14155550100",
            "+1415",
            "+1234567890123456",
            "+1 415 555 0100",
            "+04155550100",
            "+1415555010x",
            "++14155550100",
        ] {
            let error = check_channel_setup(ChannelKind::Twilio, bad, Some(&good)).unwrap_err();
            assert_eq!(error.field(), "phone_number", "{bad:?}");
        }
        assert_eq!(
            check_channel_setup(ChannelKind::Twilio, "+14155550100", None)
                .unwrap_err()
                .field(),
            "credentials"
        );
        for (sid, token, field) in [
            ("AC0123", TOKEN, "credentials.account_sid"),
            (
                "XX0123456789abcdef0123456789abcdef",
                TOKEN,
                "credentials.account_sid",
            ),
            (
                "AC0123456789abcdef0123456789abcdeg",
                TOKEN,
                "credentials.account_sid",
            ),
            (SID, "short", "credentials.auth_token"),
            (
                SID,
                "0123456789abcdef 0123456789abcdef",
                "credentials.auth_token",
            ),
        ] {
            let error = check_channel_setup(
                ChannelKind::Twilio,
                "+14155550100",
                Some(&twilio_credentials(sid, token)),
            )
            .unwrap_err();
            assert_eq!(error.field(), field, "{sid} {token}");
        }
        let only_token = ChannelCredentials::parse(&format!("{{\"auth_token\": \"{TOKEN}\"}}"))
            .unwrap()
            .unwrap();
        assert_eq!(
            check_channel_setup(ChannelKind::Twilio, "+14155550100", Some(&only_token))
                .unwrap_err()
                .field(),
            "credentials.account_sid"
        );
    }

    #[test]
    fn other_kinds_refuse_a_number() {
        assert_eq!(
            check_channel_setup(ChannelKind::Sms, "", None).unwrap(),
            None
        );
        assert_eq!(
            check_channel_setup(ChannelKind::Sms, "+14155550100", None)
                .unwrap_err()
                .field(),
            "phone_number"
        );
    }

    #[test]
    fn display_names_are_bounded() {
        assert!(ChannelName::parse(" Front desk ").is_ok());
        assert!(ChannelName::parse("").is_err());
        assert!(ChannelName::parse(&"x".repeat(101)).is_err());
    }
}
