//! The schedule's values: an appointment's time window, its service type
//! and status (with the steps it may take), and a job note's text and
//! equipment details.

use chrono::{DateTime, SubsecRound, Utc};

use super::InvalidInput;

/// The longest appointment: a day. A longer one is a typo (a wrong month or
/// year) far more often than real work.
pub const MAX_APPOINTMENT_HOURS: i64 = 24;
/// The longest service type kept ("boiler service", "AC install").
pub const MAX_SERVICE_TYPE_CHARS: usize = 100;
/// The longest job note.
pub const MAX_NOTE_CHARS: usize = 4000;
/// The longest equipment details (make, model, serial).
pub const MAX_EQUIPMENT_CHARS: usize = 1000;

/// Parses an RFC 3339 time, kept in UTC at the microsecond precision
/// PostgreSQL stores, so a value answered at creation reads back the same.
pub fn parse_time(field: &'static str, text: &str) -> Result<DateTime<Utc>, InvalidInput> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc).trunc_subsecs(6))
        .map_err(|_| InvalidInput::new(field, "must be an RFC 3339 time"))
}

/// When an appointment starts and ends: the end after the start, at most
/// [`MAX_APPOINTMENT_HOURS`] later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppointmentWindow {
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

impl AppointmentWindow {
    /// Checks a window whose times are already parsed; a refusal names
    /// `ends_at`, the field to fix.
    pub fn new(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Result<Self, InvalidInput> {
        if ends_at <= starts_at {
            return Err(InvalidInput::new("ends_at", "must be after starts_at"));
        }
        if ends_at - starts_at > chrono::TimeDelta::hours(MAX_APPOINTMENT_HOURS) {
            return Err(InvalidInput::new(
                "ends_at",
                "must be at most 24 hours after starts_at",
            ));
        }
        Ok(Self { starts_at, ends_at })
    }

    /// Parses both times from a request.
    pub fn parse(starts_at: &str, ends_at: &str) -> Result<Self, InvalidInput> {
        Self::new(
            parse_time("starts_at", starts_at)?,
            parse_time("ends_at", ends_at)?,
        )
    }

    #[must_use]
    pub fn starts_at(&self) -> DateTime<Utc> {
        self.starts_at
    }

    #[must_use]
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.ends_at
    }
}

/// What work an appointment is for: one short line of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceType(String);

impl ServiceType {
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(InvalidInput::new("service_type", "must not be empty"));
        }
        if trimmed.chars().count() > MAX_SERVICE_TYPE_CHARS {
            return Err(InvalidInput::new(
                "service_type",
                "must be at most 100 characters",
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidInput::new(
                "service_type",
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
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

/// Where an appointment stands. It is booked `scheduled`, may be
/// `confirmed`, and ends `completed` (once confirmed) or `cancelled`
/// (before it is completed); an ended appointment never moves again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppointmentStatus {
    Scheduled,
    Confirmed,
    Completed,
    Cancelled,
}

impl AppointmentStatus {
    pub const ALL: [Self; 4] = [
        Self::Scheduled,
        Self::Confirmed,
        Self::Completed,
        Self::Cancelled,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Confirmed => "confirmed",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(field: &'static str, text: &str) -> Result<Self, InvalidInput> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| {
                InvalidInput::new(
                    field,
                    "must be one of scheduled, confirmed, completed, cancelled",
                )
            })
    }

    /// Whether an appointment may go from `self` to `to`. Staying put is
    /// not a step.
    #[must_use]
    pub fn may_become(self, to: Self) -> bool {
        matches!(
            (self, to),
            (Self::Scheduled, Self::Confirmed)
                | (Self::Confirmed, Self::Completed)
                | (Self::Scheduled | Self::Confirmed, Self::Cancelled)
        )
    }
}

/// A job note's text: personal data (it describes a customer's home and
/// work), stored only sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteText(String);

impl NoteText {
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        if text.trim().is_empty() {
            return Err(InvalidInput::new("text", "must not be empty"));
        }
        check_free_text(
            "text",
            text,
            MAX_NOTE_CHARS,
            "must be at most 4000 characters",
        )?;
        Ok(Self(text.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Equipment details on a job note (make, model, serial number): personal
/// data too, since a serial number identifies a customer's installation.
#[derive(Clone, PartialEq, Eq)]
pub struct Equipment(String);

impl Equipment {
    /// `None` for empty (none given).
    pub fn parse_optional(text: &str) -> Result<Option<Self>, InvalidInput> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        check_free_text(
            "equipment",
            text,
            MAX_EQUIPMENT_CHARS,
            "must be at most 1000 characters",
        )?;
        Ok(Some(Self(text.to_owned())))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Multi-line text: bounded, and no control characters but line breaks and
/// tabs.
fn check_free_text(
    field: &'static str,
    text: &str,
    max_chars: usize,
    too_long: &'static str,
) -> Result<(), InvalidInput> {
    if text.chars().count() > max_chars {
        return Err(InvalidInput::new(field, too_long));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(InvalidInput::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_must_end_after_it_starts_and_within_a_day() {
        let ok = AppointmentWindow::parse("2026-03-01T09:00:00Z", "2026-03-01T11:30:00+01:00");
        let ok = ok.unwrap();
        assert_eq!(
            ok.ends_at() - ok.starts_at(),
            chrono::TimeDelta::minutes(90)
        );
        for (start, end) in [
            ("2026-03-01T09:00:00Z", "2026-03-01T09:00:00Z"),
            ("2026-03-01T09:00:00Z", "2026-03-01T08:00:00Z"),
            ("2026-03-01T09:00:00Z", "2026-03-02T09:00:01Z"),
        ] {
            let error = AppointmentWindow::parse(start, end).unwrap_err();
            assert_eq!(error.field(), "ends_at", "{start} {end}");
        }
        assert!(AppointmentWindow::parse("2026-03-01T09:00:00Z", "2026-03-02T09:00:00Z").is_ok());
    }

    #[test]
    fn times_must_be_rfc3339_and_the_field_is_named() {
        let error = AppointmentWindow::parse("tomorrow", "2026-03-01T09:00:00Z").unwrap_err();
        assert_eq!(error.field(), "starts_at");
        let error =
            AppointmentWindow::parse("2026-03-01T09:00:00Z", "2026-03-01 10:00").unwrap_err();
        assert_eq!(error.field(), "ends_at");
    }

    #[test]
    fn only_the_listed_status_steps_are_allowed() {
        use AppointmentStatus::*;
        let allowed = [
            (Scheduled, Confirmed),
            (Confirmed, Completed),
            (Scheduled, Cancelled),
            (Confirmed, Cancelled),
        ];
        for from in AppointmentStatus::ALL {
            for to in AppointmentStatus::ALL {
                assert_eq!(
                    from.may_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
            assert_eq!(AppointmentStatus::parse("status", from.as_str()), Ok(from));
        }
        assert!(AppointmentStatus::parse("status", "done").is_err());
    }

    #[test]
    fn service_types_are_trimmed_and_bounded() {
        assert_eq!(
            ServiceType::parse("  Boiler service ").unwrap().as_str(),
            "Boiler service"
        );
        assert!(ServiceType::parse("   ").is_err());
        assert!(ServiceType::parse(&"x".repeat(101)).is_err());
        assert!(ServiceType::parse("a\u{0}b").is_err());
    }

    #[test]
    fn note_text_and_equipment_are_bounded() {
        assert!(NoteText::parse("Replaced the valve.\nCheck in a year.").is_ok());
        assert_eq!(NoteText::parse(" ").unwrap_err().field(), "text");
        assert!(NoteText::parse(&"é".repeat(4000)).is_ok());
        assert_eq!(
            NoteText::parse(&"é".repeat(4001)).unwrap_err().field(),
            "text"
        );
        assert_eq!(Equipment::parse_optional("").unwrap(), None);
        assert!(
            Equipment::parse_optional("Vaillant ecoTEC, SN 123")
                .unwrap()
                .is_some()
        );
        assert_eq!(
            Equipment::parse_optional(&"x".repeat(1001))
                .unwrap_err()
                .field(),
            "equipment"
        );
    }
}
