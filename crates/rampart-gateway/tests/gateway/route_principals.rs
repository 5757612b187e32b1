//! Each route accepts only the kinds of principal it should: table-driven
//! over routes and credentials. An accepted request reaches its backend; a
//! refused one is answered 401 or 403 and reaches no backend.

use http::StatusCode;
use rampart_kit::api_key::KeyKind;
use serde_json::json;

use crate::stubs::{Stub, TestGateway, WIDGET_ORIGIN, request};

/// The kinds of credential a caller can present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    TenantKey,
    AdminKey,
    WidgetKey,
    OwnerSession,
    AgentSession,
    AdminSession,
}

use Credential::{AdminKey, AdminSession, AgentSession, OwnerSession, TenantKey, WidgetKey};

const ALL: [Credential; 6] = [
    TenantKey,
    AdminKey,
    WidgetKey,
    OwnerSession,
    AgentSession,
    AdminSession,
];

/// The headers presenting `credential`, each in the header its kind uses.
fn headers(stub: &Stub, credential: Credential) -> Vec<(&'static str, String)> {
    let bearer = |role| format!("Bearer {}", stub.session(role));
    match credential {
        TenantKey => vec![(
            "x-api-key",
            stub.key(KeyKind::Live, &["read", "write", "keys"]),
        )],
        AdminKey => vec![("x-admin-api-key", stub.key(KeyKind::Admin, &["admin"]))],
        WidgetKey => vec![
            ("x-widget-key", stub.key(KeyKind::Widget, &["widget"])),
            ("origin", WIDGET_ORIGIN.to_owned()),
        ],
        OwnerSession => vec![("authorization", bearer("owner"))],
        AgentSession => vec![("authorization", bearer("agent"))],
        AdminSession => vec![("authorization", bearer("admin"))],
    }
}

const USER: &str = "usr_0123456789abcdef0123456789abcdef";
const CONVERSATION: &str = "cnv_0123456789abcdef0123456789abcdef";
const HANDOFF: &str = "hof_0123456789abcdef0123456789abcdef";
const APPOINTMENT: &str = "apt_0123456789abcdef0123456789abcdef";
const JOB_NOTE: &str = "jnt_0123456789abcdef0123456789abcdef";
const CHANNEL: &str = "chn_0123456789abcdef0123456789abcdef";
const CUSTOMER: &str = "cus_0123456789abcdef0123456789abcdef";
const ERASURE: &str = "era_0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn each_route_accepts_only_its_principals() {
    let tenant = [TenantKey, OwnerSession, AgentSession];
    let admin = [AdminKey, AdminSession];
    let signed_in = [OwnerSession, AgentSession, AdminSession];
    let owner = [OwnerSession];
    let widget = [WidgetKey];
    let tenant_users = [OwnerSession, AgentSession];
    let routes: Vec<(&str, String, Option<serde_json::Value>, &[Credential])> = vec![
        ("GET", "/v1/crm/customers".into(), None, &tenant),
        (
            "POST",
            "/v1/crm/customers".into(),
            Some(json!({"name": "Ada"})),
            &tenant,
        ),
        (
            "POST",
            "/v1/escalation/evaluate".into(),
            Some(json!({"channel": "chat", "text": "hello"})),
            &tenant,
        ),
        ("GET", "/v1/api-keys".into(), None, &tenant),
        ("GET", "/v1/owner/audit".into(), None, &tenant),
        ("GET", "/v1/owner/audit/checkpoint".into(), None, &tenant),
        ("GET", "/v1/admin/tenants".into(), None, &admin),
        ("GET", "/v1/admin/api-keys".into(), None, &admin),
        ("GET", "/v1/admin/audit".into(), None, &admin),
        (
            "POST",
            format!("/v1/admin/users/{USER}/revoke-sessions"),
            None,
            &admin,
        ),
        ("GET", "/v1/auth/me".into(), None, &signed_in),
        ("GET", "/v1/auth/sessions".into(), None, &signed_in),
        ("POST", "/v1/auth/sign-out".into(), None, &signed_in),
        (
            "POST",
            format!("/v1/users/{USER}/revoke-sessions"),
            None,
            &owner,
        ),
        (
            "PUT",
            "/v1/tenant/security".into(),
            Some(json!({"require_second_factor_for_managers": true})),
            &owner,
        ),
        ("POST", "/v1/widget/conversations".into(), None, &widget),
        (
            "POST",
            format!("/v1/widget/conversations/{CONVERSATION}/messages"),
            Some(json!({"text": "hello"})),
            &widget,
        ),
        (
            "POST",
            "/v1/crm/conversations".into(),
            Some(json!({"channel": "web"})),
            &tenant,
        ),
        ("GET", "/v1/crm/conversations".into(), None, &tenant),
        (
            "GET",
            format!("/v1/crm/conversations/{CONVERSATION}"),
            None,
            &tenant,
        ),
        (
            "POST",
            format!("/v1/crm/conversations/{CONVERSATION}/messages"),
            Some(json!({"text": "hello"})),
            &tenant,
        ),
        (
            "POST",
            format!("/v1/crm/conversations/{CONVERSATION}/ai-replies"),
            Some(json!({"text": "hello"})),
            &tenant,
        ),
        (
            "POST",
            format!("/v1/crm/conversations/{CONVERSATION}/agent-replies"),
            Some(json!({"text": "hello"})),
            &tenant_users,
        ),
        (
            "PUT",
            format!("/v1/crm/conversations/{CONVERSATION}/summary"),
            Some(json!({"summary": "boiler"})),
            &tenant,
        ),
        ("GET", "/v1/escalation/policy".into(), None, &tenant_users),
        (
            "PUT",
            "/v1/escalation/policy".into(),
            Some(json!({"policy": {}})),
            &tenant_users,
        ),
        ("GET", "/v1/handoffs".into(), None, &tenant),
        ("GET", format!("/v1/handoffs/{HANDOFF}"), None, &tenant),
        (
            "POST",
            format!("/v1/handoffs/{HANDOFF}/claim"),
            None,
            &tenant_users,
        ),
        (
            "POST",
            format!("/v1/handoffs/{HANDOFF}/resolve"),
            None,
            &tenant_users,
        ),
        (
            "POST",
            format!("/v1/handoffs/{HANDOFF}/hand-back"),
            None,
            &tenant_users,
        ),
        // The schedule: keys and every tenant user (the CRM checks the
        // role and the scope).
        ("GET", "/v1/crm/appointments".into(), None, &tenant),
        (
            "POST",
            "/v1/crm/appointments".into(),
            Some(json!({
                "customer_id": "cus_0123456789abcdef0123456789abcdef",
                "starts_at": "2026-03-02T09:00:00Z",
                "ends_at": "2026-03-02T10:00:00Z",
                "service_type": "Boiler service",
            })),
            &tenant,
        ),
        (
            "GET",
            format!("/v1/crm/appointments/{APPOINTMENT}"),
            None,
            &tenant,
        ),
        (
            "PATCH",
            format!("/v1/crm/appointments/{APPOINTMENT}"),
            Some(json!({"status": "confirmed"})),
            &tenant,
        ),
        ("GET", "/v1/crm/job-notes".into(), None, &tenant),
        (
            "POST",
            "/v1/crm/job-notes".into(),
            Some(json!({"appointment_id": APPOINTMENT, "text": "Checked the flue"})),
            &tenant,
        ),
        (
            "GET",
            format!("/v1/crm/job-notes/{JOB_NOTE}"),
            None,
            &tenant,
        ),
        // The owner's configuration: tenant keys and users reach the CRM,
        // which checks the role or key scope.
        ("GET", "/v1/owner/settings".into(), None, &tenant),
        (
            "PUT",
            "/v1/owner/settings".into(),
            Some(json!({"settings": {}})),
            &tenant,
        ),
        ("GET", "/v1/owner/channels".into(), None, &tenant),
        (
            "POST",
            "/v1/owner/channels".into(),
            Some(json!({"kind": "sms", "display_name": "Front desk"})),
            &tenant,
        ),
        (
            "DELETE",
            format!("/v1/owner/channels/{CHANNEL}"),
            None,
            &tenant,
        ),
        ("GET", "/v1/owner/retention".into(), None, &tenant),
        (
            "PUT",
            "/v1/owner/retention".into(),
            Some(json!({"conversations_days": 30})),
            &tenant,
        ),
        (
            "PUT",
            format!("/v1/crm/customers/{CUSTOMER}/legal-hold"),
            Some(json!({"held": true, "reason": "litigation"})),
            &tenant,
        ),
        (
            "POST",
            "/v1/owner/erasure-requests".into(),
            Some(json!({"customer_id": CUSTOMER, "reason": "asked by phone"})),
            &tenant,
        ),
        ("GET", "/v1/owner/erasure-requests".into(), None, &tenant),
        (
            "GET",
            format!("/v1/owner/erasure-requests/{ERASURE}"),
            None,
            &tenant,
        ),
        (
            "POST",
            format!("/v1/owner/erasure-requests/{ERASURE}/execute"),
            None,
            &tenant,
        ),
    ];
    let gateway = TestGateway::start().await;
    let mut wrong = Vec::new();
    for (method, path, body, accepted) in &routes {
        for credential in ALL {
            let presented = headers(&gateway.stub, credential);
            let presented: Vec<(&str, &str)> = presented
                .iter()
                .map(|(name, value)| (*name, value.as_str()))
                .collect();
            let before = gateway.stub.work_calls();
            let (status, answer) = gateway
                .send(request(method, path, &presented, body.clone()))
                .await;
            let reached = gateway.stub.work_calls() > before;
            let refused = matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
            let ok = if accepted.contains(&credential) {
                reached && !refused
            } else {
                refused && !reached
            };
            if !ok {
                wrong.push(format!(
                    "{method} {path} with {credential:?}: {status} (reached a backend: {reached}) {answer}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn public_routes_need_no_credential() {
    let gateway = TestGateway::start().await;
    for path in ["/healthz", "/v1/openapi.json", "/v1/audit/public-key"] {
        let (status, body) = gateway.send(request("GET", path, &[], None)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    assert_eq!(gateway.stub.calls("get_public_key"), 1);
}
