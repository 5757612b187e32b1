//! The Calendar v3 calls Rampart makes, all on the ONE calendar the owner
//! connected: insert, patch and delete an appointment's event, and list a
//! window's events for busy times.
//!
//! An appointment's event has an id derived from the appointment's
//! (`rampart` + the hex of its UUID: Google accepts ids of base32hex
//! characters, and these are), so inserting is idempotent (a second insert
//! answers 409 and becomes a patch) and Rampart's own events are told apart
//! from the business's when busy times are read.

use chrono::{DateTime, Utc};
use rampart_kit::secret::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::oauth::{OAuthError, http_client};

/// The prefix of every event id Rampart writes.
pub const EVENT_ID_PREFIX: &str = "rampart";

/// The event id of appointment `appointment_id` (`apt_<uuid>`).
#[must_use]
pub fn event_id_for(appointment_id: &str) -> String {
    let uuid = appointment_id
        .rsplit_once('_')
        .map_or(appointment_id, |(_, uuid)| uuid);
    let hex: String = uuid
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    format!("{EVENT_ID_PREFIX}{hex}")
}

/// What a Calendar call can end in.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// The access token was refused: refresh and try again.
    #[error("the access token was refused")]
    Unauthorised,
    /// The event is not there (deleted in the calendar, or never written).
    #[error("no such event")]
    NotFound,
    /// An event with this id exists already.
    #[error("the event exists")]
    Exists,
    #[error("the calendar answered {0}")]
    Failed(String),
    #[error(transparent)]
    Transport(#[from] OAuthError),
}

/// An appointment as its event shows it. No customer data: the calendar
/// is the provider's, so the event says what and when, not who.
#[derive(Debug, Clone)]
pub struct EventBody {
    pub appointment_id: String,
    pub summary: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl EventBody {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "summary": self.summary,
            "start": {"dateTime": self.starts_at.to_rfc3339()},
            "end": {"dateTime": self.ends_at.to_rfc3339()},
            "extendedProperties": {"private": {"rampart_appointment": self.appointment_id}},
        })
    }
}

/// A busy interval read from the calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// One calendar, with an access token.
pub struct Calendar<'a> {
    pub api_base: &'a str,
    pub calendar_id: &'a str,
    pub access_token: &'a SecretString,
}

#[derive(Deserialize)]
struct EventList {
    #[serde(default)]
    items: Vec<EventItem>,
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct EventItem {
    #[serde(default)]
    id: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    transparency: String,
    start: Option<EventTime>,
    end: Option<EventTime>,
}

#[derive(Deserialize)]
struct EventTime {
    #[serde(rename = "dateTime")]
    date_time: Option<DateTime<chrono::FixedOffset>>,
}

/// The most pages one busy read follows.
const MAX_PAGES: usize = 5;

impl Calendar<'_> {
    fn events_url(&self) -> String {
        format!(
            "{}/calendars/{}/events",
            self.api_base,
            utf8_percent(self.calendar_id)
        )
    }

    fn event_url(&self, event_id: &str) -> String {
        format!("{}/{}", self.events_url(), utf8_percent(event_id))
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, CalendarError> {
        let response = request
            .bearer_auth(self.access_token.expose_secret())
            .send()
            .await
            .map_err(|error| OAuthError::Transport(error.without_url().to_string()))?;
        match response.status().as_u16() {
            200..=299 => Ok(response),
            401 => Err(CalendarError::Unauthorised),
            404 | 410 => Err(CalendarError::NotFound),
            409 => Err(CalendarError::Exists),
            status => Err(CalendarError::Failed(status.to_string())),
        }
    }

    /// Inserts the appointment's event (id from [`event_id_for`]).
    pub async fn insert(&self, event: &EventBody) -> Result<String, CalendarError> {
        let id = event_id_for(&event.appointment_id);
        let mut body = event.to_json();
        body["id"] = json!(id);
        let client = http_client()?;
        self.send(client.post(self.events_url()).json(&body))
            .await?;
        Ok(id)
    }

    /// Changes the event's time and summary.
    pub async fn patch(&self, event_id: &str, event: &EventBody) -> Result<(), CalendarError> {
        let client = http_client()?;
        self.send(
            client
                .patch(self.event_url(event_id))
                .json(&event.to_json()),
        )
        .await?;
        Ok(())
    }

    /// Deletes the event; one already gone is deleted.
    pub async fn delete(&self, event_id: &str) -> Result<(), CalendarError> {
        let client = http_client()?;
        match self.send(client.delete(self.event_url(event_id))).await {
            Ok(_) | Err(CalendarError::NotFound) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// The calendar's busy times in `[from, to)`: confirmed, opaque,
    /// timed events that Rampart did not write.
    pub async fn busy(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Busy>, CalendarError> {
        let client = http_client()?;
        let mut busy = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("timeMin", from.to_rfc3339()),
                ("timeMax", to.to_rfc3339()),
                ("singleEvents", "true".to_owned()),
                ("maxResults", "250".to_owned()),
            ];
            if let Some(token) = &page_token {
                query.push(("pageToken", token.clone()));
            }
            let url = url::Url::parse_with_params(&self.events_url(), &query)
                .map_err(|error| CalendarError::Failed(format!("bad list URL: {error}")))?;
            let response = self.send(client.get(url)).await?;
            let list: EventList = response
                .json()
                .await
                .map_err(|error| CalendarError::Failed(format!("unreadable list: {error}")))?;
            for item in list.items {
                if item.id.starts_with(EVENT_ID_PREFIX)
                    || item.status == "cancelled"
                    || item.transparency == "transparent"
                {
                    continue;
                }
                let (Some(start), Some(end)) = (
                    item.start.and_then(|t| t.date_time),
                    item.end.and_then(|t| t.date_time),
                ) else {
                    continue;
                };
                busy.push(Busy {
                    starts_at: start.with_timezone(&Utc),
                    ends_at: end.with_timezone(&Utc),
                });
            }
            match list.next_page_token {
                Some(token) => page_token = Some(token),
                None => break,
            }
        }
        Ok(busy)
    }
}

/// Percent-encodes a path segment (calendar ids hold `@` and `#`).
fn utf8_percent(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_base32hex_and_derived_from_the_appointment() {
        let id = event_id_for("apt_0190f3c27a1b7c3d8e4f0123456789ab");
        assert_eq!(id, "rampart0190f3c27a1b7c3d8e4f0123456789ab");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b))
        );
    }

    #[test]
    fn calendar_ids_are_one_path_segment() {
        assert_eq!(
            utf8_percent("team#x@group.calendar.google.com/../x"),
            "team%23x%40group.calendar.google.com%2F..%2Fx"
        );
    }
}
