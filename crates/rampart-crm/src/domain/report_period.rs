//! The period an activity report counts over.

use chrono::{DateTime, TimeDelta, Utc};

use super::InvalidInput;
use super::schedule::parse_time;

/// How far back a report reaches when the caller names no start.
pub const DEFAULT_REPORT_DAYS: i64 = 30;
/// The longest period one report may count over: a bound on the rows one
/// request makes the database scan.
pub const MAX_REPORT_DAYS: i64 = 366;

/// `from` (inclusive) to `to` (exclusive): `from` before `to`, at most
/// [`MAX_REPORT_DAYS`] apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportPeriod {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl ReportPeriod {
    /// Parses a request's bounds, either of which may be empty: `to`
    /// defaults to `now`, `from` to [`DEFAULT_REPORT_DAYS`] before `to`. A
    /// refusal names the field to fix (`from` for an inverted or too long
    /// period, since `to` defaults to now).
    pub fn parse(from: &str, to: &str, now: DateTime<Utc>) -> Result<Self, InvalidInput> {
        let to = if to.is_empty() {
            now
        } else {
            parse_time("to", to)?
        };
        let from = if from.is_empty() {
            to - TimeDelta::days(DEFAULT_REPORT_DAYS)
        } else {
            parse_time("from", from)?
        };
        if from >= to {
            return Err(InvalidInput::new("from", "must be before to"));
        }
        if to - from > TimeDelta::days(MAX_REPORT_DAYS) {
            return Err(InvalidInput::new(
                "from",
                "must be at most 366 days before to",
            ));
        }
        Ok(Self { from, to })
    }

    #[must_use]
    pub fn from(&self) -> DateTime<Utc> {
        self.from
    }

    #[must_use]
    pub fn to(&self) -> DateTime<Utc> {
        self.to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        parse_time("now", "2026-06-15T12:00:00Z").unwrap()
    }

    #[test]
    fn absent_bounds_are_the_last_thirty_days() {
        let period = ReportPeriod::parse("", "", now()).unwrap();
        assert_eq!(period.to(), now());
        assert_eq!(period.to() - period.from(), TimeDelta::days(30));
    }

    #[test]
    fn a_start_alone_runs_to_now() {
        let period = ReportPeriod::parse("2026-06-01T00:00:00+02:00", "", now()).unwrap();
        assert_eq!(
            period.from(),
            parse_time("x", "2026-05-31T22:00:00Z").unwrap()
        );
        assert_eq!(period.to(), now());
    }

    #[test]
    fn malformed_bounds_name_their_field() {
        let error = ReportPeriod::parse("yesterday", "", now()).unwrap_err();
        assert_eq!(error.field(), "from");
        let error = ReportPeriod::parse("", "2026-13-01T00:00:00Z", now()).unwrap_err();
        assert_eq!(error.field(), "to");
    }

    #[test]
    fn an_inverted_or_empty_period_is_refused() {
        let at = "2026-01-01T00:00:00Z";
        assert_eq!(
            ReportPeriod::parse(at, at, now()).unwrap_err().field(),
            "from"
        );
        let error = ReportPeriod::parse("2026-02-01T00:00:00Z", at, now()).unwrap_err();
        assert_eq!(error.field(), "from");
    }

    #[test]
    fn at_most_366_days() {
        let to = "2026-01-01T00:00:00Z";
        assert!(ReportPeriod::parse("2024-12-31T00:00:00Z", to, now()).is_ok());
        let error = ReportPeriod::parse("2024-12-30T23:59:59Z", to, now()).unwrap_err();
        assert_eq!(error.field(), "from");
    }

    #[test]
    fn a_start_alone_after_now_is_refused() {
        let error = ReportPeriod::parse("2027-01-01T00:00:00Z", "", now()).unwrap_err();
        assert_eq!(error.field(), "from");
    }
}
