//! API key usage, counted here and reported to auth once per window.
//!
//! Most requests never reach auth (their key's verdict is cached), so the
//! gateway counts them: per key, per window (a minute by default). A
//! background task sends every closed window to auth, which moves the key's
//! `last_used_at` forward and audits one `api_key.used` event per key and
//! window: the log shows use without a row per request, and a request costs
//! no database write. A report that fails is kept and sent again; a report
//! that arrives twice is audited once (auth derives the event id from the
//! reporter, key and window).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rampart_kit::CancellationToken;
use rampart_kit::grpc::TracedChannel;
use rampart_proto::auth::v1::auth_service_handle::AuthServiceHandle;
use rampart_proto::auth::v1::{KeyUsage, RecordKeyUsageRequest};

/// Counts of requests per (key id, window start in Unix seconds).
pub struct UsageCounter {
    window: Duration,
    counts: Mutex<HashMap<(String, i64), u64>>,
    /// Names this gateway instance in its reports.
    reporter: String,
}

impl UsageCounter {
    #[must_use]
    pub fn new(window: Duration) -> Self {
        Self {
            window: window.max(Duration::from_secs(1)),
            counts: Mutex::default(),
            reporter: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Counts one request with `key_id`.
    pub fn count(&self, key_id: &str) {
        let window = self.window_start(SystemTime::now());
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&(key_id.to_owned(), window)) {
            *count += 1;
        } else {
            counts.insert((key_id.to_owned(), window), 1);
        }
    }

    fn window_start(&self, at: SystemTime) -> i64 {
        let seconds = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let window = self.window.as_secs();
        i64::try_from(seconds - seconds % window).unwrap_or(i64::MAX)
    }

    /// Takes the counts of closed windows, or of all windows when `all`.
    fn take(&self, all: bool) -> Vec<KeyUsage> {
        let current = self.window_start(SystemTime::now());
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let closed: Vec<(String, i64)> = counts
            .keys()
            .filter(|(_, window)| all || *window < current)
            .cloned()
            .collect();
        closed
            .into_iter()
            .filter_map(|key| {
                let requests = counts.remove(&key)?;
                Some(KeyUsage {
                    key_id: key.0,
                    minute: key.1,
                    requests,
                })
            })
            .collect()
    }

    /// Puts back counts whose report failed.
    fn restore(&self, usage: Vec<KeyUsage>) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for entry in usage {
            *counts.entry((entry.key_id, entry.minute)).or_default() += entry.requests;
        }
    }

    async fn report(&self, auth: &AuthServiceHandle<TracedChannel>, all: bool) {
        let usage = self.take(all);
        if usage.is_empty() {
            return;
        }
        let request = RecordKeyUsageRequest {
            usage: usage.clone(),
            reporter: self.reporter.clone(),
        };
        if let Err(status) = auth.clone().record_key_usage(request).await {
            tracing::warn!(code = ?status.code(), entries = usage.len(), "key usage not reported; kept for the next report");
            self.restore(usage);
        }
    }

    /// Reports closed windows every window until `shutdown`, then reports
    /// everything still counted.
    pub async fn run_reports(
        &self,
        auth: AuthServiceHandle<TracedChannel>,
        shutdown: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(self.window);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => self.report(&auth, false).await,
            }
        }
        let last = self.report(&auth, true);
        if tokio::time::timeout(Duration::from_secs(2), last)
            .await
            .is_err()
        {
            tracing::warn!("last key usage report timed out");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_per_key_and_window() {
        let counter = UsageCounter::new(Duration::from_secs(3600));
        for _ in 0..3 {
            counter.count("key_a");
        }
        counter.count("key_b");
        // The current window is open: nothing to report yet.
        assert!(counter.take(false).is_empty());
        let mut all = counter.take(true);
        all.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        let counts: Vec<(&str, u64)> = all
            .iter()
            .map(|usage| (usage.key_id.as_str(), usage.requests))
            .collect();
        assert_eq!(counts, [("key_a", 3), ("key_b", 1)]);
        assert_eq!(all[0].minute % 3600, 0);
        // Taken means gone; a failed report puts them back.
        assert!(counter.take(true).is_empty());
        counter.restore(all);
        counter.count("key_a");
        let again = counter.take(true);
        assert_eq!(
            again
                .iter()
                .find(|usage| usage.key_id == "key_a")
                .map(|usage| usage.requests),
            Some(4)
        );
    }
}
