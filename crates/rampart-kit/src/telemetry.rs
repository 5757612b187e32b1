//! Tracing: the subscriber, OTLP export, and W3C trace context across hops.
//!
//! Logs go to stderr, readable in development and JSON in production; the
//! readable lines are coloured only on a terminal (and not under
//! `NO_COLOR`), so a log redirected to a file holds no escape codes. When
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans are also exported over OTLP
//! gRPC. The W3C `traceparent` is injected into every outgoing gRPC call
//! ([`inject_trace`]) and continued on the server side ([`continue_trace`]),
//! so one trace follows a request from the edge through every service.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// For people at a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Flushes exported spans when dropped; keep it alive for the process.
#[must_use = "dropping the guard stops span export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("span export did not shut down cleanly: {error}");
        }
    }
}

/// Installs the global subscriber. `RUST_LOG` sets the filter (default
/// `info`). Call once, from `main`.
pub fn init(format: LogFormat) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let provider = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Some(otlp_provider(&endpoint)?),
        _ => None,
    };
    let otel_layer = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("rampart")));
    let registry = tracing_subscriber::registry().with(filter).with(otel_layer);
    let colour = colour_logs(
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour);
    match format {
        LogFormat::Pretty => registry.with(fmt.compact()).try_init()?,
        LogFormat::Json => registry
            .with(fmt.json().flatten_event(true).with_current_span(true))
            .try_init()?,
    }
    Ok(TelemetryGuard { provider })
}

/// Whether readable logs carry ANSI colour: only for a person at a
/// terminal who has not asked for none (<https://no-color.org>).
fn colour_logs(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(std::ffi::OsStr::is_empty)
}

fn otlp_provider(endpoint: &str) -> anyhow::Result<SdkTracerProvider> {
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()?;
    // The builder's detectors read OTEL_SERVICE_NAME (and
    // OTEL_RESOURCE_ATTRIBUTES); "rampart" only where no name is given, so
    // each container of a split stack can name its service.
    let builder = opentelemetry_sdk::Resource::builder();
    let named = std::env::var_os("OTEL_SERVICE_NAME").is_some_and(|name| !name.is_empty());
    let resource = if named {
        builder.build()
    } else {
        builder.with_service_name("rampart").build()
    };
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Writes the current span's trace context into outgoing gRPC metadata.
pub fn inject_trace(metadata: &mut tonic::metadata::MetadataMap) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut MetadataInjector(metadata));
}

/// Makes `span` a child of the trace the caller sent, if any.
pub fn continue_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    // Fails only when no OpenTelemetry layer is installed, which is fine:
    // there is then nothing to continue.
    let _ = span.set_parent(parent);
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let Ok(key) = tonic::metadata::MetadataKey::from_bytes(key.as_bytes()) else {
            return;
        };
        if let Ok(value) = tonic::metadata::AsciiMetadataValue::try_from(value) {
            self.0.insert(key, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn logs_are_coloured_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(super::colour_logs(true, None));
        assert!(super::colour_logs(true, Some(OsStr::new(""))));
        assert!(!super::colour_logs(true, Some(OsStr::new("1"))));
        assert!(!super::colour_logs(false, None));
    }

    use opentelemetry::trace::TraceContextExt;

    use super::*;

    #[test]
    fn trace_context_crosses_a_grpc_hop() {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let client = tracing::info_span!("client");
            let _entered = client.enter();
            let client_trace = client.context().span().span_context().trace_id();

            let mut metadata = tonic::metadata::MetadataMap::new();
            inject_trace(&mut metadata);
            let traceparent = metadata
                .get("traceparent")
                .expect("a traceparent is sent")
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                traceparent.contains(&client_trace.to_string()),
                "{traceparent}"
            );

            let server = tracing::info_span!("server");
            continue_trace(&server, &metadata.into_headers());
            assert_eq!(
                server.context().span().span_context().trace_id(),
                client_trace
            );
        });
    }

    #[test]
    fn without_a_caller_trace_the_server_starts_its_own() {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let server = tracing::info_span!("server");
            continue_trace(&server, &http::HeaderMap::new());
            assert!(server.context().span().span_context().is_valid());
        });
    }
}

#[cfg(test)]
mod otlp_tests {
    use std::time::Duration;

    use opentelemetry::trace::Tracer;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
        TraceService, TraceServiceServer,
    };
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };
    use tokio::sync::mpsc;

    use super::*;

    /// A stand-in OTLP collector that reports the names of spans it receives.
    struct Collector(mpsc::UnboundedSender<String>);

    #[tonic::async_trait]
    impl TraceService for Collector {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            for resource in request.into_inner().resource_spans {
                for scope in resource.scope_spans {
                    for span in scope.spans {
                        let _ = self.0.send(span.name);
                    }
                }
            }
            Ok(tonic::Response::new(ExportTraceServiceResponse {
                partial_success: None,
            }))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn spans_reach_an_otlp_collector() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (sender, mut received) = mpsc::unbounded_channel();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(Collector(sender)))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );

        let provider = otlp_provider(&format!("http://{address}")).unwrap();
        provider.tracer("test").in_span("checkout", |_| {});
        let flushed = tokio::task::spawn_blocking(move || {
            let result = provider.force_flush();
            let _ = provider.shutdown();
            result
        })
        .await
        .unwrap();
        assert!(flushed.is_ok(), "{flushed:?}");
        let name = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("the collector received a span in time")
            .unwrap();
        assert_eq!(name, "checkout");
    }
}
