//! The tenant's configuration: business settings (managers), channels,
//! retention periods and legal holds (owners).
//!
//! Tenant keys and tenant users' sessions are accepted here; which role or
//! key scope each call needs is the CRM's check (`settings` for business
//! settings, `owner` for the rest), so the rule lives in one place.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use rampart_proto::crm::v1::{
    BusinessSettings, ChannelView, CreateChannelRequest, DeleteChannelRequest, GetRetentionRequest,
    GetSettingsRequest, LegalHold, ListChannelsRequest, PutRetentionRequest, PutSettingsRequest,
    RetentionSettings, SetLegalHoldRequest,
};
use serde::{Deserialize, Serialize};

use super::page::non_empty;
use crate::Gateway;
use crate::authn::TenantCaller;
use crate::backends::call;
use crate::json_body::JsonBody;
use crate::problem::ApiError;

/// A version of the business settings.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SettingsView {
    /// 0 is the defaults, until the tenant writes its settings.
    version: u32,
    /// RFC 3339; absent for version 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<String>,
    /// Who wrote it (`user:usr_...`, `api_key:key_...`); absent for version 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_by: Option<String>,
    /// `time_zone` (IANA name), `opening_hours` (each weekday `monday` ..
    /// `sunday`: a list of up to 4 `{"open": "HH:MM", "close": "HH:MM"}`,
    /// empty when closed), `emergency` (`keywords`: up to 30 texts,
    /// `after_hours_phone`: a number or null), `sms_templates` (up to 30
    /// names of `a-z0-9_` to texts of up to 480 characters, using only the
    /// placeholders `{customer_name}`, `{business_name}`,
    /// `{business_phone}`, `{appointment_date}`, `{appointment_time}`,
    /// `{technician_name}`, `{link}`), `pricing_notes` (up to 4000
    /// characters), `transcripts_enabled` (tenant-wide; changed in live
    /// mode only).
    #[schema(value_type = Object)]
    settings: serde_json::Value,
}

impl TryFrom<BusinessSettings> for SettingsView {
    type Error = ApiError;

    fn try_from(settings: BusinessSettings) -> Result<Self, ApiError> {
        Ok(Self {
            version: settings.version,
            updated_at: non_empty(settings.updated_at),
            updated_by: non_empty(settings.updated_by),
            settings: serde_json::from_str(&settings.document).map_err(ApiError::internal)?,
        })
    }
}

/// Answers a settings version with its `ETag`, the version a later `PUT`
/// may name in `If-Match`.
fn with_etag(view: SettingsView) -> (HeaderMap, Json<SettingsView>) {
    let mut headers = HeaderMap::new();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", view.version)) {
        headers.insert(header::ETAG, etag);
    }
    (headers, Json(view))
}

/// `GET /v1/owner/settings`
#[utoipa::path(
    get,
    path = "/v1/owner/settings",
    tag = "owner",
    responses(
        (status = 200, description = "The business settings; the ETag header holds their version", body = SettingsView),
        (status = 403, description = "Not a manager or owner, or a key without the settings scope"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn get_settings(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
) -> Result<(HeaderMap, Json<SettingsView>), ApiError> {
    let settings = call(
        &caller.principal,
        &gateway.backends.owner,
        GetSettingsRequest {},
        async |mut owner, request| owner.get_settings(request).await,
    )
    .await?;
    Ok(with_etag(settings.try_into()?))
}

/// The whole settings document to write.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSettings {
    /// Every field of the document (see the GET's answer) must be present.
    #[schema(value_type = Object)]
    settings: serde_json::Value,
}

/// `PUT /v1/owner/settings`: replaces the whole document, audited with
/// the names of the changed fields.
#[utoipa::path(
    put,
    path = "/v1/owner/settings",
    tag = "owner",
    params(("If-Match" = Option<String>, Header, description = "The version this edit started from (the GET's ETag): the write fails with 409 if another was written since", max_length = 16)),
    request_body = NewSettings,
    responses(
        (status = 200, description = "The new version; the ETag header holds it", body = SettingsView),
        (status = 400, description = "The document is invalid; the detail names the field"),
        (status = 403, description = "Not a manager or owner, or a key without the settings scope"),
        (status = 409, description = "Another version was written since the one named in If-Match"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn put_settings(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewSettings>,
) -> Result<(HeaderMap, Json<SettingsView>), ApiError> {
    let expected_version = match headers.get(header::IF_MATCH) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .map(|text| text.trim().trim_start_matches("W/").trim_matches('"'))
                .and_then(|text| text.parse::<u32>().ok())
                .ok_or_else(|| {
                    ApiError::invalid("If-Match must be a settings version, as the ETag gives it")
                })?,
        ),
    };
    if !body.settings.is_object() {
        return Err(ApiError::invalid("settings must be a JSON object"));
    }
    let settings = call(
        &caller.principal,
        &gateway.backends.owner,
        PutSettingsRequest {
            document: body.settings.to_string(),
            expected_version,
        },
        async |mut owner, request| owner.put_settings(request).await,
    )
    .await?;
    Ok(with_etag(settings.try_into()?))
}

/// A channel to connect.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    /// `sms`, `phone`, `email`, `web`, `widget` or `twilio`.
    #[schema(max_length = 16)]
    kind: String,
    #[schema(max_length = 100)]
    display_name: String,
    /// A `twilio` channel's E.164 number (`+` and 8 to 15 digits), where
    /// its SMS and calls arrive; required for `twilio`, refused for every
    /// other kind. A `twilio` channel's credentials must hold
    /// `account_sid` and `auth_token`.
    #[serde(default)]
    #[schema(max_length = 16, example = "+14155550100")]
    phone_number: Option<String>,
    /// Write-only secrets such as `{"account_sid": "...", "auth_token":
    /// "..."}`: up to 10 names of `A-Za-z0-9_-`, each value up to 4096
    /// characters. Stored encrypted; never returned.
    #[serde(default)]
    credentials: Option<BTreeMap<String, String>>,
}

/// A connected channel; its credentials are shown only by name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelSummary {
    id: String,
    kind: String,
    display_name: String,
    credentials_set: bool,
    /// The names of the stored credentials, never their values.
    credential_names: Vec<String>,
    created_at: String,
    /// A `twilio` channel's number.
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<String>,
}

impl From<ChannelView> for ChannelSummary {
    fn from(channel: ChannelView) -> Self {
        Self {
            id: channel.id,
            kind: channel.kind,
            display_name: channel.display_name,
            credentials_set: channel.credentials_set,
            credential_names: channel.credential_names,
            created_at: channel.created_at,
            phone_number: (!channel.phone_number.is_empty()).then_some(channel.phone_number),
        }
    }
}

/// `POST /v1/owner/channels`
#[utoipa::path(
    post,
    path = "/v1/owner/channels",
    tag = "owner",
    request_body = NewChannel,
    responses(
        (status = 201, description = "The channel, connected", body = ChannelSummary),
        (status = 400, description = "A field is invalid (kind, display_name, credentials)"),
        (status = 403, description = "Not the owner, or a key without the owner scope"),
        (status = 409, description = "The tenant already has the most channels allowed, or the phone number is already connected (whose is not said)"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn create_channel(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    JsonBody(body): JsonBody<NewChannel>,
) -> Result<(StatusCode, Json<ChannelSummary>), ApiError> {
    let credentials = match body.credentials {
        None => String::new(),
        Some(credentials) => serde_json::to_string(&credentials).map_err(ApiError::internal)?,
    };
    let channel = call(
        &caller.principal,
        &gateway.backends.owner,
        CreateChannelRequest {
            kind: body.kind,
            display_name: body.display_name,
            credentials,
            phone_number: body.phone_number.unwrap_or_default(),
        },
        async |mut owner, request| owner.create_channel(request).await,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(channel.into())))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelList {
    #[schema(max_items = 50)]
    channels: Vec<ChannelSummary>,
}

/// `GET /v1/owner/channels`
#[utoipa::path(
    get,
    path = "/v1/owner/channels",
    tag = "owner",
    responses(
        (status = 200, description = "The tenant's channels, oldest first", body = ChannelList),
        (status = 403, description = "Not the owner, or a key without the owner scope"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn list_channels(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
) -> Result<Json<ChannelList>, ApiError> {
    let list = call(
        &caller.principal,
        &gateway.backends.owner,
        ListChannelsRequest {},
        async |mut owner, request| owner.list_channels(request).await,
    )
    .await?;
    Ok(Json(ChannelList {
        channels: list.channels.into_iter().map(Into::into).collect(),
    }))
}

/// `DELETE /v1/owner/channels/{channel_id}`: disconnects the channel and
/// destroys its stored credentials.
#[utoipa::path(
    delete,
    path = "/v1/owner/channels/{channel_id}",
    tag = "owner",
    params(("channel_id" = String, Path, description = "The channel's id (chn_...)", max_length = 64)),
    responses(
        (status = 204, description = "The channel is disconnected"),
        (status = 403, description = "Not the owner, or a key without the owner scope"),
        (status = 404, description = "No such channel in the caller's tenant"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn delete_channel(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    Path(channel_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    call(
        &caller.principal,
        &gateway.backends.owner,
        DeleteChannelRequest { channel_id },
        async |mut owner, request| owner.delete_channel(request).await,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How long each class of the tenant's data is kept.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RetentionView {
    /// Days to keep closed conversations and their transcripts; null: keep.
    conversations_days: Option<u32>,
    /// Days to keep job notes; null: keep.
    job_notes_days: Option<u32>,
    /// Days to keep customers with no activity; null: keep.
    inactive_customers_days: Option<u32>,
    /// Read-only: the audit log is exempt and kept for its own period.
    audit_log: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_by: Option<String>,
}

impl From<RetentionSettings> for RetentionView {
    fn from(settings: RetentionSettings) -> Self {
        Self {
            conversations_days: settings.conversations_days,
            job_notes_days: settings.job_notes_days,
            inactive_customers_days: settings.inactive_customers_days,
            audit_log: settings.audit_log,
            updated_at: non_empty(settings.updated_at),
            updated_by: non_empty(settings.updated_by),
        }
    }
}

/// `GET /v1/owner/retention`
#[utoipa::path(
    get,
    path = "/v1/owner/retention",
    tag = "owner",
    responses(
        (status = 200, description = "The retention periods", body = RetentionView),
        (status = 403, description = "Not the owner, or a key without the owner scope"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn get_retention(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
) -> Result<Json<RetentionView>, ApiError> {
    let settings = call(
        &caller.principal,
        &gateway.backends.owner,
        GetRetentionRequest {},
        async |mut owner, request| owner.get_retention(request).await,
    )
    .await?;
    Ok(Json(settings.into()))
}

/// The retention periods to set; an absent or null period keeps that data
/// indefinitely.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRetention {
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    conversations_days: Option<u32>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    job_notes_days: Option<u32>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    inactive_customers_days: Option<u32>,
}

/// `PUT /v1/owner/retention`: replaces every period, audited with the
/// values before and after. The deletion job that applies them runs
/// elsewhere.
#[utoipa::path(
    put,
    path = "/v1/owner/retention",
    tag = "owner",
    request_body = NewRetention,
    responses(
        (status = 200, description = "The periods now in force", body = RetentionView),
        (status = 400, description = "A period is outside 1..=3650 days; the detail names it"),
        (status = 403, description = "Not the owner, or a key without the owner scope"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn put_retention(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    JsonBody(body): JsonBody<NewRetention>,
) -> Result<Json<RetentionView>, ApiError> {
    let settings = call(
        &caller.principal,
        &gateway.backends.owner,
        PutRetentionRequest {
            conversations_days: body.conversations_days,
            job_notes_days: body.job_notes_days,
            inactive_customers_days: body.inactive_customers_days,
        },
        async |mut owner, request| owner.put_retention(request).await,
    )
    .await?;
    Ok(Json(settings.into()))
}

/// Place or release a legal hold.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLegalHold {
    held: bool,
    /// Why (1 to 500 characters); kept with the hold, not in the audit log.
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LegalHoldView {
    customer_id: String,
    held: bool,
    reason: String,
    /// Who placed or released it.
    changed_by: String,
    changed_at: String,
}

impl From<LegalHold> for LegalHoldView {
    fn from(hold: LegalHold) -> Self {
        Self {
            customer_id: hold.customer_id,
            held: hold.held,
            reason: hold.reason,
            changed_by: hold.changed_by,
            changed_at: hold.changed_at,
        }
    }
}

/// `PUT /v1/crm/customers/{customer_id}/legal-hold`: while held, the
/// customer's data is exempt from retention deletion and erasure.
#[utoipa::path(
    put,
    path = "/v1/crm/customers/{customer_id}/legal-hold",
    tag = "owner",
    params(("customer_id" = String, Path, description = "The customer's id (cus_...)", max_length = 64)),
    request_body = NewLegalHold,
    responses(
        (status = 200, description = "The hold as it now stands", body = LegalHoldView),
        (status = 400, description = "The reason is missing or too long"),
        (status = 403, description = "Not the owner, or a key without the owner scope"),
        (status = 404, description = "No such customer in the caller's tenant"),
    ),
    security(("tenant_api_key" = []), ("session" = [])),
)]
pub async fn set_legal_hold(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    Path(customer_id): Path<String>,
    JsonBody(body): JsonBody<NewLegalHold>,
) -> Result<Json<LegalHoldView>, ApiError> {
    let hold = call(
        &caller.principal,
        &gateway.backends.owner,
        SetLegalHoldRequest {
            customer_id,
            held: body.held,
            reason: body.reason,
        },
        async |mut owner, request| owner.set_legal_hold(request).await,
    )
    .await?;
    Ok(Json(hold.into()))
}
