//! Throttling of guesses: growing delays and a hard cap on consecutive
//! failures, per account, per client address and per second factor.
//!
//! An attempt is *reserved* before the password or code is checked, in one
//! `INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING` statement that
//! SQLite and PostgreSQL both run atomically: it counts the attempt as a
//! failure and sets when the next one may come, or changes nothing and
//! returns no row when the bucket is locked. However many attempts arrive in
//! parallel, each one is counted before it is evaluated, so no race lets a
//! guess past the cap. A success then clears the account's bucket (and
//! takes the reservation back from the address's).
//!
//! Buckets are keyed by what the client sent (the normalised email), not by
//! whether the account exists, so a locked answer does not reveal accounts.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};

use crate::error::Error;

/// How a kind of bucket slows and stops guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed without any delay.
    pub free: u32,
    /// Consecutive failures after which the bucket is locked until
    /// `reset_after_ms` passes without an attempt (or a success or an admin
    /// clears it).
    pub cap: u32,
    /// The delay after the first failure past `free`; it doubles with each.
    pub base_delay_ms: i64,
    pub max_delay_ms: i64,
    /// A bucket whose last counted failure is older than this starts over.
    pub reset_after_ms: i64,
}

impl ThrottlePolicy {
    /// Per account: 5 free tries, then 1 s, 2 s, 4 s ... up to a minute, and
    /// locked after 20 consecutive failures (NIST allows at most 100) for a
    /// day or until an owner or admin re-enables the account.
    pub const ACCOUNT: Self = Self {
        free: 5,
        cap: 20,
        base_delay_ms: 1_000,
        max_delay_ms: 60_000,
        reset_after_ms: 24 * 3_600_000,
    };
    /// Per client address, across accounts: generous, since offices share
    /// addresses; it stops one address from trying many accounts.
    pub const ADDRESS: Self = Self {
        free: 50,
        cap: 1_000,
        base_delay_ms: 1_000,
        max_delay_ms: 60_000,
        reset_after_ms: 3_600_000,
    };
    /// Per user's second factor: a code has a million values, so few tries;
    /// the fifth consecutive failure also counts as an attack (see
    /// `accounts::second_factor::SUSPICIOUS_SECOND_FACTOR_FAILURES`).
    pub const SECOND_FACTOR: Self = Self {
        free: 5,
        cap: 10,
        base_delay_ms: 1_000,
        max_delay_ms: 30_000,
        reset_after_ms: 3_600_000,
    };

    /// The wait after the `failures`-th consecutive failure.
    #[must_use]
    pub fn delay_ms(&self, failures: u32) -> i64 {
        if failures < self.free {
            return 0;
        }
        let doublings = (failures - self.free).min(30);
        self.base_delay_ms
            .saturating_mul(1_i64 << doublings)
            .min(self.max_delay_ms)
    }
}

/// What a reservation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Go ahead; this attempt is the `n`-th consecutive one.
    Granted(u32),
    /// Too many recent failures: do not evaluate the attempt.
    Locked,
}

#[derive(Debug, Clone)]
pub struct Throttle {
    db: DatabaseConnection,
}

/// Numbers `?` placeholders as `$1, $2, ...` for PostgreSQL.
fn placeholders_for(backend: DbBackend, sql: &str) -> String {
    if backend != DbBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// The failure counts, from `policy.free` up to its cap, at which the delay
/// changes: one branch of the statement's `CASE` each. Delays double
/// until they reach `max_delay_ms` and then stay there, so a policy with a
/// cap of 1,000 has about as many steps as one with a cap of 20 (without
/// this, the address policy's statement had 951 branches and 1,909 bound
/// values, built, bound and evaluated on every sign-in).
fn delay_steps(policy: ThrottlePolicy) -> Vec<u32> {
    (policy.free..=policy.cap)
        .filter(|&failures| {
            failures == policy.free || policy.delay_ms(failures) != policy.delay_ms(failures - 1)
        })
        .collect()
}

/// The statement that reserves one attempt in `bucket` at `now_ms`, with its
/// values; `?` placeholders.
fn reserve_statement(bucket: &str, policy: ThrottlePolicy, now_ms: i64) -> (String, Vec<Value>) {
    // Every value is a bound parameter, the clock's too, so that the
    // statement's text is the same on every call (one text per
    // policy): the database parses and plans it once per connection
    // and keeps it prepared. With the clock written in, every sign-in
    // sent a statement never seen before, parsed and planned anew.
    let stale_before = now_ms - policy.reset_after_ms;
    // When the attempt after the `failures`-th may come: 0 ("at once")
    // rather than `now` when there is no delay, so that parallel
    // attempts whose clocks differ by a few microseconds do not hold
    // each other back.
    let next_allowed = |failures: u32| match policy.delay_ms(failures) {
        0 => 0,
        delay => now_ms + delay,
    };
    // Values in the order their placeholders appear in the text.
    let mut values: Vec<Value> = vec![bucket.into(), next_allowed(1).into(), now_ms.into()];
    // The attempt's number after the update: 1 when the old failures are
    // stale, else one more. SET expressions see the row before the
    // update on both databases. Takes `stale_before`.
    let next_count = "(CASE WHEN auth_throttle.updated_ms < ? THEN 1 \
                      ELSE auth_throttle.failures + 1 END)";
    values.push(stale_before.into());
    let steps = delay_steps(policy);
    let next_allowed_case = if steps.is_empty() {
        // No failure count reaches a delay.
        "0".to_owned()
    } else {
        let mut case = String::from("CASE");
        for failures in steps.into_iter().rev() {
            // PostgreSQL would type a bare parameter here after the
            // ELSE branch's integer; the column is a BIGINT.
            case.push_str(&format!(
                " WHEN {next_count} >= {failures} THEN CAST(? AS BIGINT)"
            ));
            values.push(stale_before.into());
            values.push(next_allowed(failures).into());
        }
        case.push_str(" ELSE 0 END");
        case
    };
    values.extend([now_ms.into(), stale_before.into(), now_ms.into()]);
    let sql = format!(
        "INSERT INTO auth_throttle (bucket, failures, next_allowed_ms, updated_ms) \
         VALUES (?, 1, ?, ?) \
         ON CONFLICT (bucket) DO UPDATE SET \
           failures = {next_count}, \
           next_allowed_ms = {next_allowed_case}, \
           updated_ms = ? \
         WHERE auth_throttle.updated_ms < ? \
            OR (auth_throttle.failures < {cap} AND auth_throttle.next_allowed_ms <= ?) \
         RETURNING failures",
        cap = policy.cap,
    );
    (sql, values)
}

impl Throttle {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Reserves one attempt in `bucket` at `now_ms`.
    pub async fn reserve(
        &self,
        bucket: &str,
        policy: ThrottlePolicy,
        now_ms: i64,
    ) -> Result<Reservation, Error> {
        let (sql, values) = reserve_statement(bucket, policy, now_ms);
        let backend = self.db.get_database_backend();
        let statement =
            Statement::from_sql_and_values(backend, placeholders_for(backend, &sql), values);
        let Some(row) = self.db.query_one_raw(statement).await? else {
            return Ok(Reservation::Locked);
        };
        let failures: i64 = row.try_get("", "failures")?;
        Ok(Reservation::Granted(
            u32::try_from(failures).unwrap_or(u32::MAX),
        ))
    }

    /// Forgets a bucket's failures: after a success, or when an owner or
    /// admin re-enables the account.
    pub async fn clear(&self, bucket: &str) -> Result<(), Error> {
        let backend = self.db.get_database_backend();
        self.db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                placeholders_for(backend, "DELETE FROM auth_throttle WHERE bucket = ?"),
                [bucket.into()],
            ))
            .await?;
        Ok(())
    }

    /// Takes back one reservation that turned out to be a success.
    pub async fn refund(&self, bucket: &str) -> Result<(), Error> {
        let backend = self.db.get_database_backend();
        self.db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                placeholders_for(
                    backend,
                    "UPDATE auth_throttle SET failures = failures - 1 \
                     WHERE bucket = ? AND failures > 0",
                ),
                [bucket.into()],
            ))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rampart_kit::on_both_databases;
    use rampart_kit::testing::TestDatabase;

    use super::*;

    #[test]
    fn the_reserve_statement_has_one_text_per_policy() {
        for policy in [ThrottlePolicy::ACCOUNT, ThrottlePolicy::ADDRESS] {
            let (early, early_values) = reserve_statement("acct:a", policy, 1_000);
            let (late, late_values) = reserve_statement("addr:b", policy, 1_795_418_303_394);
            assert_eq!(early, late, "the clock or the bucket leaked into the text");
            assert_ne!(early_values, late_values);
            assert_eq!(early.matches('?').count(), early_values.len());
            assert!(!early.contains("1795418303394"));
        }
    }

    #[test]
    fn the_reserve_statement_has_a_branch_per_delay_step() {
        // 1, 2, 4 ... 32 s, then 60 s up to the cap.
        assert_eq!(
            delay_steps(ThrottlePolicy::ACCOUNT),
            vec![5, 6, 7, 8, 9, 10, 11]
        );
        assert_eq!(
            delay_steps(ThrottlePolicy::ADDRESS),
            vec![50, 51, 52, 53, 54, 55, 56]
        );
        let (sql, values) = reserve_statement("addr:b", ThrottlePolicy::ADDRESS, 1_000);
        assert_eq!(sql.matches("THEN CAST(? AS BIGINT)").count(), 7);
        assert!(values.len() < 30, "{} values", values.len());
        // A policy whose delays never start has no branch at all.
        let never = ThrottlePolicy {
            free: 30,
            cap: 20,
            ..ThrottlePolicy::ACCOUNT
        };
        assert!(delay_steps(never).is_empty());
    }

    #[test]
    fn delays_grow_and_stop_growing() {
        let policy = ThrottlePolicy::ACCOUNT;
        assert_eq!(policy.delay_ms(1), 0);
        assert_eq!(policy.delay_ms(4), 0);
        assert_eq!(policy.delay_ms(5), 1_000);
        assert_eq!(policy.delay_ms(6), 2_000);
        assert_eq!(policy.delay_ms(7), 4_000);
        assert_eq!(policy.delay_ms(20), 60_000);
        const { assert!(ThrottlePolicy::ACCOUNT.cap < 100) };
    }

    async fn throttle(database: &TestDatabase) -> Throttle {
        let db = rampart_kit::db::connect(&database.url).await.unwrap();
        <crate::migration::Migrator as sea_orm_migration::MigratorTrait>::up(&db, None)
            .await
            .unwrap();
        Throttle::new(db)
    }

    on_both_databases!(
        parallel_attempts_never_pass_the_cap,
        delays_hold_back_the_next_attempt,
        every_failure_waits_its_delay_up_to_the_cap
    );

    /// Failure after failure, each attempt comes exactly when the previous
    /// one's delay ends (and is refused a millisecond before): the
    /// statement's delays are `delay_ms`'s, through the doubling and the
    /// plateau, until the cap locks the bucket.
    async fn every_failure_waits_its_delay_up_to_the_cap(database: TestDatabase) {
        let throttle = throttle(&database).await;
        let policy = ThrottlePolicy::ACCOUNT;
        let mut now = 1_000_000_000_000;
        for n in 1..=policy.cap {
            let wait = if n == 1 { 0 } else { policy.delay_ms(n - 1) };
            if wait > 0 {
                assert_eq!(
                    throttle
                        .reserve("acct:a", policy, now + wait - 1)
                        .await
                        .unwrap(),
                    Reservation::Locked,
                    "attempt {n} came before the delay of {wait} ms ended"
                );
            }
            now += wait;
            assert_eq!(
                throttle.reserve("acct:a", policy, now).await.unwrap(),
                Reservation::Granted(n)
            );
        }
        // At the cap: locked however long the client waits, short of the
        // reset.
        now += policy.max_delay_ms * 10;
        assert_eq!(
            throttle.reserve("acct:a", policy, now).await.unwrap(),
            Reservation::Locked
        );
    }

    async fn parallel_attempts_never_pass_the_cap(database: TestDatabase) {
        let throttle = throttle(&database).await;
        // No delays, so only the cap stops the burst.
        let policy = ThrottlePolicy {
            free: 30,
            cap: 20,
            ..ThrottlePolicy::ACCOUNT
        };
        let now = 1_000_000_000_000;
        let attempts = (0..150).map(|_| {
            let throttle = throttle.clone();
            tokio::spawn(async move { throttle.reserve("acct:a", policy, now).await })
        });
        let mut granted = Vec::new();
        for attempt in attempts {
            if let Reservation::Granted(n) = attempt.await.unwrap().unwrap() {
                granted.push(n);
            }
        }
        granted.sort_unstable();
        assert_eq!(granted, (1..=20).collect::<Vec<_>>());
        // Another bucket is untouched.
        assert_eq!(
            throttle.reserve("acct:b", policy, now).await.unwrap(),
            Reservation::Granted(1)
        );
        // A day later the bucket starts over.
        let later = now + policy.reset_after_ms + 1;
        assert_eq!(
            throttle.reserve("acct:a", policy, later).await.unwrap(),
            Reservation::Granted(1)
        );
    }

    async fn delays_hold_back_the_next_attempt(database: TestDatabase) {
        let throttle = throttle(&database).await;
        let policy = ThrottlePolicy::ACCOUNT;
        let now = 1_000_000_000_000;
        for n in 1..=5 {
            assert_eq!(
                throttle.reserve("acct:a", policy, now).await.unwrap(),
                Reservation::Granted(n)
            );
        }
        // The fifth failure asks for a one-second wait.
        assert_eq!(
            throttle.reserve("acct:a", policy, now + 999).await.unwrap(),
            Reservation::Locked
        );
        assert_eq!(
            throttle
                .reserve("acct:a", policy, now + 1_000)
                .await
                .unwrap(),
            Reservation::Granted(6)
        );
        // A success clears it; a refund takes one reservation back.
        throttle.clear("acct:a").await.unwrap();
        assert_eq!(
            throttle
                .reserve("acct:a", policy, now + 1_000)
                .await
                .unwrap(),
            Reservation::Granted(1)
        );
        throttle.refund("acct:a").await.unwrap();
        assert_eq!(
            throttle
                .reserve("acct:a", policy, now + 1_000)
                .await
                .unwrap(),
            Reservation::Granted(1)
        );
    }
}
