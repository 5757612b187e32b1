//! Tenant CRM routes: customers of the caller's tenant, and the platform
//! admin's master key rotation (the CRM's vault).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use http::StatusCode;
use rampart_proto::crm::v1::{
    CreateCustomerRequest, Customer, GetCustomerRequest, ListCustomersRequest,
    RotateMasterKeyRequest, UpdateCustomerRequest,
};
use serde::{Deserialize, Deserializer, Serialize};

use super::page::{next_cursor, page_size};
use crate::Gateway;
use crate::authn::{AdminCaller, TenantCaller};
use crate::backends::call;
use crate::json_body::JsonBody;
use crate::problem::ApiError;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    name: String,
    phone: Option<String>,
    email: Option<String>,
    address: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerView {
    id: String,
    name: String,
    phone: Option<String>,
    email: Option<String>,
    address: Option<String>,
    created_at: String,
}

impl From<Customer> for CustomerView {
    fn from(customer: Customer) -> Self {
        Self {
            id: customer.id,
            name: customer.name,
            phone: customer.phone,
            email: customer.email,
            address: customer.address,
            created_at: customer.created_at,
        }
    }
}

/// `POST /v1/crm/customers`
#[utoipa::path(
    post,
    path = "/v1/crm/customers",
    tag = "crm",
    request_body = NewCustomer,
    responses(
        (status = 201, description = "The customer, created", body = CustomerView),
        (status = 400, description = "A field is missing or invalid (name, phone, email, address)"),
    ),
    security(("tenant_api_key" = [])),
)]
pub async fn create_customer(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    JsonBody(body): JsonBody<NewCustomer>,
) -> Result<(StatusCode, Json<CustomerView>), ApiError> {
    let customer = call(
        &caller.principal,
        &gateway.backends.crm,
        CreateCustomerRequest {
            name: body.name,
            phone: body.phone,
            email: body.email,
            address: body.address,
        },
        async |mut crm, request| crm.create_customer(request).await,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(customer.into())))
}

/// `GET /v1/crm/customers/{customer_id}`: another tenant's customer is
/// simply not found.
#[utoipa::path(
    get,
    path = "/v1/crm/customers/{customer_id}",
    tag = "crm",
    params(("customer_id" = String, Path, description = "The customer's id (cus_...)")),
    responses(
        (status = 200, description = "The customer", body = CustomerView),
        (status = 404, description = "No such customer in the caller's tenant"),
    ),
    security(("tenant_api_key" = [])),
)]
pub async fn get_customer(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    Path(customer_id): Path<String>,
) -> Result<Json<CustomerView>, ApiError> {
    let customer = call(
        &caller.principal,
        &gateway.backends.crm,
        GetCustomerRequest { customer_id },
        async |mut crm, request| crm.get_customer(request).await,
    )
    .await?;
    Ok(Json(customer.into()))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerList {
    customers: Vec<CustomerView>,
    next_cursor: Option<String>,
}

/// A customer list's query: a page, and exact filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// Page size, 1 to 100; the service's default when absent.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only the customer with exactly this phone number (normalised first).
    phone: Option<String>,
    /// Only the customer with exactly this e-mail (domain lowercased first).
    email: Option<String>,
}

/// `GET /v1/crm/customers?limit=&cursor=&phone=&email=`: the exact filters
/// go through the CRM's blind indexes (its stored values are encrypted).
#[utoipa::path(
    get,
    path = "/v1/crm/customers",
    tag = "crm",
    params(CustomerQuery),
    responses(
        (status = 200, description = "One page of the tenant's customers", body = CustomerList),
        (status = 400, description = "A query parameter is unknown or invalid (limit, phone, email)"),
    ),
    security(("tenant_api_key" = [])),
)]
pub async fn list_customers(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    query: Result<Query<CustomerQuery>, QueryRejection>,
) -> Result<Json<CustomerList>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::invalid(rejection.body_text()))?;
    let list = call(
        &caller.principal,
        &gateway.backends.crm,
        ListCustomersRequest {
            page_size: page_size(query.limit)?,
            cursor: query.cursor.unwrap_or_default(),
            phone: query.phone.unwrap_or_default(),
            email: query.email.unwrap_or_default(),
        },
        async |mut crm, request| crm.list_customers(request).await,
    )
    .await?;
    Ok(Json(CustomerList {
        customers: list.customers.into_iter().map(Into::into).collect(),
        next_cursor: next_cursor(list.next_cursor),
    }))
}

/// A JSON merge-patch of a customer: an absent field stays as it is, `null`
/// clears it (the name cannot be cleared).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    address: Option<Option<String>>,
}

/// Tells a field sent as `null` (`Some(None)`) from an absent one (`None`,
/// by `default`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// The wire form of one patched field: absent stays absent, `null` is the
/// CRM's "clear" (empty), and an empty string is refused, so a client
/// cannot clear a field by accident.
fn patched(field: &str, value: Option<Option<String>>) -> Result<Option<String>, ApiError> {
    match value {
        None => Ok(None),
        Some(None) => Ok(Some(String::new())),
        Some(Some(text)) if text.is_empty() => Err(ApiError::invalid(format!(
            "{field} must not be empty (send null to clear it)"
        ))),
        Some(Some(text)) => Ok(Some(text)),
    }
}

/// `PATCH /v1/crm/customers/{customer_id}`: managers and up, or a key with
/// the `write` scope.
#[utoipa::path(
    patch,
    path = "/v1/crm/customers/{customer_id}",
    tag = "crm",
    params(("customer_id" = String, Path, description = "The customer's id (cus_...)")),
    request_body = CustomerPatch,
    responses(
        (status = 200, description = "The customer, changed", body = CustomerView),
        (status = 400, description = "A field is invalid (name, phone, email, address), or the name was cleared"),
        (status = 403, description = "The caller may not change customers"),
        (status = 404, description = "No such customer in the caller's tenant"),
    ),
    security(("tenant_api_key" = [])),
)]
pub async fn update_customer(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    Path(customer_id): Path<String>,
    JsonBody(body): JsonBody<CustomerPatch>,
) -> Result<Json<CustomerView>, ApiError> {
    let request = UpdateCustomerRequest {
        customer_id,
        name: patched("name", body.name)?,
        phone: patched("phone", body.phone)?,
        email: patched("email", body.email)?,
        address: patched("address", body.address)?,
    };
    let customer = call(
        &caller.principal,
        &gateway.backends.crm,
        request,
        async |mut crm, request| crm.update_customer(request).await,
    )
    .await?;
    Ok(Json(customer.into()))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MasterKeyRotation {
    /// Tenant keys re-wrapped under the current master key version.
    rewrapped: u64,
    /// Tenant keys that were already under it.
    already_current: u64,
}

/// `POST /v1/admin/master-key/rotate`: re-wraps every tenant key under the
/// CRM's current master key version, online. Run it after adding the new
/// version to RAMPART_MASTER_KEY; the old one may go once it answers.
#[utoipa::path(
    post,
    path = "/v1/admin/master-key/rotate",
    tag = "admin",
    responses((status = 200, description = "How many tenant keys were re-wrapped", body = MasterKeyRotation)),
    security(("admin_api_key" = [])),
)]
pub async fn rotate_master_key(
    State(gateway): State<Arc<Gateway>>,
    caller: AdminCaller,
) -> Result<Json<MasterKeyRotation>, ApiError> {
    let rotation = call(
        &caller.principal,
        &gateway.backends.crm,
        RotateMasterKeyRequest {},
        async |mut crm, request| crm.rotate_master_key(request).await,
    )
    .await?;
    Ok(Json(MasterKeyRotation {
        rewrapped: rotation.rewrapped,
        already_current: rotation.already_current,
    }))
}
