//! The tenant's connected calendar (Google Calendar, issue 24 part 5):
//! connecting it through OAuth 2.0 with PKCE, the provider's redirect back,
//! its status, disconnecting it, and the busy times booking reads.
//!
//! The redirect URI is built from the configured public URL, never from a
//! request's Host: a forged Host must not choose where the provider sends
//! the code. The callback takes no credential: the browser arrives from the
//! provider, and the single-use state (with the PKCE verifier the CRM
//! sealed with it) is what authenticates it, in the CRM. Which role or key
//! scope each other call needs is the CRM's check, as for the channels.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use rampart_kit::error::ErrorCode;
use rampart_proto::crm::v1::{
    BeginConnectRequest, CalendarConnection, CompleteConnectRequest, DisconnectRequest,
    GetConnectionRequest, ListBusyRequest,
};
use serde::{Deserialize, Serialize};
use tonic::Code;

use crate::Gateway;
use crate::authn::TenantCaller;
use crate::backends::{call, on_behalf_of, send};
use crate::json_body::JsonBody;
use crate::problem::ApiError;

/// The callback's path, under the public URL.
pub const CALLBACK_PATH: &str = "/v1/owner/calendar/callback";

/// Where the owner's browser lands once connected.
const CONSOLE_AFTER_CONNECT: &str = "/console/#calendar=connected";

/// The callback URL the provider sends the browser back to.
fn redirect_uri(gateway: &Gateway) -> Result<String, ApiError> {
    let public = gateway.config.public_url.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unavailable,
            "calendar sync is not configured: the gateway has no public URL",
        )
    })?;
    Ok(format!("{}{CALLBACK_PATH}", public.trim_end_matches('/')))
}

/// The CRM's "not configured" passes through (its other UNAVAILABLE
/// answers are replaced, as for every backend).
fn calendar_error(status: &tonic::Status) -> ApiError {
    if status.code() == Code::Unavailable && status.message() == "calendar sync is not configured" {
        ApiError::new(ErrorCode::Unavailable, status.message())
    } else {
        ApiError::from_backend("crm", status)
    }
}

/// The calendar to connect.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectCalendar {
    /// `primary`, or the id of one of the owner's calendars.
    #[schema(max_length = 255)]
    calendar_id: String,
}

/// Where to send the owner's browser.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Authorisation {
    /// The provider's consent page (code flow, PKCE S256, the events scope
    /// only); valid for 10 minutes, once.
    authorization_url: String,
}

/// `POST /v1/owner/calendar/connect`
#[utoipa::path(
    post,
    path = "/v1/owner/calendar/connect",
    tag = "owner",
    request_body = ConnectCalendar,
    responses(
        (status = 200, description = "The provider URL to send the owner's browser to", body = Authorisation),
        (status = 400, description = "calendar_id is invalid"),
        (status = 403, description = "Not the owner, or a key without the owner scope"),
        (status = 503, description = "Calendar sync is not configured"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn connect(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    JsonBody(body): JsonBody<ConnectCalendar>,
) -> Result<Json<Authorisation>, ApiError> {
    let redirect_uri = redirect_uri(&gateway)?;
    let request = on_behalf_of(
        &caller.principal,
        &gateway.backends.calendar,
        BeginConnectRequest {
            calendar_id: body.calendar_id,
            redirect_uri,
        },
    )?;
    let answer = gateway
        .backends
        .calendar
        .clone()
        .begin_connect(request)
        .await
        .map_err(|status| calendar_error(&status))?
        .into_inner();
    Ok(Json(Authorisation {
        authorization_url: answer.authorization_url,
    }))
}

/// What the provider appends to the callback.
#[derive(Debug, Deserialize)]
struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    /// Set instead of `code` when the owner declined.
    #[serde(default)]
    error: Option<String>,
}

/// `GET /v1/owner/calendar/callback`
#[utoipa::path(
    get,
    path = "/v1/owner/calendar/callback",
    tag = "owner",
    params(
        ("code" = Option<String>, Query, description = "The authorization code"),
        ("state" = String, Query, description = "The state of the authorisation, single use"),
        ("error" = Option<String>, Query, description = "Set by the provider when the owner declined"),
    ),
    responses(
        (status = 200, description = "Connected: a page that sends the browser on to the console", content_type = "text/html"),
        (status = 400, description = "No state"),
        (status = 403, description = "An unknown, used or expired state, a refused code, or a grant of another scope than the events scope (revoked, nothing stored)"),
        (status = 503, description = "The provider could not be reached"),
    ),
)]
pub async fn callback(
    State(gateway): State<Arc<Gateway>>,
    uri: http::Uri,
) -> Result<Response, ApiError> {
    let query: CallbackQuery = super::query(&uri)?;
    let state = query
        .state
        .filter(|state| !state.is_empty())
        .ok_or_else(|| ApiError::invalid("the callback needs the state the provider sends back"))?;
    // A declined consent still uses up its state (the CRM records it).
    let code = if query.error.is_some() {
        String::new()
    } else {
        query.code.unwrap_or_default()
    };
    send(
        &gateway.backends.calendar,
        tonic::Request::new(CompleteConnectRequest { code, state }),
        async |mut calendar, request| calendar.complete_connect(request).await,
    )
    .await?;
    let console = match gateway.config.public_url.as_deref() {
        Some(public) => format!("{}{CONSOLE_AFTER_CONNECT}", public.trim_end_matches('/')),
        None => CONSOLE_AFTER_CONNECT.to_owned(),
    };
    Ok(connected_page(&console))
}

/// The page the browser lands on once connected: on to the console. A
/// page (not a 303) so that the REST document's rule, a success answer for
/// every route, holds; a meta refresh needs no script.
fn connected_page(console: &str) -> Response {
    let escaped = console
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"0;url={escaped}\">\
         <title>Calendar connected</title></head>\
         <body><p>Calendar connected. <a href=\"{escaped}\">Back to the console</a>.</p></body></html>"
    );
    (
        [(http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

/// The connected calendar, never its tokens.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CalendarStatus {
    connected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    calendar_id: Option<String>,
    /// The scope granted: exactly the calendar events scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connected_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connected_at: Option<String>,
    /// Appointment changes not yet in the calendar.
    pending_changes: u32,
}

impl From<CalendarConnection> for CalendarStatus {
    fn from(connection: CalendarConnection) -> Self {
        let some = |text: String| (!text.is_empty()).then_some(text);
        Self {
            connected: connection.connected,
            provider: some(connection.provider),
            calendar_id: some(connection.calendar_id),
            scope: some(connection.scope),
            connected_by: some(connection.connected_by),
            connected_at: some(connection.connected_at),
            pending_changes: connection.pending_changes,
        }
    }
}

/// `GET /v1/owner/calendar`
#[utoipa::path(
    get,
    path = "/v1/owner/calendar",
    tag = "owner",
    responses(
        (status = 200, description = "Whether a calendar is connected, and which", body = CalendarStatus),
        (status = 403, description = "Not the owner, or a key without the owner scope"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn status(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
) -> Result<Json<CalendarStatus>, ApiError> {
    let connection = call(
        &caller.principal,
        &gateway.backends.calendar,
        GetConnectionRequest {},
        async |mut calendar, request| calendar.get_connection(request).await,
    )
    .await?;
    Ok(Json(connection.into()))
}

/// `DELETE /v1/owner/calendar`
#[utoipa::path(
    delete,
    path = "/v1/owner/calendar",
    tag = "owner",
    responses(
        (status = 204, description = "Revoked at the provider, then deleted"),
        (status = 403, description = "Not the owner, or a key without the owner scope"),
        (status = 404, description = "No calendar is connected"),
        (status = 503, description = "The provider did not confirm the revocation; still connected"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn disconnect(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
) -> Result<StatusCode, ApiError> {
    call(
        &caller.principal,
        &gateway.backends.calendar,
        DisconnectRequest {},
        async |mut calendar, request| calendar.disconnect(request).await,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BusyQuery {
    from: String,
    to: String,
}

/// A busy interval.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BusyInterval {
    starts_at: String,
    ends_at: String,
    /// `calendar` (an event in the connected calendar) or `appointment`.
    source: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BusyTimes {
    intervals: Vec<BusyInterval>,
    calendar_connected: bool,
}

/// `GET /v1/calendar/busy`
#[utoipa::path(
    get,
    path = "/v1/calendar/busy",
    tag = "owner",
    params(
        ("from" = String, Query, description = "RFC 3339"),
        ("to" = String, Query, description = "RFC 3339; at most 62 days after from"),
    ),
    responses(
        (status = 200, description = "Busy intervals, by start: the connected calendar's events merged with the tenant's appointments", body = BusyTimes),
        (status = 400, description = "from or to is missing or malformed, or the window is empty or too long"),
        (status = 403, description = "A key without the read scope"),
        (status = 503, description = "The connected calendar could not be read"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn busy(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    uri: http::Uri,
) -> Result<Json<BusyTimes>, ApiError> {
    let query: BusyQuery = super::query(&uri)?;
    let busy = call(
        &caller.principal,
        &gateway.backends.calendar,
        ListBusyRequest {
            from: query.from,
            to: query.to,
        },
        async |mut calendar, request| calendar.list_busy(request).await,
    )
    .await?;
    Ok(Json(BusyTimes {
        intervals: busy
            .intervals
            .into_iter()
            .map(|interval| BusyInterval {
                starts_at: interval.starts_at,
                ends_at: interval.ends_at,
                source: interval.source,
            })
            .collect(),
        calendar_connected: busy.calendar_connected,
    }))
}
