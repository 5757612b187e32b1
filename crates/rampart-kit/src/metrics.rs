//! Metrics recorded by the shared parts every service runs: the audit
//! outbox relay ([`crate::outbox`]) and the revocation watcher
//! ([`crate::revocation`]). They measure the two SLOs the gateway's own
//! metrics cannot see (`docs/slos.md`): how long an audit event takes to
//! reach the audit log, and how long a revocation takes to reach a process.
//!
//! One registry per process ([`KitMetrics::global`]), encoded by whatever
//! admin listener the process runs: the gateway's, or the services-only one
//! of `rampart serve`. Tests give an outbox or a bus a registry of their
//! own ([`KitMetrics::new`]) so that what they read is theirs alone.
//!
//! Every label takes its value from a fixed set chosen by the code: the
//! outbox's table name (`auth_audit_outbox`, ...) and the revocation's kind
//! (`credential`, `subject`, `tenant`). Nothing a client sends names a
//! series.
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `rampart_audit_delivery_lag_seconds` (histogram) | `outbox` | from the change (the record's `occurred_at`) to audit's acknowledgement of it |
//! | `rampart_audit_outbox_oldest_pending_age_seconds` (gauge) | `outbox` | age of the oldest event waiting, updated every relay pass; 0 when none waits |
//! | `rampart_audit_delivery_failures_total` | `outbox` | relay passes that failed (audit unreachable, ...) |
//! | `rampart_revocation_spread_seconds` (histogram) | `kind` | from the publisher's clock at publish to this process having applied it |
//! | `rampart_revocation_unmeasured_total` | `kind` | revocations applied that carried no publish time (an older publisher) |
//! | `rampart_revocation_spread_clamped_total` | `bound`: `negative`, `above_max` | spreads outside what a live bus can produce (clock skew), recorded at the bound |
//! | `rampart_revocation_channel_down_total` | none | times this process's watcher stopped trusting the channel |

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Delivery lag buckets in seconds: a healthy relay delivers in
/// milliseconds; 5 s is the objective (a bucket boundary, so the ratio of
/// events within it is exact); 300 s is the longest an event should wait.
const LAG_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Revocation spread buckets in seconds: Redis pub/sub takes about a
/// millisecond; 50 ms is the goal and 1 s the objective, both boundaries.
const SPREAD_BUCKETS: [f64; 12] = [
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The largest spread recorded as measured. Pub/sub does not queue, so a
/// message older than this was not late: the two hosts' clocks disagree.
pub const MAX_SPREAD: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboxLabels {
    outbox: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BoundLabels {
    bound: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn lag_histogram() -> Histogram {
    Histogram::new(LAG_BUCKETS.iter().copied())
}

fn spread_histogram() -> Histogram {
    Histogram::new(SPREAD_BUCKETS.iter().copied())
}

/// The outbox relay's and the revocation watcher's metrics. Cheap to
/// record from any task: each family is a map of atomics.
pub struct KitMetrics {
    registry: Registry,
    delivery_lag: HistogramFamily<OutboxLabels>,
    oldest_pending: Family<OutboxLabels, Gauge<f64, AtomicU64>>,
    delivery_failures: Family<OutboxLabels, Counter>,
    revocation_spread: HistogramFamily<KindLabels>,
    revocations_unmeasured: Family<KindLabels, Counter>,
    spread_clamped: Family<BoundLabels, Counter>,
    channel_down: Counter,
}

impl std::fmt::Debug for KitMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KitMetrics")
    }
}

impl Default for KitMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl KitMetrics {
    /// A registry of its own (tests); services use [`KitMetrics::global`].
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("rampart");
        let delivery_lag: HistogramFamily<OutboxLabels> =
            Family::new_with_constructor(lag_histogram);
        registry.register(
            "audit_delivery_lag_seconds",
            "Time from an audited change to the audit service's acknowledgement of its event, by producing outbox",
            delivery_lag.clone(),
        );
        let oldest_pending = Family::<OutboxLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "audit_outbox_oldest_pending_age_seconds",
            "Age of the oldest audit event waiting in the outbox at the relay's last pass; 0 when none waits",
            oldest_pending.clone(),
        );
        let delivery_failures = Family::<OutboxLabels, Counter>::default();
        registry.register(
            "audit_delivery_failures",
            "Relay passes that could not deliver to the audit service, by outbox",
            delivery_failures.clone(),
        );
        let revocation_spread: HistogramFamily<KindLabels> =
            Family::new_with_constructor(spread_histogram);
        registry.register(
            "revocation_spread_seconds",
            "Time from a revocation's publication (publisher's clock) to this process having applied it, by kind",
            revocation_spread.clone(),
        );
        let revocations_unmeasured = Family::<KindLabels, Counter>::default();
        registry.register(
            "revocation_unmeasured",
            "Revocations applied that carried no publish time (sent by an older version), by kind",
            revocations_unmeasured.clone(),
        );
        let spread_clamped = Family::<BoundLabels, Counter>::default();
        registry.register(
            "revocation_spread_clamped",
            "Revocation spreads outside 0 to 60 s (clock skew between hosts), recorded at the bound",
            spread_clamped.clone(),
        );
        let channel_down = Counter::default();
        registry.register(
            "revocation_channel_down",
            "Times the revocation watcher stopped trusting its channel (silence, lost connection, fell behind)",
            channel_down.clone(),
        );
        Self {
            registry,
            delivery_lag,
            oldest_pending,
            delivery_failures,
            revocation_spread,
            revocations_unmeasured,
            spread_clamped,
            channel_down,
        }
    }

    /// The process's registry, the one every admin listener encodes.
    #[must_use]
    pub fn global() -> Arc<Self> {
        static GLOBAL: OnceLock<Arc<KitMetrics>> = OnceLock::new();
        GLOBAL.get_or_init(|| Arc::new(Self::new())).clone()
    }

    /// An event of `outbox` was acknowledged by audit `lag` after its change.
    pub fn delivered(&self, outbox: &'static str, lag: Duration) {
        self.delivery_lag
            .get_or_create(&OutboxLabels { outbox })
            .observe(lag.as_secs_f64());
    }

    /// The oldest event waiting in `outbox` at this pass is `age` old
    /// (`Duration::ZERO` when none waits).
    pub fn oldest_pending(&self, outbox: &'static str, age: Duration) {
        self.oldest_pending
            .get_or_create(&OutboxLabels { outbox })
            .set(age.as_secs_f64());
    }

    /// A relay pass of `outbox` failed.
    pub fn delivery_failed(&self, outbox: &'static str) {
        self.delivery_failures
            .get_or_create(&OutboxLabels { outbox })
            .inc();
    }

    /// A revocation of `kind` was applied; `spread` is now minus its
    /// publish time in seconds, `None` when the message carried none.
    /// Negative or absurd values (the hosts' clocks disagree) are
    /// recorded at the nearest bound and counted.
    pub fn revocation_applied(&self, kind: &'static str, spread: Option<f64>) {
        let labels = KindLabels { kind };
        let Some(seconds) = spread else {
            self.revocations_unmeasured.get_or_create(&labels).inc();
            return;
        };
        let max = MAX_SPREAD.as_secs_f64();
        let recorded = if seconds.is_nan() || seconds < 0.0 {
            self.spread_clamped
                .get_or_create(&BoundLabels { bound: "negative" })
                .inc();
            0.0
        } else if seconds > max {
            self.spread_clamped
                .get_or_create(&BoundLabels { bound: "above_max" })
                .inc();
            max
        } else {
            seconds
        };
        self.revocation_spread
            .get_or_create(&labels)
            .observe(recorded);
    }

    /// The revocation watcher stopped trusting its channel.
    pub fn revocation_channel_down(&self) {
        self.channel_down.inc();
    }

    /// The registry's metrics in the OpenMetrics text format, without the
    /// closing `# EOF`, for a caller that appends them to its own.
    #[must_use]
    pub fn encode_body(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode_registry(&mut text, &self.registry);
        text
    }

    /// The registry's metrics in the OpenMetrics text format.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut text = self.encode_body();
        let _ = prometheus_client::encoding::text::encode_eof(&mut text);
        text
    }

    /// The value of one series as encoded, such as
    /// `rampart_revocation_spread_seconds_count{kind="credential"}`; for
    /// tests and checks. `None` when the series has no sample yet.
    #[must_use]
    pub fn sample(&self, series: &str) -> Option<f64> {
        sample_in(&self.encode(), series)
    }
}

/// The value of `series` in an OpenMetrics text, `None` when absent.
#[must_use]
pub fn sample_in(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        // A sample may carry an exemplar or a timestamp after the value.
        value.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_encodes_every_family() {
        let metrics = KitMetrics::new();
        metrics.delivered("crm_audit_outbox", Duration::from_millis(30));
        metrics.delivered("crm_audit_outbox", Duration::from_secs(7));
        metrics.oldest_pending("crm_audit_outbox", Duration::from_millis(1500));
        metrics.delivery_failed("crm_audit_outbox");
        metrics.revocation_applied("credential", Some(0.004));
        metrics.revocation_applied("subject", None);
        metrics.revocation_channel_down();
        let text = metrics.encode();
        for (series, value) in [
            (
                "rampart_audit_delivery_lag_seconds_bucket{le=\"0.05\",outbox=\"crm_audit_outbox\"}",
                1.0,
            ),
            (
                "rampart_audit_delivery_lag_seconds_bucket{le=\"10.0\",outbox=\"crm_audit_outbox\"}",
                2.0,
            ),
            (
                "rampart_audit_delivery_lag_seconds_count{outbox=\"crm_audit_outbox\"}",
                2.0,
            ),
            (
                "rampart_audit_outbox_oldest_pending_age_seconds{outbox=\"crm_audit_outbox\"}",
                1.5,
            ),
            (
                "rampart_audit_delivery_failures_total{outbox=\"crm_audit_outbox\"}",
                1.0,
            ),
            (
                "rampart_revocation_spread_seconds_bucket{le=\"0.005\",kind=\"credential\"}",
                1.0,
            ),
            ("rampart_revocation_unmeasured_total{kind=\"subject\"}", 1.0),
            ("rampart_revocation_channel_down_total", 1.0),
        ] {
            assert_eq!(sample_in(&text, series), Some(value), "{series} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
        assert!(!metrics.encode_body().contains("# EOF"));
    }

    #[test]
    fn skewed_spreads_are_recorded_at_the_bounds() {
        let metrics = KitMetrics::new();
        metrics.revocation_applied("tenant", Some(-3.0));
        metrics.revocation_applied("tenant", Some(f64::NAN));
        metrics.revocation_applied("tenant", Some(86_400.0));
        let count = |series: &str| metrics.sample(series);
        assert_eq!(
            count("rampart_revocation_spread_seconds_count{kind=\"tenant\"}"),
            Some(3.0)
        );
        // Two at 0 (in the first bucket), one at 60 s (above the last).
        assert_eq!(
            count("rampart_revocation_spread_seconds_bucket{le=\"0.001\",kind=\"tenant\"}"),
            Some(2.0)
        );
        assert_eq!(
            count("rampart_revocation_spread_seconds_sum{kind=\"tenant\"}"),
            Some(60.0)
        );
        assert_eq!(
            count("rampart_revocation_spread_clamped_total{bound=\"negative\"}"),
            Some(2.0)
        );
        assert_eq!(
            count("rampart_revocation_spread_clamped_total{bound=\"above_max\"}"),
            Some(1.0)
        );
    }
}
