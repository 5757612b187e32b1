//! The parts of the OpenAPI 3.1 document every route shares: the title,
//! the tags, the credentials ([`SecuritySchemes`]) and the common errors
//! ([`CommonErrors`]). The operations themselves come from the handlers'
//! `#[utoipa::path(...)]` annotations, collected where the routes are
//! registered (`routes::api`); the document is served at
//! `GET /v1/openapi.json` (no credential needed).
//!
//! Each operation names the credential it needs
//! (`security(("tenant_api_key" = []))`; none for the sign-in steps and
//! public documents). Routes that take a tenant or admin key also accept the
//! matching signed-in user's session (`Authorization: Bearer`, which then
//! takes precedence); the document names only the key, as a second
//! alternative would have the fuzzer send a made-up bearer token in place of
//! the key it holds.
//!
//! The errors every route shares are declared here, once, by
//! [`CommonErrors`]: each as `application/problem+json` ([`Problem`]),
//! chosen by what the operation has — a credential (401, 403, 429, 503), a
//! body (413, 415), a path parameter (404) — plus those any request can meet
//! (400 for a credential in the query string, 405, 500, 504). A handler
//! lists an error itself only to say something particular to its route, as
//! `(status = 404, description = "No such customer in the caller's
//! tenant")`; the problem body is added to it here.

use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::problem::Problem;

/// The security scheme names handlers refer to in `security(...)`.
pub const TENANT_API_KEY: &str = "tenant_api_key";
pub const ADMIN_API_KEY: &str = "admin_api_key";
pub const SESSION: &str = "session";
pub const WIDGET_KEY: &str = "widget_key";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rampart REST edge",
        description = "The REST API of Rampart's edge gateway. Errors are RFC 9457 problem documents (application/problem+json) with a request id.",
    ),
    components(schemas(Problem)),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "meta", description = "This document and the security contact"),
        (name = "admin", description = "Platform administration (platform admin key; a platform admin's session works too)"),
        (name = "keys", description = "API keys: a tenant's own (a key with the keys scope), any tenant's and the platform's (platform admin key or session)"),
        (name = "accounts", description = "Signing in, and the signed-in user's sessions, password and second factor"),
        (name = "users", description = "Users and roles: a tenant's owner manages the tenant's users, platform admins any tenant's"),
        (name = "crm", description = "The tenant's customers (tenant API key; a tenant user's session works too)"),
        (name = "conversations", description = "Conversations and their messages: every customer message is decided by the handoff gate before the AI may answer, every AI reply is checked by the guardrails (tenant API key; a tenant user's session works too; agent replies need a session)"),
        (name = "escalation", description = "May the AI answer, or must a human? The tenant's escalation policy (a manager's or owner's session)"),
        (name = "handoffs", description = "The handoff queue: conversations a person must answer, by severity and due time (a tenant user's session; listing also takes a tenant API key)"),
        (name = "widget", description = "The website widget (public widget key, from an allowed origin)"),
        (name = "audit", description = "The audit logs, with signed checkpoints and proofs: a tenant's own (tenant API key or a tenant user's session), any log (platform admin key or session)"),
        (name = "telephony", description = "Twilio's SMS and voice webhooks (no key: the X-Twilio-Signature under the called number's auth token)"),
    ),
)]
struct ApiDoc;

/// The document before any route is registered: its title and tags.
#[must_use]
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Adds what every operation shares, once the routes are registered: the
/// credentials and the common errors.
pub fn complete(document: &mut utoipa::openapi::OpenApi) {
    SecuritySchemes.modify(document);
    CommonErrors.modify(document);
}

/// The credentials the edge accepts.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            TENANT_API_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "A tenant API key (rk_live_... or rk_test_...). Never in the query string.",
            ))),
        );
        components.add_security_scheme(
            ADMIN_API_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Admin-API-Key",
                "A platform admin key (rk_admin_...).",
            ))),
        );
        components.add_security_scheme(
            WIDGET_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Widget-Key",
                "A public widget key (rk_pub_...), sent from one of its allowed web origins.",
            ))),
        );
        components.add_security_scheme(
            SESSION,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A signed-in user's session token (rs_...), from POST /v1/auth/sign-in.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The errors shared by routes, added to each operation by what it has.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let has_path_parameter = path.contains('{');
            for operation in [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                add_common_errors(operation, has_path_parameter);
            }
        }
    }
}

fn add_common_errors(operation: &mut Operation, has_path_parameter: bool) {
    let schemes: Vec<String> = operation
        .security
        .iter()
        .flatten()
        .filter_map(|requirement| serde_json::to_value(requirement).ok())
        .filter_map(|value| {
            value
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
        })
        .flatten()
        .collect();
    let authenticated = !schemes.is_empty();
    let mut errors = vec![
        ("400", "Invalid input, or a credential in the query string"),
        ("405", "The route does not accept this method"),
        ("500", "An unexpected error; details are only in the logs"),
        ("504", "The request took longer than its deadline"),
    ];
    if authenticated {
        errors.extend([
            (
                "401",
                "The credential is missing, malformed, unknown, revoked or expired",
            ),
            (
                "403",
                "The credential may not use this route, or X-Business-ID does not match it",
            ),
            ("429", "Rate limit exceeded; see Retry-After"),
            (
                "503",
                "A service behind the gateway is unavailable; retry later",
            ),
        ]);
    }
    if operation.request_body.is_some() {
        errors.extend([
            ("413", "The body is larger than the limit"),
            ("415", "The body is not sent as application/json"),
        ]);
    }
    if has_path_parameter {
        errors.push(("404", "No such resource (or one of another tenant)"));
    }
    // A route's own errors say only what is particular to it; each is a
    // problem document like every other.
    for (status, response) in &mut operation.responses.responses {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let RefOr::T(response) = response
            && is_error
            && response.content.is_empty()
        {
            *response = problem_response(&response.description);
        }
    }
    for (status, description) in errors {
        if operation.responses.responses.contains_key(status) {
            continue;
        }
        operation
            .responses
            .responses
            .insert(status.to_owned(), problem_response(description).into());
    }
    if schemes.iter().any(|s| s == TENANT_API_KEY) {
        let parameters = operation.parameters.get_or_insert_with(Vec::new);
        if !parameters.iter().any(|p| p.name == "X-Business-ID") {
            parameters.push(business_id_parameter());
        }
    }
}

fn problem_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

fn business_id_parameter() -> Parameter {
    ParameterBuilder::new()
        .name("X-Business-ID")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "The tenant the caller means; when sent it must be the API key's tenant (403 otherwise).",
        ))
        .schema(Some(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String),
        ))
        .build()
}
