//! The edge's hardening, probed at the wire as an attacker would: old TLS
//! versions and weak suites, oversized and too many headers, deep JSON,
//! clients that trickle, methods the edge does not serve, and forwarding
//! headers meant to dodge the per-address limit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::connections::closed_after;
use crate::harness::{Backend, TestStack, edge_client, edge_roots, edge_tls, expect_problem};

// ---- TLS, byte by byte -------------------------------------------------

const TLS_1_0: u16 = 0x0301;
const TLS_1_1: u16 = 0x0302;
const TLS_1_2: u16 = 0x0303;

/// AEAD suites with ephemeral key exchange, as a TLS 1.2 client offers them.
const AEAD_SUITES: [u16; 4] = [0xC02B, 0xC02F, 0xCCA9, 0xCCA8];
/// Suites the edge must never pick: CBC with SHA-1 or SHA-2, static RSA,
/// 3DES, RC4, and NULL encryption.
const WEAK_SUITES: [u16; 15] = [
    0xC009, 0xC00A, 0xC023, 0xC024, // ECDHE-ECDSA with CBC
    0xC013, 0xC014, 0xC027, 0xC028, // ECDHE-RSA with CBC
    0x002F, 0x0035, 0x003C, // static RSA with CBC
    0x009C, // static RSA with GCM: AEAD but no forward secrecy
    0x000A, // 3DES
    0x0005, // RC4
    0x0002, // NULL
];

fn extension(kind: u16, body: &[u8]) -> Vec<u8> {
    let mut out = kind.to_be_bytes().to_vec();
    out.extend((body.len() as u16).to_be_bytes());
    out.extend(body);
    out
}

/// A ClientHello as an old or restricted client would send it: `version`
/// as the only version offered (no supported_versions extension), `suites`
/// as the only cipher suites, and the usual extensions for an ECDSA server.
fn client_hello(version: u16, suites: &[u16]) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    body.extend([0x42; 32]); // random
    body.push(0); // no session id
    body.extend(((suites.len() * 2) as u16).to_be_bytes());
    for suite in suites {
        body.extend(suite.to_be_bytes());
    }
    body.extend([1, 0]); // compression: null only
    let name = b"localhost";
    let mut server_name = ((name.len() + 3) as u16).to_be_bytes().to_vec();
    server_name.push(0);
    server_name.extend((name.len() as u16).to_be_bytes());
    server_name.extend(name);
    let mut extensions = extension(0x0000, &server_name);
    extensions.extend(extension(0x000a, &[0, 4, 0x00, 0x1d, 0x00, 0x17])); // x25519, P-256
    extensions.extend(extension(0x000b, &[1, 0])); // uncompressed points
    extensions.extend(extension(
        0x000d,
        &[0, 6, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01], // ecdsa-p256-sha256, rsa-pss, rsa-pkcs1
    ));
    extensions.extend(extension(0x0017, &[])); // extended master secret
    extensions.extend(extension(0xff01, &[0])); // renegotiation info
    body.extend((extensions.len() as u16).to_be_bytes());
    body.extend(extensions);

    let mut handshake = vec![0x01];
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16];
    record.extend(TLS_1_0.to_be_bytes());
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

/// What the server answered a ClientHello with.
#[derive(Debug, PartialEq)]
enum ServerAnswer {
    ServerHello,
    Alert { description: u8 },
    Closed,
}

async fn send_client_hello(stack: &TestStack, hello: &[u8]) -> ServerAnswer {
    let mut stream = TcpStream::connect(stack.stack.edge_addr).await.unwrap();
    stream.write_all(hello).await.unwrap();
    let mut answer = [0u8; 7];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut answer))
        .await
        .expect("the server answers a ClientHello promptly");
    match read {
        Ok(_) if answer[0] == 0x16 && answer[5] == 0x02 => ServerAnswer::ServerHello,
        Ok(_) if answer[0] == 0x15 => ServerAnswer::Alert {
            description: answer[6],
        },
        Ok(_) => panic!("unexpected answer {answer:?}"),
        Err(_) => ServerAnswer::Closed,
    }
}

#[tokio::test]
async fn tls_1_0_and_1_1_are_refused() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    // The hand-made hello is sound: offered as TLS 1.2, it is accepted.
    assert_eq!(
        send_client_hello(&stack, &client_hello(TLS_1_2, &AEAD_SUITES)).await,
        ServerAnswer::ServerHello
    );
    for version in [TLS_1_0, TLS_1_1] {
        let answer = send_client_hello(&stack, &client_hello(version, &AEAD_SUITES)).await;
        assert!(
            matches!(answer, ServerAnswer::Alert { .. } | ServerAnswer::Closed),
            "TLS {version:#06x} was answered with {answer:?}"
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn only_aead_suites_with_forward_secrecy_are_negotiated() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    // A TLS 1.2 client offering only weak suites finds no common suite,
    // offered together or one at a time.
    let answer = send_client_hello(&stack, &client_hello(TLS_1_2, &WEAK_SUITES)).await;
    assert!(
        matches!(answer, ServerAnswer::Alert { .. } | ServerAnswer::Closed),
        "weak suites were accepted: {answer:?}"
    );
    for suite in WEAK_SUITES {
        let answer = send_client_hello(&stack, &client_hello(TLS_1_2, &[suite])).await;
        assert_ne!(
            answer,
            ServerAnswer::ServerHello,
            "suite {suite:#06x} was accepted"
        );
    }

    // A rustls client restricted to each of its suites (all AEAD) gets
    // through, on TLS 1.3 and 1.2 alike.
    let roots = edge_roots(&stack.stack.edge_ca);
    let all = rustls::crypto::ring::default_provider().cipher_suites;
    let mut versions_seen = Vec::new();
    for suite in all {
        let version = suite.version();
        let provider = rustls::crypto::CryptoProvider {
            cipher_suites: vec![suite],
            ..rustls::crypto::ring::default_provider()
        };
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        // Suites for an RSA certificate cannot work with the edge's ECDSA
        // one; every ECDSA or TLS 1.3 suite must.
        let name = format!("{:?}", suite.suite());
        if name.contains("_RSA_") {
            continue;
        }
        let response = client.get(stack.url("/healthz")).send().await;
        assert!(
            response.is_ok_and(|r| r.status() == StatusCode::OK),
            "{name} was refused"
        );
        versions_seen.push(version.version);
    }
    assert!(versions_seen.contains(&rustls::ProtocolVersion::TLSv1_3));
    assert!(versions_seen.contains(&rustls::ProtocolVersion::TLSv1_2));
    stack.stop().await;
}

// ---- headers, bodies, methods -------------------------------------------

#[tokio::test]
async fn oversized_and_too_many_headers_are_refused() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let h1 = edge_client(&stack.stack.edge_ca, &[b"http/1.1"]);
    let url = stack.url("/healthz");
    // Within the limits: fine.
    let mut request = h1.get(&url);
    for i in 0..20 {
        request = request.header(format!("x-fill-{i}"), "a");
    }
    assert_eq!(request.send().await.unwrap().status(), StatusCode::OK);
    // Too many headers.
    let mut request = h1.get(&url);
    for i in 0..100 {
        request = request.header(format!("x-fill-{i}"), "a");
    }
    let response = request.send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    // One huge header.
    let response = h1
        .get(&url)
        .header("x-huge", "a".repeat(32 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    // Over HTTP/2 the header list is bounded too: the request is refused,
    // whether by a 431 or by resetting the stream.
    let h2 = edge_client(&stack.stack.edge_ca, &[b"h2"]);
    let attempt = h2
        .get(&url)
        .header("x-huge", "a".repeat(32 * 1024))
        .send()
        .await;
    assert!(
        attempt.as_ref().map_or(true, |r| !r.status().is_success()),
        "a 32 KiB header was accepted over HTTP/2: {attempt:?}"
    );
    stack.stop().await;
}

/// Sends `head` and then all of `body` on a fresh HTTP/1.1 connection, then
/// reads the answer, as a simple client uploading a file does; returns what
/// came back before the connection closed (empty after a reset).
async fn upload(stack: &TestStack, head: String, body: Vec<u8>) -> String {
    let mut stream = tls_connect(stack).await;
    let sent = tokio::time::timeout(Duration::from_secs(20), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        stream.flush().await
    })
    .await;
    assert!(sent.is_ok(), "the upload stalled");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "no answer within 20 s");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn an_oversized_upload_is_answered_413_with_connection_close() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let tenant = stack.create_tenant("Big Upload Co").await;
    // 1.5 MB, far over the 64 KiB limit, sent whole before reading.
    let name = "x".repeat(1_500_000);
    let body = format!("{{\"name\":\"{name}\"}}").into_bytes();
    let head = format!(
        "POST /v1/crm/customers HTTP/1.1\r\nHost: localhost\r\nX-API-Key: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        tenant.key,
        body.len()
    );
    let answer = upload(&stack, head, body.clone()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:.300}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer:.600}"
    );
    assert!(answer.contains("payload-too-large"), "{answer:.600}");

    // The same without a declared length (chunked): found out while reading.
    let mut chunked = Vec::new();
    for piece in body.chunks(64 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST /v1/crm/customers HTTP/1.1\r\nHost: localhost\r\nX-API-Key: {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        tenant.key
    );
    let answer = upload(&stack, head, chunked).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:.300}");

    // Nothing was created.
    let response = stack
        .as_tenant(&tenant, Method::GET, "/v1/crm/customers")
        .send()
        .await
        .unwrap();
    let listed: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        listed["customers"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn deep_json_is_refused_before_parsing() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let tenant = stack.create_tenant("Deep Ltd").await;
    let nested = |depth: usize| {
        format!(
            "{{\"name\":{}\"x\"{}}}",
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    };
    // 33 levels: refused for its depth.
    let response = stack
        .as_tenant(&tenant, Method::POST, "/v1/crm/customers")
        .header("content-type", "application/json")
        .body(nested(33))
        .send()
        .await
        .unwrap();
    let body = expect_problem(response, StatusCode::BAD_REQUEST).await;
    assert!(
        body["detail"].as_str().unwrap().contains("deeper than 32"),
        "{body}"
    );
    // 32 levels pass the depth check and fail on the field's type instead:
    // the limit, not the parser, refused the deeper one.
    let response = stack
        .as_tenant(&tenant, Method::POST, "/v1/crm/customers")
        .header("content-type", "application/json")
        .body(nested(32))
        .send()
        .await
        .unwrap();
    let body = expect_problem(response, StatusCode::BAD_REQUEST).await;
    assert!(
        !body["detail"].as_str().unwrap().contains("deeper"),
        "{body}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn trace_and_unused_methods_answer_405_everywhere() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let tenant = stack.create_tenant("Methodical").await;
    for (method, path) in [
        ("TRACE", "/healthz"),
        ("TRACE", "/v1/crm/customers"),
        ("TRACE", "/no/such/route"),
        ("PROPFIND", "/v1/crm/customers"),
        ("FOO", "/"),
        ("DELETE", "/v1/admin/tenants"),
        ("PUT", "/v1/crm/customers"),
    ] {
        let response = stack
            .as_tenant(
                &tenant,
                Method::from_bytes(method.as_bytes()).unwrap(),
                path,
            )
            .send()
            .await
            .unwrap();
        let body = expect_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
        // TRACE never echoes the request (and its key) back.
        assert!(
            !body.to_string().contains(&tenant.key),
            "{method} {path}: {body}"
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn authenticated_answers_are_never_cached() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let tenant = stack.create_tenant("No Cache").await;
    let created = stack
        .as_tenant(&tenant, Method::POST, "/v1/crm/customers")
        .json(&json!({ "name": "Kim" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.headers()["cache-control"], "no-store");
    let (_, customer) = crate::harness::read(created).await;
    let customer_path = format!("/v1/crm/customers/{}", customer["id"].as_str().unwrap());
    let tenant_routes = [
        (Method::GET, "/v1/crm/customers".to_owned()),
        (Method::GET, customer_path),
        (Method::GET, "/v1/owner/audit".to_owned()),
        (Method::GET, "/v1/crm/customers/cus_missing".to_owned()),
    ];
    for (method, path) in tenant_routes {
        let response = stack
            .as_tenant(&tenant, method.clone(), &path)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["cache-control"],
            "no-store",
            "{method} {path}"
        );
    }
    let response = stack
        .as_tenant(&tenant, Method::POST, "/v1/escalation/evaluate")
        .json(&json!({ "channel": "sms", "text": "what are your hours?" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let response = stack
        .as_admin(Method::GET, "/v1/admin/tenants")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    stack.stop().await;
}

// ---- slow clients ----------------------------------------------------------

fn quick_timeouts() -> rampart_gateway::Config {
    rampart_gateway::Config {
        edge: rampart_gateway::edge::EdgeLimits {
            handshake_timeout: Duration::from_secs(1),
            header_read_timeout: Duration::from_secs(1),
            ..rampart_gateway::edge::EdgeLimits::default()
        },
        ..rampart_gateway::Config::default()
    }
}

async fn tls_connect(stack: &TestStack) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tls = edge_tls(
        &stack.stack.edge_ca,
        rustls::DEFAULT_VERSIONS,
        &[b"http/1.1"],
    );
    tls_connect_with(stack, &Arc::new(tls)).await
}

/// A TLS connection to the edge made with the client settings `tls`.
async fn tls_connect_with(
    stack: &TestStack,
    tls: &Arc<rustls::ClientConfig>,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let connector = tokio_rustls::TlsConnector::from(tls.clone());
    let tcp = TcpStream::connect(stack.stack.edge_addr).await.unwrap();
    connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_client_trickling_headers_is_cut_off() {
    let stack = TestStack::start_with(Backend::Embedded, quick_timeouts())
        .await
        .unwrap();
    // A prompt client on the same settings is answered.
    let mut prompt = tls_connect(&stack).await;
    prompt
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    prompt.read_to_end(&mut answer).await.ok();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // A client sending one header byte every 100 ms (a 10 s head) is cut
    // off after the 1 s header deadline, though it never stops sending.
    let stream = tls_connect(&stack).await;
    let (mut reader, mut writer) = tokio::io::split(stream);
    let started = Instant::now();
    let trickle = tokio::spawn(async move {
        writer.write_all(b"GET /healthz HTTP/1.1\r\n").await?;
        for byte in b"X-Slow: ".iter().chain(&[b'a'; 92]) {
            writer.write_all(&[*byte]).await?;
            writer.flush().await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok::<_, std::io::Error>(())
    });
    let closed = closed_after(&mut reader, Duration::from_secs(8))
        .await
        .is_some();
    let elapsed = started.elapsed();
    assert!(closed, "the trickling client was not cut off");
    assert!(
        elapsed < Duration::from_secs(4),
        "cut off only after {elapsed:?}"
    );
    assert!(!trickle.is_finished() || trickle.await.unwrap().is_err());
    stack.stop().await;
}

#[tokio::test]
async fn a_client_that_never_finishes_the_handshake_is_cut_off() {
    let stack = TestStack::start_with(Backend::Embedded, quick_timeouts())
        .await
        .unwrap();
    let mut stream = TcpStream::connect(stack.stack.edge_addr).await.unwrap();
    let started = Instant::now();
    // Half a ClientHello, then silence.
    let hello = client_hello(TLS_1_2, &AEAD_SUITES);
    stream.write_all(&hello[..hello.len() / 2]).await.unwrap();
    let mut buffer = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(8), stream.read(&mut buffer)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the connection stayed open: {read:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    stack.stop().await;
}

// ---- spoofing ---------------------------------------------------------------

async fn forwarding_headers_do_not_dodge_the_address_limit(backend: Backend) {
    let config = rampart_gateway::Config {
        per_address: rampart_kit::rate_limit::Quota::per_minute(3),
        ..rampart_gateway::Config::default()
    };
    let Some(stack) = TestStack::start_with(backend, config).await else {
        return;
    };
    let mut limited = 0;
    for i in 0..8 {
        // Each request claims another client address and origin.
        let response = stack
            .request(Method::GET, "/v1/crm/customers")
            .header("X-API-Key", "rk_live_not_a_valid_key")
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .header("x-real-ip", format!("198.51.100.{i}"))
            .header("forwarded", format!("for=192.0.2.{i};proto=https"))
            .header("x-forwarded-host", "trusted.example")
            .header("x-forwarded-proto", "http")
            .send()
            .await
            .unwrap();
        match response.status() {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("request {i} answered {other}"),
        }
    }
    assert_eq!(
        limited, 5,
        "the forwarding headers changed the client address"
    );
    stack.stop().await;
}

#[tokio::test]
async fn forwarding_headers_do_not_dodge_the_address_limit_embedded() {
    forwarding_headers_do_not_dodge_the_address_limit(Backend::Embedded).await;
}

#[tokio::test]
async fn forwarding_headers_do_not_dodge_the_address_limit_postgres_redis() {
    forwarding_headers_do_not_dodge_the_address_limit(Backend::PostgresRedis).await;
}

/// A client that comes back resumes its TLS session instead of a full
/// handshake (no certificate signature on the server, no chain check on
/// the client), on TLS 1.3 and TLS 1.2 alike; a different client does
/// not.
#[tokio::test]
async fn a_returning_client_resumes_its_tls_session() {
    use rustls::HandshakeKind;

    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let returning = resuming_client(&stack, version);
        let first = fetch_over(&stack, &returning).await;
        assert_eq!(first, HandshakeKind::Full, "{version:?}");
        let again = fetch_over(&stack, &returning).await;
        assert_eq!(again, HandshakeKind::Resumed, "{version:?}");
        // A stranger's first visit is a full handshake.
        let stranger = resuming_client(&stack, version);
        assert_eq!(
            fetch_over(&stack, &stranger).await,
            HandshakeKind::Full,
            "{version:?}"
        );
    }
    stack.stop().await;
}

/// The edge remembers far more sessions than rustls's default of 256: a
/// client still resumes after 300 others have each made a full TLS 1.3
/// handshake (two tickets each, so 600 sessions) since its own visit.
#[tokio::test]
async fn a_client_resumes_after_many_others_have_visited() {
    use rustls::HandshakeKind;

    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let version = &rustls::version::TLS13;
    let returning = resuming_client(&stack, version);
    assert_eq!(fetch_over(&stack, &returning).await, HandshakeKind::Full);
    for _ in 0..300 {
        let other = resuming_client(&stack, version);
        assert_eq!(fetch_over(&stack, &other).await, HandshakeKind::Full);
    }
    assert_eq!(fetch_over(&stack, &returning).await, HandshakeKind::Resumed);
    stack.stop().await;
}

fn resuming_client(
    stack: &TestStack,
    version: &'static rustls::SupportedProtocolVersion,
) -> Arc<rustls::ClientConfig> {
    Arc::new(edge_tls(&stack.stack.edge_ca, &[version], &[b"http/1.1"]))
}

/// One request over a new connection made with `tls`, read to the end (so
/// the client takes the session tickets the server sends after the
/// handshake); how the handshake went.
async fn fetch_over(stack: &TestStack, tls: &Arc<rustls::ClientConfig>) -> rustls::HandshakeKind {
    let mut stream = tls_connect_with(stack, tls).await;
    let kind = stream.get_ref().1.handshake_kind().unwrap();
    stream
        .write_all(b"GET /.well-known/security.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 "), "{answer:?}");
    kind
}
