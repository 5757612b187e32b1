//! The OpenAPI document checked against the router and the problem body.

use std::collections::BTreeSet;

use axum::body::Body;
use http::{Method, Request, StatusCode};
use rampart_kit::pki::ServiceName;
use rampart_kit::rate_limit::RateLimiter;
use rampart_kit::testing::TestPki;
use serde_json::Value;
use tower::ServiceExt;

use super::openapi::{ADMIN_API_KEY, SESSION, TENANT_API_KEY, WIDGET_KEY};
use super::{ADMIN_SIGN_IN, document_json};
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
    super::router(gateway)
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
    let mut mounted = mounted_routes(&router).await;
    // The admins' sign-in is mounted at its template and kept out of the
    // document on purpose; with a wrong segment it answers 404 to every
    // method, which the discovery counts as served.
    let secret_route: BTreeSet<_> = mounted
        .iter()
        .filter(|(_, path)| path == ADMIN_SIGN_IN)
        .cloned()
        .collect();
    assert!(
        !secret_route.is_empty(),
        "the admin sign-in template is mounted"
    );
    mounted.retain(|route| !secret_route.contains(route));
    // The browser pages are files, not API routes (see crate::pages).
    mounted.retain(|(_, path)| !crate::pages::ROUTES.contains(&path.as_str()));
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
        "mounted but not in the OpenAPI document (annotate the handler and register it in routes::api): {undocumented:?}"
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
                if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
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
