//! The console's session transport, tried from outside as a browser and as
//! an attacker would: the session in an `HttpOnly` cookie, a CSRF token on
//! every request that changes something, and no way around either.

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use rampart_e2e::on_both_backends;

use crate::accounts::{OWNER_PASSWORD, code, post, tenant_with_owner};
use crate::harness::{TestStack, read};

const COOKIE_NAME: &str = "__Host-rampart_session";
const AGENT_PASSWORD: &str = "lantern meadow copper finch";

on_both_backends!(console_sessions_live_in_a_cookie);

/// A browser's request carrying the session cookie `token`.
fn with_cookie(stack: &TestStack, method: Method, path: &str, token: &str) -> RequestBuilder {
    stack
        .request(method, path)
        .header(COOKIE, format!("theme=dark; {COOKIE_NAME}={token}"))
}

/// The users of the tenant, as the witness of what a refused write did
/// not change.
async fn user_emails(stack: &TestStack, bearer: &str) -> Vec<String> {
    let (status, body) = read(
        stack
            .request(Method::GET, "/v1/users")
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut emails: Vec<String> = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["email"].as_str().unwrap().to_owned())
        .collect();
    emails.sort();
    emails
}

/// Signs in through the console: password, then `proof` (a TOTP code or a
/// recovery code), asking for the cookie; the cookie's token and the
/// answer.
async fn console_sign_in(
    stack: &TestStack,
    tenant_id: &str,
    email: &str,
    mut proof: Value,
) -> (String, Value) {
    let response = stack
        .request(Method::POST, "/v1/auth/sign-in")
        .header("X-Session-Transport", "cookie")
        .json(&json!({ "tenant_id": tenant_id, "email": email, "password": OWNER_PASSWORD }))
        .send()
        .await
        .unwrap();
    // A challenge is not a session: no cookie yet.
    assert!(response.headers().get(SET_COOKIE).is_none());
    let (status, challenge) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{challenge}");
    assert_eq!(challenge["second_factor_required"], true, "{challenge}");
    proof["challenge"] = challenge["challenge"].clone();
    let response = stack
        .request(Method::POST, "/v1/auth/second-factor")
        .header("X-Session-Transport", "cookie")
        .json(&proof)
        .send()
        .await
        .unwrap();
    let set_cookie = response
        .headers()
        .get(SET_COOKIE)
        .map(|value| value.to_str().unwrap().to_owned());
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let set_cookie = set_cookie.expect("the session arrives as a cookie");
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{attribute}: {set_cookie}");
    }
    assert!(!set_cookie.contains("Domain"), "{set_cookie}");
    let token = set_cookie
        .strip_prefix(&format!("{COOKIE_NAME}="))
        .and_then(|rest| rest.split(';').next())
        .expect("the session cookie")
        .to_owned();
    // The token is in the cookie only: no script can read it from the answer.
    assert!(body.get("session_token").is_none(), "{body}");
    assert!(!body.to_string().contains(&token));
    assert_eq!(body["csrf_token"].as_str().unwrap().len(), 64, "{body}");
    (token, body)
}

async fn console_sessions_live_in_a_cookie(stack: &TestStack) {
    let (tenant, email, owner) = tenant_with_owner(stack, "Cookie Jar").await;
    let (status, enrolment) = post(stack, "/v1/auth/totp/enrol", Some(&owner), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{enrolment}");
    let secret = enrolment["secret"].as_str().unwrap().to_owned();
    let (status, confirmed) = post(
        stack,
        "/v1/auth/totp/confirm",
        Some(&owner),
        json!({ "code": code(&secret, 0) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let recovery = confirmed["recovery_codes"][0].as_str().unwrap().to_owned();

    // A transport the gateway does not know is refused before auth is
    // asked: no session is started and none is lost.
    let (status, sessions_before) = read(
        stack
            .request(Method::GET, "/v1/auth/sessions")
            .bearer_auth(&owner)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let response = stack
        .request(Method::POST, "/v1/auth/sign-in")
        .header("X-Session-Transport", "localStorage")
        .json(&json!({ "tenant_id": tenant.id, "email": email, "password": OWNER_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert!(response.headers().get(SET_COOKIE).is_none());
    assert_eq!(read(response).await.0, StatusCode::BAD_REQUEST);

    let (token, signed_in) = console_sign_in(
        stack,
        &tenant.id,
        &email,
        json!({ "code": code(&secret, 30) }),
    )
    .await;
    let csrf = signed_in["csrf_token"].as_str().unwrap().to_owned();
    let (_, sessions_after) = read(
        stack
            .request(Method::GET, "/v1/auth/sessions")
            .bearer_auth(&owner)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        sessions_after["sessions"].as_array().unwrap().len(),
        sessions_before["sessions"].as_array().unwrap().len() + 1,
        "only the cookie sign-in started a session"
    );

    // Reading needs the cookie only; `me` hands the CSRF token back to a
    // reloaded page.
    let (status, me) = read(
        with_cookie(stack, Method::GET, "/v1/auth/me", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["email"], email.as_str());
    assert_eq!(me["csrf_token"], csrf.as_str());
    // A bearer client's `me` carries no CSRF token.
    let (_, bearer_me) = read(
        stack
            .request(Method::GET, "/v1/auth/me")
            .bearer_auth(&owner)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(bearer_me.get("csrf_token").is_none(), "{bearer_me}");

    // Changing something without the token, with another session's token,
    // or from another site is refused, and changes nothing.
    let before = user_emails(stack, &owner).await;
    let new_user = json!({ "email": "agent@cookiejar.example", "password": AGENT_PASSWORD });
    let other_csrf = {
        let (_, other) = console_sign_in(
            stack,
            &tenant.id,
            &email,
            json!({ "recovery_code": recovery }),
        )
        .await;
        other["csrf_token"].as_str().unwrap().to_owned()
    };
    assert_ne!(other_csrf, csrf);
    let attempts = [
        with_cookie(stack, Method::POST, "/v1/users", &token),
        with_cookie(stack, Method::POST, "/v1/users", &token).header("X-CSRF-Token", ""),
        with_cookie(stack, Method::POST, "/v1/users", &token).header("X-CSRF-Token", &other_csrf),
        with_cookie(stack, Method::POST, "/v1/users", &token)
            .header("X-CSRF-Token", csrf.to_uppercase()),
        with_cookie(stack, Method::POST, "/v1/users", &token)
            .header("X-CSRF-Token", &csrf)
            .header("Sec-Fetch-Site", "cross-site"),
        with_cookie(stack, Method::POST, "/v1/users", &token)
            .header("X-CSRF-Token", &csrf)
            .header("Sec-Fetch-Site", "same-site"),
    ];
    for attempt in attempts {
        let (status, problem) = read(attempt.json(&new_user).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains("X-CSRF-Token"),
            "{problem}"
        );
    }
    assert_eq!(user_emails(stack, &owner).await, before);

    // A malformed cookie, or a bad bearer token beside a good cookie, is
    // refused: the bearer token wins and is checked, never skipped.
    let (status, _) = read(
        with_cookie(stack, Method::GET, "/v1/auth/me", "rs_nothex")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = read(
        with_cookie(stack, Method::GET, "/v1/auth/me", &token)
            .bearer_auth(format!("rs_{}", "0".repeat(64)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // With its token, from this origin, the change goes through.
    let (status, created) = read(
        with_cookie(stack, Method::POST, "/v1/users", &token)
            .header("X-CSRF-Token", &csrf)
            .header("Sec-Fetch-Site", "same-origin")
            .json(&new_user)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(
        user_emails(stack, &owner)
            .await
            .contains(&"agent@cookiejar.example".to_owned())
    );

    // Signing out needs the token too, then ends the session and clears the
    // cookie.
    let (status, _) = read(
        with_cookie(stack, Method::POST, "/v1/auth/sign-out", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let response = with_cookie(stack, Method::POST, "/v1/auth/sign-out", &token)
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = response
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        cleared.starts_with(&format!("{COOKIE_NAME}=;")) && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let (status, _) = read(
        with_cookie(stack, Method::GET, "/v1/auth/me", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
