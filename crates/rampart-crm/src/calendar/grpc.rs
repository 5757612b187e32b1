//! `CalendarService`: connecting, the status, disconnecting and busy times.
//!
//! Same steps as every CRM handler: principal, authorisation, parsing,
//! store, mapping. Connecting and disconnecting are the owner's (an owner
//! session or an `owner`-scoped key); busy times are for booking (any
//! signed-in user or a `read`-scoped key). `CompleteConnect` has no
//! principal: it is the provider's redirect, and what authenticates it is
//! the single-use state (whose hash names the pending authorisation) and
//! the PKCE verifier sealed with it, which the code is worthless without.

use chrono::{DateTime, SecondsFormat, Utc};
use rampart_kit::error::ErrorCode;
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::{Principal, Role, Scope};
use rampart_kit::secret::ExposeSecret;
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::calendar_service_server::CalendarService;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tonic::{Request, Response, Status};

use super::oauth::{OAuth, OAuthError};
use super::store::{self, PROVIDER, Taken};
use super::sync::{Done, Op, PushError, with_token};
use super::{CalendarSettings, EVENTS_SCOPE};
use crate::entity::appointment;
use crate::store::DataScope;
use crate::vault::Vault;

/// The longest busy window one call reads.
const MAX_BUSY_WINDOW: chrono::Duration = chrono::Duration::days(62);
/// The most appointments one busy read merges.
const MAX_APPOINTMENTS: u64 = 500;

/// The `CalendarService` implementation.
#[derive(Debug, Clone)]
pub struct CalendarApi {
    db: DatabaseConnection,
    outbox: Outbox,
    vault: Vault,
    oauth: OAuth,
}

impl CalendarApi {
    #[must_use]
    pub fn new(
        db: DatabaseConnection,
        outbox: Outbox,
        vault: Vault,
        settings: CalendarSettings,
    ) -> Self {
        Self {
            db,
            outbox,
            vault,
            oauth: OAuth::new(settings),
        }
    }

    fn storage(&self) -> store::Storage<'_> {
        store::Storage {
            db: &self.db,
            outbox: &self.outbox,
            vault: &self.vault,
        }
    }

    /// The audit event of a callback, as the person who started it: the
    /// callback itself carries no principal.
    fn callback_event(taken: &Taken, action: &str) -> AuditRecord {
        let system = Principal::system(taken.scope.tenant_id.clone(), ServiceName::Crm)
            .in_mode(taken.scope.mode);
        let mut event = AuditRecord::success(
            &system,
            Some(taken.scope.tenant_id.as_str()),
            action,
            format!("calendar:{PROVIDER}"),
        )
        .with_detail("provider", PROVIDER)
        .with_detail("mode", taken.scope.mode.as_str());
        event.actor.clone_from(&taken.row.requested_by);
        event.credential_id.clone_from(&taken.row.credential_id);
        event
    }

    /// Refuses a grant: revokes what was issued, records the failure.
    async fn refuse(&self, taken: &Taken, tokens: &super::oauth::Tokens, reason: &str) -> Status {
        let token = tokens
            .refresh_token
            .as_ref()
            .unwrap_or(&tokens.access_token);
        if let Err(error) = self.oauth.revoke(token.expose_secret()).await {
            tracing::error!(error = %error, "revoking a refused calendar grant failed");
        }
        self.record_failure(taken, reason).await;
        ErrorCode::PermissionDenied.status(format!("the calendar connection was refused: {reason}"))
    }

    async fn record_failure(&self, taken: &Taken, reason: &str) {
        let event = Self::callback_event(taken, "calendar.connect_failed")
            .with_outcome("failure")
            .with_detail("reason", reason);
        if let Err(error) = self.outbox.record(&self.db, [event]).await {
            tracing::error!(error = %error, "recording a refused calendar connection failed");
        }
    }
}

/// An owner session, or a key with the `owner` scope.
fn owner(principal: &Principal) -> Result<(), Status> {
    if principal.user.is_some() {
        principal.require_role(Role::Owner).map(|_| ())
    } else {
        principal.require_scope(Scope::Owner)
    }
}

fn oauth_status(error: &OAuthError) -> Status {
    match error {
        OAuthError::NotConfigured => {
            ErrorCode::Unavailable.status("calendar sync is not configured")
        }
        OAuthError::Transport(_) => {
            ErrorCode::Unavailable.status("the calendar provider could not be reached")
        }
        OAuthError::Refused(_) | OAuthError::BadEndpoint(_) => {
            ErrorCode::Unavailable.status("the calendar provider refused the request")
        }
    }
}

fn push_status(error: PushError) -> Status {
    match error {
        PushError::Store(error) => error.into(),
        PushError::Calendar(error) => {
            tracing::warn!(error = %error, "calendar call failed");
            ErrorCode::Unavailable.status("the connected calendar could not be read")
        }
    }
}

/// A calendar id: `primary` or the id the provider shows, 1 to 255
/// printable characters.
fn parse_calendar_id(text: &str) -> Result<String, Status> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 255 || text.chars().any(char::is_control) {
        return Err(ErrorCode::InvalidArgument
            .status("calendar_id must be 1 to 255 printable characters (\"primary\" or an id)"));
    }
    Ok(text.to_owned())
}

fn parse_time(field: &str, text: &str) -> Result<DateTime<Utc>, Status> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| ErrorCode::InvalidArgument.status(format!("{field} must be an RFC 3339 time")))
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Whether a granted scope is exactly the events scope.
#[must_use]
pub fn exactly_events_scope(granted: &str) -> bool {
    let mut scopes: Vec<&str> = granted.split_whitespace().collect();
    scopes.sort_unstable();
    scopes.dedup();
    scopes == [EVENTS_SCOPE]
}

#[tonic::async_trait]
impl CalendarService for CalendarApi {
    async fn begin_connect(
        &self,
        request: Request<proto::BeginConnectRequest>,
    ) -> Result<Response<proto::BeginConnectResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        owner(&principal)?;
        let request = request.into_inner();
        let calendar_id = parse_calendar_id(&request.calendar_id)?;
        if !(request.redirect_uri.starts_with("https://")
            || request.redirect_uri.starts_with("http://"))
        {
            return Err(ErrorCode::InvalidArgument.status("redirect_uri must be an http(s) URL"));
        }
        let authorisation = self
            .oauth
            .authorise(&request.redirect_uri)
            .map_err(|error| oauth_status(&error))?;
        let recorded = store::begin(
            self.storage(),
            &scope,
            &principal,
            &calendar_id,
            &request.redirect_uri,
            &authorisation,
        )
        .await?;
        if !recorded {
            return Err(ErrorCode::ResourceExhausted.status(
                "too many calendar authorisations in flight; finish or wait for one (10 minutes)",
            ));
        }
        tracing::info!(
            request_id = %principal.request_id,
            "calendar authorisation started"
        );
        Ok(Response::new(proto::BeginConnectResponse {
            authorization_url: authorisation.url,
        }))
    }

    async fn complete_connect(
        &self,
        request: Request<proto::CompleteConnectRequest>,
    ) -> Result<Response<proto::CompleteConnectResponse>, Status> {
        let request = request.into_inner();
        if request.state.is_empty() || request.state.len() > 512 || request.code.len() > 4096 {
            return Err(ErrorCode::PermissionDenied.status("unknown or used authorisation state"));
        }
        let Some(taken) =
            store::take_pending(&self.db, &self.outbox, &self.vault, &request.state).await?
        else {
            return Err(ErrorCode::PermissionDenied.status("unknown or used authorisation state"));
        };
        if request.code.is_empty() {
            self.record_failure(&taken, "no code").await;
            return Err(ErrorCode::PermissionDenied.status("the provider sent no code"));
        }
        let tokens = match self
            .oauth
            .exchange(
                &taken.row.redirect_uri,
                &request.code,
                taken.verifier.expose_secret(),
            )
            .await
        {
            Ok(tokens) => tokens,
            Err(error) => {
                tracing::warn!(error = %error, "calendar code exchange failed");
                self.record_failure(&taken, "code exchange failed").await;
                return Err(match error {
                    OAuthError::Refused(_) => ErrorCode::PermissionDenied
                        .status("the provider refused the authorisation code"),
                    other => oauth_status(&other),
                });
            }
        };
        let Some(granted) = tokens.scope.clone() else {
            return Err(self
                .refuse(&taken, &tokens, "the provider did not say what it granted")
                .await);
        };
        if !exactly_events_scope(&granted) {
            return Err(self
                .refuse(
                    &taken,
                    &tokens,
                    "the granted scope is not exactly the calendar events scope",
                )
                .await);
        }
        let Some(refresh_token) = tokens.refresh_token.clone() else {
            return Err(self
                .refuse(&taken, &tokens, "the provider issued no refresh token")
                .await);
        };
        let event = Self::callback_event(&taken, "calendar.connected");
        store::connect(
            self.storage(),
            &taken,
            &tokens,
            &refresh_token,
            &granted,
            event,
        )
        .await?;
        tracing::info!(tenant_id = %taken.scope.tenant_id, "calendar connected");
        Ok(Response::new(proto::CompleteConnectResponse {
            tenant_id: taken.scope.tenant_id.as_str().to_owned(),
            calendar_id: taken.row.calendar_id.clone(),
        }))
    }

    async fn get_connection(
        &self,
        request: Request<proto::GetConnectionRequest>,
    ) -> Result<Response<proto::CalendarConnection>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        owner(&principal)?;
        let Some(row) = store::connection(&self.db, &scope).await? else {
            return Ok(Response::new(proto::CalendarConnection::default()));
        };
        let pending = store::pending_changes(&self.db, &scope).await?;
        Ok(Response::new(proto::CalendarConnection {
            connected: true,
            provider: row.provider,
            calendar_id: row.calendar_id,
            scope: row.scope,
            connected_by: row.connected_by,
            connected_at: timestamp(row.connected_at),
            pending_changes: u32::try_from(pending).unwrap_or(u32::MAX),
        }))
    }

    async fn disconnect(
        &self,
        request: Request<proto::DisconnectRequest>,
    ) -> Result<Response<proto::DisconnectResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        owner(&principal)?;
        let Some(row) = store::connection(&self.db, &scope).await? else {
            return Err(ErrorCode::NotFound.status("no calendar is connected"));
        };
        let tokens = store::open_tokens(&self.db, &self.vault, &row).await?;
        // Revoked first: a connection deleted but not revoked would leave
        // a working grant nobody can see.
        self.oauth
            .revoke(tokens.refresh_token.expose_secret())
            .await
            .map_err(|error| {
                tracing::warn!(error = %error, "calendar revocation failed");
                ErrorCode::Unavailable.status(
                    "the provider did not confirm the revocation; the calendar is still connected, try again",
                )
            })?;
        let event = AuditRecord::success(
            &principal,
            Some(scope.tenant_id.as_str()),
            "calendar.disconnected",
            format!("calendar:{PROVIDER}"),
        )
        .with_detail("provider", PROVIDER)
        .with_detail("mode", scope.mode.as_str());
        store::disconnect(&self.db, &self.outbox, &scope, event).await?;
        tracing::info!(request_id = %principal.request_id, "calendar disconnected");
        Ok(Response::new(proto::DisconnectResponse {}))
    }

    async fn list_busy(
        &self,
        request: Request<proto::ListBusyRequest>,
    ) -> Result<Response<proto::ListBusyResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        if principal.user.is_none() {
            principal.require_scope(Scope::Read)?;
        }
        let request = request.into_inner();
        let from = parse_time("from", &request.from)?;
        let to = parse_time("to", &request.to)?;
        if to <= from || to - from > MAX_BUSY_WINDOW {
            return Err(ErrorCode::InvalidArgument
                .status("to must be after from, and the window at most 62 days"));
        }
        let mut intervals = Vec::new();
        let appointments = appointment::Entity::find()
            .filter(appointment::Column::TenantId.eq(scope.tenant_id.as_str()))
            .filter(appointment::Column::Mode.eq(scope.mode.as_str()))
            .filter(appointment::Column::Status.ne("cancelled"))
            .filter(appointment::Column::StartsAt.lt(to))
            .filter(appointment::Column::EndsAt.gt(from))
            .order_by_asc(appointment::Column::StartsAt)
            .limit(MAX_APPOINTMENTS)
            .all(&self.db)
            .await
            .map_err(crate::Error::from)?;
        for appointment in appointments {
            intervals.push((appointment.starts_at, appointment.ends_at, "appointment"));
        }
        let connection = store::connection(&self.db, &scope).await?;
        let calendar_connected = connection.is_some();
        if let Some(connection) = connection {
            let done = with_token(
                &self.db,
                &self.outbox,
                &self.vault,
                &self.oauth,
                &connection,
                &Op::Busy { from, to },
            )
            .await
            .map_err(push_status)?;
            let Done::Busy(busy) = done else {
                return Err(ErrorCode::Internal.status("a busy read answered no intervals"));
            };
            for interval in busy {
                intervals.push((interval.starts_at, interval.ends_at, "calendar"));
            }
        }
        intervals.sort_by_key(|(start, end, _)| (*start, *end));
        Ok(Response::new(proto::ListBusyResponse {
            intervals: intervals
                .into_iter()
                .map(|(start, end, source)| proto::BusyInterval {
                    starts_at: timestamp(start),
                    ends_at: timestamp(end),
                    source: source.to_owned(),
                })
                .collect(),
            calendar_connected,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exactly_the_events_scope_is_accepted() {
        assert!(exactly_events_scope(EVENTS_SCOPE));
        assert!(exactly_events_scope(&format!(
            " {EVENTS_SCOPE}  {EVENTS_SCOPE}"
        )));
        assert!(!exactly_events_scope(""));
        assert!(!exactly_events_scope(
            "https://www.googleapis.com/auth/calendar"
        ));
        assert!(!exactly_events_scope(&format!(
            "{EVENTS_SCOPE} https://www.googleapis.com/auth/calendar"
        )));
        assert!(!exactly_events_scope(
            "https://www.googleapis.com/auth/calendar.events.readonly"
        ));
    }

    #[test]
    fn calendar_ids_are_bounded_and_printable() {
        assert_eq!(parse_calendar_id(" primary ").unwrap(), "primary");
        assert!(parse_calendar_id("").is_err());
        assert!(parse_calendar_id("a\nb").is_err());
        assert!(parse_calendar_id(&"x".repeat(256)).is_err());
    }
}
