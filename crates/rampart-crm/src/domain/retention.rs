//! Retention periods: how many days a class of a tenant's data is kept.
//!
//! A period is 1 to 3650 days (ten years); absent means keep indefinitely.
//! Zero is refused rather than read as "delete at once", which would be an
//! easy and irreversible mistake.

use super::InvalidInput;

pub const MIN_DAYS: u32 = 1;
pub const MAX_DAYS: u32 = 3650;

/// A bounded number of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionDays(u32);

impl RetentionDays {
    /// `field` names the request field in a refusal.
    pub fn parse(field: &'static str, days: u32) -> Result<Self, InvalidInput> {
        if (MIN_DAYS..=MAX_DAYS).contains(&days) {
            Ok(Self(days))
        } else {
            Err(InvalidInput::new(
                field,
                "must be between 1 and 3650 days, or absent to keep indefinitely",
            ))
        }
    }

    #[must_use]
    pub fn get(self) -> u32 {
        self.0
    }
}

/// The periods of each data class; `None` keeps it indefinitely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionPeriods {
    /// Closed conversations and their transcripts.
    pub conversations: Option<RetentionDays>,
    pub job_notes: Option<RetentionDays>,
    /// Customers with no activity.
    pub inactive_customers: Option<RetentionDays>,
}

impl RetentionPeriods {
    /// Parses the three optional day counts of a request.
    pub fn parse(
        conversations: Option<u32>,
        job_notes: Option<u32>,
        inactive_customers: Option<u32>,
    ) -> Result<Self, InvalidInput> {
        let days = |field, value: Option<u32>| {
            value
                .map(|days| RetentionDays::parse(field, days))
                .transpose()
        };
        Ok(Self {
            conversations: days("conversations_days", conversations)?,
            job_notes: days("job_notes_days", job_notes)?,
            inactive_customers: days("inactive_customers_days", inactive_customers)?,
        })
    }

    /// Each field's request name and value ("keep" when absent): short,
    /// never personal, so the audit log may carry them.
    #[must_use]
    pub fn fields(&self) -> [(&'static str, String); 3] {
        let show = |days: Option<RetentionDays>| {
            days.map_or_else(|| "keep".to_owned(), |days| days.get().to_string())
        };
        [
            ("conversations_days", show(self.conversations)),
            ("job_notes_days", show(self.job_notes)),
            ("inactive_customers_days", show(self.inactive_customers)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive_and_the_field_is_named() {
        assert!(RetentionPeriods::parse(Some(1), Some(3650), None).is_ok());
        let error = RetentionPeriods::parse(Some(30), Some(0), None).unwrap_err();
        assert_eq!(error.field(), "job_notes_days");
        let error = RetentionPeriods::parse(None, None, Some(3651)).unwrap_err();
        assert_eq!(error.field(), "inactive_customers_days");
    }

    #[test]
    fn absent_reads_as_keep() {
        let periods = RetentionPeriods::parse(Some(90), None, None).unwrap();
        assert_eq!(periods.fields()[0].1, "90");
        assert_eq!(periods.fields()[1].1, "keep");
    }
}
