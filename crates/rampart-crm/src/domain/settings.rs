//! A tenant's business settings: opening hours, emergency rules, SMS
//! templates, pricing notes and whether transcripts are kept.
//!
//! The document travels as JSON and is parsed whole and strictly: every
//! field must be present, no unknown field is accepted, and a refusal names
//! the field at fault by its path (`opening_hours.monday[1].close`), never
//! echoing the value. What is stored is the canonical JSON of the parsed
//! value, so two spellings of one document store the same text.
//!
//! The time zone is checked for the shape of an IANA name
//! (`Europe/London`, `UTC`), not against the zone database, which the
//! workspace does not carry; the scheduler that reads it must refuse a zone
//! it does not know.
//!
//! `telephony` is the one optional field (issue 24): documents written
//! before it keep parsing, and mean its defaults (recording off, the
//! all-party consent rule, Rampart's own help text and announcement). Like
//! every other field it is emitted in canonical form, except that the
//! defaults are not emitted at all, so an old document reads back as it was.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{InvalidInput, Phone};

/// The weekdays, as the document names them.
pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// The document's top-level fields, in the order a refusal checks them.
const FIELDS: [&str; 7] = [
    "time_zone",
    "opening_hours",
    "emergency",
    "sms_templates",
    "pricing_notes",
    "transcripts_enabled",
    "telephony",
];

/// The fields of the optional `telephony` object.
const TELEPHONY_FIELDS: [&str; 4] = [
    "recording_enabled",
    "consent_rule",
    "help_text",
    "recording_announcement",
];
/// One SMS segment and a half: a HELP answer stays short.
const MAX_HELP_TEXT_CHARS: usize = 320;
const MAX_ANNOUNCEMENT_CHARS: usize = 300;
/// What HELP answers when the tenant wrote nothing.
pub const DEFAULT_HELP_TEXT: &str =
    "Reply STOP to stop messages from this number, START to resume. Msg & data rates may apply.";
/// What a call hears before it may be recorded, when the tenant wrote
/// nothing.
pub const DEFAULT_RECORDING_ANNOUNCEMENT: &str =
    "This call may be recorded and transcribed so we can help you.";

/// The phone and SMS settings: whether calls are recorded, under which
/// consent rule, and the texts callers and texters get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelephonySettings {
    pub recording_enabled: bool,
    pub consent_rule: rampart_telephony::consent::Jurisdiction,
    pub help_text: String,
    pub recording_announcement: String,
}

impl Default for TelephonySettings {
    fn default() -> Self {
        Self {
            recording_enabled: false,
            consent_rule: rampart_telephony::consent::Jurisdiction::AllParty,
            help_text: DEFAULT_HELP_TEXT.to_owned(),
            recording_announcement: DEFAULT_RECORDING_ANNOUNCEMENT.to_owned(),
        }
    }
}

/// The consent rule as the document names it.
#[must_use]
pub fn consent_rule_name(rule: rampart_telephony::consent::Jurisdiction) -> &'static str {
    match rule {
        rampart_telephony::consent::Jurisdiction::OneParty => "one_party",
        rampart_telephony::consent::Jurisdiction::AllParty => "all_party",
    }
}

/// The most a document may be, before it is parsed at all.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
const MAX_INTERVALS_PER_DAY: usize = 4;
const MAX_KEYWORDS: usize = 30;
const MAX_KEYWORD_CHARS: usize = 100;
const MAX_TEMPLATES: usize = 30;
const MAX_TEMPLATE_NAME_CHARS: usize = 40;
/// Three concatenated SMS segments of 160 GSM characters.
const MAX_TEMPLATE_CHARS: usize = 480;
const MAX_PRICING_NOTES_CHARS: usize = 4000;
const MAX_TIME_ZONE_CHARS: usize = 64;

/// The placeholders an SMS template may use; the sender fills them in.
pub const PLACEHOLDERS: [&str; 7] = [
    "customer_name",
    "business_name",
    "business_phone",
    "appointment_date",
    "appointment_time",
    "technician_name",
    "link",
];

/// One opening interval, in minutes since local midnight; `close` may be
/// 1440 (24:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    open: u16,
    close: u16,
}

/// What to treat as an emergency, and whom to call after hours.
#[derive(Clone, PartialEq, Eq)]
pub struct Emergency {
    keywords: Vec<String>,
    after_hours_phone: Option<Phone>,
}

/// A parsed settings document. The phone number and texts are the
/// business's, but may still name people, so `Debug` shows none of them.
#[derive(Clone, PartialEq, Eq)]
pub struct BusinessSettings {
    time_zone: String,
    /// Indexed like [`WEEKDAYS`].
    opening_hours: [Vec<Interval>; 7],
    emergency: Emergency,
    sms_templates: BTreeMap<String, String>,
    pricing_notes: String,
    transcripts_enabled: bool,
    telephony: TelephonySettings,
}

impl std::fmt::Debug for BusinessSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BusinessSettings(..)")
    }
}

impl Default for BusinessSettings {
    /// What a tenant has before writing any: UTC, closed every day, no
    /// emergency rules or templates, transcripts off.
    fn default() -> Self {
        Self {
            time_zone: "UTC".to_owned(),
            opening_hours: Default::default(),
            emergency: Emergency {
                keywords: Vec::new(),
                after_hours_phone: None,
            },
            sms_templates: BTreeMap::new(),
            pricing_notes: String::new(),
            transcripts_enabled: false,
            telephony: TelephonySettings::default(),
        }
    }
}

fn invalid(
    field: impl Into<std::borrow::Cow<'static, str>>,
    problem: &'static str,
) -> InvalidInput {
    InvalidInput::new(field, problem)
}

impl BusinessSettings {
    /// Parses a whole document from its JSON text.
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(invalid("document", "must be at most 64 KiB"));
        }
        let value: Value =
            serde_json::from_str(text).map_err(|_| invalid("document", "must be a JSON object"))?;
        let Value::Object(object) = value else {
            return Err(invalid("document", "must be a JSON object"));
        };
        if let Some(unknown) = object.keys().find(|key| !FIELDS.contains(&key.as_str())) {
            return Err(invalid(
                truncate_name(unknown),
                "is not a field of the settings document",
            ));
        }
        let field =
            |name: &'static str| object.get(name).ok_or_else(|| invalid(name, "is required"));
        Ok(Self {
            time_zone: parse_time_zone(field("time_zone")?)?,
            opening_hours: parse_opening_hours(field("opening_hours")?)?,
            emergency: parse_emergency(field("emergency")?)?,
            sms_templates: parse_templates(field("sms_templates")?)?,
            pricing_notes: parse_text(
                "pricing_notes",
                field("pricing_notes")?,
                0,
                MAX_PRICING_NOTES_CHARS,
                "must be at most 4000 characters",
                true,
            )?,
            transcripts_enabled: field("transcripts_enabled")?
                .as_bool()
                .ok_or_else(|| invalid("transcripts_enabled", "must be true or false"))?,
            telephony: match object.get("telephony") {
                None => TelephonySettings::default(),
                Some(value) => parse_telephony(value)?,
            },
        })
    }

    /// The phone and SMS settings (their defaults when the document has
    /// none).
    #[must_use]
    pub fn telephony(&self) -> &TelephonySettings {
        &self.telephony
    }

    #[must_use]
    pub fn transcripts_enabled(&self) -> bool {
        self.transcripts_enabled
    }

    /// The same settings with `transcripts_enabled` as the tenant has it
    /// (it is stored on the tenant, not in the document).
    #[must_use]
    pub fn with_transcripts_enabled(mut self, enabled: bool) -> Self {
        self.transcripts_enabled = enabled;
        self
    }

    /// The canonical JSON value of these settings.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut hours = Map::new();
        for (day, intervals) in WEEKDAYS.iter().zip(&self.opening_hours) {
            let list = intervals
                .iter()
                .map(|interval| {
                    serde_json::json!({
                        "open": format_time(interval.open),
                        "close": format_time(interval.close),
                    })
                })
                .collect();
            hours.insert((*day).to_owned(), Value::Array(list));
        }
        let mut document = serde_json::json!({
            "time_zone": self.time_zone,
            "opening_hours": hours,
            "emergency": {
                "keywords": self.emergency.keywords,
                "after_hours_phone": self.emergency.after_hours_phone.as_ref().map(Phone::as_str),
            },
            "sms_templates": self.sms_templates,
            "pricing_notes": self.pricing_notes,
            "transcripts_enabled": self.transcripts_enabled,
        });
        if self.telephony != TelephonySettings::default() {
            document["telephony"] = serde_json::json!({
                "recording_enabled": self.telephony.recording_enabled,
                "consent_rule": consent_rule_name(self.telephony.consent_rule),
                "help_text": self.telephony.help_text,
                "recording_announcement": self.telephony.recording_announcement,
            });
        }
        document
    }

    /// The top-level fields whose values differ between `self` and
    /// `other`, in document order: what an audit event names.
    #[must_use]
    pub fn changed_fields(&self, other: &Self) -> Vec<&'static str> {
        let (before, after) = (self.to_json(), other.to_json());
        FIELDS
            .into_iter()
            .filter(|field| before.get(field) != after.get(field))
            .collect()
    }
}

/// The `telephony` object: every field optional (its default when absent),
/// none unknown.
fn parse_telephony(value: &Value) -> Result<TelephonySettings, InvalidInput> {
    const FIELD: &str = "telephony";
    let object = value
        .as_object()
        .ok_or_else(|| invalid(FIELD, "must be an object"))?;
    if let Some(unknown) = object
        .keys()
        .find(|key| !TELEPHONY_FIELDS.contains(&key.as_str()))
    {
        return Err(invalid(
            format!("{FIELD}.{}", truncate_name(unknown)),
            "is not a field of telephony (recording_enabled, consent_rule, help_text, recording_announcement)",
        ));
    }
    let mut settings = TelephonySettings::default();
    if let Some(value) = object.get("recording_enabled") {
        settings.recording_enabled = value
            .as_bool()
            .ok_or_else(|| invalid("telephony.recording_enabled", "must be true or false"))?;
    }
    if let Some(value) = object.get("consent_rule") {
        settings.consent_rule = match value.as_str() {
            Some("all_party") => rampart_telephony::consent::Jurisdiction::AllParty,
            Some("one_party") => rampart_telephony::consent::Jurisdiction::OneParty,
            _ => {
                return Err(invalid(
                    "telephony.consent_rule",
                    "must be all_party or one_party",
                ));
            }
        };
    }
    if let Some(value) = object.get("help_text") {
        settings.help_text = parse_text(
            "telephony.help_text",
            value,
            1,
            MAX_HELP_TEXT_CHARS,
            "must be 1 to 320 characters",
            false,
        )?;
    }
    if let Some(value) = object.get("recording_announcement") {
        settings.recording_announcement = parse_text(
            "telephony.recording_announcement",
            value,
            1,
            MAX_ANNOUNCEMENT_CHARS,
            "must be 1 to 300 characters",
            false,
        )?;
    }
    Ok(settings)
}

/// A client's unknown key, cut short so a refusal stays small.
fn truncate_name(name: &str) -> String {
    name.chars().take(40).collect()
}

fn parse_time_zone(value: &Value) -> Result<String, InvalidInput> {
    const FIELD: &str = "time_zone";
    let text = value
        .as_str()
        .ok_or_else(|| invalid(FIELD, "must be a string"))?;
    let well_formed = !text.is_empty()
        && text.len() <= MAX_TIME_ZONE_CHARS
        && text.split('/').all(|part| {
            !part.is_empty()
                && part.starts_with(|c: char| c.is_ascii_alphabetic())
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        });
    if !well_formed {
        return Err(invalid(
            FIELD,
            "must be an IANA time zone name such as Europe/London or UTC",
        ));
    }
    Ok(text.to_owned())
}

fn parse_opening_hours(value: &Value) -> Result<[Vec<Interval>; 7], InvalidInput> {
    const FIELD: &str = "opening_hours";
    let object = value
        .as_object()
        .ok_or_else(|| invalid(FIELD, "must be an object of weekdays"))?;
    if let Some(unknown) = object.keys().find(|key| !WEEKDAYS.contains(&key.as_str())) {
        return Err(invalid(
            format!("{FIELD}.{}", truncate_name(unknown)),
            "is not a weekday (monday to sunday)",
        ));
    }
    let mut hours: [Vec<Interval>; 7] = Default::default();
    for (index, day) in WEEKDAYS.iter().enumerate() {
        let path = format!("{FIELD}.{day}");
        let list = object
            .get(*day)
            .ok_or_else(|| invalid(path.clone(), "is required (an empty list: closed)"))?
            .as_array()
            .ok_or_else(|| invalid(path.clone(), "must be a list of intervals"))?;
        if list.len() > MAX_INTERVALS_PER_DAY {
            return Err(invalid(path, "must hold at most 4 intervals"));
        }
        let mut previous_close = None;
        for (position, item) in list.iter().enumerate() {
            let path = format!("{path}[{position}]");
            let interval = parse_interval(&path, item)?;
            if previous_close.is_some_and(|close| interval.open < close) {
                return Err(invalid(
                    path,
                    "must start after the previous interval closes (intervals in order, not overlapping)",
                ));
            }
            previous_close = Some(interval.close);
            hours[index].push(interval);
        }
    }
    Ok(hours)
}

fn parse_interval(path: &str, value: &Value) -> Result<Interval, InvalidInput> {
    let object = value
        .as_object()
        .ok_or_else(|| invalid(path.to_owned(), "must be an object with open and close"))?;
    if let Some(unknown) = object
        .keys()
        .find(|key| !["open", "close"].contains(&key.as_str()))
    {
        return Err(invalid(
            format!("{path}.{}", truncate_name(unknown)),
            "is not a field of an interval (open, close)",
        ));
    }
    let time = |name: &str, allow_midnight_end: bool| {
        let field = format!("{path}.{name}");
        object
            .get(name)
            .ok_or_else(|| invalid(field.clone(), "is required"))?
            .as_str()
            .and_then(|text| parse_time(text, allow_midnight_end))
            .ok_or_else(|| invalid(field, "must be a local time HH:MM"))
    };
    let open = time("open", false)?;
    let close = time("close", true)?;
    if close <= open {
        return Err(invalid(format!("{path}.close"), "must be after open"));
    }
    Ok(Interval { open, close })
}

/// `HH:MM` as minutes since midnight; `24:00` only as an interval's end.
fn parse_time(text: &str, allow_midnight_end: bool) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let hours: u16 = hours.parse().ok()?;
    let minutes: u16 = minutes.parse().ok()?;
    if minutes >= 60 {
        return None;
    }
    match hours {
        0..=23 => Some(hours * 60 + minutes),
        24 if allow_midnight_end && minutes == 0 => Some(1440),
        _ => None,
    }
}

fn format_time(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn parse_emergency(value: &Value) -> Result<Emergency, InvalidInput> {
    const FIELD: &str = "emergency";
    let object = value
        .as_object()
        .ok_or_else(|| invalid(FIELD, "must be an object"))?;
    if let Some(unknown) = object
        .keys()
        .find(|key| !["keywords", "after_hours_phone"].contains(&key.as_str()))
    {
        return Err(invalid(
            format!("{FIELD}.{}", truncate_name(unknown)),
            "is not a field of emergency (keywords, after_hours_phone)",
        ));
    }
    let keywords = object
        .get("keywords")
        .ok_or_else(|| invalid("emergency.keywords", "is required"))?
        .as_array()
        .ok_or_else(|| invalid("emergency.keywords", "must be a list of texts"))?;
    if keywords.len() > MAX_KEYWORDS {
        return Err(invalid("emergency.keywords", "must hold at most 30 texts"));
    }
    let mut parsed = Vec::with_capacity(keywords.len());
    for (index, keyword) in keywords.iter().enumerate() {
        let keyword = parse_text(
            format!("emergency.keywords[{index}]"),
            keyword,
            1,
            MAX_KEYWORD_CHARS,
            "must be 1 to 100 characters",
            false,
        )?;
        if !parsed.contains(&keyword) {
            parsed.push(keyword);
        }
    }
    let after_hours_phone = match object.get("after_hours_phone") {
        None => {
            return Err(invalid(
                "emergency.after_hours_phone",
                "is required (null: none)",
            ));
        }
        Some(Value::Null) => None,
        Some(Value::String(text)) => Some(Phone::parse(text).map_err(|error| InvalidInput {
            field: "emergency.after_hours_phone".into(),
            problem: error.problem,
        })?),
        Some(_) => {
            return Err(invalid(
                "emergency.after_hours_phone",
                "must be a phone number or null",
            ));
        }
    };
    Ok(Emergency {
        keywords: parsed,
        after_hours_phone,
    })
}

fn parse_templates(value: &Value) -> Result<BTreeMap<String, String>, InvalidInput> {
    const FIELD: &str = "sms_templates";
    let object = value
        .as_object()
        .ok_or_else(|| invalid(FIELD, "must be an object of named texts"))?;
    if object.len() > MAX_TEMPLATES {
        return Err(invalid(FIELD, "must hold at most 30 templates"));
    }
    let mut templates = BTreeMap::new();
    for (name, text) in object {
        let name_ok = !name.is_empty()
            && name.chars().count() <= MAX_TEMPLATE_NAME_CHARS
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok {
            return Err(invalid(
                FIELD,
                "names must be 1 to 40 characters of a-z, 0-9 and _",
            ));
        }
        let path = format!("{FIELD}.{name}");
        let text = parse_text(
            path.clone(),
            text,
            1,
            MAX_TEMPLATE_CHARS,
            "must be 1 to 480 characters",
            true,
        )?;
        check_placeholders(&path, &text)?;
        templates.insert(name.clone(), text);
    }
    Ok(templates)
}

/// Every `{...}` must name a known placeholder, and braces must pair.
fn check_placeholders(path: &str, text: &str) -> Result<(), InvalidInput> {
    let mut rest = text;
    while let Some(start) = rest.find(['{', '}']) {
        if rest[start..].starts_with('}') {
            return Err(invalid(path.to_owned(), "has a } without its {"));
        }
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| invalid(path.to_owned(), "has a { without its }"))?;
        if !PLACEHOLDERS.contains(&&after[..end]) {
            return Err(invalid(
                path.to_owned(),
                "uses an unknown placeholder (known: customer_name, business_name, business_phone, appointment_date, appointment_time, technician_name, link)",
            ));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

/// A string of `min..=max` characters after trimming, without control
/// characters (line breaks and tabs allowed only where `multiline`).
fn parse_text(
    field: impl Into<std::borrow::Cow<'static, str>>,
    value: &Value,
    min: usize,
    max: usize,
    length_problem: &'static str,
    multiline: bool,
) -> Result<String, InvalidInput> {
    let field = field.into();
    let text = value
        .as_str()
        .ok_or_else(|| invalid(field.clone(), "must be a string"))?
        .trim();
    let length = text.chars().count();
    if length < min || length > max {
        return Err(invalid(field, length_problem));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\t')))
    {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Value {
        serde_json::json!({
            "time_zone": "Europe/London",
            "opening_hours": {
                "monday": [{"open": "08:00", "close": "12:00"}, {"open": "13:00", "close": "17:30"}],
                "tuesday": [{"open": "08:00", "close": "17:00"}],
                "wednesday": [], "thursday": [], "friday": [],
                "saturday": [{"open": "20:00", "close": "24:00"}],
                "sunday": []
            },
            "emergency": {"keywords": ["gas leak", "flood", "flood"], "after_hours_phone": "+44 20 7946 0958"},
            "sms_templates": {"reminder": "Hi {customer_name}, see you at {appointment_time}."},
            "pricing_notes": "Call-out fee applies.\nWeekends +50%.",
            "transcripts_enabled": true
        })
    }

    /// One change to the valid document.
    type Edit = Box<dyn Fn(&mut Value)>;

    fn field_of(value: &Value) -> String {
        BusinessSettings::parse(&value.to_string())
            .unwrap_err()
            .field()
            .to_owned()
    }

    #[test]
    fn a_full_document_round_trips_in_canonical_form() {
        let settings = BusinessSettings::parse(&document().to_string()).unwrap();
        let json = settings.to_json();
        assert_eq!(
            json["emergency"]["keywords"],
            serde_json::json!(["gas leak", "flood"])
        );
        assert_eq!(json["emergency"]["after_hours_phone"], "+442079460958");
        assert_eq!(json["opening_hours"]["saturday"][0]["close"], "24:00");
        assert_eq!(
            BusinessSettings::parse(&json.to_string()).unwrap(),
            settings
        );
    }

    #[test]
    fn telephony_is_optional_and_defaulted() {
        use rampart_telephony::consent::Jurisdiction;
        // A document written before telephony existed: its defaults, and
        // it reads back without the field.
        let old = BusinessSettings::parse(&document().to_string()).unwrap();
        assert_eq!(old.telephony(), &TelephonySettings::default());
        assert!(!old.telephony().recording_enabled);
        assert_eq!(old.telephony().consent_rule, Jurisdiction::AllParty);
        assert!(old.to_json().get("telephony").is_none());
        // Explicit defaults are the same document.
        let mut explicit = document();
        explicit["telephony"] = serde_json::json!({});
        assert_eq!(BusinessSettings::parse(&explicit.to_string()).unwrap(), old);
        // Some fields set: the others keep their defaults, and it round-trips.
        let mut set = document();
        set["telephony"] = serde_json::json!({
            "recording_enabled": true, "consent_rule": "one_party", "help_text": " Text us. "
        });
        let parsed = BusinessSettings::parse(&set.to_string()).unwrap();
        assert!(parsed.telephony().recording_enabled);
        assert_eq!(parsed.telephony().consent_rule, Jurisdiction::OneParty);
        assert_eq!(parsed.telephony().help_text, "Text us.");
        assert_eq!(
            parsed.telephony().recording_announcement,
            DEFAULT_RECORDING_ANNOUNCEMENT
        );
        let again = BusinessSettings::parse(&parsed.to_json().to_string()).unwrap();
        assert_eq!(again, parsed);
        assert_eq!(old.changed_fields(&parsed), ["telephony"]);
    }

    #[test]
    fn telephony_refusals_name_their_field() {
        for (telephony, field) in [
            (serde_json::json!("on"), "telephony"),
            (
                serde_json::json!({"recording": true}),
                "telephony.recording",
            ),
            (
                serde_json::json!({"recording_enabled": "yes"}),
                "telephony.recording_enabled",
            ),
            (
                serde_json::json!({"consent_rule": "two_party"}),
                "telephony.consent_rule",
            ),
            (serde_json::json!({"help_text": ""}), "telephony.help_text"),
            (
                serde_json::json!({"help_text": "x".repeat(321)}),
                "telephony.help_text",
            ),
            (
                serde_json::json!({"recording_announcement": "a\u{7}b"}),
                "telephony.recording_announcement",
            ),
        ] {
            let mut value = document();
            value["telephony"] = telephony;
            assert_eq!(field_of(&value), field);
        }
    }

    #[test]
    fn the_default_parses_back() {
        let json = BusinessSettings::default().to_json();
        assert_eq!(
            BusinessSettings::parse(&json.to_string()).unwrap(),
            BusinessSettings::default()
        );
    }

    #[test]
    fn each_refusal_names_its_field() {
        let cases: Vec<(&str, Edit)> = vec![
            (
                "time_zone",
                Box::new(|d| d["time_zone"] = "Europe//x".into()),
            ),
            (
                "transcripts_enabled",
                Box::new(|d| d["transcripts_enabled"] = "yes".into()),
            ),
            ("colour", Box::new(|d| d["colour"] = "red".into())),
            (
                "pricing_notes",
                Box::new(|d| {
                    d.as_object_mut().unwrap().remove("pricing_notes");
                }),
            ),
            (
                "opening_hours.funday",
                Box::new(|d| d["opening_hours"]["funday"] = serde_json::json!([])),
            ),
            (
                "opening_hours.sunday",
                Box::new(|d| {
                    d["opening_hours"].as_object_mut().unwrap().remove("sunday");
                }),
            ),
            (
                "opening_hours.monday[0].close",
                Box::new(|d| d["opening_hours"]["monday"][0]["close"] = "07:00".into()),
            ),
            (
                "opening_hours.monday[1]",
                Box::new(|d| d["opening_hours"]["monday"][1]["open"] = "11:00".into()),
            ),
            (
                "opening_hours.tuesday[0].open",
                Box::new(|d| d["opening_hours"]["tuesday"][0]["open"] = "24:00".into()),
            ),
            (
                "opening_hours.tuesday[0].open",
                Box::new(|d| d["opening_hours"]["tuesday"][0]["open"] = "8:00".into()),
            ),
            (
                "emergency.after_hours_phone",
                Box::new(|d| d["emergency"]["after_hours_phone"] = "call me".into()),
            ),
            (
                "emergency.keywords[1]",
                Box::new(|d| d["emergency"]["keywords"][1] = " ".into()),
            ),
            (
                "sms_templates.reminder",
                Box::new(|d| d["sms_templates"]["reminder"] = "Hi {name}".into()),
            ),
            (
                "sms_templates.reminder",
                Box::new(|d| d["sms_templates"]["reminder"] = "Hi {customer_name".into()),
            ),
            (
                "sms_templates.reminder",
                Box::new(|d| d["sms_templates"]["reminder"] = "x".repeat(481).into()),
            ),
            (
                "sms_templates",
                Box::new(|d| d["sms_templates"]["Bad Name"] = "x".into()),
            ),
            (
                "pricing_notes",
                Box::new(|d| d["pricing_notes"] = "a\u{7}b".into()),
            ),
        ];
        for (expected, change) in cases {
            let mut value = document();
            change(&mut value);
            assert_eq!(field_of(&value), expected);
        }
        assert_eq!(field_of(&serde_json::json!([1])), "document");
    }

    #[test]
    fn changed_fields_are_the_top_level_ones_that_differ() {
        let before = BusinessSettings::parse(&document().to_string()).unwrap();
        let mut value = document();
        value["pricing_notes"] = "Free quotes.".into();
        value["opening_hours"]["sunday"] = serde_json::json!([{"open": "10:00", "close": "12:00"}]);
        let after = BusinessSettings::parse(&value.to_string()).unwrap();
        assert_eq!(
            before.changed_fields(&after),
            ["opening_hours", "pricing_notes"]
        );
        assert!(before.changed_fields(&before).is_empty());
    }
}
