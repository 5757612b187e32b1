//! People's accounts through the gateway, on both storage backends: users
//! and roles, passwords, TOTP, admin access, sessions, throttling,
//! suspicious activity and the audit trail of sign-ins (issue 3, points
//! 1 to 8), driven from outside as a client or an attacker would.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use rampart_kit::secret::ExposeSecret;

use rampart_e2e::on_both_backends;

use crate::harness::{Backend, OFFICE_DOMAIN, Tenant, TestStack, expect_problem, read};

pub(crate) const OWNER_PASSWORD: &str = "violet tractor measures quietly";
const AGENT_PASSWORD: &str = "orange kettle whistles at dawn";
const ADMIN_PASSWORD: &str = "seventeen purple lighthouses";

on_both_backends!(
    users_roles_and_bearer_sessions,
    sessions_are_listed_and_revoked,
    password_policy_and_change,
    totp_enrolment_replay_and_recovery,
    second_factor_required_for_managers,
    admin_access,
    parallel_guesses_are_slowed,
    suspicious_activity_ends_every_session,
);

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// The code of `secret` at `offset_secs` from now, as an authenticator app
/// shows it.
pub(crate) fn code(secret: &str, offset_secs: i64) -> String {
    rampart_auth::totp_code(secret, unix_now() + offset_secs).unwrap()
}

pub(crate) async fn post(
    stack: &TestStack,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut request = stack.request(Method::POST, path).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    read(request.send().await.unwrap()).await
}

async fn get(stack: &TestStack, path: &str, token: &str) -> (StatusCode, Value) {
    read(
        stack
            .request(Method::GET, path)
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn sign_in(
    stack: &TestStack,
    tenant: &Tenant,
    email: &str,
    password: &str,
) -> (StatusCode, Value) {
    post(
        stack,
        "/v1/auth/sign-in",
        None,
        json!({ "tenant_id": tenant.id, "email": email, "password": password }),
    )
    .await
}

/// Signs in without a second factor; the session token.
pub(crate) async fn session(
    stack: &TestStack,
    tenant: &Tenant,
    email: &str,
    password: &str,
) -> String {
    let (status, body) = sign_in(stack, tenant, email, password).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["second_factor_required"], false, "{body}");
    body["session_token"].as_str().unwrap().to_owned()
}

/// A tenant with an owner (created by the platform admin) signed in.
pub(crate) async fn tenant_with_owner(stack: &TestStack, name: &str) -> (Tenant, String, String) {
    let tenant = stack.create_tenant(name).await;
    let email = format!("owner@{}.example", name.to_lowercase().replace(' ', ""));
    let response = stack
        .as_admin(
            Method::POST,
            &format!("/v1/admin/tenants/{}/users", tenant.id),
        )
        .json(&json!({ "email": email, "password": OWNER_PASSWORD, "role": "owner" }))
        .send()
        .await
        .unwrap();
    let (status, user) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["role"], "owner");
    let token = session(stack, &tenant, &email, OWNER_PASSWORD).await;
    (tenant, email, token)
}

async fn create_user(stack: &TestStack, owner: &str, email: &str, role: Option<&str>) -> String {
    let mut body = json!({ "email": email, "password": AGENT_PASSWORD });
    if let Some(role) = role {
        body["role"] = json!(role);
    }
    let (status, user) = post(stack, "/v1/users", Some(owner), body).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    user["user_id"].as_str().unwrap().to_owned()
}

async fn patch_user(
    stack: &TestStack,
    owner: &str,
    user_id: &str,
    body: Value,
) -> (StatusCode, Value) {
    read(
        stack
            .request(Method::PATCH, &format!("/v1/users/{user_id}"))
            .bearer_auth(owner)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Every event of the tenant's log, following the pages.
pub(crate) async fn audit_events(stack: &TestStack, tenant: &Tenant) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/v1/owner/audit?limit=100&cursor={cursor}"),
            None => "/v1/owner/audit?limit=100".to_owned(),
        };
        let (status, body) = read(
            stack
                .as_tenant(tenant, Method::GET, &path)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        events.extend(body["events"].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return events,
        }
    }
}

/// Polls the tenant's log until `check` holds for its events.
async fn wait_for_audit(
    stack: &TestStack,
    tenant: &Tenant,
    what: &str,
    check: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let events = audit_events(stack, tenant).await;
        if check(&events) {
            return events;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "audit never showed {what}: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Failed sign-ins audited (wrong password, refused and locked alike;
/// locked includes those not evaluated while every place for a hash was
/// taken).
fn sign_in_failures(events: &[Value]) -> usize {
    events
        .iter()
        .filter(|e| {
            e["action"] == "user.sign_in"
                && ["failure", "refused", "locked"].contains(&e["outcome"].as_str().unwrap_or(""))
        })
        .count()
}

fn has(events: &[Value], action: &str, outcome: &str) -> bool {
    events
        .iter()
        .any(|e| e["action"] == action && e["outcome"] == outcome)
}

/// Points 1 and 8: users and roles, least privilege, owner-only routes,
/// Bearer sessions on tenant routes, role changes on the next request.
async fn users_roles_and_bearer_sessions(stack: &TestStack) {
    let (tenant, _, owner) = tenant_with_owner(stack, "Acme Plumbing").await;
    let (status, me) = get(stack, "/v1/auth/me", &owner).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "owner");
    assert_eq!(me["tenant_id"], tenant.id.as_str());

    // A new user is an agent unless told otherwise.
    let agent_id = create_user(stack, &owner, "agent@acme.example", None).await;
    let agent = session(stack, &tenant, "agent@acme.example", AGENT_PASSWORD).await;
    let (_, me) = get(stack, "/v1/auth/me", &agent).await;
    assert_eq!(me["role"], "agent");

    // An agent works tenant routes with its session (creating customers is
    // a manager's: `crm_roles` has the whole table)...
    let (status, conversation) = post(
        stack,
        "/v1/crm/conversations",
        Some(&agent),
        json!({ "channel": "web" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{conversation}");
    let (status, _) = get(stack, "/v1/crm/customers", &agent).await;
    assert_eq!(status, StatusCode::OK);
    // ...and is refused on every owner route, changing nothing.
    let refused = stack
        .request(Method::POST, "/v1/users")
        .bearer_auth(&agent)
        .json(
            &json!({ "email": "sneaky@acme.example", "password": AGENT_PASSWORD, "role": "owner" }),
        )
        .send()
        .await
        .unwrap();
    expect_problem(refused, StatusCode::FORBIDDEN).await;
    let (status, _) = patch_user(stack, &agent, &agent_id, json!({ "role": "owner" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let refused = stack
        .request(Method::PUT, "/v1/tenant/security")
        .bearer_auth(&agent)
        .json(&json!({ "require_second_factor_for_managers": true }))
        .send()
        .await
        .unwrap();
    expect_problem(refused, StatusCode::FORBIDDEN).await;
    let (_, me) = get(stack, "/v1/auth/me", &agent).await;
    assert_eq!(me["role"], "agent");
    let (status, _) = get(stack, "/v1/users", &agent).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A second owner loses owner rights on the very next request after a
    // downgrade.
    let second_id = create_user(stack, &owner, "second@acme.example", Some("owner")).await;
    let second = session(stack, &tenant, "second@acme.example", AGENT_PASSWORD).await;
    create_user(stack, &second, "helper@acme.example", None).await;
    let (status, changed) =
        patch_user(stack, &owner, &second_id, json!({ "role": "manager" })).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["user"]["role"], "manager");
    let (status, body) = post(
        stack,
        "/v1/users",
        Some(&second),
        json!({ "email": "late@acme.example", "password": AGENT_PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // As a manager they still list users.
    let (status, users) = get(stack, "/v1/users", &second).await;
    assert_eq!(status, StatusCode::OK, "{users}");
    assert_eq!(users["users"].as_array().unwrap().len(), 4);

    // Another tenant's owner cannot touch this tenant's users.
    let (_, _, other_owner) = tenant_with_owner(stack, "Bright Clinic").await;
    let (status, _) = patch_user(stack, &other_owner, &agent_id, json!({ "disabled": true })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Disabling a user ends their sessions and their sign-ins, with the
    // answer of a wrong password; enabling lets them back.
    let (status, body) = patch_user(stack, &owner, &agent_id, json!({ "disabled": true })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = get(stack, "/v1/auth/me", &agent).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, disabled) = sign_in(stack, &tenant, "agent@acme.example", AGENT_PASSWORD).await;
    let (wrong_status, wrong) = sign_in(
        stack,
        &tenant,
        "agent@acme.example",
        "not the password at all",
    )
    .await;
    let (unknown_status, unknown) =
        sign_in(stack, &tenant, "nobody@acme.example", AGENT_PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!((wrong_status, unknown_status), (status, status));
    assert_eq!(disabled["detail"], wrong["detail"]);
    assert_eq!(unknown["detail"], wrong["detail"]);
    let (status, _) = patch_user(stack, &owner, &agent_id, json!({ "disabled": false })).await;
    assert_eq!(status, StatusCode::OK);
    session(stack, &tenant, "agent@acme.example", AGENT_PASSWORD).await;

    // Point 8: every sign-in attempt is audited, and role changes too;
    // never the password.
    let events = wait_for_audit(stack, &tenant, "sign-ins and role changes", |events| {
        has(events, "user.role_changed", "success")
            && sign_in_failures(events) >= 3
            && has(events, "user.sign_in", "success")
            && has(events, "user.disabled", "success")
            && has(events, "user.enabled", "success")
            && has(events, "user.created", "success")
    })
    .await;
    let text = serde_json::to_string(&events).unwrap();
    for secret in [OWNER_PASSWORD, AGENT_PASSWORD, "not the password at all"] {
        assert!(!text.contains(secret));
    }
    assert!(!text.contains(&owner));
}

/// Point 5: list sessions, revoke one or all; an owner revokes a user's.
async fn sessions_are_listed_and_revoked(stack: &TestStack) {
    let (tenant, email, first) = tenant_with_owner(stack, "Session Works").await;
    let second = session(stack, &tenant, &email, OWNER_PASSWORD).await;
    let (status, list) = get(stack, "/v1/auth/sessions", &first).await;
    assert_eq!(status, StatusCode::OK);
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{list}");
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Revoking one ends only that one.
    let response = stack
        .request(Method::DELETE, &format!("/v1/auth/sessions/{other}"))
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(get(stack, "/v1/auth/me", &first).await.0, StatusCode::OK);
    assert_eq!(
        get(stack, "/v1/auth/me", &second).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Someone still using the session its user ended holds a stolen token:
    // every session of the user ends (point 7).
    assert_eq!(
        get(stack, "/v1/auth/me", &first).await.0,
        StatusCode::UNAUTHORIZED
    );
    let first = session(stack, &tenant, &email, OWNER_PASSWORD).await;

    // An owner ends all of a user's sessions.
    let agent_id = create_user(stack, &first, "agent@sessionworks.example", None).await;
    let agent = session(stack, &tenant, "agent@sessionworks.example", AGENT_PASSWORD).await;
    let (status, body) = post(
        stack,
        &format!("/v1/users/{agent_id}/revoke-sessions"),
        Some(&first),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked_sessions"], 1);
    assert_eq!(
        get(stack, "/v1/auth/me", &agent).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Sign out ends the current session.
    let third = session(stack, &tenant, &email, OWNER_PASSWORD).await;
    let response = stack
        .request(Method::POST, "/v1/auth/sign-out")
        .bearer_auth(&third)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        get(stack, "/v1/auth/me", &third).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Revoke-all ends every session, this one included.
    let fourth = session(stack, &tenant, &email, OWNER_PASSWORD).await;
    let (status, _) = post(
        stack,
        "/v1/auth/sessions/revoke-all",
        Some(&fourth),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        get(stack, "/v1/auth/me", &fourth).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Tokens that are not tokens are refused at the edge.
    for bad in ["rs_short", "hello", &fourth.to_uppercase()] {
        assert_eq!(
            get(stack, "/v1/auth/me", bad).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    wait_for_audit(stack, &tenant, "session revocations", |events| {
        has(events, "session.revoked", "success")
            && has(events, "session.revoked_all", "success")
            && has(events, "user.sign_out", "success")
    })
    .await;
}

/// Point 2: NIST password rules with reasons; changing the password needs
/// the current one and ends the other sessions.
async fn password_policy_and_change(stack: &TestStack) {
    let (tenant, email, owner) = tenant_with_owner(stack, "Acme Plumbing").await;
    for (password, reason) in [
        ("Zq8#vL2!mW9@tK", "at least 15"),
        ("passwordpassword", "easy to guess"),
        ("acme plumbing is the best", "must not contain"),
        ("newhire loves violet tractors", "must not contain"),
    ] {
        let response = stack
            .request(Method::POST, "/v1/users")
            .bearer_auth(&owner)
            .json(&json!({ "email": "newhire@acme.example", "password": password }))
            .send()
            .await
            .unwrap();
        let problem = expect_problem(response, StatusCode::BAD_REQUEST).await;
        assert!(
            problem["detail"].as_str().unwrap().contains(reason),
            "{password}: {problem}"
        );
    }
    // The tenant name is a context word on the admin route too.
    let response = stack
        .as_admin(
            Method::POST,
            &format!("/v1/admin/tenants/{}/users", tenant.id),
        )
        .json(&json!({ "email": "x@acme.example", "password": "AcmePlumbing forever & ever" }))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST).await;
    // Long passwords are accepted whole, and all of it counts.
    let long = format!("{} {}", "maple ".repeat(12), OWNER_PASSWORD);
    assert!(long.chars().count() > 64);
    let (status, body) = post(
        stack,
        "/v1/users",
        Some(&owner),
        json!({ "email": "long@acme.example", "password": long }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    session(stack, &tenant, "long@acme.example", &long).await;
    let (status, _) = sign_in(stack, &tenant, "long@acme.example", &long[..long.len() - 1]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let other = session(stack, &tenant, &email, OWNER_PASSWORD).await;
    let new_password = "seven lazy otters juggling";
    let (status, _) = post(
        stack,
        "/v1/auth/password",
        Some(&owner),
        json!({ "current_password": "a wrong current password", "new_password": new_password }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(
        stack,
        "/v1/auth/password",
        Some(&owner),
        json!({ "current_password": OWNER_PASSWORD, "new_password": "short" }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Nothing changed so far.
    assert_eq!(get(stack, "/v1/auth/me", &other).await.0, StatusCode::OK);
    let (status, body) = post(
        stack,
        "/v1/auth/password",
        Some(&owner),
        json!({ "current_password": OWNER_PASSWORD, "new_password": new_password }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked_sessions"], 1);
    assert_eq!(
        get(stack, "/v1/auth/me", &other).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(get(stack, "/v1/auth/me", &owner).await.0, StatusCode::OK);
    assert_eq!(
        sign_in(stack, &tenant, &email, OWNER_PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    session(stack, &tenant, &email, new_password).await;
    wait_for_audit(stack, &tenant, "password change", |events| {
        has(events, "user.password_changed", "success")
            && has(events, "user.password_changed", "failure")
    })
    .await;
}

/// Enrols TOTP for a signed-in user; returns the secret and recovery codes.
async fn enrol(stack: &TestStack, token: &str) -> (String, Vec<String>) {
    let (status, enrolment) = post(stack, "/v1/auth/totp/enrol", Some(token), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{enrolment}");
    let secret = enrolment["secret"].as_str().unwrap().to_owned();
    assert!(
        enrolment["provisioning_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let (status, _) = post(
        stack,
        "/v1/auth/totp/confirm",
        Some(token),
        json!({ "code": "000000x" }),
    )
    .await;
    // A wrong code is the input's fault, not the session's (issue 19).
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, confirmed) = post(
        stack,
        "/v1/auth/totp/confirm",
        Some(token),
        json!({ "code": code(&secret, 0) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let codes: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

async fn challenge(stack: &TestStack, tenant: &Tenant, email: &str, password: &str) -> Value {
    let (status, body) = sign_in(stack, tenant, email, password).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["second_factor_required"], true, "{body}");
    assert!(body.get("session_token").is_none(), "{body}");
    body
}

async fn second_factor(stack: &TestStack, challenge: &Value, proof: Value) -> (StatusCode, Value) {
    let mut body = proof;
    body["challenge"] = challenge["challenge"].clone();
    post(stack, "/v1/auth/second-factor", None, body).await
}

/// Point 3: enrolment, a code accepted once, drift, recovery codes.
async fn totp_enrolment_replay_and_recovery(stack: &TestStack) {
    let (tenant, email, owner) = tenant_with_owner(stack, "Totp Works").await;
    let (secret, recovery) = enrol(stack, &owner).await;
    let (_, me) = get(stack, "/v1/auth/me", &owner).await;
    assert_eq!(me["second_factor"], true);

    // The password alone no longer gives a session.
    let first = challenge(stack, &tenant, &email, OWNER_PASSWORD).await;
    let (status, _) = second_factor(stack, &first, json!({ "code": "123456" })).await;
    // A one-in-a-million chance that this is the right code is ignored.
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The code of the next step is accepted (one step of clock drift).
    let next_step = code(&secret, 30);
    let (status, body) = second_factor(stack, &first, json!({ "code": next_step })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["session_token"].as_str().unwrap().to_owned();
    assert_eq!(get(stack, "/v1/auth/me", &token).await.0, StatusCode::OK);
    // The challenge is spent.
    let (status, _) = second_factor(stack, &first, json!({ "code": code(&secret, 60) })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The same code again is a replay, refused; so is an older step's.
    let again = challenge(stack, &tenant, &email, OWNER_PASSWORD).await;
    let (status, body) = second_factor(stack, &again, json!({ "code": next_step })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = second_factor(stack, &again, json!({ "code": code(&secret, 0) })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A recovery code works once.
    let (status, body) = second_factor(
        stack,
        &again,
        json!({ "recovery_code": recovery[0].to_uppercase() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let third = challenge(stack, &tenant, &email, OWNER_PASSWORD).await;
    let (status, _) = second_factor(stack, &third, json!({ "recovery_code": recovery[0] })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = second_factor(
        stack,
        &third,
        json!({ "code": "1", "recovery_code": recovery[1] }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    wait_for_audit(stack, &tenant, "second-factor events", |events| {
        has(events, "user.totp_enrolled", "success")
            && has(events, "user.second_factor", "failure")
            && has(events, "user.second_factor", "success")
            && has(events, "user.recovery_code_used", "success")
    })
    .await;
}

/// Point 3: an owner turns on "require 2FA for managers"; a manager
/// without one enrols while signing in.
async fn second_factor_required_for_managers(stack: &TestStack) {
    let (tenant, _, owner) = tenant_with_owner(stack, "Strict Shop").await;
    create_user(stack, &owner, "manager@strictshop.example", Some("manager")).await;
    create_user(stack, &owner, "agent@strictshop.example", None).await;
    let response = stack
        .request(Method::PUT, "/v1/tenant/security")
        .bearer_auth(&owner)
        .json(&json!({ "require_second_factor_for_managers": true }))
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["require_second_factor_for_managers"], true);

    // Agents are not affected.
    session(stack, &tenant, "agent@strictshop.example", AGENT_PASSWORD).await;
    // The manager gets no session from the password alone.
    let pending = challenge(stack, &tenant, "manager@strictshop.example", AGENT_PASSWORD).await;
    assert_eq!(pending["enrolment_required"], true);
    let (status, enrolment) = post(
        stack,
        "/v1/auth/second-factor/enrol",
        None,
        json!({ "challenge": pending["challenge"] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{enrolment}");
    let secret = enrolment["secret"].as_str().unwrap();
    let (status, body) = second_factor(stack, &pending, json!({ "code": code(secret, 0) })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recovery_codes"].as_array().unwrap().len(), 10);
    // Owners are managers too: this owner has no second factor yet.
    let email = "owner@strictshop.example";
    let pending = challenge(stack, &tenant, email, OWNER_PASSWORD).await;
    assert_eq!(pending["enrolment_required"], true);
    wait_for_audit(stack, &tenant, "the settings change", |events| {
        has(events, "tenant.settings_changed", "success")
    })
    .await;
}

/// Point 4: admins' office domains, the secret route, the public route
/// refusing admins like a wrong password, TOTP required.
async fn admin_access(stack: &TestStack) {
    let tenant = stack.create_tenant("Some Tenant").await;
    let error = stack
        .create_platform_admin("ops@elsewhere.example", ADMIN_PASSWORD)
        .await
        .unwrap_err();
    assert!(error.contains("office domains"), "{error}");
    let email = format!("ops@{OFFICE_DOMAIN}");
    let admin = stack
        .create_platform_admin(&email, ADMIN_PASSWORD)
        .await
        .unwrap();
    let secret = admin.totp_secret.expose_secret().to_owned();

    // The public route answers exactly as for a wrong password.
    let (status, public) = sign_in(stack, &tenant, &email, ADMIN_PASSWORD).await;
    let (_, wrong) = sign_in(stack, &tenant, &email, "some other password here").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(public["detail"], wrong["detail"]);
    assert_eq!(public["title"], wrong["title"]);

    let route = format!("/v1/auth/{}/sign-in", stack.admin_sign_in_path);
    // A guessed admin route does not exist.
    let (status, _) = post(
        stack,
        "/v1/auth/admin/sign-in",
        None,
        json!({ "email": email, "password": ADMIN_PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post(
        stack,
        &route,
        None,
        json!({ "email": email, "password": "not the admin password" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, pending) = post(
        stack,
        &route,
        None,
        json!({ "email": email, "password": ADMIN_PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pending}");
    assert_eq!(pending["second_factor_required"], true);
    assert!(pending.get("session_token").is_none());
    // The operator's enrolment is confirmed by the first code.
    let (status, body) = second_factor(stack, &pending, json!({ "code": code(&secret, 0) })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["session_token"].as_str().unwrap().to_owned();
    let (status, me) = get(stack, "/v1/auth/me", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "admin");
    // An admin session works the admin routes, and not the tenant routes.
    let (status, _) = get(stack, "/v1/admin/tenants", &token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get(stack, "/v1/crm/customers", &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // An admin created without a second factor gets no session, and the
    // same answer as a wrong password (no password oracle).
    let response = stack
        .as_admin(Method::POST, "/v1/admin/users")
        .json(&json!({ "email": format!("night@{OFFICE_DOMAIN}"), "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["role"], "admin");
    let (status, body) = post(
        stack,
        &route,
        None,
        json!({ "email": format!("night@{OFFICE_DOMAIN}"), "password": ADMIN_PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.get("session_token").is_none() && body.get("challenge").is_none());
    // And admins outside the office domains cannot be created by API either.
    let response = stack
        .as_admin(Method::POST, "/v1/admin/users")
        .json(&json!({ "email": "x@gmail.example", "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST).await;
}

/// Sends 150 wrong passwords for `email` at once; the statuses.
async fn guess_in_parallel(stack: &TestStack, tenant: &Tenant, email: &str) -> Vec<StatusCode> {
    let guesses: Vec<_> = (0..150)
        .map(|i| {
            let request = stack
                .request(Method::POST, "/v1/auth/sign-in")
                .json(&json!({
                    "tenant_id": tenant.id,
                    "email": email,
                    "password": format!("wrong guess number {i}"),
                }));
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    let mut statuses = Vec::with_capacity(guesses.len());
    for guess in guesses {
        statuses.push(guess.await.unwrap());
    }
    statuses
}

fn count(statuses: &[StatusCode], wanted: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == wanted).count()
}

/// Point 6 with the default policy: a parallel burst is cut short by the
/// growing delays, well under the cap, and every attempt is audited.
async fn parallel_guesses_are_slowed(stack: &TestStack) {
    let (tenant, email, _) = tenant_with_owner(stack, "Slow Target").await;
    let statuses = guess_in_parallel(stack, &tenant, &email).await;
    let evaluated = count(&statuses, StatusCode::UNAUTHORIZED);
    let throttled = count(&statuses, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(evaluated + throttled, 150, "{statuses:?}");
    assert!(
        (1..=20).contains(&evaluated),
        "{evaluated} guesses were evaluated"
    );
    wait_for_audit(stack, &tenant, "every failed sign-in", |events| {
        // Those held back by the delays were not evaluated: audited as
        // locked.
        sign_in_failures(events) >= 150 && has(events, "user.sign_in", "locked")
    })
    .await;
}

/// Point 6 at the cap: with no delays at all, 150 parallel wrong passwords
/// are evaluated exactly up to the cap and no further, then the account is
/// locked (the right password too); another account is not affected, and
/// an unknown account locks the same way.
async fn parallel_guesses_stop_at_the_cap(backend: Backend) {
    let cap = 20;
    let accounts = rampart_auth::AccountSettings {
        admin_email_domains: vec![OFFICE_DOMAIN.to_owned()],
        account_throttle: rampart_auth::ThrottlePolicy {
            free: cap,
            cap,
            ..rampart_auth::ThrottlePolicy::ACCOUNT
        },
        ..rampart_auth::AccountSettings::default()
    };
    let Some(stack) =
        TestStack::start_with_accounts(backend, rampart_gateway::Config::default(), accounts).await
    else {
        return;
    };
    let (tenant, email, owner) = tenant_with_owner(&stack, "Guess Target").await;
    create_user(&stack, &owner, "bystander@guesstarget.example", None).await;
    let statuses = guess_in_parallel(&stack, &tenant, &email).await;
    assert_eq!(
        count(&statuses, StatusCode::UNAUTHORIZED),
        usize::try_from(cap).unwrap()
    );
    assert_eq!(count(&statuses, StatusCode::TOO_MANY_REQUESTS), 150 - 20);
    let (status, _) = sign_in(&stack, &tenant, &email, OWNER_PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    session(
        &stack,
        &tenant,
        "bystander@guesstarget.example",
        AGENT_PASSWORD,
    )
    .await;
    let mut statuses = Vec::new();
    for i in 0..=cap {
        statuses.push(
            sign_in(
                &stack,
                &tenant,
                "ghost@guesstarget.example",
                &format!("ghost guess {i}"),
            )
            .await
            .0,
        );
    }
    assert_eq!(count(&statuses, StatusCode::UNAUTHORIZED), 20);
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));
    stack.stop().await;
}

#[tokio::test]
async fn parallel_guesses_stop_at_the_cap_embedded() {
    parallel_guesses_stop_at_the_cap(Backend::Embedded).await;
}

#[tokio::test]
async fn parallel_guesses_stop_at_the_cap_on_postgres_and_redis() {
    parallel_guesses_stop_at_the_cap(Backend::PostgresRedis).await;
}

/// Point 6 under a flood: with one hashing thread and no room to wait,
/// sign-ins that find no place are answered 429 at once, say why, are
/// audited as busy, and count towards nothing: each of those users then
/// signs in with the lowest lockout there is (one failure locks).
async fn a_full_hashing_queue_answers_busy(backend: Backend) {
    let accounts = rampart_auth::AccountSettings {
        admin_email_domains: vec![OFFICE_DOMAIN.to_owned()],
        max_concurrent_hashes: 1,
        max_waiting_hashes: 0,
        account_throttle: rampart_auth::ThrottlePolicy {
            free: 1,
            cap: 1,
            ..rampart_auth::ThrottlePolicy::ACCOUNT
        },
        ..rampart_auth::AccountSettings::default()
    };
    let Some(stack) =
        TestStack::start_with_accounts(backend, rampart_gateway::Config::default(), accounts).await
    else {
        return;
    };
    let (tenant, _, owner) = tenant_with_owner(&stack, "Rush Hour").await;
    let emails: Vec<String> = (0..12)
        .map(|i| format!("agent{i}@rushhour.example"))
        .collect();
    for email in &emails {
        create_user(&stack, &owner, email, None).await;
    }
    let attempts: Vec<_> = emails
        .iter()
        .map(|email| {
            let request = stack.request(Method::POST, "/v1/auth/sign-in").json(
                &json!({ "tenant_id": tenant.id, "email": email, "password": AGENT_PASSWORD }),
            );
            tokio::spawn(async move { read(request.send().await.unwrap()).await })
        })
        .collect();
    let mut busy = Vec::new();
    for (email, attempt) in emails.iter().zip(attempts) {
        let (status, body) = attempt.await.unwrap();
        match status {
            StatusCode::OK => assert!(body["session_token"].is_string(), "{body}"),
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(
                    body["detail"], "too many sign-ins in progress; retry in a few seconds",
                    "{body}"
                );
                busy.push(email);
            }
            other => panic!("{email}: {other} {body}"),
        }
    }
    // Twelve hashes asked for at once, one place: most found it taken.
    assert!(!busy.is_empty() && busy.len() < emails.len(), "{busy:?}");
    // Not evaluated, so not counted: with one failure enough to lock, each
    // still signs in.
    for email in &busy {
        session(&stack, &tenant, email, AGENT_PASSWORD).await;
    }
    wait_for_audit(&stack, &tenant, "the busy sign-ins", |events| {
        events
            .iter()
            .filter(|e| {
                e["action"] == "user.sign_in"
                    && e["outcome"] == "locked"
                    && e["details"]["reason"] == "busy"
            })
            .count()
            == busy.len()
    })
    .await;
    stack.stop().await;
}

#[tokio::test]
async fn a_full_hashing_queue_answers_busy_embedded() {
    a_full_hashing_queue_answers_busy(Backend::Embedded).await;
}

#[tokio::test]
async fn a_full_hashing_queue_answers_busy_on_postgres_and_redis() {
    a_full_hashing_queue_answers_busy(Backend::PostgresRedis).await;
}

/// Point 7: a burst of failed codes and the use of a revoked session each
/// end all of the user's sessions, audited with why.
async fn suspicious_activity_ends_every_session(stack: &TestStack) {
    let (tenant, email, owner) = tenant_with_owner(stack, "Watchful Ltd").await;
    let (secret, _) = enrol(stack, &owner).await;
    let pending = challenge(stack, &tenant, &email, OWNER_PASSWORD).await;
    let wrong = if code(&secret, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..5 {
        let (status, _) = second_factor(stack, &pending, json!({ "code": wrong })).await;
        assert!(matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS
        ));
    }
    // The session signed in before the burst is gone.
    assert_eq!(
        get(stack, "/v1/auth/me", &owner).await.0,
        StatusCode::UNAUTHORIZED
    );

    // A revoked session used again ends the user's other sessions.
    let owner = owner_after_burst(stack, &tenant, &email, &secret).await;
    create_user(stack, &owner, "agent@watchful.example", None).await;
    let first = session(stack, &tenant, "agent@watchful.example", AGENT_PASSWORD).await;
    let second = session(stack, &tenant, "agent@watchful.example", AGENT_PASSWORD).await;
    let response = stack
        .request(Method::POST, "/v1/auth/sign-out")
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(get(stack, "/v1/auth/me", &second).await.0, StatusCode::OK);
    assert_eq!(
        get(stack, "/v1/auth/me", &first).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(stack, "/v1/auth/me", &second).await.0,
        StatusCode::UNAUTHORIZED
    );

    let events = wait_for_audit(stack, &tenant, "suspicious activity", |events| {
        events
            .iter()
            .filter(|e| e["action"] == "session.suspicious_activity")
            .count()
            >= 2
    })
    .await;
    let reasons: Vec<&str> = events
        .iter()
        .filter(|e| e["action"] == "session.suspicious_activity")
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.ends_with("second_factor_failures")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.ends_with("revoked_session_used")),
        "{reasons:?}"
    );
}

/// Signs the owner in again once the second-factor throttle allows it.
async fn owner_after_burst(
    stack: &TestStack,
    tenant: &Tenant,
    email: &str,
    secret: &str,
) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    let offset = 30;
    loop {
        let pending = challenge(stack, tenant, email, OWNER_PASSWORD).await;
        let (status, body) =
            second_factor(stack, &pending, json!({ "code": code(secret, offset) })).await;
        if status == StatusCode::OK {
            return body["session_token"].as_str().unwrap().to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "{status}: {body}");
        // The throttle's delay runs out; a later step gives a fresh code.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Point 5 across instances: two gateways share Redis; a session revoked
/// through one is refused by the other within a second, although the other
/// had the session's verdict cached.
#[tokio::test]
async fn a_revoked_session_is_refused_by_a_second_gateway_within_a_second() {
    let Some(stack) = TestStack::start(Backend::PostgresRedis).await else {
        return;
    };
    let (second, running) = stack
        .start_second_gateway()
        .await
        .expect("redis-backed stack");
    let (_, _, owner) = tenant_with_owner(&stack, "Two Gateways").await;
    let me_at_second = || {
        stack
            .client
            .get(format!("{second}/v1/auth/me"))
            .bearer_auth(&owner)
            .send()
    };
    // The second gateway knows the session, and now has it cached.
    assert_eq!(me_at_second().await.unwrap().status(), StatusCode::OK);
    assert_eq!(me_at_second().await.unwrap().status(), StatusCode::OK);

    // Revoke everything through the first gateway.
    let (status, _) = post(
        &stack,
        "/v1/auth/sessions/revoke-all",
        Some(&owner),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let revoked_at = tokio::time::Instant::now();
    loop {
        let status = me_at_second().await.unwrap().status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "the second gateway still accepted the session after a second"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.stop().await.expect("second gateway stops");
    stack.stop().await;
}

/// A client of the edge whose connections come from `source`, another
/// loopback address: a different client address, as the gateway sees it.
fn client_from(stack: &TestStack, source: std::net::IpAddr) -> reqwest::Client {
    let tls = crate::harness::edge_tls(&stack.stack.edge_ca, rustls::DEFAULT_VERSIONS, &[]);
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .local_address(source)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Point 7, the operator's policy: with `revoke`, a session token presented
/// from another client address ends all of the user's sessions; with the
/// default `allow`, people may move between networks.
async fn new_client_address(backend: Backend, policy: rampart_auth::NewClientPolicy) {
    let accounts = rampart_auth::AccountSettings {
        admin_email_domains: vec![OFFICE_DOMAIN.to_owned()],
        new_client_policy: policy,
        ..rampart_auth::AccountSettings::default()
    };
    let Some(stack) =
        TestStack::start_with_accounts(backend, rampart_gateway::Config::default(), accounts).await
    else {
        return;
    };
    let (tenant, email, token) = tenant_with_owner(&stack, "Roaming Ltd").await;
    let other = session(&stack, &tenant, &email, OWNER_PASSWORD).await;
    let elsewhere = client_from(&stack, "127.0.0.2".parse().unwrap());
    let status = elsewhere
        .get(stack.url("/v1/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .status();
    match policy {
        rampart_auth::NewClientPolicy::Allow => {
            assert_eq!(status, StatusCode::OK);
            assert_eq!(get(&stack, "/v1/auth/me", &other).await.0, StatusCode::OK);
        }
        rampart_auth::NewClientPolicy::RevokeAll => {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(
                get(&stack, "/v1/auth/me", &token).await.0,
                StatusCode::UNAUTHORIZED
            );
            assert_eq!(
                get(&stack, "/v1/auth/me", &other).await.0,
                StatusCode::UNAUTHORIZED
            );
            let events = wait_for_audit(&stack, &tenant, "the new-client revocation", |events| {
                events.iter().any(|e| {
                    e["action"] == "session.suspicious_activity"
                        && e["target"]
                            .as_str()
                            .unwrap()
                            .ends_with("new_client_address")
                })
            })
            .await;
            assert!(!events.is_empty());
        }
    }
    stack.stop().await;
}

#[tokio::test]
async fn a_token_from_a_new_address_ends_every_session_when_the_policy_says_so() {
    new_client_address(Backend::Embedded, rampart_auth::NewClientPolicy::RevokeAll).await;
    new_client_address(
        Backend::PostgresRedis,
        rampart_auth::NewClientPolicy::RevokeAll,
    )
    .await;
}

#[tokio::test]
async fn a_token_from_a_new_address_is_fine_by_default() {
    new_client_address(Backend::Embedded, rampart_auth::NewClientPolicy::Allow).await;
    new_client_address(Backend::PostgresRedis, rampart_auth::NewClientPolicy::Allow).await;
}
