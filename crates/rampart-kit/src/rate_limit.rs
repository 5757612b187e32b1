//! Rate limiting with GCRA (the generic cell rate algorithm).
//!
//! GCRA keeps one number per key, the theoretical arrival time (TAT) of the
//! next request, and allows a request when it is no earlier than
//! `TAT - burst tolerance`. It needs no background refill, and in Redis the
//! whole decision is one atomic script, so gateway instances sharing a Redis
//! share their limits exactly.
//!
//! [`RateLimiter::Memory`] is for a single process (the embedded default);
//! [`RateLimiter::Redis`] is for production. When Redis cannot be reached
//! the check fails and the caller refuses the request: a limiter that waves
//! traffic through when it is down is no limiter.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// How many requests a key may make: `burst` at once, refilled at `burst`
/// per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub burst: u32,
    pub period: Duration,
}

impl Quota {
    #[must_use]
    pub fn per_minute(burst: u32) -> Self {
        Self {
            burst,
            period: Duration::from_secs(60),
        }
    }

    /// The time one request "costs".
    fn emission_interval(self) -> Duration {
        self.period / self.burst.max(1)
    }

    /// How far ahead of now the TAT may run before requests are refused.
    fn tolerance(self) -> Duration {
        self.emission_interval() * self.burst.saturating_sub(1)
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Refused; the request would be allowed after this long.
    Limited {
        retry_after: Duration,
    },
}

/// A rate limiter, in-process or shared through Redis.
pub enum RateLimiter {
    Memory(MemoryLimiter),
    Redis(RedisLimiter),
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Memory(_) => f.write_str("RateLimiter::Memory"),
            Self::Redis(_) => f.write_str("RateLimiter::Redis"),
        }
    }
}

impl RateLimiter {
    /// An in-process limiter.
    #[must_use]
    pub fn memory() -> Self {
        Self::Memory(MemoryLimiter::default())
    }

    /// A limiter shared through the Redis at `url`; keys are namespaced by
    /// `prefix` so several deployments (or tests) can share one Redis.
    pub async fn redis(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = crate::redis_connect::open(url)?;
        // A rate check sits on the request path: it must answer fast or
        // fail (and the request with it), not queue behind reconnects.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_millis(500)));
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .context("cannot connect to Redis")?;
        Ok(Self::Redis(RedisLimiter {
            connection,
            prefix: prefix.to_owned(),
            script: redis::Script::new(GCRA_SCRIPT),
        }))
    }

    /// Counts one request against `key`.
    pub async fn check(&self, key: &str, quota: Quota) -> anyhow::Result<Decision> {
        match self {
            Self::Memory(limiter) => Ok(limiter.check(key, quota, Instant::now())),
            Self::Redis(limiter) => limiter.check(key, quota).await,
        }
    }
}

/// GCRA state per key in this process.
#[derive(Default)]
pub struct MemoryLimiter {
    // A std mutex: the critical section is a map lookup and never awaits.
    state: Mutex<HashMap<String, Instant>>,
}

/// Past this many tracked keys, expired entries are swept on insert so a
/// flood of distinct keys cannot grow the map without bound.
const SWEEP_AT: usize = 100_000;

impl MemoryLimiter {
    fn check(&self, key: &str, quota: Quota, now: Instant) -> Decision {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tat = state.get(key).copied().unwrap_or(now).max(now);
        let allow_at = tat.checked_sub(quota.tolerance()).unwrap_or(now);
        if now < allow_at {
            return Decision::Limited {
                retry_after: allow_at - now,
            };
        }
        if state.len() >= SWEEP_AT {
            state.retain(|_, tat| *tat > now);
        }
        state.insert(key.to_owned(), tat + quota.emission_interval());
        Decision::Allowed
    }
}

/// GCRA state per key in Redis.
pub struct RedisLimiter {
    connection: ConnectionManager,
    prefix: String,
    script: redis::Script,
}

/// KEYS[1]: the key. ARGV[1]: emission interval, ARGV[2]: tolerance, both in
/// microseconds. Returns 0 when allowed, else microseconds until allowed.
/// Uses the Redis server's clock so gateways with skewed clocks agree.
const GCRA_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then return allow_at - now end
local new_tat = tat + emission
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
return 0
";

impl RedisLimiter {
    async fn check(&self, key: &str, quota: Quota) -> anyhow::Result<Decision> {
        let mut connection = self.connection.clone();
        let wait_micros: i64 = self
            .script
            .key(format!("{}:rl:{key}", self.prefix))
            .arg(micros(quota.emission_interval()))
            .arg(micros(quota.tolerance()))
            .invoke_async(&mut connection)
            .await
            .context("rate limit check in Redis failed")?;
        Ok(if wait_micros <= 0 {
            Decision::Allowed
        } else {
            Decision::Limited {
                retry_after: Duration::from_micros(wait_micros.unsigned_abs()),
            }
        })
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_allows_the_burst_then_limits() {
        let limiter = MemoryLimiter::default();
        let quota = Quota::per_minute(3);
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check("k", quota, now), Decision::Allowed);
        }
        let Decision::Limited { retry_after } = limiter.check("k", quota, now) else {
            panic!("fourth request in the same instant was allowed");
        };
        assert!(retry_after <= Duration::from_secs(20), "{retry_after:?}");
        // Other keys are unaffected.
        assert_eq!(limiter.check("other", quota, now), Decision::Allowed);
        // One emission interval later, one more request fits.
        let later = now + Duration::from_secs(20);
        assert_eq!(limiter.check("k", quota, later), Decision::Allowed);
        assert!(matches!(
            limiter.check("k", quota, later),
            Decision::Limited { .. }
        ));
    }

    /// Two limiters on one Redis are two gateways: they share one budget.
    #[cfg(feature = "testing")]
    #[tokio::test]
    async fn redis_limits_are_shared_between_instances() {
        let Some((url, prefix)) = crate::testing::redis_namespace().await else {
            return;
        };
        let first = RateLimiter::redis(&url, &prefix).await.unwrap();
        let second = RateLimiter::redis(&url, &prefix).await.unwrap();
        let quota = Quota::per_minute(3);
        let mut allowed = 0;
        for limiter in [&first, &second, &first, &second] {
            if limiter.check("key", quota).await.unwrap() == Decision::Allowed {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 3, "the burst is shared, not per instance");
        let Decision::Limited { retry_after } = second.check("key", quota).await.unwrap() else {
            panic!("a request beyond the shared burst was allowed");
        };
        assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(20));
        // Another key has its own budget.
        assert_eq!(
            first.check("other", quota).await.unwrap(),
            Decision::Allowed
        );
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_an_error_not_a_pass() {
        // Nothing listens on port 1; the limiter must not start.
        assert!(
            RateLimiter::redis("redis://127.0.0.1:1", "x")
                .await
                .is_err()
        );
    }
}
