//! Calendar sync (issue 24, part 5): Google Calendar connected through
//! OAuth 2.0 with PKCE, its tokens sealed, appointments pushed and busy
//! times read back.
//!
//! - [`oauth`]: the authorisation URL, the code exchange and the refresh,
//!   through the `oauth2` crate on the workspace's `reqwest`; revocation.
//! - [`google`]: the few Calendar v3 calls Rampart makes, on ONE calendar.
//! - [`store`]: the connection (tokens sealed under the tenant's data key),
//!   the pending authorisations (single use), the appointment-to-event map
//!   and the sync outbox.
//! - [`sync`]: the worker that claims sync rows under a lease and pushes
//!   appointments to the calendar, retrying with backoff.
//! - [`grpc`]: the `CalendarService` handlers.
//!
//! Only `https://www.googleapis.com/auth/calendar.events` is ever asked
//! for, and a grant of anything else (broader or narrower) is refused and
//! revoked: the business gives Rampart its events, not its calendars or
//! settings. Every endpoint is configuration, so tests and `rampart dev`
//! point them at a local server.

pub mod google;
pub mod grpc;
pub mod oauth;
pub mod store;
pub mod sync;

use rampart_kit::secret::SecretString;

pub use grpc::CalendarApi;
pub use sync::{SyncSchedule, spawn_sync};

/// The one scope Rampart asks for.
pub const EVENTS_SCOPE: &str = "https://www.googleapis.com/auth/calendar.events";

/// The OAuth and Calendar endpoints and the client registration.
#[derive(Clone)]
pub struct CalendarSettings {
    pub auth_url: String,
    pub token_url: String,
    pub revoke_url: String,
    /// The Calendar v3 base, without a trailing slash.
    pub api_base: String,
    /// `None`: calendar sync is not configured (connect answers
    /// UNAVAILABLE).
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
}

impl Default for CalendarSettings {
    /// Google's real endpoints, no client: not configured.
    fn default() -> Self {
        Self {
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".to_owned(),
            token_url: "https://oauth2.googleapis.com/token".to_owned(),
            revoke_url: "https://oauth2.googleapis.com/revoke".to_owned(),
            api_base: "https://www.googleapis.com/calendar/v3".to_owned(),
            client_id: None,
            client_secret: None,
        }
    }
}

/// Shows whether a secret is set, never the secret.
impl std::fmt::Debug for CalendarSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalendarSettings")
            .field("auth_url", &self.auth_url)
            .field("token_url", &self.token_url)
            .field("revoke_url", &self.revoke_url)
            .field("api_base", &self.api_base)
            .field("client_id", &self.client_id)
            .field("client_secret_set", &self.client_secret.is_some())
            .finish()
    }
}

impl CalendarSettings {
    /// Whether a client is registered.
    #[must_use]
    pub fn configured(&self) -> bool {
        self.client_id.is_some()
    }
}
