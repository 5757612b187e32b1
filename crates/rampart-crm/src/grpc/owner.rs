//! The `OwnerService` handlers: a tenant's business settings, channels,
//! retention periods and legal holds; erasure requests delegate to
//! `erasure`.
//!
//! Same steps as every handler: principal, authorisation, parsing, store,
//! mapping. Authorisation is by role for people and by scope for keys:
//! business settings are a manager's work (`settings` scope); channels,
//! retention, legal holds and erasure are the owner's (`owner` scope).

use chrono::SecondsFormat;
use rampart_kit::ids::{ChannelId, CustomerId};
use rampart_kit::principal::{Principal, Role, Scope};
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::owner_service_server::OwnerService;
use tonic::{Request, Response, Status};

use super::CrmApi;
use crate::Error;
use crate::domain::{
    BusinessSettings, ChannelCredentials, ChannelKind, ChannelName, HoldReason, RetentionPeriods,
    check_channel_setup,
};
use crate::store::{
    ChannelStore, ChannelSummary, DataScope, Hold, LegalHoldStore, NewChannel, RetentionStore,
    SettingsStore, SettingsVersion, StoredRetention,
};

/// What the retention answer says of the audit log, which these settings
/// never shorten.
pub const AUDIT_LOG_RETENTION: &str = "exempt: the audit log is append-only and kept for its own retention period, whatever these settings say";

/// A person needs at least `role`; a key needs `scope`.
pub(super) fn authorise(principal: &Principal, role: Role, scope: Scope) -> Result<(), Status> {
    if principal.user.is_some() {
        principal.require_role(role).map(|_| ())
    } else {
        principal.require_scope(scope)
    }
}

impl CrmApi {
    fn settings(&self, scope: DataScope) -> SettingsStore<'_> {
        SettingsStore::for_tenant(&self.db, &self.outbox, scope)
    }

    fn retention(&self, scope: DataScope) -> RetentionStore<'_> {
        RetentionStore::for_tenant(&self.db, &self.outbox, scope)
    }

    fn holds(&self, scope: DataScope) -> LegalHoldStore<'_> {
        LegalHoldStore::for_tenant(&self.db, &self.outbox, scope)
    }

    fn channels(&self, scope: DataScope) -> ChannelStore<'_> {
        ChannelStore::for_tenant(&self.db, &self.outbox, &self.vault, scope)
    }
}

#[tonic::async_trait]
impl OwnerService for CrmApi {
    async fn get_settings(
        &self,
        request: Request<proto::GetSettingsRequest>,
    ) -> Result<Response<proto::BusinessSettings>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        authorise(&principal, Role::Manager, Scope::Settings)?;
        let current = self.settings(scope).get().await?;
        Ok(Response::new(settings_to_proto(current)))
    }

    async fn put_settings(
        &self,
        request: Request<proto::PutSettingsRequest>,
    ) -> Result<Response<proto::BusinessSettings>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        authorise(&principal, Role::Manager, Scope::Settings)?;
        let request = request.into_inner();
        let settings = BusinessSettings::parse(&request.document)?;
        let written = self
            .settings(scope)
            .put(&principal, settings, request.expected_version)
            .await?;
        tracing::info!(
            version = written.version,
            request_id = %principal.request_id,
            "business settings written"
        );
        Ok(Response::new(settings_to_proto(written)))
    }

    async fn create_channel(
        &self,
        request: Request<proto::CreateChannelRequest>,
    ) -> Result<Response<proto::ChannelView>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        authorise(&principal, Role::Owner, Scope::Owner)?;
        let request = request.into_inner();
        let kind = ChannelKind::parse(&request.kind)?;
        let display_name = ChannelName::parse(&request.display_name)?;
        let credentials = ChannelCredentials::parse(&request.credentials)?;
        let phone_number = check_channel_setup(kind, &request.phone_number, credentials.as_ref())?;
        let new = NewChannel {
            kind,
            display_name,
            credentials,
            phone_number,
        };
        let channel = self.channels(scope).create(&principal, new).await?;
        tracing::info!(
            channel_id = %channel.id,
            request_id = %principal.request_id,
            "channel connected"
        );
        Ok(Response::new(channel_to_proto(channel)))
    }

    async fn list_channels(
        &self,
        request: Request<proto::ListChannelsRequest>,
    ) -> Result<Response<proto::ListChannelsResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        authorise(&principal, Role::Owner, Scope::Owner)?;
        let channels = self.channels(scope).list().await?;
        Ok(Response::new(proto::ListChannelsResponse {
            channels: channels.into_iter().map(channel_to_proto).collect(),
        }))
    }

    async fn delete_channel(
        &self,
        request: Request<proto::DeleteChannelRequest>,
    ) -> Result<Response<proto::DeleteChannelResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        authorise(&principal, Role::Owner, Scope::Owner)?;
        // Malformed, unknown and another tenant's ids answer alike.
        let id =
            ChannelId::parse(&request.get_ref().channel_id).map_err(|_| Error::ChannelNotFound)?;
        self.channels(scope).delete(&principal, &id).await?;
        tracing::info!(
            channel_id = %id,
            request_id = %principal.request_id,
            "channel disconnected"
        );
        Ok(Response::new(proto::DeleteChannelResponse {}))
    }

    async fn get_retention(
        &self,
        request: Request<proto::GetRetentionRequest>,
    ) -> Result<Response<proto::RetentionSettings>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        authorise(&principal, Role::Owner, Scope::Owner)?;
        let stored = self.retention(scope).get().await?;
        Ok(Response::new(retention_to_proto(stored)))
    }

    async fn put_retention(
        &self,
        request: Request<proto::PutRetentionRequest>,
    ) -> Result<Response<proto::RetentionSettings>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        authorise(&principal, Role::Owner, Scope::Owner)?;
        let request = request.into_inner();
        let periods = RetentionPeriods::parse(
            request.conversations_days,
            request.job_notes_days,
            request.inactive_customers_days,
        )?;
        let stored = self.retention(scope).put(&principal, periods).await?;
        Ok(Response::new(retention_to_proto(stored)))
    }

    async fn set_legal_hold(
        &self,
        request: Request<proto::SetLegalHoldRequest>,
    ) -> Result<Response<proto::LegalHold>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        authorise(&principal, Role::Owner, Scope::Owner)?;
        let request = request.into_inner();
        let customer_id =
            CustomerId::parse(&request.customer_id).map_err(|_| Error::CustomerNotFound)?;
        let reason = HoldReason::parse(&request.reason)?;
        let hold = self
            .holds(scope)
            .set(&principal, &customer_id, request.held, reason)
            .await?;
        tracing::info!(
            customer_id = %customer_id,
            held = hold.held,
            request_id = %principal.request_id,
            "legal hold changed"
        );
        Ok(Response::new(hold_to_proto(hold)))
    }

    // Erasure requests: the handlers live in `erasure`.
    async fn create_erasure_request(
        &self,
        request: Request<proto::CreateErasureRequestRequest>,
    ) -> Result<Response<proto::ErasureRequest>, Status> {
        Ok(Response::new(self.open_erasure(request).await?))
    }

    async fn get_erasure_request(
        &self,
        request: Request<proto::GetErasureRequestRequest>,
    ) -> Result<Response<proto::ErasureRequest>, Status> {
        Ok(Response::new(self.get_erasure(request).await?))
    }

    async fn list_erasure_requests(
        &self,
        request: Request<proto::ListErasureRequestsRequest>,
    ) -> Result<Response<proto::ListErasureRequestsResponse>, Status> {
        Ok(Response::new(self.list_erasures(request).await?))
    }

    async fn execute_erasure_request(
        &self,
        request: Request<proto::ExecuteErasureRequestRequest>,
    ) -> Result<Response<proto::ErasureRequest>, Status> {
        Ok(Response::new(self.execute_erasure(request).await?))
    }
}

fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn settings_to_proto(version: SettingsVersion) -> proto::BusinessSettings {
    proto::BusinessSettings {
        version: version.version,
        document: version.settings.to_json().to_string(),
        updated_at: version.updated_at.map(timestamp).unwrap_or_default(),
        updated_by: version.updated_by,
    }
}

fn channel_to_proto(channel: ChannelSummary) -> proto::ChannelView {
    proto::ChannelView {
        id: channel.id,
        kind: channel.kind,
        display_name: channel.display_name,
        credentials_set: channel.credentials_set,
        credential_names: channel.credential_names,
        phone_number: channel.phone_number.unwrap_or_default(),
        created_at: timestamp(channel.created_at),
    }
}

fn retention_to_proto(stored: StoredRetention) -> proto::RetentionSettings {
    let days = |days: Option<crate::domain::RetentionDays>| days.map(|d| d.get());
    proto::RetentionSettings {
        conversations_days: days(stored.periods.conversations),
        job_notes_days: days(stored.periods.job_notes),
        inactive_customers_days: days(stored.periods.inactive_customers),
        audit_log: AUDIT_LOG_RETENTION.to_owned(),
        updated_at: stored.updated_at.map(timestamp).unwrap_or_default(),
        updated_by: stored.updated_by,
    }
}

fn hold_to_proto(hold: Hold) -> proto::LegalHold {
    proto::LegalHold {
        customer_id: hold.customer_id,
        held: hold.held,
        reason: hold.reason,
        changed_by: hold.changed_by,
        changed_at: timestamp(hold.changed_at),
    }
}
