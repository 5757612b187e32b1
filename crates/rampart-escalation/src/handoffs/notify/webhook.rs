//! The signed webhook: a JSON POST with `Rampart-Signature:
//! t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` and
//! `Rampart-Event-Id: <notification id>`.
//!
//! The timestamp is signed with the body so a receiver can refuse a
//! replayed request ([`verify_signature`] with a tolerance); the event id
//! lets it ignore a resend of one it already took (delivery is at least
//! once).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ring::hmac;

use super::Failure;

/// How long a receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

pub const SIGNATURE_HEADER: &str = "Rampart-Signature";
pub const EVENT_ID_HEADER: &str = "Rampart-Event-Id";

/// The `Rampart-Signature` value for `body` signed at `at`.
#[must_use]
pub fn sign(secret: &str, body: &str, at: DateTime<Utc>) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let t = at.timestamp();
    let tag = hmac::sign(&key, format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", super::hex(tag.as_ref()))
}

/// Why a webhook request's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance")]
    Expired,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks a `Rampart-Signature` header against the body received, for a
/// receiver: the HMAC must match (compared in constant time) and its
/// timestamp be within `tolerance` of `now`, either way, so an old request
/// replayed is refused.
pub fn verify_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => {
                signatures.push(super::unhex(value, 64).ok_or(SignatureError::Malformed)?)
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if now.timestamp().abs_diff(timestamp) > tolerance.unsigned_abs() {
        return Err(SignatureError::Expired);
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    // Several v1 values let a receiver accept the old and the new secret's
    // signature during a rotation.
    if signatures
        .iter()
        .any(|tag| hmac::verify(&key, &signed, tag).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Which addresses a webhook may be delivered to.
///
/// A tenant's owner writes the webhook URL, so without a limit a delivery
/// is a request from inside the deployment to wherever the owner points
/// it: the cloud's metadata service, a database's port, an admin listener
/// (server-side request forgery). Staging and production therefore deliver
/// to public addresses only, checked when the connection is made (a name
/// whose DNS answer changes after the policy was written is still caught);
/// development and tests may use loopback and private addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WebhookTargets {
    /// `https://` to public addresses only.
    #[default]
    PublicOnly,
    /// Also private, loopback and link-local addresses, and `http://` to
    /// loopback (a developer's receiver).
    AnyAddress,
}

impl WebhookTargets {
    /// Any address in development, public ones only in staging and
    /// production.
    #[must_use]
    pub fn for_environment(environment: rampart_kit::environment::Environment) -> Self {
        match environment {
            rampart_kit::environment::Environment::Development => Self::AnyAddress,
            _ => Self::PublicOnly,
        }
    }
}

/// One HTTP client for each policy: TLS on ring with the platform's roots,
/// as reqwest is built without a provider of its own; the public-only
/// client resolves names through [`PublicResolver`].
fn client(targets: WebhookTargets) -> Result<&'static reqwest::Client, Failure> {
    static PUBLIC: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    static ANY: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    let cell = match targets {
        WebhookTargets::PublicOnly => &PUBLIC,
        WebhookTargets::AnyAddress => &ANY,
    };
    cell.get_or_init(|| {
        use rustls_platform_verifier::BuilderVerifierExt;
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_platform_verifier()
        .map_err(|error| error.to_string())?
        .with_no_client_auth();
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(TIMEOUT)
            // A redirect would send the signed event somewhere the
            // tenant did not configure.
            .redirect(reqwest::redirect::Policy::none());
        if targets == WebhookTargets::PublicOnly {
            // A proxy would resolve the name itself, out of our check.
            builder = builder.no_proxy().dns_resolver(PublicResolver);
        }
        builder.build().map_err(|error| error.to_string())
    })
    .as_ref()
    .map_err(|error| Failure::permanent(format!("building the webhook client: {error}")))
}

/// The system resolver, keeping only public addresses: a name that
/// resolves to none fails to connect, with a message that says why.
struct PublicResolver;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|address| is_public(address.ip()))
                .collect();
            if addresses.is_empty() {
                return Err(format!(
                    "{host} resolves to no public address (webhooks may not reach private networks)"
                )
                .into());
            }
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// Whether `ip` is an address on the public internet: not loopback,
/// private, shared (CGNAT), link-local, unique-local, multicast,
/// documentation, benchmarking, reserved or unspecified; an IPv4 address
/// mapped into IPv6 is judged as the IPv4 address it carries.
#[must_use]
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        // Shared address space (RFC 6598).
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments (RFC 6890).
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking (RFC 2544).
        || (a == 198 && (b == 18 || b == 19))
        // Reserved (RFC 1112).
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local (fc00::/7) and link-local (fe80::/10).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        // Documentation (2001:db8::/32).
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        // IPv4-compatible and NAT64 addresses embed IPv4 ones; refuse them
        // rather than judge what they embed.
        || ip.segments()[..6].iter().all(|segment| *segment == 0)
        || (first == 0x0064 && ip.segments()[1] == 0xff9b))
}

/// Whether `url` may receive events under `targets`: `https://` (to a
/// public host when only public ones are allowed), or, in development,
/// `http://` to a loopback address. The policy checks the scheme when it
/// is written; checking again here keeps a stored URL from ever sending a
/// signed event in the clear across a network, or inside the deployment.
fn allowed(url: &reqwest::Url, targets: WebhookTargets) -> bool {
    match (url.scheme(), targets) {
        ("https", WebhookTargets::AnyAddress) => true,
        // An address is judged here (the resolver never sees one); a name
        // is judged by the resolver when the connection is made. The URL
        // parser has already turned `2130706433` and the like into dotted
        // form.
        ("https", WebhookTargets::PublicOnly) => url.host_str().is_some_and(|host| {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            match bare.parse::<IpAddr>() {
                Ok(ip) => is_public(ip),
                Err(_) => !super::email::is_loopback(host),
            }
        }),
        ("http", WebhookTargets::AnyAddress) => {
            url.host_str().is_some_and(super::email::is_loopback)
        }
        _ => false,
    }
}

/// POSTs `body` to `url`, signed; a 2xx answer is a delivery.
pub(crate) async fn post(
    url: &str,
    targets: WebhookTargets,
    secret: &str,
    event_id: &str,
    body: &str,
) -> Result<(), Failure> {
    let url = reqwest::Url::parse(url)
        .ok()
        .filter(|url| allowed(url, targets))
        .ok_or_else(|| {
            Failure::permanent(match targets {
                WebhookTargets::PublicOnly => "the webhook URL must be https to a public address",
                WebhookTargets::AnyAddress => "the webhook URL must be https (or http to loopback)",
            })
        })?;
    let response = client(targets)?
        .post(url)
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, sign(secret, body, Utc::now()))
        .header(EVENT_ID_HEADER, event_id)
        .body(body.to_owned())
        .send()
        .await
        .map_err(|error| Failure::retry(format!("webhook request failed: {}", chain(&error))))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(Failure::retry(format!("webhook answered {status}")))
    }
}

/// An error with its causes, so the reason a connection failed (the
/// resolver's refusal among them) reaches the log and the row.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-webhook-secret-of-at-least-32-chars";
    const WINDOW: Duration = Duration::from_secs(300);

    #[test]
    fn webhooks_go_over_https_or_to_loopback_only() {
        use WebhookTargets::{AnyAddress, PublicOnly};
        for (url, any, public) in [
            ("https://hooks.example.com/x", true, true),
            ("https://93.184.216.34/x", true, true),
            ("http://127.0.0.1:8080/x", true, false),
            ("http://localhost/x", true, false),
            ("http://[::1]:9/x", true, false),
            ("http://hooks.example.com/x", false, false),
            ("http://10.0.0.1/x", false, false),
            ("https://127.0.0.1/x", true, false),
            ("https://localhost/x", true, false),
            ("https://10.1.2.3/x", true, false),
            ("https://169.254.169.254/latest/meta-data", true, false),
            ("https://[::1]/x", true, false),
            ("https://[fd00::1]/x", true, false),
            ("https://[::ffff:192.168.1.1]/x", true, false),
            ("ftp://hooks.example.com/x", false, false),
        ] {
            let parsed = reqwest::Url::parse(url).unwrap();
            assert_eq!(allowed(&parsed, AnyAddress), any, "{url} in development");
            assert_eq!(allowed(&parsed, PublicOnly), public, "{url} in production");
        }
    }

    #[test]
    fn only_public_addresses_are_public() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_not_reached_in_production() {
        use reqwest::dns::Resolve as _;
        let refused = PublicResolver
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("localhost resolves to loopback only");
        assert!(
            refused.to_string().contains("no public address"),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn a_private_receiver_gets_nothing_in_production() {
        // A receiver on loopback that counts what reaches it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let reached = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = reached.clone();
        let server = tokio::spawn(async move {
            if listener.accept().await.is_ok() {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        });
        for url in [
            format!("https://127.0.0.1:{port}/hook"),
            format!("https://localhost:{port}/hook"),
            format!("http://127.0.0.1:{port}/hook"),
        ] {
            let failure = post(&url, WebhookTargets::PublicOnly, "secret", "ntf_1", "{}")
                .await
                .expect_err(&url);
            assert!(
                failure.message.contains("public address"),
                "{url}: {}",
                failure.message
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !reached.load(std::sync::atomic::Ordering::SeqCst),
            "a connection reached the receiver"
        );
        server.abort();
    }

    #[test]
    fn a_signature_verifies_and_tampering_does_not() {
        let now = Utc::now();
        let body = r#"{"event":"handoff.opened"}"#;
        let header = sign(SECRET, body, now);
        assert_eq!(
            verify_signature(SECRET, &header, body.as_bytes(), now, WINDOW),
            Ok(())
        );
        assert_eq!(
            verify_signature("another-secret", &header, body.as_bytes(), now, WINDOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(SECRET, &header, b"{}", now, WINDOW),
            Err(SignatureError::Mismatch)
        );
        let later = now + chrono::Duration::seconds(301);
        assert_eq!(
            verify_signature(SECRET, &header, body.as_bytes(), later, WINDOW),
            Err(SignatureError::Expired)
        );
        for junk in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz"] {
            assert_eq!(
                verify_signature(SECRET, junk, body.as_bytes(), now, WINDOW),
                Err(SignatureError::Malformed),
                "{junk}"
            );
        }
    }
}
