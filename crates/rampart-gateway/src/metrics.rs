//! The gateway's metrics, in the Prometheus (OpenMetrics) text format, served
//! only on the internal admin listener ([`crate::admin_listener`]).
//!
//! Every label takes its value from a small, fixed set: the route *template*
//! (`/v1/crm/customers/{customer_id}`, never the raw path), the method, the
//! status, and `&'static str` outcomes chosen by the code. A client can
//! therefore not grow the number of series by sending odd paths or keys.
//!
//! The recording API is deliberately small, so the authentication code can
//! call it in one line per outcome:
//!
//! - [`Metrics::request`]: one per answered request (the pipeline calls it);
//! - [`Metrics::key_verification`]: the verdict on a presented key;
//! - [`Metrics::key_cache`]: whether a verdict came from the cache;
//! - [`Metrics::rate_limit`]: each rate-limit decision, by bucket kind;
//! - [`Metrics::probe_hit`]: a scanner probe path was asked for.
//!
//! [`Metrics::encode`] also encodes the process's shared registry
//! ([`rampart_kit::metrics`]): the revocation spread this gateway sees, and
//! the audit delivery metrics of any service running in the same process.

use std::time::Duration;

use http::Method;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The route label of a request no route matched; its path is never used.
pub const UNMATCHED: &str = "unmatched";

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets in seconds: from a cache-hot answer (well under a
/// millisecond) to the request deadline (15 s).
const LATENCY_BUCKETS: [f64; 14] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 15.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RateLimitLabels {
    decision: &'static str,
    bucket: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS.iter().copied())
}

/// The gateway's metrics. Cheap to record from any task: each family is a
/// map of atomics behind a read-mostly lock.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram, fn() -> Histogram>,
    key_verifications: Family<OutcomeLabels, Counter>,
    key_cache: Family<CacheLabels, Counter>,
    rate_limits: Family<RateLimitLabels, Counter>,
    probe_hits: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("rampart_gateway");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Requests answered, by method, route template and status",
            requests.clone(),
        );
        let latency: Family<RequestLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time from the request's headers to its answer, by method, route template and status",
            latency.clone(),
        );
        let key_verifications = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "key_verifications",
            "Verdicts on presented API keys, by outcome",
            key_verifications.clone(),
        );
        let key_cache = Family::<CacheLabels, Counter>::default();
        registry.register(
            "key_cache_lookups",
            "Key verdict cache lookups, by result (hit or miss); the hit ratio is hit / (hit + miss)",
            key_cache.clone(),
        );
        let rate_limits = Family::<RateLimitLabels, Counter>::default();
        registry.register(
            "rate_limit_decisions",
            "Rate-limit decisions, by decision (allowed or limited) and bucket kind",
            rate_limits.clone(),
        );
        let probe_hits = Counter::default();
        registry.register(
            "probe_hits",
            "Requests for well-known scanner probe paths",
            probe_hits.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            key_verifications,
            key_cache,
            rate_limits,
            probe_hits,
        }
    }

    /// One answered request. `route` is the matched route template (with
    /// any secret segment already replaced by a placeholder), or `None`
    /// when no route matched (counted as [`UNMATCHED`]).
    pub fn request(&self, method: &Method, route: Option<&str>, status: u16, elapsed: Duration) {
        let labels = RequestLabels {
            method: method_label(method),
            route: route.unwrap_or(UNMATCHED).to_owned(),
            status,
        };
        self.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        self.requests.get_or_create(&labels).inc();
    }

    /// The verdict on a presented key, such as `valid`, `unknown`,
    /// `malformed`, `revoked`, `expired`, `wrong_kind` or `unavailable`.
    /// `'static` so that only the code, never a client, names outcomes.
    pub fn key_verification(&self, outcome: &'static str) {
        self.key_verifications
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Whether a key's verdict was answered from the cache.
    pub fn key_cache(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.key_cache.get_or_create(&CacheLabels { result }).inc();
    }

    /// A rate-limit decision; `bucket_kind` names the kind of bucket
    /// (`address`, `credential`, ...), never the bucket itself.
    pub fn rate_limit(&self, allowed: bool, bucket_kind: &'static str) {
        let decision = if allowed { "allowed" } else { "limited" };
        self.rate_limits
            .get_or_create(&RateLimitLabels {
                decision,
                bucket: bucket_kind,
            })
            .inc();
    }

    /// A scanner probe path was requested; returns the count so far.
    pub fn probe_hit(&self) -> u64 {
        self.probe_hits.inc() + 1
    }

    /// Every metric in the OpenMetrics text format: the gateway's, then
    /// the process's shared registry.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode_registry(&mut text, &self.registry);
        text.push_str(&rampart_kit::metrics::KitMetrics::global().encode_body());
        let _ = prometheus_client::encoding::text::encode_eof(&mut text);
        text
    }
}

/// Methods as a fixed set of label values; anything else is `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_encodes_every_family() {
        let metrics = Metrics::new();
        metrics.request(
            &Method::GET,
            Some("/v1/crm/customers/{customer_id}"),
            200,
            Duration::from_micros(300),
        );
        metrics.request(
            &Method::from_bytes(b"PROPFIND").unwrap(),
            None,
            405,
            Duration::ZERO,
        );
        metrics.key_verification("valid");
        metrics.key_cache(true);
        metrics.key_cache(false);
        metrics.rate_limit(false, "address");
        assert_eq!(metrics.probe_hit(), 1);
        assert_eq!(metrics.probe_hit(), 2);
        let text = metrics.encode();
        for expected in [
            "rampart_gateway_http_requests_total{method=\"GET\",route=\"/v1/crm/customers/{customer_id}\",status=\"200\"} 1",
            "rampart_gateway_http_requests_total{method=\"other\",route=\"unmatched\",status=\"405\"} 1",
            "rampart_gateway_http_request_duration_seconds_bucket{le=\"0.0005\",method=\"GET\",route=\"/v1/crm/customers/{customer_id}\",status=\"200\"} 1",
            "rampart_gateway_key_verifications_total{outcome=\"valid\"} 1",
            "rampart_gateway_key_cache_lookups_total{result=\"hit\"} 1",
            "rampart_gateway_key_cache_lookups_total{result=\"miss\"} 1",
            "rampart_gateway_rate_limit_decisions_total{decision=\"limited\",bucket=\"address\"} 1",
            "rampart_gateway_probe_hits_total 2",
            // The process's shared registry follows (its unlabelled
            // counter is there from the start).
            "# TYPE rampart_revocation_channel_down counter",
        ] {
            assert!(text.contains(expected), "missing {expected} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(text.matches("# EOF").count(), 1);
    }
}
