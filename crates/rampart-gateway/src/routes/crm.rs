//! Tenant CRM routes: customers of the caller's tenant.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use rampart_proto::crm::v1::{
    CreateCustomerRequest, Customer, GetCustomerRequest, ListCustomersRequest,
};
use serde::{Deserialize, Serialize};

use super::page::{Page, next_cursor};
use crate::Gateway;
use crate::authn::TenantCaller;
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

/// `GET /v1/crm/customers?limit=&cursor=`
#[utoipa::path(
    get,
    path = "/v1/crm/customers",
    tag = "crm",
    params(Page),
    responses((status = 200, description = "One page of the tenant's customers", body = CustomerList)),
    security(("tenant_api_key" = [])),
)]
pub async fn list_customers(
    State(gateway): State<Arc<Gateway>>,
    caller: TenantCaller,
    page: Page,
) -> Result<Json<CustomerList>, ApiError> {
    let list = call(
        &caller.principal,
        &gateway.backends.crm,
        ListCustomersRequest {
            page_size: page.size(),
            cursor: page.cursor(),
            // The vault branch adds the phone/email lookup here.
            ..Default::default()
        },
        async |mut crm, request| crm.list_customers(request).await,
    )
    .await?;
    Ok(Json(CustomerList {
        customers: list.customers.into_iter().map(Into::into).collect(),
        next_cursor: next_cursor(list.next_cursor),
    }))
}
