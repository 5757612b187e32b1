//! The CRM's gRPC services. Tenants and customers are handled here;
//! `conversations` holds the support flow's handlers, which the service
//! trait's methods call; `schedule` implements `ScheduleService`
//! (appointments and job notes) on the same [`CrmApi`].
//! trait's methods call; `owner` implements `OwnerService` (business
//! settings, channels, retention, legal holds) on the same [`CrmApi`],
//! with erasure requests' handlers in `erasure`; `reports` (a manager's
//! activity counts) and `export` (the owner's bulk export, streamed) are
//! `CrmService` handlers too.
//!
//! Every handler follows the same steps, in this order: read the principal
//! (trusted only from the gateway's certificate), authorise explicitly,
//! parse the request into domain types, call the store, map the result. The
//! tenant of a customer call is always the principal's; nothing in a request
//! body can name another.

mod billing;
mod conversations;
mod erasure;
mod export;
mod owner;
mod reports;
mod schedule;
mod visitor;

pub use billing::BillingApi;

use chrono::SecondsFormat;
use rampart_kit::ids::{CustomerId, TenantId};
use rampart_kit::outbox::AuditRecord;
use rampart_kit::outbox::Outbox;
use rampart_kit::principal::{Principal, Role, Scope};
use rampart_proto::crm::v1 as proto;
use rampart_proto::crm::v1::crm_service_server::CrmService;
use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

use crate::Error;
use crate::certify::Certifier;
use crate::domain::{
    Address, CustomerName, Email, InvalidInput, OfficeDomain, PageRequest, Phone, TenantName,
};
use crate::entity::{customer, tenant};
use crate::gate::Escalation;
use crate::store::{
    ConversationStore, CustomerFilter, CustomerPatch, CustomerStore, DataScope, NewCustomer,
    NewTenant, TenantStore,
};
use crate::vault::Vault;

/// The most office domains one tenant may list; a bound on what one request
/// can make the service store.
const MAX_OFFICE_DOMAINS: usize = 20;

/// The CrmService implementation: a database pool, the audit outbox, the
/// vault that seals personal data, escalation (the gate and the
/// guardrails), and the certifier that has deletion certificates signed.
#[derive(Debug, Clone)]
pub struct CrmApi {
    db: DatabaseConnection,
    outbox: Outbox,
    vault: Vault,
    escalation: Escalation,
    certifier: Certifier,
}

impl CrmApi {
    #[must_use]
    pub fn new(
        db: DatabaseConnection,
        outbox: Outbox,
        vault: Vault,
        escalation: Escalation,
        certifier: Certifier,
    ) -> Self {
        Self {
            db,
            outbox,
            vault,
            escalation,
            certifier,
        }
    }

    fn conversations(&self, scope: &DataScope) -> ConversationStore<'_> {
        ConversationStore::for_tenant(&self.db, &self.outbox, &self.vault, scope.clone())
    }

    fn tenants(&self) -> TenantStore<'_> {
        TenantStore::new(&self.db, &self.outbox)
    }

    fn customers(&self, scope: &DataScope) -> CustomerStore<'_> {
        CustomerStore::for_tenant(&self.db, &self.outbox, &self.vault, scope.clone())
    }
}

#[tonic::async_trait]
impl CrmService for CrmApi {
    async fn create_tenant(
        &self,
        request: Request<proto::CreateTenantRequest>,
    ) -> Result<Response<proto::Tenant>, Status> {
        let principal = Principal::from_request(&request)?;
        principal.require_platform_admin()?;
        let new = parse_new_tenant(request.into_inner())?;
        let tenant = self.tenants().create(&principal, new).await?;
        tracing::info!(
            tenant_id = %tenant.id,
            request_id = %principal.request_id,
            "tenant created"
        );
        Ok(Response::new(tenant_to_proto(tenant)?))
    }

    async fn get_tenant(
        &self,
        request: Request<proto::GetTenantRequest>,
    ) -> Result<Response<proto::Tenant>, Status> {
        let principal = Principal::from_request(&request)?;
        // A tenant reads its own record (the gateway checks new passwords
        // against its name); every other read is the platform admin's.
        if principal
            .tenant_id()
            .is_none_or(|own| own.as_str() != request.get_ref().tenant_id)
        {
            principal.require_platform_admin()?;
        }
        // An id that does not parse names no tenant: the same answer as an
        // unknown one.
        let id =
            TenantId::parse(&request.get_ref().tenant_id).map_err(|_| Error::TenantNotFound)?;
        let tenant = self.tenants().get(&id).await?;
        Ok(Response::new(tenant_to_proto(tenant)?))
    }

    async fn list_tenants(
        &self,
        request: Request<proto::ListTenantsRequest>,
    ) -> Result<Response<proto::ListTenantsResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        principal.require_platform_admin()?;
        let request = request.get_ref();
        let page = PageRequest::parse(request.page_size, &request.cursor, TenantId::parse)?;
        let page = self.tenants().list(&page).await?;
        Ok(Response::new(proto::ListTenantsResponse {
            tenants: page
                .items
                .into_iter()
                .map(tenant_to_proto)
                .collect::<Result<_, _>>()?,
            next_cursor: page.next_cursor.unwrap_or_default(),
        }))
    }

    async fn delete_tenant(
        &self,
        request: Request<proto::DeleteTenantRequest>,
    ) -> Result<Response<proto::DeleteTenantResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        principal.require_platform_admin()?;
        // An id that does not parse names no tenant.
        let id =
            TenantId::parse(&request.get_ref().tenant_id).map_err(|_| Error::TenantNotFound)?;
        let data_keys = self.tenants().delete(&principal, &self.vault, &id).await?;
        tracing::info!(
            tenant_id = %id,
            data_keys,
            request_id = %principal.request_id,
            "tenant deleted"
        );
        Ok(Response::new(proto::DeleteTenantResponse {
            data_keys: u32::try_from(data_keys).unwrap_or(u32::MAX),
        }))
    }

    async fn create_customer(
        &self,
        request: Request<proto::CreateCustomerRequest>,
    ) -> Result<Response<proto::Customer>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        let tenant_id = scope.tenant_id.clone();
        require_customer_writer(&principal)?;
        let new = parse_new_customer(request.into_inner())?;
        let customer = self.customers(&scope).create(&principal, new).await?;
        tracing::info!(
            %tenant_id,
            customer_id = %customer.id,
            request_id = %principal.request_id,
            "customer created"
        );
        Ok(Response::new(customer_to_proto(customer)))
    }

    async fn get_customer(
        &self,
        request: Request<proto::GetCustomerRequest>,
    ) -> Result<Response<proto::Customer>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        principal.require_scope(Scope::Read)?;
        // Malformed, unknown and another tenant's ids all answer the same,
        // so a caller learns nothing about ids outside its tenant.
        let id = CustomerId::parse(&request.get_ref().customer_id)
            .map_err(|_| Error::CustomerNotFound)?;
        let customer = self.customers(&scope).get(&id).await?;
        Ok(Response::new(customer_to_proto(customer)))
    }

    async fn list_customers(
        &self,
        request: Request<proto::ListCustomersRequest>,
    ) -> Result<Response<proto::ListCustomersResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        principal.require_scope(Scope::Read)?;
        let request = request.get_ref();
        let page = PageRequest::parse(request.page_size, &request.cursor, CustomerId::parse)?;
        let filter = parse_customer_filter(request)?;
        let page = self.customers(&scope).list(&filter, &page).await?;
        Ok(Response::new(proto::ListCustomersResponse {
            customers: page.items.into_iter().map(customer_to_proto).collect(),
            next_cursor: page.next_cursor.unwrap_or_default(),
        }))
    }

    async fn update_customer(
        &self,
        request: Request<proto::UpdateCustomerRequest>,
    ) -> Result<Response<proto::Customer>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        require_customer_writer(&principal)?;
        let request = request.into_inner();
        let id = CustomerId::parse(&request.customer_id).map_err(|_| Error::CustomerNotFound)?;
        let patch = parse_customer_patch(request)?;
        let customer = self
            .customers(&scope)
            .update(&principal, &id, patch)
            .await?;
        tracing::info!(
            tenant_id = %scope.tenant_id,
            customer_id = %customer.id,
            request_id = %principal.request_id,
            "customer updated"
        );
        Ok(Response::new(customer_to_proto(customer)))
    }

    async fn rotate_master_key(
        &self,
        request: Request<proto::RotateMasterKeyRequest>,
    ) -> Result<Response<proto::RotateMasterKeyResponse>, Status> {
        let principal = Principal::from_request(&request)?;
        principal.require_platform_admin()?;
        let rotation = self.vault.rotate_master(&self.db).await?;
        let event = AuditRecord::success(
            &principal,
            None,
            "master_key.rotated",
            "master_key".to_owned(),
        )
        .with_detail("version", self.vault.current_master_version().to_string())
        .with_detail("rewrapped", rotation.rewrapped.to_string())
        .with_detail("already_current", rotation.already_current.to_string());
        let mut change = self.outbox.begin(&self.db).await.map_err(Error::from)?;
        change.audit(event);
        change.commit().await.map_err(Error::from)?;
        tracing::info!(
            rewrapped = rotation.rewrapped,
            already_current = rotation.already_current,
            request_id = %principal.request_id,
            "master key rotated"
        );
        Ok(Response::new(proto::RotateMasterKeyResponse {
            rewrapped: rotation.rewrapped,
            already_current: rotation.already_current,
        }))
    }

    async fn start_conversation(
        &self,
        request: Request<proto::StartConversationRequest>,
    ) -> Result<Response<proto::Conversation>, Status> {
        Ok(Response::new(self.start(request).await?))
    }

    async fn list_conversations(
        &self,
        request: Request<proto::ListConversationsRequest>,
    ) -> Result<Response<proto::ListConversationsResponse>, Status> {
        Ok(Response::new(self.list(request).await?))
    }

    async fn get_conversation(
        &self,
        request: Request<proto::GetConversationRequest>,
    ) -> Result<Response<proto::Conversation>, Status> {
        Ok(Response::new(self.get(request).await?))
    }

    async fn post_customer_message(
        &self,
        request: Request<proto::PostMessageRequest>,
    ) -> Result<Response<proto::Message>, Status> {
        Ok(Response::new(self.post_customer(request).await?))
    }

    async fn post_ai_reply(
        &self,
        request: Request<proto::PostMessageRequest>,
    ) -> Result<Response<proto::Message>, Status> {
        Ok(Response::new(self.post_ai(request).await?))
    }

    async fn post_agent_reply(
        &self,
        request: Request<proto::PostMessageRequest>,
    ) -> Result<Response<proto::Message>, Status> {
        Ok(Response::new(self.post_agent(request).await?))
    }

    async fn set_summary(
        &self,
        request: Request<proto::SetSummaryRequest>,
    ) -> Result<Response<proto::Conversation>, Status> {
        Ok(Response::new(self.summarise(request).await?))
    }

    async fn set_conversation_status(
        &self,
        request: Request<proto::SetConversationStatusRequest>,
    ) -> Result<Response<proto::Conversation>, Status> {
        Ok(Response::new(self.step(request).await?))
    }

    // Reports and the bulk export: the handlers live in `reports` and
    // `export`.
    async fn get_activity_summary(
        &self,
        request: Request<proto::ActivitySummaryRequest>,
    ) -> Result<Response<proto::ActivitySummary>, Status> {
        Ok(Response::new(self.activity_summary(request).await?))
    }

    type ExportTenantDataStream = export::ExportStream;

    async fn export_tenant_data(
        &self,
        request: Request<proto::ExportTenantDataRequest>,
    ) -> Result<Response<Self::ExportTenantDataStream>, Status> {
        self.export(request).await
    }

    // The widget visitor's read of their own conversation, in `visitor`.
    async fn list_visitor_messages(
        &self,
        request: Request<proto::ListVisitorMessagesRequest>,
    ) -> Result<Response<proto::ListVisitorMessagesResponse>, Status> {
        Ok(Response::new(self.visitor_messages(request).await?))
    }
}

/// Parses a tenant to create. Repeated office domains (after lowercasing)
/// are kept once, in the order first given.
fn parse_new_tenant(request: proto::CreateTenantRequest) -> Result<NewTenant, InvalidInput> {
    let name = TenantName::parse(&request.name)?;
    if request.office_domains.len() > MAX_OFFICE_DOMAINS {
        return Err(InvalidInput::new(
            "office_domains",
            "must hold at most 20 domains",
        ));
    }
    let mut office_domains: Vec<OfficeDomain> = Vec::with_capacity(request.office_domains.len());
    for (index, raw) in request.office_domains.iter().enumerate() {
        let domain = OfficeDomain::parse(format!("office_domains[{index}]"), raw)?;
        if !office_domains.contains(&domain) {
            office_domains.push(domain);
        }
    }
    Ok(NewTenant {
        name,
        office_domains,
    })
}

/// Parses a customer to create; an absent optional field stays absent, a
/// present one must parse.
fn parse_new_customer(request: proto::CreateCustomerRequest) -> Result<NewCustomer, InvalidInput> {
    Ok(NewCustomer {
        name: CustomerName::parse(&request.name)?,
        phone: request.phone.as_deref().map(Phone::parse).transpose()?,
        email: request.email.as_deref().map(Email::parse).transpose()?,
        address: request.address.as_deref().map(Address::parse).transpose()?,
    })
}

/// Creating and changing customers: a signed-in manager (or owner), or a
/// key with `write`. Agents read the customers they need, and no more
/// (a session carries `write` for the work agents do).
fn require_customer_writer(principal: &Principal) -> Result<(), Status> {
    if principal.user.is_some() {
        principal.require_role(Role::Manager)?;
        return Ok(());
    }
    principal.require_scope(Scope::Write)
}

/// The exact filters of a customer list; empty means none, anything else
/// must parse (and is normalised) like the customer's own field.
fn parse_customer_filter(
    request: &proto::ListCustomersRequest,
) -> Result<CustomerFilter, InvalidInput> {
    let present = |value: &str| (!value.is_empty()).then(|| value.to_owned());
    Ok(CustomerFilter {
        phone: present(&request.phone)
            .as_deref()
            .map(Phone::parse)
            .transpose()?,
        email: present(&request.email)
            .as_deref()
            .map(Email::parse)
            .transpose()?,
    })
}

/// Parses a PATCH: an absent field stays, a present one must parse, an
/// empty optional one is cleared. The name cannot be cleared (its parser
/// refuses an empty one).
fn parse_customer_patch(
    request: proto::UpdateCustomerRequest,
) -> Result<CustomerPatch, InvalidInput> {
    fn clearable<T>(
        value: Option<String>,
        parse: impl Fn(&str) -> Result<T, InvalidInput>,
    ) -> Result<Option<Option<T>>, InvalidInput> {
        match value.as_deref() {
            None => Ok(None),
            Some("") => Ok(Some(None)),
            Some(raw) => parse(raw).map(|v| Some(Some(v))),
        }
    }
    Ok(CustomerPatch {
        name: request
            .name
            .as_deref()
            .map(CustomerName::parse)
            .transpose()?,
        phone: clearable(request.phone, Phone::parse)?,
        email: clearable(request.email, Email::parse)?,
        address: clearable(request.address, Address::parse)?,
    })
}

fn tenant_to_proto(row: tenant::Model) -> Result<proto::Tenant, Error> {
    let office_domains: Vec<String> = serde_json::from_str(&row.office_domains).map_err(|e| {
        Error::Internal(anyhow::Error::new(e).context(format!(
            "office_domains of tenant {} is not a JSON array of strings",
            row.id
        )))
    })?;
    Ok(proto::Tenant {
        id: row.id,
        name: row.name,
        office_domains,
        created_at: row.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
    })
}

fn customer_to_proto(row: customer::Model) -> proto::Customer {
    proto::Customer {
        id: row.id,
        name: row.name,
        phone: row.phone,
        email: row.email,
        address: row.address,
        created_at: row.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant_request(name: &str, domains: &[&str]) -> proto::CreateTenantRequest {
        proto::CreateTenantRequest {
            name: name.to_owned(),
            office_domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    #[test]
    fn office_domains_are_lowercased_and_deduplicated_in_order() {
        let new = parse_new_tenant(tenant_request(
            "Acme",
            &["b.example", "A.example", "B.EXAMPLE", "a.example"],
        ))
        .unwrap();
        let domains: Vec<&str> = new
            .office_domains
            .iter()
            .map(OfficeDomain::as_str)
            .collect();
        assert_eq!(domains, ["b.example", "a.example"]);
    }

    #[test]
    fn the_failing_office_domain_is_named_by_index() {
        let error = parse_new_tenant(tenant_request("Acme", &["ok.example", "nodot"])).unwrap_err();
        assert_eq!(error.field(), "office_domains[1]");
    }

    #[test]
    fn too_many_office_domains_are_refused() {
        let domains: Vec<String> = (0..21).map(|i| format!("d{i}.example")).collect();
        let refs: Vec<&str> = domains.iter().map(String::as_str).collect();
        let error = parse_new_tenant(tenant_request("Acme", &refs)).unwrap_err();
        assert_eq!(error.field(), "office_domains");
        assert!(parse_new_tenant(tenant_request("Acme", &refs[..20])).is_ok());
    }

    #[test]
    fn absent_customer_fields_stay_absent_and_present_ones_must_parse() {
        let mut request = proto::CreateCustomerRequest {
            name: "Ada".into(),
            ..Default::default()
        };
        let new = parse_new_customer(request.clone()).unwrap();
        assert!(new.phone.is_none() && new.email.is_none() && new.address.is_none());
        request.email = Some(String::new());
        assert_eq!(parse_new_customer(request).unwrap_err().field(), "email");
    }

    #[test]
    fn a_corrupt_office_domains_column_is_an_internal_error() {
        let row = tenant::Model {
            id: TenantId::generate().into_string(),
            name: "Acme".into(),
            office_domains: "not json".into(),
            created_at: chrono::Utc::now(),
            transcripts_enabled: false,
        };
        assert!(matches!(tenant_to_proto(row), Err(Error::Internal(_))));
    }
}
