//! Defects found by trying the running stack from outside (issue 19,
//! point 6), each retried here as the attacker tried it, on both storage
//! backends: credentials reading an audit trail that is not theirs to read,
//! a `keys`-only key minting or cutting off read-write keys, passwords
//! built on the tenant's name, sign-ins audited without the account or the
//! address, a password oracle at the admin route, and a wrong code read as
//! "signed out".

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use rampart_e2e::on_both_backends;

use crate::accounts::{OWNER_PASSWORD, code, post, session, tenant_with_owner, unix_now};
use crate::harness::{OFFICE_DOMAIN, Tenant, TestStack, expect_problem, read};

const STAFF_PASSWORD: &str = "orange kettle whistles at dawn";

on_both_backends!(
    audit_trail_is_for_owners_and_audit_keys,
    a_keys_only_key_cannot_mint_or_cut_off_keys,
    every_password_path_refuses_the_tenant_name,
    the_admin_route_is_no_password_oracle,
    a_wrong_code_is_not_signed_out,
    authentication_events_name_the_account_and_the_address,
);

/// The tenant's audit routes, one of each kind.
const AUDIT_ROUTES: [&str; 4] = [
    "/v1/owner/audit",
    "/v1/owner/audit/checkpoint",
    "/v1/owner/audit/proofs/consistency?from_size=0",
    "/v1/owner/audit/export",
];

/// A tenant key with exactly `scopes`, issued by the platform admin.
async fn key_with(stack: &TestStack, tenant: &Tenant, scopes: &[&str]) -> Tenant {
    issued_key(stack, tenant, scopes).await.0
}

/// A tenant key with exactly `scopes`, and its id.
async fn issued_key(stack: &TestStack, tenant: &Tenant, scopes: &[&str]) -> (Tenant, String) {
    let response = stack
        .as_admin(
            Method::POST,
            &format!("/v1/admin/tenants/{}/api-keys", tenant.id),
        )
        .json(&json!({ "scopes": scopes }))
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let key = Tenant {
        id: tenant.id.clone(),
        key: body["api_key"].as_str().unwrap().to_owned(),
    };
    (key, body["key_id"].as_str().unwrap().to_owned())
}

/// The tenant's keys, revoked and replaced ones included, as the admin
/// lists them.
async fn all_keys(stack: &TestStack, tenant: &Tenant) -> Vec<Value> {
    let response = stack
        .as_admin(
            Method::GET,
            &format!(
                "/v1/admin/tenants/{}/api-keys?include_inactive=true",
                tenant.id
            ),
        )
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["keys"]
        .as_array()
        .unwrap()
        .iter()
        // What a rotation or revocation would change (not `last_used_at`,
        // which moves with every use).
        .map(|key| {
            json!([
                key["key_id"],
                key["scopes"],
                key["expires_at"],
                key["revoked_at"],
                key["replaced_by"]
            ])
        })
        .collect()
}

async fn status_with(stack: &TestStack, key: &Tenant, path: &str) -> StatusCode {
    stack
        .as_tenant(key, Method::GET, path)
        .send()
        .await
        .unwrap()
        .status()
}

/// A signed-in user of the owner's tenant with `role`.
async fn staff_session(stack: &TestStack, tenant: &Tenant, owner: &str, role: &str) -> String {
    let email = format!("{role}@staff.example");
    let (status, user) = post(
        stack,
        "/v1/users",
        Some(owner),
        json!({ "email": email, "password": STAFF_PASSWORD, "role": role }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    session(stack, tenant, &email, STAFF_PASSWORD).await
}

async fn audit_answer(
    stack: &TestStack,
    path: &str,
    key: Option<&Tenant>,
    token: Option<&str>,
) -> reqwest::Response {
    let mut request = stack.request(Method::GET, path);
    if let Some(key) = key {
        request = request.header("X-API-Key", &key.key);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Issue 19: any tenant credential read and exported the whole trail.
async fn audit_trail_is_for_owners_and_audit_keys(stack: &TestStack) {
    let (tenant, _, owner) = tenant_with_owner(stack, "Audited Attic").await;
    let manager = staff_session(stack, &tenant, &owner, "manager").await;
    let agent = staff_session(stack, &tenant, &owner, "agent").await;
    let write_only = key_with(stack, &tenant, &["write"]).await;
    let keys_only = key_with(stack, &tenant, &["keys"]).await;
    let read_only = key_with(stack, &tenant, &["read"]).await;
    let all_but_audit = key_with(stack, &tenant, &["read", "write", "keys"]).await;
    let audit_only = key_with(stack, &tenant, &["audit"]).await;

    for path in AUDIT_ROUTES {
        for token in [&manager, &agent] {
            let problem = expect_problem(
                audit_answer(stack, path, None, Some(token)).await,
                StatusCode::FORBIDDEN,
            )
            .await;
            assert!(
                problem["detail"].as_str().unwrap().contains("audit"),
                "{path}: {problem}"
            );
        }
        for key in [&write_only, &keys_only, &read_only, &all_but_audit] {
            expect_problem(
                audit_answer(stack, path, Some(key), None).await,
                StatusCode::FORBIDDEN,
            )
            .await;
        }
        // The owner, a key with `audit`, and the tenant's first key read it.
        for (key, token) in [
            (None, Some(owner.as_str())),
            (Some(&audit_only), None),
            (Some(&tenant), None),
        ] {
            let response = audit_answer(stack, path, key, token).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
        }
    }
    // A refused reader's attempts read nothing: the first key's events are
    // all there, and the owner sees what the first key sees.
    let (_, events) = read(audit_answer(stack, "/v1/owner/audit", Some(&tenant), None).await).await;
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["action"] == "api_key.issued"),
        "{events}"
    );

    // `audit` cannot be granted by a key that lacks it, nor by a session.
    let response = stack
        .as_tenant(&all_but_audit, Method::POST, "/v1/api-keys")
        .json(&json!({ "scopes": ["audit"] }))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, StatusCode::FORBIDDEN).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("audit"),
        "{problem}"
    );
    // The first key holds read, write and audit, never keys.
    let response = stack
        .as_admin(
            Method::GET,
            &format!("/v1/admin/tenants/{}/api-keys", tenant.id),
        )
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let keys = body["keys"].as_array().unwrap();
    let first = keys.last().unwrap();
    assert_eq!(first["scopes"], json!(["read", "write", "audit"]), "{body}");
}

/// Issue 19: a `keys`-only key rotated a read-write key and got a
/// read-write successor, and could stop the tenant's integrations.
async fn a_keys_only_key_cannot_mint_or_cut_off_keys(stack: &TestStack) {
    let tenant = stack.create_tenant("Rotating Rotisserie").await;
    let (integration, integration_id) = issued_key(stack, &tenant, &["read", "write"]).await;
    let (keys_only, keys_only_id) = issued_key(stack, &tenant, &["keys"]).await;
    let before = all_keys(stack, &tenant).await;

    for grace in [0, 3600] {
        let response = stack
            .as_tenant(
                &keys_only,
                Method::POST,
                &format!("/v1/api-keys/{integration_id}/rotate"),
            )
            .json(&json!({ "grace_seconds": grace }))
            .send()
            .await
            .unwrap();
        let problem = expect_problem(response, StatusCode::FORBIDDEN).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("scope"),
            "{problem}"
        );
        assert!(problem.get("api_key").is_none(), "{problem}");
    }
    let response = stack
        .as_tenant(
            &keys_only,
            Method::DELETE,
            &format!("/v1/api-keys/{integration_id}"),
        )
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::FORBIDDEN).await;
    // Nothing changed: no successor, no revocation, the integration works.
    assert_eq!(all_keys(stack, &tenant).await, before);
    assert_eq!(
        status_with(stack, &integration, "/v1/crm/customers").await,
        StatusCode::OK
    );
    // The first key (read, write, audit) is as far out of reach.
    let first_id = before.last().unwrap()[0].as_str().unwrap().to_owned();
    let response = stack
        .as_tenant(
            &keys_only,
            Method::DELETE,
            &format!("/v1/api-keys/{first_id}"),
        )
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::FORBIDDEN).await;
    assert_eq!(
        status_with(stack, &tenant, "/v1/crm/customers").await,
        StatusCode::OK
    );

    // Within its own scopes it still rotates: itself, to a keys-only
    // successor, and the successor can revoke what it could issue.
    let response = stack
        .as_tenant(
            &keys_only,
            Method::POST,
            &format!("/v1/api-keys/{keys_only_id}/rotate"),
        )
        .json(&json!({ "grace_seconds": 0 }))
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["successor"]["key"]["scopes"],
        json!(["keys"]),
        "{body}"
    );
    let successor = Tenant {
        id: tenant.id.clone(),
        key: body["successor"]["api_key"].as_str().unwrap().to_owned(),
    };
    let (status, body) = read(
        stack
            .as_tenant(&successor, Method::POST, "/v1/api-keys")
            .json(&json!({ "name": "helper", "scopes": ["keys"] }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let helper_id = body["key_id"].as_str().unwrap();
    let response = stack
        .as_tenant(
            &successor,
            Method::DELETE,
            &format!("/v1/api-keys/{helper_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The platform admin still rotates the read-write key.
    let response = stack
        .as_admin(
            Method::POST,
            &format!(
                "/v1/admin/tenants/{}/api-keys/{integration_id}/rotate",
                tenant.id
            ),
        )
        .json(&json!({ "grace_seconds": 60 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// Issue 19: the tenant's name was refused in a password only when an
/// admin created the user, not when an owner did or a user changed theirs.
async fn every_password_path_refuses_the_tenant_name(stack: &TestStack) {
    let (tenant, owner_email, owner) = tenant_with_owner(stack, "Quokka Quarters").await;
    let on_the_name = "Quokka jumps over seven fences";

    // An owner creating a user.
    let (status, problem) = post(
        stack,
        "/v1/users",
        Some(&owner),
        json!({ "email": "agent@staff.example", "password": on_the_name }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("quokka"),
        "{problem}"
    );
    // Nothing was created: the same email with an acceptable password is new.
    let agent = staff_session(stack, &tenant, &owner, "agent").await;

    // A user (agent, and owner) changing their own password.
    for (token, current, email) in [
        (&agent, STAFF_PASSWORD, "agent@staff.example"),
        (&owner, OWNER_PASSWORD, owner_email.as_str()),
    ] {
        let (status, problem) = post(
            stack,
            "/v1/auth/password",
            Some(token),
            json!({ "current_password": current, "new_password": on_the_name }),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains("quokka"),
            "{problem}"
        );
        // The password is unchanged and the session still works.
        session(stack, &tenant, email, current).await;
        let response = stack
            .request(Method::GET, "/v1/auth/me")
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

/// The parts of a problem that do not change from one request to the next.
fn problem_shape(status: StatusCode, body: &Value) -> Value {
    json!([status.as_u16(), body["type"], body["title"], body["detail"]])
}

/// Issue 19: at the secret admin route, an admin without a second factor
/// was told so when the password was right, and "invalid" when it was
/// wrong: a password oracle.
async fn the_admin_route_is_no_password_oracle(stack: &TestStack) {
    const PASSWORD: &str = "seventeen purple lighthouses";
    let email = format!("night@{OFFICE_DOMAIN}");
    let response = stack
        .as_admin(Method::POST, "/v1/admin/users")
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let route = format!("/v1/auth/{}/sign-in", stack.admin_sign_in_path);
    let attempt = |password: &'static str| {
        let body = json!({ "email": email, "password": password });
        post(stack, &route, None, body)
    };
    let (right_status, right) = attempt(PASSWORD).await;
    let (wrong_status, wrong) = attempt("not the admin password at all").await;
    assert_eq!(right_status, StatusCode::UNAUTHORIZED, "{right}");
    assert_eq!(
        problem_shape(right_status, &right),
        problem_shape(wrong_status, &wrong)
    );
    assert!(right.get("session_token").is_none() && right.get("challenge").is_none());
    // An unknown admin answers the same again.
    let (unknown_status, unknown) = post(
        stack,
        &route,
        None,
        json!({ "email": format!("nobody@{OFFICE_DOMAIN}"), "password": PASSWORD }),
    )
    .await;
    assert_eq!(
        problem_shape(unknown_status, &unknown),
        problem_shape(wrong_status, &wrong)
    );
}

/// A six-digit code that is none of the codes accepted now (one step of
/// drift either way).
fn wrong_code(secret: &str) -> String {
    let now = unix_now();
    let accepted: Vec<String> = [-60, -30, 0, 30, 60]
        .iter()
        .map(|offset| rampart_auth::totp_code(secret, now + offset).unwrap())
        .collect();
    (0..10)
        .map(|digit| digit.to_string().repeat(6))
        .find(|candidate| !accepted.contains(candidate))
        .unwrap()
}

async fn me_status(stack: &TestStack, token: &str) -> StatusCode {
    stack
        .request(Method::GET, "/v1/auth/me")
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

/// Issue 19: a wrong code at `/v1/auth/totp/confirm` with a valid session
/// answered 401 "Authentication required", which clients read as signed out.
async fn a_wrong_code_is_not_signed_out(stack: &TestStack) {
    let (_, _, owner) = tenant_with_owner(stack, "Careful Cobbler").await;
    let (status, enrolment) = post(stack, "/v1/auth/totp/enrol", Some(&owner), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{enrolment}");
    let secret = enrolment["secret"].as_str().unwrap().to_owned();

    for wrong in [wrong_code(&secret), "12345x".to_owned(), String::new()] {
        let (status, problem) = post(
            stack,
            "/v1/auth/totp/confirm",
            Some(&owner),
            json!({ "code": wrong }),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{wrong:?}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains("code"),
            "{problem}"
        );
        assert_eq!(
            problem["status"], 400,
            "a problem, not a bare status: {problem}"
        );
        // Still signed in, and still not enrolled.
        assert_eq!(me_status(stack, &owner).await, StatusCode::OK);
    }
    let (_, me) = read(
        stack
            .request(Method::GET, "/v1/auth/me")
            .bearer_auth(&owner)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me["second_factor"], false, "{me}");

    // A wrong current password is 403, never 401, and the session lives.
    let (status, problem) = post(
        stack,
        "/v1/auth/password",
        Some(&owner),
        json!({ "current_password": "not my password at all", "new_password": "a brand new lantern glows softly" }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(me_status(stack, &owner).await, StatusCode::OK);

    // The right code still confirms.
    let (status, confirmed) = post(
        stack,
        "/v1/auth/totp/confirm",
        Some(&owner),
        json!({ "code": code(&secret, 0) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["recovery_codes"].as_array().unwrap().len(), 10);
}

/// Waits until the tenant's trail (read with its first key) holds events
/// that `done` accepts; returns them all.
async fn trail_until(
    stack: &TestStack,
    tenant: &Tenant,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let mut events = Vec::new();
        let mut cursor = String::new();
        loop {
            let path = format!("/v1/owner/audit?limit=100&cursor={cursor}");
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
                Some(next) => cursor = next.to_owned(),
                None => break,
            }
        }
        if done(&events) {
            return events;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the trail never showed what was expected: {events:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

fn events_of<'a>(events: &'a [Value], action: &str, outcome: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|event| event["action"] == action && event["outcome"] == outcome)
        .collect()
}

/// Issue 19: sign-ins were audited without the client address, and a
/// failed one against an existing account named `user:unknown`.
async fn authentication_events_name_the_account_and_the_address(stack: &TestStack) {
    let (tenant, email, owner) = tenant_with_owner(stack, "Watched Warehouse").await;
    let (_, me) = read(
        stack
            .request(Method::GET, "/v1/auth/me")
            .bearer_auth(&owner)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let owner_target = format!("user:{}", me["user_id"].as_str().unwrap());
    let client = "127.0.0.1";

    // A wrong password for the owner and for nobody: the same answer.
    let attempt = |email: String, password: &'static str| {
        let body = json!({ "tenant_id": tenant.id, "email": email, "password": password });
        post(stack, "/v1/auth/sign-in", None, body)
    };
    let (known_status, known) = attempt(email.clone(), "not the owner password").await;
    let (unknown_status, unknown) = attempt(
        "nobody@watched.example".to_owned(),
        "not the owner password",
    )
    .await;
    assert_eq!(known_status, StatusCode::UNAUTHORIZED, "{known}");
    assert_eq!(
        problem_shape(known_status, &known),
        problem_shape(unknown_status, &unknown)
    );
    // Hammered until the throttle holds it back: locked, on the same account.
    let mut locked = false;
    for _ in 0..10 {
        let (status, _) = attempt(email.clone(), "still not the owner password").await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            locked = true;
            break;
        }
    }
    assert!(locked, "the account throttle never held an attempt back");

    // A second factor: enrolled, then a wrong and a right code at sign-in.
    let (status, enrolment) = post(stack, "/v1/auth/totp/enrol", Some(&owner), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{enrolment}");
    let secret = enrolment["secret"].as_str().unwrap().to_owned();
    let (status, body) = post(
        stack,
        "/v1/auth/totp/confirm",
        Some(&owner),
        json!({ "code": code(&secret, 0) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The throttle's delay must pass before the right password is weighed.
    let mut tries = 0;
    let pending = loop {
        let (status, body) = attempt(email.clone(), OWNER_PASSWORD).await;
        if status == StatusCode::OK {
            break body;
        }
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        tries += 1;
        assert!(tries < 60, "the account stayed locked");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert_eq!(pending["second_factor_required"], true, "{pending}");
    let (status, _) = post(
        stack,
        "/v1/auth/second-factor",
        None,
        json!({ "challenge": pending["challenge"], "code": wrong_code(&secret) }),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let events = trail_until(stack, &tenant, |events| {
        !events_of(events, "user.sign_in", "locked").is_empty()
            && !events_of(events, "user.second_factor", "failure").is_empty()
    })
    .await;
    let failures = events_of(&events, "user.sign_in", "failure");
    assert!(
        failures.iter().any(|event| event["target"] == owner_target),
        "the failure against the owner names the owner: {failures:#?}"
    );
    assert!(
        failures
            .iter()
            .any(|event| event["target"] == "user:unknown"),
        "{failures:#?}"
    );
    for event in events_of(&events, "user.sign_in", "locked") {
        assert_eq!(event["target"], owner_target.as_str(), "{event}");
    }
    for (action, outcome) in [
        ("user.sign_in", "success"),
        ("user.sign_in", "failure"),
        ("user.sign_in", "locked"),
        ("user.second_factor", "failure"),
    ] {
        let found = events_of(&events, action, outcome);
        assert!(!found.is_empty(), "no {action} {outcome}: {events:#?}");
        for event in found {
            assert_eq!(event["client_addr"], client, "{event}");
        }
    }
}
