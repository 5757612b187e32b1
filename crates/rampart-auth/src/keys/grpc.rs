//! The gRPC face of the auth service. Only the gateway may call it
//! (`AllowPeers` in [`crate::run`]); each handler parses its input, checks
//! who may do what, and hands over to [`Credentials`].

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rampart_kit::ids::{ApiKeyId, TenantId};
use rampart_kit::origins::Origin;
use rampart_kit::principal::Principal;
use rampart_proto::auth::v1::auth_service_server::AuthService;
use rampart_proto::auth::v1::{
    ApiKeyInfo, ChecklistReport, ContainIncidentRequest, GetLatestChecklistReportRequest, Incident,
    IncidentRequest, IsWidgetOriginRequest, IsWidgetOriginResponse, IssueApiKeyRequest,
    IssueApiKeyResponse, ListApiKeysRequest, ListApiKeysResponse, PrincipalKind,
    RecordKeyUsageRequest, RecordKeyUsageResponse, RevokeApiKeyRequest, RotateApiKeyRequest,
    RotateApiKeyResponse, SetTenantAccessRequest, SetTenantAccessResponse,
    SetTenantRateLimitRequest, SetTenantRateLimitResponse, StoreChecklistReportRequest,
    VerifyApiKeyRequest, VerifyApiKeyResponse,
};
use tonic::{Request, Response, Status};

use super::rules::{BOOTSTRAP_CREDENTIAL_ID, Credentials, IssuedKey, Verified, managed_owner};
use super::store::KeyRow;
use crate::access::{AccessState, MAX_BILLING_STATE_LEN, TenantAccess};
use crate::checklist_reports::{ChecklistReports, report_time};
use crate::domain::keys::{ADMIN_SCOPE, KeyOwner, KeySpec};
use crate::error::Error;
use crate::incidents::{Incidents, Target, parse_incident_id};

#[derive(Debug)]
pub(crate) struct AuthGrpc {
    credentials: Credentials,
    /// Tenants' access states, answered with each key's verdict and set
    /// by [`AuthService::set_tenant_access`].
    access: TenantAccess,
    /// Containment and restore (`rampart incident`); `None` answers
    /// Unimplemented.
    incidents: Option<Incidents>,
    /// The checklist's reports (`rampart checklist`); `None` answers
    /// Unimplemented.
    checklist_reports: Option<ChecklistReports>,
}

impl AuthGrpc {
    pub(crate) fn new(credentials: Credentials, access: TenantAccess) -> Self {
        Self {
            credentials,
            access,
            incidents: None,
            checklist_reports: None,
        }
    }

    pub(crate) fn with_incidents(mut self, incidents: Incidents) -> Self {
        self.incidents = Some(incidents);
        self
    }

    pub(crate) fn with_checklist_reports(mut self, reports: ChecklistReports) -> Self {
        self.checklist_reports = Some(reports);
        self
    }

    fn checklist_reports(&self) -> Result<&ChecklistReports, Status> {
        self.checklist_reports
            .as_ref()
            .ok_or_else(|| Status::unimplemented("checklist reports are not kept here"))
    }

    fn incidents(&self) -> Result<&Incidents, Status> {
        self.incidents
            .as_ref()
            .ok_or_else(|| Status::unimplemented("incidents are not served here"))
    }
}

/// A checklist report row as the wire carries it.
fn checklist_report_to_wire(row: crate::entity::checklist_report::Model) -> ChecklistReport {
    ChecklistReport {
        generated_at: report_time(&row),
        stored_at: row.stored_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        report_id: row.id,
        stored_by: row.stored_by,
        sha256: row.sha256,
        pass: u32::try_from(row.pass).unwrap_or_default(),
        warn: u32::try_from(row.warn).unwrap_or_default(),
        fail: u32::try_from(row.fail).unwrap_or_default(),
        report_json: row.report_json,
        audit_event_id: row.audit_event_id,
    }
}

/// An incident row as the wire carries it.
fn incident_to_wire(row: crate::entity::incident::Model) -> Incident {
    Incident {
        incident_id: row.id,
        target_kind: row.target_kind,
        target_id: row.target_id,
        tenant_id: row.tenant_id.unwrap_or_default(),
        reason: row.reason,
        contained_at: row
            .contained_at
            .to_rfc3339_opts(SecondsFormat::Millis, true),
        restored_at: row
            .restored_at
            .map(|at| at.to_rfc3339_opts(SecondsFormat::Millis, true))
            .unwrap_or_default(),
        credentials_revoked: u32::try_from(row.credentials_revoked).unwrap_or_default(),
        sessions_revoked: u32::try_from(row.sessions_revoked).unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl AuthService for AuthGrpc {
    /// Needs no principal: the gateway calls this to find out who the
    /// principal is. The key is moved out of the request and never logged.
    async fn verify_api_key(
        &self,
        request: Request<VerifyApiKeyRequest>,
    ) -> Result<Response<VerifyApiKeyResponse>, Status> {
        let presented = request.into_inner().api_key;
        let verified = match self.credentials.verify(&presented).await {
            Ok(verified) => verified,
            Err(error @ (Error::MalformedKey | Error::InvalidKey)) => {
                tracing::info!(reason = %error, "api key refused");
                return Err(error.into());
            }
            Err(error) => return Err(error.into()),
        };
        let response = match verified {
            Verified::BootstrapAdmin => VerifyApiKeyResponse {
                kind: PrincipalKind::PlatformAdmin.into(),
                tenant_id: String::new(),
                credential_id: BOOTSTRAP_CREDENTIAL_ID.to_owned(),
                scopes: vec![ADMIN_SCOPE.to_owned()],
                ..VerifyApiKeyResponse::default()
            },
            Verified::Stored(key) => {
                let access = match key.owner.tenant() {
                    Some(tenant) => self
                        .access
                        .state(tenant.as_str())
                        .await
                        .map_err(Error::from)?,
                    None => AccessState::default(),
                };
                VerifyApiKeyResponse {
                    // Platform admin keys have no tenant, so are never suspended
                    // nor isolated.
                    tenant_suspended: access.suspended,
                    tenant_isolated: access.isolated,
                    kind: match key.owner {
                        KeyOwner::Platform => PrincipalKind::PlatformAdmin,
                        KeyOwner::Tenant(_) => PrincipalKind::Tenant,
                    }
                    .into(),
                    tenant_id: key
                        .owner
                        .tenant()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    credential_id: key.id.into_string(),
                    scopes: key.scopes,
                    expires_at_ms: key.expires_at.map_or(0, |at| at.timestamp_millis()),
                    allowed_networks: key.networks.to_strings(),
                    allowed_origins: key.origins.to_strings(),
                    rate_limit_per_minute: key.rate_limit_per_minute.unwrap_or(0),
                }
            }
        };
        Ok(Response::new(response))
    }

    async fn issue_api_key(
        &self,
        request: Request<IssueApiKeyRequest>,
    ) -> Result<Response<IssueApiKeyResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let request = request.into_inner();
        let owner = managed_owner(&principal, &request.tenant_id)?;
        let spec = KeySpec::parse(
            &owner,
            &request.name,
            &request.environment,
            &request.scopes,
            &request.expires_at,
            &request.allowed_networks,
            &request.allowed_origins,
        )?;
        let issued = self.credentials.issue(&principal, owner, spec).await?;
        Ok(Response::new(issued_response(issued)))
    }

    async fn list_api_keys(
        &self,
        request: Request<ListApiKeysRequest>,
    ) -> Result<Response<ListApiKeysResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let request = request.into_inner();
        let owner = managed_owner(&principal, &request.tenant_id)?;
        let keys = self
            .credentials
            .list(&owner, request.include_inactive)
            .await?
            .into_iter()
            .map(key_info)
            .collect();
        Ok(Response::new(ListApiKeysResponse { keys }))
    }

    async fn rotate_api_key(
        &self,
        request: Request<RotateApiKeyRequest>,
    ) -> Result<Response<RotateApiKeyResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let request = request.into_inner();
        let owner = managed_owner(&principal, &request.tenant_id)?;
        let id = parse_key_id(&request.key_id)?;
        let grace = Duration::from_secs(u64::from(request.grace_seconds));
        let (successor, previous) = self
            .credentials
            .rotate(&principal, owner, &id, grace)
            .await?;
        Ok(Response::new(RotateApiKeyResponse {
            successor: Some(issued_response(successor)),
            previous: Some(key_info(previous)),
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<RevokeApiKeyRequest>,
    ) -> Result<Response<ApiKeyInfo>, Status> {
        let principal = Principal::from_request(&request)?;
        let request = request.into_inner();
        let owner = managed_owner(&principal, &request.tenant_id)?;
        let id = parse_key_id(&request.key_id)?;
        let revoked = self.credentials.revoke(&principal, owner, &id).await?;
        Ok(Response::new(key_info(revoked)))
    }

    /// Gateway only (as every call here); carries no principal, since usage
    /// is counted per key, not per request.
    async fn record_key_usage(
        &self,
        request: Request<RecordKeyUsageRequest>,
    ) -> Result<Response<RecordKeyUsageResponse>, Status> {
        let request = request.into_inner();
        if request.usage.len() > MAX_USAGE_ENTRIES {
            return Err(Error::InvalidArgument(format!(
                "at most {MAX_USAGE_ENTRIES} usage entries per report"
            ))
            .into());
        }
        let mut usage = Vec::with_capacity(request.usage.len());
        for entry in request.usage {
            let id = parse_key_id(&entry.key_id)?;
            let minute = DateTime::from_timestamp(entry.minute, 0)
                .filter(|minute| *minute <= Utc::now())
                .ok_or_else(|| {
                    Error::InvalidArgument("minute must be a window start in the past".to_owned())
                })?;
            usage.push((id, minute, entry.requests));
        }
        self.credentials
            .record_usage(&request.reporter, &usage)
            .await?;
        Ok(Response::new(RecordKeyUsageResponse {}))
    }

    /// Gateway only; no principal: a CORS preflight carries no key.
    async fn is_widget_origin(
        &self,
        request: Request<IsWidgetOriginRequest>,
    ) -> Result<Response<IsWidgetOriginResponse>, Status> {
        let allowed = match Origin::parse(&request.get_ref().origin) {
            Ok(origin) => self.credentials.is_widget_origin(&origin).await?,
            Err(_) => false,
        };
        Ok(Response::new(IsWidgetOriginResponse { allowed }))
    }

    async fn set_tenant_rate_limit(
        &self,
        request: Request<SetTenantRateLimitRequest>,
    ) -> Result<Response<SetTenantRateLimitResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        principal.require_platform_admin()?;
        let request = request.into_inner();
        let tenant = TenantId::parse(&request.tenant_id)
            .map_err(|_| Error::InvalidArgument("tenant_id is not a valid tenant id".to_owned()))?;
        let per_minute = match request.requests_per_minute {
            0 => None,
            rate if rate > MAX_RATE_PER_MINUTE => {
                return Err(Error::InvalidArgument(format!(
                    "requests_per_minute must be at most {MAX_RATE_PER_MINUTE}"
                ))
                .into());
            }
            rate => Some(rate),
        };
        self.credentials
            .set_rate_limit(&principal, &tenant, per_minute)
            .await?;
        Ok(Response::new(SetTenantRateLimitResponse {}))
    }

    async fn set_tenant_access(
        &self,
        request: Request<SetTenantAccessRequest>,
    ) -> Result<Response<SetTenantAccessResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        principal.require_platform_admin()?;
        let request = request.into_inner();
        let tenant = TenantId::parse(&request.tenant_id)
            .map_err(|_| Error::InvalidArgument("tenant_id is not a valid tenant id".to_owned()))?;
        let state = &request.billing_state;
        if state.is_empty()
            || state.len() > MAX_BILLING_STATE_LEN
            || !state.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            return Err(Error::InvalidArgument(
                "billing_state must be a billing state name".to_owned(),
            )
            .into());
        }
        let changed = self
            .access
            .set(&principal, &tenant, request.suspended, state)
            .await?;
        if changed {
            tracing::info!(
                tenant_id = %tenant,
                suspended = request.suspended,
                request_id = %principal.request_id,
                "tenant access changed"
            );
        }
        Ok(Response::new(SetTenantAccessResponse {
            suspended: request.suspended,
            changed,
        }))
    }

    async fn contain_incident(
        &self,
        request: Request<ContainIncidentRequest>,
    ) -> Result<Response<Incident>, Status> {
        let principal = Principal::from_request(&request)?;
        principal.require_platform_admin()?;
        let request = request.into_inner();
        let target = Target::parse(&request.target_kind, &request.target_id)?;
        let row = self
            .incidents()?
            .contain(&principal, target, &request.reason)
            .await?;
        Ok(Response::new(incident_to_wire(row)))
    }

    async fn restore_incident(
        &self,
        request: Request<IncidentRequest>,
    ) -> Result<Response<Incident>, Status> {
        let principal = Principal::from_request(&request)?;
        principal.require_platform_admin()?;
        let id = parse_incident_id(&request.get_ref().incident_id)?.to_owned();
        let row = self.incidents()?.restore(&principal, &id).await?;
        Ok(Response::new(incident_to_wire(row)))
    }

    async fn get_incident(
        &self,
        request: Request<IncidentRequest>,
    ) -> Result<Response<Incident>, Status> {
        let principal = Principal::from_request(&request)?;
        principal.require_platform_admin()?;
        let id = parse_incident_id(&request.get_ref().incident_id)?.to_owned();
        let row = self.incidents()?.get(&principal, &id).await?;
        Ok(Response::new(incident_to_wire(row)))
    }

    async fn store_checklist_report(
        &self,
        request: Request<StoreChecklistReportRequest>,
    ) -> Result<Response<ChecklistReport>, Status> {
        let principal = Principal::from_request(&request)?;
        principal.require_platform_admin()?;
        let json = request.into_inner().report_json;
        let row = self.checklist_reports()?.store(&principal, json).await?;
        Ok(Response::new(checklist_report_to_wire(row)))
    }

    async fn get_latest_checklist_report(
        &self,
        request: Request<GetLatestChecklistReportRequest>,
    ) -> Result<Response<ChecklistReport>, Status> {
        let principal = Principal::from_request(&request)?;
        principal.require_platform_admin()?;
        let row = self.checklist_reports()?.latest(&principal).await?;
        Ok(Response::new(checklist_report_to_wire(row)))
    }
}

/// The most usage entries one report may carry.
const MAX_USAGE_ENTRIES: usize = 10_000;
/// A tenant's rate may be raised this far at most (1000 per second).
const MAX_RATE_PER_MINUTE: u32 = 60_000;

fn parse_key_id(text: &str) -> Result<ApiKeyId, Error> {
    ApiKeyId::parse(text)
        .map_err(|_| Error::InvalidArgument("key_id is not a valid key id".to_owned()))
}

fn rfc3339(at: Option<DateTime<Utc>>) -> String {
    at.map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn key_info(row: KeyRow) -> ApiKeyInfo {
    ApiKeyInfo {
        scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
        allowed_networks: row
            .allowed_networks
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        created_at: rfc3339(Some(row.created_at)),
        expires_at: rfc3339(row.expires_at),
        last_used_at: rfc3339(row.last_used_at),
        revoked_at: rfc3339(row.revoked_at),
        replaced_by: row.replaced_by.unwrap_or_default(),
        allowed_origins: row
            .allowed_origins
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        id: row.id,
        tenant_id: row.tenant_id,
        name: row.name,
        display_prefix: row.display_prefix,
        environment: row.environment,
    }
}

fn issued_response(issued: IssuedKey) -> IssueApiKeyResponse {
    IssueApiKeyResponse {
        key_id: issued.row.id.clone(),
        display_prefix: issued.key.display_prefix(),
        api_key: issued.key.expose().to_owned(),
        key: Some(key_info(issued.row)),
    }
}
