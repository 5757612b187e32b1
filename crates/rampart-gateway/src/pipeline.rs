//! The phases every request passes before and after its route: request id,
//! header hygiene, methods, probe paths, credentials in the query string,
//! deadline, security headers on the way out, and the request's metrics.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version, header};
use rampart_kit::error::ErrorCode;
use rampart_kit::principal::{PRINCIPAL_HEADERS, REQUEST_ID};

use crate::Gateway;
use crate::problem::{ApiError, RequestId};

/// The client's address as the TCP connection showed it. The edge faces
/// clients directly, so no `X-Forwarded-For` is trusted.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// Paths that only scanners ask for. They answer 404 like any unknown path,
/// and are counted so operators can see the probing.
const PROBE_PREFIXES: [&str; 14] = [
    "/wp-admin",
    "/wp-login.php",
    "/wp-content",
    "/wp-includes",
    "/xmlrpc.php",
    "/.git",
    "/.env",
    "/.aws",
    "/.ssh",
    "/phpmyadmin",
    "/pma",
    "/administrator",
    "/cgi-bin",
    "/vendor/phpunit",
];

/// The probe prefix `path` asks for, if any; logs name the prefix, never
/// the path the scanner sent.
fn probe_prefix(path: &str) -> Option<&'static str> {
    let lower = path.to_ascii_lowercase();
    PROBE_PREFIXES.into_iter().find(|prefix| {
        lower == *prefix
            || lower
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('.'))
    })
}

/// The placeholder for the admins' secret sign-in segment in labels and
/// logs.
const SECRET_SEGMENT: &str = "{secret}";

/// The route a request is logged and counted under: its route template,
/// with the admins' secret sign-in segment (`admin_sign_in_path`) shown as
/// [`SECRET_SEGMENT`] should a template carry it; `None` when no route
/// matched. Never the raw path: it would put secrets and scanners' junk in
/// logs and grow the metrics without bound.
fn route_label(template: Option<&str>, admin_sign_in_path: Option<&str>) -> Option<String> {
    let template = template?;
    let Some(secret) = admin_sign_in_path.filter(|secret| !secret.is_empty()) else {
        return Some(template.to_owned());
    };
    let segments: Vec<&str> = template
        .split('/')
        .map(|segment| {
            if segment == secret {
                SECRET_SEGMENT
            } else {
                segment
            }
        })
        .collect();
    Some(segments.join("/"))
}

/// Query parameters that would carry a credential. Keys in URLs end up in
/// proxy logs, browser history and referrers, so they are refused outright.
fn query_carries_credential(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&').any(|pair| {
            let name = pair
                .split('=')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            matches!(
                name.as_str(),
                "api_key"
                    | "apikey"
                    | "key"
                    | "x-api-key"
                    | "admin_api_key"
                    | "token"
                    | "access_token"
            )
        })
    })
}

/// Headers a client must never be able to set: the internal principal
/// headers the gateway itself sends to services, and forwarding headers that
/// could spoof the client's address.
fn strip_untrusted_headers(headers: &mut HeaderMap) {
    for name in PRINCIPAL_HEADERS {
        headers.remove(name);
    }
    let forwarded: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("x-forwarded-") || name.as_str() == "forwarded")
        .cloned()
        .collect();
    for name in forwarded {
        headers.remove(name);
    }
    headers.remove(REQUEST_ID);
}

/// Methods the REST edge uses. TRACE (which would echo credentials back),
/// CONNECT and extension methods are answered 405 on every path, before
/// routing.
fn method_is_served(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET
            | Method::HEAD
            | Method::POST
            | Method::PUT
            | Method::PATCH
            | Method::DELETE
            | Method::OPTIONS
    )
}

/// The outermost middleware of the router.
pub async fn edge_pipeline(
    State(gateway): State<Arc<Gateway>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::now_v7().to_string();
    strip_untrusted_headers(request.headers_mut());
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let method = request.method().clone();
    let version = request.version();
    // `Router::layer` runs this after routing, so the route template is
    // known here; metrics and logs use it, never the raw path.
    let route = route_label(
        request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
        gateway.config.admin_sign_in_path.as_deref(),
    );

    let mut response = if !method_is_served(&method) {
        ApiError::method_not_allowed().into_response()
    } else if let Some(probe) = probe_prefix(request.uri().path()) {
        let hits = gateway.metrics.probe_hit();
        let client = request.extensions().get::<ClientAddr>().map(|c| c.0.ip());
        tracing::warn!(probe, ?client, hits, "scanner probe path requested");
        ApiError::not_found().into_response()
    } else if query_carries_credential(request.uri().query()) {
        ApiError::invalid("credentials are not accepted in the query string; send them in a header")
            .into_response()
    } else {
        match tokio::time::timeout(gateway.config.request_timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => {
                ApiError::new(ErrorCode::Timeout, "the request took too long").into_response()
            }
        }
    };

    if let Some(error) = response.extensions_mut().remove::<ApiError>() {
        response = error.into_response_with(Some(&request_id));
    }
    set_security_headers(response.headers_mut(), &request_id);
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && version <= Version::HTTP_11 {
        // HTTP/1 closes the connection after a body it did not read whole;
        // say so, rather than let the client find out on its next request.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let elapsed = started.elapsed();
    gateway.metrics.request(
        &method,
        route.as_deref(),
        response.status().as_u16(),
        elapsed,
    );
    tracing::info!(
        %method,
        route = route.as_deref().unwrap_or(crate::metrics::UNMATCHED),
        status = response.status().as_u16(),
        elapsed_ms = elapsed.as_millis() as u64,
        request_id,
        "request"
    );
    response
}

fn set_security_headers(headers: &mut HeaderMap, request_id: &str) {
    let fixed = [
        (
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
        (header::REFERRER_POLICY, "no-referrer"),
        // Answers carry tenant data or credentials; no cache may keep them.
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.remove(header::SERVER);
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_paths_are_recognised() {
        for path in [
            "/wp-admin",
            "/wp-admin/",
            "/WP-LOGIN.PHP",
            "/.git/config",
            "/.env",
            "/.env.local",
        ] {
            assert!(probe_prefix(path).is_some(), "{path}");
        }
        for path in [
            "/healthz",
            "/v1/crm/customers",
            "/wp-administrators-guide",
            "/.github",
        ] {
            assert!(probe_prefix(path).is_none(), "{path}");
        }
    }

    /// The label of each request a router sees, as the pipeline takes it.
    async fn labels_seen(secret: &str, paths: &[&str]) -> Vec<Option<String>> {
        use tower::ServiceExt;

        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        let secret_owned = secret.to_owned();
        // Registered with the segment written out, as the gateway once did.
        let router = axum::Router::new()
            .route(
                &format!("/v1/auth/{secret}/sign-in"),
                axum::routing::post(|| async {}),
            )
            .route(
                "/v1/crm/customers/{customer_id}",
                axum::routing::get(|| async {}),
            )
            .layer(axum::middleware::from_fn(
                move |request: Request, next: Next| {
                    let label = route_label(
                        request
                            .extensions()
                            .get::<MatchedPath>()
                            .map(MatchedPath::as_str),
                        Some(&secret_owned),
                    );
                    record.lock().unwrap().push(label);
                    next.run(request)
                },
            ));
        for path in paths {
            let request = http::Request::post(*path)
                .body(axum::body::Body::empty())
                .unwrap();
            router.clone().oneshot(request).await.unwrap();
        }
        std::mem::take(&mut *seen.lock().unwrap())
    }

    #[tokio::test]
    async fn labels_carry_templates_never_raw_paths_or_the_secret() {
        let secret = "admin-0123456789abcdef";
        let labels = labels_seen(
            secret,
            &[
                &format!("/v1/auth/{secret}/sign-in"),
                "/v1/crm/customers/cus_private_id",
                "/v1/auth/guess-the-secret/sign-in",
                "/.env",
            ],
        )
        .await;
        assert_eq!(
            labels,
            [
                Some("/v1/auth/{secret}/sign-in".to_owned()),
                Some("/v1/crm/customers/{customer_id}".to_owned()),
                None,
                None,
            ]
        );
        // Without a secret configured, templates pass unchanged.
        assert_eq!(
            route_label(Some("/v1/crm/customers/{customer_id}"), None).as_deref(),
            Some("/v1/crm/customers/{customer_id}")
        );
    }

    #[test]
    fn only_the_edge_methods_are_served() {
        for method in ["GET", "POST", "DELETE", "OPTIONS"] {
            assert!(method_is_served(
                &Method::from_bytes(method.as_bytes()).unwrap()
            ));
        }
        for method in ["TRACE", "CONNECT", "PROPFIND", "FOO"] {
            assert!(!method_is_served(
                &Method::from_bytes(method.as_bytes()).unwrap()
            ));
        }
    }

    #[test]
    fn credentials_in_query_are_spotted() {
        assert!(query_carries_credential(Some("api_key=rk_live_x")));
        assert!(query_carries_credential(Some("limit=5&X-API-Key=abc")));
        assert!(!query_carries_credential(Some("limit=5&cursor=cus_1")));
        assert!(!query_carries_credential(None));
    }

    #[test]
    fn untrusted_headers_are_stripped() {
        let mut headers = HeaderMap::new();
        headers.insert("x-rampart-tenant-id", HeaderValue::from_static("ten_x"));
        headers.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        headers.insert("forwarded", HeaderValue::from_static("for=10.0.0.1"));
        headers.insert("x-api-key", HeaderValue::from_static("k"));
        strip_untrusted_headers(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("x-api-key"));
    }
}
