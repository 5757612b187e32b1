//! The OpenAPI 3.1 document of the REST edge, generated from the code and
//! served at `GET /v1/openapi.json` (no credential needed).
//!
//! Each handler carries its own `#[utoipa::path(...)]` annotation: method,
//! path, request body, success answers, the errors particular to it, and the
//! credential it needs (`security(("tenant_api_key" = []))`; none for the
//! sign-in steps and public documents). Routes that take a tenant or admin
//! key also accept the matching signed-in user's session (`Authorization:
//! Bearer`, which then takes precedence); the document names only the key,
//! as a second alternative would have the fuzzer send a made-up bearer token
//! in place of the key it holds. To add a route:
//! annotate the handler like its neighbours, mount it in [`super::router`],
//! and list it in [`ApiDoc`]'s `paths(...)`. The test at the bottom fails when
//! a mounted route is missing from the document, or the other way round.
//! The platform admins' sign-in, at the secret path `admin_sign_in_path`, is
//! left out on purpose: publishing it would defeat it (and without that
//! setting, as in the test, it is not mounted).
//!
//! The errors every route shares are added here, once, by [`CommonErrors`]:
//! each as `application/problem+json` ([`Problem`]), chosen by what the
//! operation has — a credential (401, 403, 429, 503), a body (413, 415), a
//! path parameter (404) — plus those any request can meet (400 for a
//! credential in the query string, 405, 500, 504).

use std::sync::OnceLock;

use axum::response::IntoResponse;
use http::{HeaderValue, header};
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

/// The security scheme names handlers refer to in `security(...)`.
pub const TENANT_API_KEY: &str = "tenant_api_key";
pub const ADMIN_API_KEY: &str = "admin_api_key";
pub const SESSION: &str = "session";
pub const WIDGET_KEY: &str = "widget_key";

/// An error, as every route answers it (RFC 9457). The document's copy of
/// [`crate::problem::ApiError`]'s body; a test keeps the two in step.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct Problem {
    /// `urn:rampart:problem:<slug>`, stable per kind of error.
    #[schema(example = "urn:rampart:problem:invalid-argument")]
    r#type: String,
    /// A short summary of the kind of error.
    title: String,
    /// The HTTP status code.
    status: u16,
    /// What went wrong with this request, safe to show to the client.
    detail: String,
    /// The request id, also in the `X-Request-Id` header; quote it to
    /// support.
    request_id: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rampart REST edge",
        description = "The REST API of Rampart's edge gateway. Errors are RFC 9457 problem documents (application/problem+json) with a request id.",
    ),
    paths(
        super::health::live,
        super::health::ready,
        document,
        super::well_known::security_txt,
        super::admin::create_tenant,
        super::admin::list_tenants,
        super::admin::issue_api_key,
        super::crm::create_customer,
        super::crm::list_customers,
        super::crm::get_customer,
        super::escalation::evaluate,
        super::keys::list_admin_keys,
        super::keys::issue_admin_key,
        super::keys::rotate_admin_key,
        super::keys::revoke_admin_key,
        super::keys::list_tenant_keys,
        super::keys::rotate_tenant_key,
        super::keys::revoke_tenant_key,
        super::keys::set_tenant_rate_limit,
        super::keys::list_own_keys,
        super::keys::issue_own_key,
        super::keys::rotate_own_key,
        super::keys::revoke_own_key,
        super::accounts::sign_in_public,
        super::accounts::second_factor,
        super::accounts::enrol_for_challenge,
        super::accounts::sign_out,
        super::accounts::me,
        super::accounts::list_sessions,
        super::accounts::revoke_session,
        super::accounts::revoke_all_sessions,
        super::accounts::change_password,
        super::accounts::begin_totp,
        super::accounts::confirm_totp,
        super::users::create_user,
        super::users::list_users,
        super::users::update_user,
        super::users::revoke_user_sessions,
        super::users::get_security,
        super::users::set_security,
        super::users::admin_create_user,
        super::users::admin_create_admin,
        super::users::admin_update_user,
        super::users::admin_revoke_user_sessions,
        super::widget::start_conversation,
        super::audit::list_events,
        super::audit::checkpoint,
        super::audit::inclusion_proof,
        super::audit::consistency_proof,
        super::audit::export,
        super::audit::admin_list_events,
        super::audit::admin_checkpoint,
        super::audit::admin_inclusion_proof,
        super::audit::admin_consistency_proof,
        super::audit::admin_export,
        super::audit::public_key,
    ),
    components(schemas(Problem)),
    modifiers(&SecuritySchemes, &CommonErrors),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "meta", description = "This document and the security contact"),
        (name = "admin", description = "Platform administration (platform admin key; a platform admin's session works too)"),
        (name = "keys", description = "API keys: a tenant's own (a key with the keys scope), any tenant's and the platform's (platform admin key or session)"),
        (name = "accounts", description = "Signing in, and the signed-in user's sessions, password and second factor"),
        (name = "users", description = "Users and roles: a tenant's owner manages the tenant's users, platform admins any tenant's"),
        (name = "crm", description = "The tenant's customers (tenant API key; a tenant user's session works too)"),
        (name = "escalation", description = "May the AI answer, or must a human? (tenant API key; a tenant user's session works too)"),
        (name = "widget", description = "The website widget (public widget key, from an allowed origin)"),
        (name = "audit", description = "The audit logs, with signed checkpoints and proofs: a tenant's own (tenant API key or a tenant user's session), any log (platform admin key or session)"),
    ),
)]
pub struct ApiDoc;

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

/// The document as JSON, built once.
pub fn document_json() -> &'static [u8] {
    static DOCUMENT: OnceLock<Vec<u8>> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the OpenAPI document serialises")
            .into_bytes()
    })
}

/// `GET /v1/openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of the REST edge", content_type = "application/json")),
)]
pub async fn document() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document_json(),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axum::body::Body;
    use http::{Method, Request, StatusCode};
    use rampart_kit::pki::ServiceName;
    use rampart_kit::rate_limit::RateLimiter;
    use rampart_kit::testing::TestPki;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::{BackendUrls, Backends, Config, Gateway};

    fn document() -> Value {
        serde_json::from_slice(document_json()).unwrap()
    }

    /// A gateway whose backends are unreachable: enough to route requests.
    fn test_router(pki: &TestPki) -> axum::Router {
        let tls = pki.load_service(ServiceName::Gateway).unwrap();
        let closed = "https://127.0.0.1:9".to_owned();
        let urls = BackendUrls {
            auth: closed.clone(),
            crm: closed.clone(),
            escalation: closed.clone(),
            audit: closed,
        };
        let backends = Backends::connect(&urls, &tls).unwrap();
        let gateway = Gateway::new(
            Config::default(),
            backends,
            RateLimiter::memory(),
            rampart_kit::revocation::RevocationBus::in_process(),
        );
        super::super::router(gateway)
    }

    /// The paths mounted in `router`. axum keeps no public list of routes;
    /// its `Debug` output names each path, which is enough for a test. The
    /// caller checks that the known routes are found, so a change in that
    /// output fails the test rather than passing it.
    fn mounted_paths(router: &axum::Router) -> BTreeSet<String> {
        let debug = format!("{router:?}");
        // The fallback router's own paths ("/" and a catch-all) come after.
        let mounted = debug.split("fallback_router:").next().unwrap_or_default();
        let mut paths = BTreeSet::new();
        for piece in mounted.split("): \"").skip(1) {
            if let Some(path) = piece.split('"').next()
                && path.starts_with('/')
                && !path.contains("__private__")
            {
                paths.insert(path.to_owned());
            }
        }
        paths
    }

    /// Every (method, path) the router serves, found by asking it: a method
    /// a path does not serve answers 405.
    async fn mounted_routes(router: &axum::Router) -> BTreeSet<(String, String)> {
        let mut routes = BTreeSet::new();
        for path in mounted_paths(router) {
            let concrete: String = path
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        "x"
                    } else {
                        segment
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            for method in [
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ] {
                let request = Request::builder()
                    .method(method.clone())
                    .uri(&concrete)
                    .body(Body::empty())
                    .unwrap();
                let response = router.clone().oneshot(request).await.unwrap();
                if response.status() != StatusCode::METHOD_NOT_ALLOWED {
                    routes.insert((method.as_str().to_ascii_lowercase(), path.clone()));
                }
            }
        }
        routes
    }

    fn documented_routes(document: &Value) -> BTreeSet<(String, String)> {
        let mut routes = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in [
                "get", "post", "put", "patch", "delete", "head", "options", "trace",
            ] {
                if item.get(method).is_some() {
                    routes.insert((method.to_owned(), path.clone()));
                }
            }
        }
        routes
    }

    #[tokio::test]
    async fn every_mounted_route_is_documented_and_every_documented_route_mounted() {
        let pki = TestPki::generate();
        let router = test_router(&pki);
        let mounted = mounted_routes(&router).await;
        // The known routes are found, so the discovery itself works.
        for known in [
            ("get", "/healthz"),
            ("post", "/v1/crm/customers"),
            ("get", "/v1/crm/customers/{customer_id}"),
            ("get", "/v1/openapi.json"),
            ("get", "/.well-known/security.txt"),
        ] {
            assert!(
                mounted.contains(&(known.0.to_owned(), known.1.to_owned())),
                "route discovery missed {known:?}; found {mounted:?}"
            );
        }
        let documented = documented_routes(&document());
        let undocumented: Vec<_> = mounted.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "mounted but not in the OpenAPI document (annotate the handler and list it in ApiDoc): {undocumented:?}"
        );
        let unmounted: Vec<_> = documented.difference(&mounted).collect();
        assert!(
            unmounted.is_empty(),
            "documented but not mounted: {unmounted:?}"
        );
    }

    /// Every `$ref` in `value`.
    fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    if key == "$ref"
                        && let Some(target) = inner.as_str()
                    {
                        found.push(target);
                    }
                    refs(inner, found);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
            _ => {}
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_in_shape() {
        let document = document();
        assert!(
            document["openapi"].as_str().unwrap().starts_with("3.1."),
            "{}",
            document["openapi"]
        );
        assert!(document["info"]["title"].is_string());
        assert!(document["info"]["version"].is_string());
        let schemes = document["components"]["securitySchemes"]
            .as_object()
            .unwrap();
        assert_eq!(schemes[TENANT_API_KEY]["name"], "X-API-Key");
        assert_eq!(schemes[TENANT_API_KEY]["in"], "header");
        assert_eq!(schemes[ADMIN_API_KEY]["name"], "X-Admin-API-Key");
        assert_eq!(schemes[SESSION]["scheme"], "bearer");
        assert_eq!(schemes[WIDGET_KEY]["name"], "X-Widget-Key");
        assert_eq!(schemes[WIDGET_KEY]["in"], "header");

        // Every reference resolves inside the document.
        let mut targets = Vec::new();
        refs(&document, &mut targets);
        assert!(!targets.is_empty());
        for target in targets {
            let pointer = target.strip_prefix('#').expect("local reference");
            assert!(
                document.pointer(pointer).is_some(),
                "dangling reference {target}"
            );
        }

        for (path, item) in document["paths"].as_object().unwrap() {
            assert!(path.starts_with('/'), "{path}");
            for (method, operation) in item.as_object().unwrap() {
                let what = format!("{method} {path}");
                let responses = operation["responses"].as_object().unwrap();
                assert!(
                    responses.keys().any(|status| status.starts_with('2')),
                    "{what} has no success answer"
                );
                for (status, response) in responses {
                    assert!(response["description"].is_string(), "{what} {status}");
                    if status.starts_with('4') || status.starts_with('5') {
                        assert_eq!(
                            response["content"]["application/problem+json"]["schema"]["$ref"],
                            "#/components/schemas/Problem",
                            "{what} {status} is not a problem response"
                        );
                    }
                }
                for required in ["405", "500"] {
                    assert!(responses.contains_key(required), "{what} lacks {required}");
                }
                // Each path parameter is declared.
                let declared: Vec<&str> = operation["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .filter(|p| p["in"] == "path")
                            .filter_map(|p| p["name"].as_str())
                            .collect()
                    })
                    .unwrap_or_default();
                for segment in path.split('/') {
                    if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
                    {
                        assert!(declared.contains(&name), "{what} does not declare {name}");
                    }
                }
                // A route that needs a credential names a known scheme and
                // answers 401.
                if let Some(security) = operation["security"].as_array() {
                    for requirement in security {
                        for scheme in requirement.as_object().unwrap().keys() {
                            assert!(schemes.contains_key(scheme), "{what}: unknown {scheme}");
                        }
                    }
                    if !security.is_empty() {
                        assert!(responses.contains_key("401"), "{what} lacks 401");
                    }
                }
            }
        }
    }

    #[tokio::test]
    async fn the_problem_schema_matches_the_problem_body() {
        let response = crate::problem::ApiError::invalid("x").into_response_with(Some("r"));
        let (_, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 4096).await.unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        let document = document();
        let properties = document["components"]["schemas"]["Problem"]["properties"]
            .as_object()
            .unwrap();
        let body_keys: BTreeSet<&String> = body.as_object().unwrap().keys().collect();
        let schema_keys: BTreeSet<&String> = properties.keys().collect();
        assert_eq!(body_keys, schema_keys);
    }

    #[test]
    fn tenant_routes_declare_the_business_id_header() {
        let document = document();
        let operation = &document["paths"]["/v1/crm/customers"]["get"];
        assert!(
            operation["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "X-Business-ID" && p["in"] == "header"),
            "{operation}"
        );
    }
}
