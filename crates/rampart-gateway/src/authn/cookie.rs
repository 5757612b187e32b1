//! The console's session transport: the session token in an `HttpOnly`
//! cookie instead of an `Authorization` header, so that no script in the
//! page (the console's own or an injected one) can read it, with a CSRF
//! token that every state-changing request must echo.
//!
//! - The sign-in steps set the cookie when the request asks for it with
//!   `X-Session-Transport: cookie`; the answer then carries a `csrf_token`
//!   and no `session_token`. The cookie is `__Host-` prefixed (so it is
//!   `Secure`, has `Path=/` and no `Domain`: a sibling subdomain cannot
//!   plant one), `HttpOnly`, `SameSite=Strict`, and ends with the session.
//! - A request with no `Authorization` header presents the cookie's token
//!   to the same session checks as a bearer token; `Authorization` wins
//!   when both are sent, so API clients are unaffected.
//! - A cookie-carried request with an unsafe method (anything but GET,
//!   HEAD and OPTIONS) must send `X-CSRF-Token` equal to the session's CSRF
//!   token, and, when the browser says where it comes from
//!   (`Sec-Fetch-Site`), come from this same origin. `SameSite=Strict`
//!   already keeps other sites' requests from carrying the cookie; the
//!   token is the second lock (OWASP's CSRF cheat sheet recommends both).
//!
//! The CSRF token is `SHA-256("rampart console csrf v1" ‖ 0 ‖ session
//! token)` in hex: bound to the one session, the same at every gateway
//! replica with no shared secret, and useless without the cookie (the
//! token cannot be turned back into the session token). `GET /v1/auth/me`
//! answers it again for a cookie-carried session, so a reloaded page finds
//! it without storing it.

use cookie::{Cookie, SameSite};
use http::request::Parts;
use http::{HeaderValue, Method};
use subtle::ConstantTimeEq;

use crate::problem::ApiError;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "__Host-rampart_session";
/// The request header asking the sign-in steps for the cookie transport.
pub const TRANSPORT_HEADER: &str = "x-session-transport";
/// The request header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

const CSRF_CONTEXT: &[u8] = b"rampart console csrf v1\0";

/// Whether the request asked the sign-in steps for the cookie transport;
/// any other value of the header is refused rather than ignored.
pub(crate) fn wants_cookie(parts: &http::HeaderMap) -> Result<bool, ApiError> {
    match parts.get(TRANSPORT_HEADER).map(HeaderValue::to_str) {
        None => Ok(false),
        Some(Ok("cookie")) => Ok(true),
        Some(Ok("bearer")) => Ok(false),
        Some(_) => Err(ApiError::invalid(
            "X-Session-Transport must be \"cookie\" or \"bearer\"",
        )),
    }
}

/// The CSRF token of the session whose token is `session_token`.
#[must_use]
pub fn csrf_token(session_token: &str) -> String {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(CSRF_CONTEXT);
    context.update(session_token.as_bytes());
    context
        .finish()
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The `Set-Cookie` value that hands the browser `session_token`. It has
/// no `Max-Age`: the browser drops it when it closes, and the session's own
/// end (idle or absolute) is enforced where it always is, by auth.
pub(crate) fn set_session(session_token: &str) -> HeaderValue {
    header_value(&attributes(Cookie::build((SESSION_COOKIE, session_token))).build())
}

/// The `Set-Cookie` value that makes the browser forget the session.
pub(crate) fn clear_session() -> HeaderValue {
    header_value(
        &attributes(Cookie::build((SESSION_COOKIE, "")))
            .max_age(cookie::time::Duration::ZERO)
            .build(),
    )
}

fn attributes(cookie: cookie::CookieBuilder<'_>) -> cookie::CookieBuilder<'_> {
    cookie
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
}

fn header_value(cookie: &Cookie<'_>) -> HeaderValue {
    // A cookie built from a session token (hex after `rs_`) and fixed
    // attributes is always a valid header value.
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The session token in the request's cookies, if it sent the cookie (the
/// caller checks its shape like a bearer token's).
pub(crate) fn session_from_cookies(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == SESSION_COOKIE)
        .and_then(|cookie| cookie.value_raw())
        .filter(|value| !value.is_empty())
}

/// For a cookie-carried session: an unsafe method must come from this
/// origin and echo the session's CSRF token.
pub(crate) fn check_csrf(parts: &Parts, session_token: &str) -> Result<(), ApiError> {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let refused = || {
        ApiError::forbidden(
            "a console request that changes something must send the session's X-CSRF-Token",
        )
    };
    if let Some(site) = parts.headers.get("sec-fetch-site")
        && site.as_bytes() != b"same-origin"
    {
        return Err(refused());
    }
    let sent = parts
        .headers
        .get(CSRF_HEADER)
        .ok_or_else(refused)?
        .as_bytes();
    let expected = csrf_token(session_token);
    if bool::from(sent.ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(refused())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder().method(method).uri("/v1/x");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    const TOKEN: &str = "rs_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn the_cookie_is_host_only_secure_http_only_and_strict() {
        let value = set_session(TOKEN);
        let text = value.to_str().unwrap();
        assert!(
            text.starts_with(&format!("{SESSION_COOKIE}={TOKEN};")),
            "{text}"
        );
        for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(text.contains(attribute), "{attribute} missing from {text}");
        }
        assert!(
            !text.contains("Domain") && !text.contains("Max-Age"),
            "{text}"
        );
        let cleared = clear_session();
        let cleared = cleared.to_str().unwrap();
        assert!(
            cleared.starts_with(&format!("{SESSION_COOKIE}=;")),
            "{cleared}"
        );
        assert!(
            cleared.contains("Max-Age=0") && cleared.contains("Secure"),
            "{cleared}"
        );
    }

    #[test]
    fn the_session_is_found_among_other_cookies() {
        let mut headers = http::HeaderMap::new();
        headers.append("cookie", HeaderValue::from_static("a=1; theme=dark"));
        assert_eq!(session_from_cookies(&headers), None);
        headers.append(
            "cookie",
            HeaderValue::from_str(&format!("x=2; {SESSION_COOKIE}={TOKEN}")).unwrap(),
        );
        assert_eq!(session_from_cookies(&headers), Some(TOKEN));
        // A look-alike name is not the cookie.
        let mut other = http::HeaderMap::new();
        other.append(
            "cookie",
            HeaderValue::from_str(&format!("rampart_session={TOKEN}")).unwrap(),
        );
        assert_eq!(session_from_cookies(&other), None);
    }

    #[test]
    fn unsafe_methods_need_the_sessions_token_from_this_origin() {
        let csrf = csrf_token(TOKEN);
        assert_eq!(csrf.len(), 64);
        assert_ne!(csrf, csrf_token(&TOKEN.replace('0', "1")));
        assert!(check_csrf(&parts(Method::GET, &[]), TOKEN).is_ok());
        assert!(check_csrf(&parts(Method::POST, &[]), TOKEN).is_err());
        assert!(check_csrf(&parts(Method::POST, &[(CSRF_HEADER, "00")]), TOKEN).is_err());
        let other = csrf_token(&TOKEN.replace('a', "b"));
        assert!(check_csrf(&parts(Method::DELETE, &[(CSRF_HEADER, &other)]), TOKEN).is_err());
        assert!(check_csrf(&parts(Method::POST, &[(CSRF_HEADER, &csrf)]), TOKEN).is_ok());
        assert!(
            check_csrf(
                &parts(
                    Method::POST,
                    &[(CSRF_HEADER, &csrf), ("sec-fetch-site", "same-origin")]
                ),
                TOKEN
            )
            .is_ok()
        );
        assert!(
            check_csrf(
                &parts(
                    Method::PATCH,
                    &[(CSRF_HEADER, &csrf), ("sec-fetch-site", "cross-site")]
                ),
                TOKEN
            )
            .is_err()
        );
    }

    #[test]
    fn the_transport_header_is_cookie_bearer_or_absent() {
        let mut headers = http::HeaderMap::new();
        assert!(!wants_cookie(&headers).unwrap());
        headers.insert(TRANSPORT_HEADER, HeaderValue::from_static("cookie"));
        assert!(wants_cookie(&headers).unwrap());
        headers.insert(TRANSPORT_HEADER, HeaderValue::from_static("bearer"));
        assert!(!wants_cookie(&headers).unwrap());
        headers.insert(TRANSPORT_HEADER, HeaderValue::from_static("Cookie!"));
        assert!(wants_cookie(&headers).is_err());
    }
}
