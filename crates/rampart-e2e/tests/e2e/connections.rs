//! Connections as clients hold them: answers given before the body was
//! read reach clients that keep sending (HTTP/1 clients that write the
//! whole body first, HTTP/2 clients that fail on a reset stream), idle
//! keep-alive connections live on their own clock, and nothing the client
//! puts in a path ends up in the metrics.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{Backend, TestStack, edge_tls};

type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

async fn connect(stack: &TestStack, alpn: &[&[u8]]) -> TlsStream {
    let tls = edge_tls(&stack.stack.edge_ca, rustls::DEFAULT_VERSIONS, alpn);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let tcp = TcpStream::connect(stack.stack.edge_addr).await.unwrap();
    connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap()
}

/// A body of `len` bytes (its content does not matter: every request here
/// is answered before it is parsed).
fn filler(len: usize) -> Vec<u8> {
    vec![b'x'; len]
}

/// What an early answer is asked with: method and path, headers, and what
/// it must answer.
struct EarlyAnswer {
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    status: StatusCode,
    problem_type: &'static str,
}

fn early_answers(tenant_key: &str) -> Vec<EarlyAnswer> {
    vec![
        EarlyAnswer {
            path: "/v1/crm/customers",
            headers: vec![("content-type", "application/json".to_owned())],
            status: StatusCode::UNAUTHORIZED,
            problem_type: "unauthenticated",
        },
        EarlyAnswer {
            path: "/v1/no/such/route",
            headers: vec![("content-type", "application/json".to_owned())],
            status: StatusCode::NOT_FOUND,
            problem_type: "not-found",
        },
        EarlyAnswer {
            path: "/v1/crm/customers",
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("x-api-key", tenant_key.to_owned()),
            ],
            status: StatusCode::PAYLOAD_TOO_LARGE,
            problem_type: "payload-too-large",
        },
    ]
}

/// Asserts that `body` is a problem document of `status` whose type ends
/// with `problem_type`.
fn assert_problem(body: &[u8], status: StatusCode, problem_type: &str) {
    let problem: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    assert_eq!(problem["status"], status.as_u16(), "{problem}");
    assert!(
        problem["type"]
            .as_str()
            .is_some_and(|t| t.ends_with(problem_type)),
        "{problem}"
    );
    assert!(problem["request_id"].is_string(), "{problem}");
}

// ---- HTTP/1: a client that writes its whole body before reading ---------

/// Writes `head` and all of `body` on a new HTTP/1.1 connection, then reads
/// until the server closes (the head asks it to); the answer's status
/// line, headers and body.
async fn h1_upload(stack: &TestStack, head: String, body: &[u8]) -> (String, Vec<u8>) {
    let mut stream = connect(stack, &[b"http/1.1"]).await;
    let sent = tokio::time::timeout(Duration::from_secs(30), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        stream.flush().await
    })
    .await;
    match sent {
        Ok(Ok(())) => {}
        Ok(Err(error)) => panic!("the upload was cut off: {error}"),
        Err(_) => panic!("the upload stalled: the server stopped reading"),
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer)).await;
    assert!(
        matches!(read, Ok(Ok(_))),
        "the answer did not arrive whole: {read:?} after {} bytes",
        answer.len()
    );
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(&answer)));
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    (head, answer[split + 4..].to_vec())
}

fn h1_head(answer: &EarlyAnswer, length: usize) -> String {
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Length: {length}\r\n",
        answer.path
    );
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

#[tokio::test]
async fn http1_clients_writing_their_whole_body_first_read_the_early_answer() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let tenant = stack.create_tenant("Whole Body First").await;
    for answer in early_answers(&tenant.key) {
        for size in [5 * 1024 * 1024, 8 * 1024 * 1024] {
            let (head, body) = h1_upload(&stack, h1_head(&answer, size), &filler(size)).await;
            let expected = format!("HTTP/1.1 {}", answer.status.as_u16());
            assert!(
                head.starts_with(&expected),
                "{size} B to {}: {head}",
                answer.path
            );
            assert!(
                head.to_ascii_lowercase()
                    .contains("content-type: application/problem+json"),
                "{head}"
            );
            // hyper frames the body by its length or in chunks; the problem
            // is the JSON object in it.
            let start = body.iter().position(|b| *b == b'{').expect("a JSON body");
            let end = body.iter().rposition(|b| *b == b'}').expect("a JSON body");
            assert_problem(&body[start..=end], answer.status, answer.problem_type);
        }
    }
    stack.stop().await;
}

// ---- HTTP/2: a client that keeps sending after the answer ----------------

/// Sends `body` on `send`, as flow control allows; an error if the stream
/// was reset or closed before all of it went out.
async fn send_all(send: &mut h2::SendStream<Bytes>, mut body: Bytes) -> Result<(), String> {
    while !body.is_empty() {
        send.reserve_capacity(body.len().min(256 * 1024));
        let granted = match poll_fn(|cx| send.poll_capacity(cx)).await {
            Some(Ok(granted)) => granted,
            Some(Err(error)) => return Err(format!("stream failed: {error}")),
            None => return Err("stream closed before the body was sent".to_owned()),
        };
        let chunk = body.split_to(granted.min(body.len()));
        send.send_data(chunk, body.is_empty())
            .map_err(|error| format!("send failed: {error}"))?;
    }
    Ok(())
}

/// Over one HTTP/2 connection: sends `answer`'s request with a declared
/// body of `size` bytes, 16 KiB of it before the answer and the rest after
/// it has been read whole (as curl does, still uploading when the answer
/// comes); returns the status and body of the answer and how the upload
/// ended.
async fn h2_upload(
    stack: &TestStack,
    answer: &EarlyAnswer,
    size: usize,
) -> (StatusCode, Vec<u8>, Result<(), String>) {
    let stream = connect(stack, &[b"h2"]).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (client, connection) = h2::client::handshake(stream).await.unwrap();
    let connection = tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let mut request = http::Request::post(format!("https://localhost{}", answer.path))
        .header("content-length", size);
    for (name, value) in &answer.headers {
        request = request.header(*name, value);
    }
    let (response, mut send) = client
        .send_request(request.body(()).unwrap(), false)
        .unwrap();
    let mut body = Bytes::from(filler(size));
    let first = body.split_to(16 * 1024);
    send.send_data(first, false).unwrap();

    let response = tokio::time::timeout(Duration::from_secs(20), response)
        .await
        .expect("an answer within 20 s")
        .expect("an answer, not a stream error");
    let status = response.status();
    let mut received = response.into_body();
    let mut answer_body = Vec::new();
    while let Some(chunk) = received.data().await {
        let chunk = chunk.expect("the answer's body, not a stream error");
        let _ = received.flow_control().release_capacity(chunk.len());
        answer_body.extend_from_slice(&chunk);
    }

    let upload =
        match tokio::time::timeout(Duration::from_secs(20), send_all(&mut send, body)).await {
            Ok(result) => result,
            Err(_) => Err("the upload stalled: the server stopped reading".to_owned()),
        };
    // A stream the server reset, even with NO_ERROR, is what curl reports
    // as a failed transfer.
    let upload = upload.and(
        match tokio::time::timeout(
            Duration::from_millis(500),
            poll_fn(|cx| send.poll_reset(cx)),
        )
        .await
        {
            Err(_) => Ok(()),
            Ok(reset) => Err(format!("the stream was reset: {reset:?}")),
        },
    );
    drop(client);
    connection.abort();
    (status, answer_body, upload)
}

#[tokio::test]
async fn http2_clients_still_sending_get_the_early_answer_and_no_reset() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let tenant = stack.create_tenant("Still Sending").await;
    for answer in early_answers(&tenant.key) {
        // 4 MiB is past the server's flow-control window: the client can
        // finish only if the server keeps reading after its answer.
        for size in [4 * 1024 * 1024, 5 * 1024 * 1024, 8 * 1024 * 1024] {
            let (status, body, upload) = h2_upload(&stack, &answer, size).await;
            assert_eq!(status, answer.status, "{size} B to {}", answer.path);
            assert_problem(&body, answer.status, answer.problem_type);
            assert_eq!(upload, Ok(()), "{size} B to {}", answer.path);
        }
    }
    // A reqwest client (hyper's) sees the same answers.
    let h2 = crate::harness::edge_client(&stack.stack.edge_ca, &[b"h2"]);
    let response = h2
        .post(stack.url("/v1/crm/customers"))
        .header("x-api-key", &tenant.key)
        .header("content-type", "application/json")
        .body(filler(5 * 1024 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    crate::harness::expect_problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    // Nothing was created by any of it.
    let listed = stack
        .as_tenant(&tenant, Method::GET, "/v1/crm/customers")
        .send()
        .await
        .unwrap();
    let (_, listed) = crate::harness::read(listed).await;
    assert_eq!(
        listed["customers"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
    stack.stop().await;
}

// ---- idle keep-alive connections and slow headers --------------------------

const HEADER_TIMEOUT: Duration = Duration::from_secs(1);
const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

fn short_clocks() -> rampart_gateway::Config {
    rampart_gateway::Config {
        edge: rampart_gateway::edge::EdgeLimits {
            header_read_timeout: HEADER_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            ..rampart_gateway::edge::EdgeLimits::default()
        },
        ..rampart_gateway::Config::default()
    }
}

/// Sends one keep-alive GET and reads its answer (`/healthz` answers with a
/// known length, so one read of the head and body suffices).
async fn get_healthz(stream: &mut TlsStream) -> Result<String, String> {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .map_err(|error| format!("write failed: {error}"))?;
    let mut buffer = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
        .await
        .map_err(|_| "no answer within 5 s".to_owned())?
        .map_err(|error| format!("read failed: {error}"))?;
    let answer = String::from_utf8_lossy(&buffer[..read]).into_owned();
    if answer.starts_with("HTTP/1.1 200") {
        Ok(answer)
    } else if read == 0 {
        Err("the connection was closed".to_owned())
    } else {
        Err(answer)
    }
}

/// Reads and discards until the server closes the connection; how long
/// that took, or `None` if it stayed open for `limit`.
pub(crate) async fn closed_after(
    reader: &mut (impl AsyncRead + Unpin),
    limit: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 512];
    tokio::time::timeout(limit, async {
        while let Ok(read) = reader.read(&mut buffer).await {
            if read == 0 {
                break;
            }
        }
    })
    .await
    .ok()
    .map(|()| started.elapsed())
}

#[tokio::test]
async fn an_idle_connection_outlives_the_header_timeout_and_not_the_idle_timeout() {
    let stack = TestStack::start_with(Backend::Embedded, short_clocks())
        .await
        .unwrap();
    let mut stream = connect(&stack, &[b"http/1.1"]).await;
    get_healthz(&mut stream).await.unwrap();
    // Idle for twice the header timeout, as a pooled connection is: the
    // next request on it is still served.
    tokio::time::sleep(HEADER_TIMEOUT * 2).await;
    get_healthz(&mut stream).await.unwrap();
    // Then idle for good: closed (cleanly) once the idle timeout has run,
    // not before.
    let closed = closed_after(&mut stream, IDLE_TIMEOUT * 3).await;
    let closed = closed.expect("the idle connection stayed open");
    assert!(
        closed >= IDLE_TIMEOUT - Duration::from_millis(300) && closed < IDLE_TIMEOUT * 2,
        "closed after {closed:?}"
    );

    // Over HTTP/2 (ALPN), the same idle time does not close the connection
    // either: pings keep it, as before.
    let h2 = crate::harness::edge_client(&stack.stack.edge_ca, &[b"h2"]);
    assert!(h2.get(stack.url("/healthz")).send().await.is_ok());
    tokio::time::sleep(HEADER_TIMEOUT * 2).await;
    let again = h2.get(stack.url("/healthz")).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    stack.stop().await;
}

#[tokio::test]
async fn slow_headers_are_cut_off_on_a_fresh_and_on_a_kept_alive_connection() {
    let stack = TestStack::start_with(Backend::Embedded, short_clocks())
        .await
        .unwrap();
    // A fresh connection that sends nothing is cut off by the header
    // clock, not kept for the idle one.
    let mut silent = connect(&stack, &[b"http/1.1"]).await;
    let closed = closed_after(&mut silent, IDLE_TIMEOUT * 2).await;
    assert!(
        closed.is_some_and(|after| after < HEADER_TIMEOUT * 3),
        "a silent new connection was closed after {closed:?}"
    );

    // A kept-alive connection idles a while, then trickles a head one byte
    // every 100 ms: it is cut off about the header timeout after its first
    // byte, well before the idle timeout would have run.
    let mut stream = connect(&stack, &[b"http/1.1"]).await;
    get_healthz(&mut stream).await.unwrap();
    tokio::time::sleep(HEADER_TIMEOUT + HEADER_TIMEOUT / 2).await;
    let (mut reader, mut writer) = tokio::io::split(stream);
    let first_byte = Instant::now();
    let trickle = tokio::spawn(async move {
        for byte in b"GET /healthz HTTP/1.1\r\nX-Slow: "
            .iter()
            .chain(&[b'a'; 200])
        {
            writer.write_all(&[*byte]).await?;
            writer.flush().await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok::<_, std::io::Error>(())
    });
    let closed = closed_after(&mut reader, IDLE_TIMEOUT * 2).await;
    let cut_off = first_byte.elapsed();
    assert!(closed.is_some(), "the trickling client was not cut off");
    assert!(
        cut_off >= HEADER_TIMEOUT - Duration::from_millis(200) && cut_off < HEADER_TIMEOUT * 3,
        "cut off {cut_off:?} after its first byte"
    );
    assert!(!trickle.is_finished() || trickle.await.unwrap().is_err());
    stack.stop().await;
}

// ---- what the metrics show ----------------------------------------------------

#[tokio::test]
async fn metrics_carry_route_templates_never_paths_or_the_secret_segment() {
    let stack = TestStack::start(Backend::Embedded).await.unwrap();
    let secret = stack.admin_sign_in_path.clone();
    let response = stack
        .request(Method::POST, &format!("/v1/auth/{secret}/sign-in"))
        .json(&serde_json::json!({ "email": "nobody@corp.example", "password": "wrong" }))
        .send()
        .await
        .unwrap();
    assert_ne!(
        response.status(),
        StatusCode::NOT_FOUND,
        "the secret route is served"
    );
    let tenant = stack.create_tenant("Labelled").await;
    for path in [
        "/v1/crm/customers/cus_looked_up_by_id",
        "/v1/unknown-raw-path-marker",
        "/.env.raw-probe-marker",
    ] {
        stack
            .as_tenant(&tenant, Method::GET, path)
            .send()
            .await
            .unwrap();
    }
    let metrics = reqwest::get(stack.admin_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for leaked in [
        secret.as_str(),
        "cus_looked_up_by_id",
        "unknown-raw-path-marker",
        "raw-probe-marker",
    ] {
        assert!(
            !metrics.contains(leaked),
            "{leaked} is in the metrics:\n{metrics}"
        );
    }
    for label in [
        "route=\"/v1/crm/customers/{customer_id}\"",
        "route=\"unmatched\"",
        "/sign-in\"",
    ] {
        assert!(metrics.contains(label), "{label} is missing:\n{metrics}");
    }
    stack.stop().await;
}
