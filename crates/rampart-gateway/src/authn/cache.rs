//! Verdicts remembered briefly, forgotten the moment they are revoked.
//!
//! A [`VerdictCache`] maps the keyed hash of a presented secret (an API key,
//! a session token) to what auth said about it. Three rules keep it from
//! ever vouching for a revoked credential:
//!
//! - A revocation from the bus removes every entry of that credential,
//!   subject or tenant at once ([`VerdictCache::revoke`]); a tenant's
//!   entries go when its access changes (billing suspended or restored it),
//!   so the next request asks auth and learns the new state.
//! - While the revocation channel is down the cache answers nothing but
//!   "unknown" (a refusal is safe to repeat); when the channel comes back it
//!   starts from empty, since it may have missed messages meanwhile.
//! - A verdict fetched while a revocation arrived is not stored: the answer
//!   may predate the revocation. Every revocation and every channel change
//!   bumps an epoch; [`Lookup::Miss`] carries the epoch seen before asking
//!   auth, and [`VerdictCache::insert`] refuses a verdict whose epoch is old.
//!
//! Entries also expire on their own (seconds), which bounds the damage of a
//! revocation that was never published at all.
//!
//! A verdict in use is renewed before it expires, so a hot credential never
//! misses: the first lookup past three quarters of its lifetime gets
//! [`Lookup::Renew`], serves the verdict it holds, and asks auth in the
//! background, while every other lookup is served as before. Without it,
//! each expiry sent every request that arrived during auth's answer to auth
//! at once, and under load (a sign-in flood keeping auth busy) they all
//! waited for it. Renewing never extends a verdict's life: it expires on
//! time if the renewal has not landed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use rampart_kit::revocation::{BusEvent, Revocation};

/// How many verdicts one cache holds at most.
const CAPACITY: usize = 100_000;

/// What a cached verdict must say about itself so that it can be revoked.
pub trait Revocable {
    /// The credential's id: an API key id or a session id.
    fn credential_id(&self) -> &str;
    /// The user behind it, for credentials that have one.
    fn subject(&self) -> Option<&str>;
    /// The tenant it belongs to; `None` for a platform admin's.
    fn tenant(&self) -> Option<&str>;
}

#[derive(Clone)]
struct Entry<V> {
    /// `None` for a secret auth does not know.
    verdict: Option<V>,
    expires: Instant,
    /// When a lookup should start renewing the verdict; its expiry once a
    /// lookup has.
    renew_after: Instant,
}

/// The answer to a lookup.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<V> {
    /// A live verdict.
    Known(V),
    /// A live verdict due for renewal: use it, ask auth in the background,
    /// then [`VerdictCache::insert`] with this ticket. Given to the first
    /// lookup past the verdict's renewal point (to two, if they race).
    Renew(V, Ticket),
    /// Recently answered "unknown": refuse without asking auth.
    Unknown,
    /// Ask auth, then [`VerdictCache::insert`] with this ticket.
    Miss(Ticket),
}

/// Proof of when a lookup missed; see the module documentation.
#[derive(Debug, PartialEq, Eq)]
pub struct Ticket(u64);

/// Verdicts keyed by a 32-byte keyed hash of the presented secret.
pub struct VerdictCache<V> {
    entries: Cache<[u8; 32], Entry<V>>,
    ttl: Duration,
    negative_ttl: Duration,
    /// Whether the revocation channel is known to be delivering.
    trusted: AtomicBool,
    /// Bumped by every revocation and channel change.
    epoch: AtomicU64,
}

impl<V: Clone + Revocable> VerdictCache<V> {
    /// A cache that trusts nothing until the revocation channel is up.
    #[must_use]
    pub fn new(ttl: Duration, negative_ttl: Duration) -> Self {
        Self {
            entries: Cache::new(CAPACITY),
            ttl,
            negative_ttl,
            trusted: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
        }
    }

    /// What is cached for `key`, if it may be used.
    pub fn get(&self, key: &[u8; 32]) -> Lookup<V> {
        let ticket = Ticket(self.epoch.load(Ordering::Acquire));
        let Some(entry) = self.entries.get(key) else {
            return Lookup::Miss(ticket);
        };
        let now = Instant::now();
        if entry.expires <= now {
            return Lookup::Miss(ticket);
        }
        match entry.verdict {
            // A refusal stays safe even when revocations may be missed.
            None => Lookup::Unknown,
            Some(verdict) if self.trusted.load(Ordering::Acquire) => {
                if entry.renew_after > now {
                    return Lookup::Known(verdict);
                }
                // This lookup renews: the entry is stored again with no
                // renewal point, so the lookups after it are served as
                // known. (Two lookups at the same instant may both renew;
                // that costs one more question to auth, nothing else.)
                self.store(
                    *key,
                    Entry {
                        verdict: Some(verdict.clone()),
                        expires: entry.expires,
                        renew_after: entry.expires,
                    },
                    &ticket,
                );
                Lookup::Renew(verdict, ticket)
            }
            Some(_) => Lookup::Miss(ticket),
        }
    }

    /// Remembers auth's answer for `key`, unless a revocation arrived since
    /// the lookup that produced `ticket`, or the channel is down.
    pub fn insert(&self, key: [u8; 32], verdict: Option<V>, ticket: Ticket) {
        let ttl = match &verdict {
            Some(_) if !self.trusted.load(Ordering::Acquire) => return,
            Some(_) => self.ttl,
            None => self.negative_ttl,
        };
        if verdict.is_some() && self.epoch.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        let now = Instant::now();
        self.store(
            key,
            Entry {
                verdict,
                expires: now + ttl,
                renew_after: now + ttl * 3 / 4,
            },
            &ticket,
        );
    }

    /// Stores `entry`, then takes it back out if a revocation came since
    /// `ticket`: the revocation may have swept the cache before the entry
    /// landed.
    fn store(&self, key: [u8; 32], entry: Entry<V>, ticket: &Ticket) {
        self.entries.insert(key, entry);
        if self.epoch.load(Ordering::Acquire) != ticket.0 {
            self.entries.remove(&key);
        }
    }

    /// Applies what the revocation watcher reports.
    pub fn apply(&self, event: &BusEvent) {
        match event {
            BusEvent::Revoked(revocation) => self.revoke(revocation),
            BusEvent::ChannelDown => {
                self.trusted.store(false, Ordering::Release);
                self.epoch.fetch_add(1, Ordering::AcqRel);
            }
            BusEvent::ChannelUp => {
                self.epoch.fetch_add(1, Ordering::AcqRel);
                self.entries.clear();
                self.trusted.store(true, Ordering::Release);
            }
        }
    }

    /// Forgets every verdict of the revoked credential, subject or tenant.
    pub fn revoke(&self, revocation: &Revocation) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.retain(|_, entry| {
            let Some(verdict) = &entry.verdict else {
                return true;
            };
            match revocation {
                Revocation::Credential(id) => verdict.credential_id() != id,
                Revocation::Subject(id) => verdict.subject() != Some(id.as_str()),
                Revocation::Tenant(id) => verdict.tenant() != Some(id.as_str()),
            }
        });
    }

    /// Whether the cache currently serves positive verdicts.
    pub fn is_trusted(&self) -> bool {
        self.trusted.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Verdict {
        credential: &'static str,
        subject: Option<&'static str>,
    }

    impl Revocable for Verdict {
        fn credential_id(&self) -> &str {
            self.credential
        }
        fn subject(&self) -> Option<&str> {
            self.subject
        }
        /// Alice works for one tenant, everyone else for another.
        fn tenant(&self) -> Option<&str> {
            Some(if self.subject == Some("usr_alice") {
                "ten_alice"
            } else {
                "ten_other"
            })
        }
    }

    const KEY: [u8; 32] = [1; 32];
    const OTHER: [u8; 32] = [2; 32];
    const ALICE_SESSION: Verdict = Verdict {
        credential: "ses_1",
        subject: Some("usr_alice"),
    };
    const BOB_SESSION: Verdict = Verdict {
        credential: "ses_2",
        subject: Some("usr_bob"),
    };

    fn trusted_cache() -> VerdictCache<Verdict> {
        let cache = VerdictCache::new(Duration::from_secs(10), Duration::from_secs(2));
        cache.apply(&BusEvent::ChannelUp);
        cache
    }

    fn ticket(cache: &VerdictCache<Verdict>, key: &[u8; 32]) -> Ticket {
        match cache.get(key) {
            Lookup::Miss(ticket) => ticket,
            other => panic!("expected a miss, got {other:?}"),
        }
    }

    fn fill(cache: &VerdictCache<Verdict>, key: [u8; 32], verdict: Verdict) {
        let ticket = ticket(cache, &key);
        cache.insert(key, Some(verdict), ticket);
    }

    #[test]
    fn a_tenant_revocation_drops_only_that_tenants_verdicts() {
        let cache = trusted_cache();
        fill(&cache, KEY, ALICE_SESSION);
        fill(&cache, OTHER, BOB_SESSION);
        let ticket_before = ticket(&cache, &[3; 32]);
        cache.revoke(&Revocation::Tenant("ten_alice".to_owned()));
        assert!(matches!(cache.get(&KEY), Lookup::Miss(_)));
        assert_eq!(cache.get(&OTHER), Lookup::Known(BOB_SESSION));
        // A verdict fetched before the tenant's change is not stored.
        cache.insert([3; 32], Some(ALICE_SESSION), ticket_before);
        assert!(matches!(cache.get(&[3; 32]), Lookup::Miss(_)));
    }

    #[test]
    fn a_stored_verdict_is_served_until_revoked() {
        let cache = trusted_cache();
        fill(&cache, KEY, ALICE_SESSION);
        fill(&cache, OTHER, BOB_SESSION);
        assert_eq!(cache.get(&KEY), Lookup::Known(ALICE_SESSION));
        cache.revoke(&Revocation::Credential("ses_1".to_owned()));
        assert!(matches!(cache.get(&KEY), Lookup::Miss(_)));
        assert_eq!(cache.get(&OTHER), Lookup::Known(BOB_SESSION));
    }

    #[test]
    fn revoking_a_subject_drops_all_of_its_credentials() {
        let cache = trusted_cache();
        fill(&cache, KEY, ALICE_SESSION);
        fill(
            &cache,
            OTHER,
            Verdict {
                credential: "ses_3",
                subject: Some("usr_alice"),
            },
        );
        fill(&cache, [3; 32], BOB_SESSION);
        cache.revoke(&Revocation::Subject("usr_alice".to_owned()));
        assert!(matches!(cache.get(&KEY), Lookup::Miss(_)));
        assert!(matches!(cache.get(&OTHER), Lookup::Miss(_)));
        assert_eq!(cache.get(&[3; 32]), Lookup::Known(BOB_SESSION));
    }

    #[test]
    fn a_verdict_fetched_across_a_revocation_is_not_stored() {
        let cache = trusted_cache();
        let before = ticket(&cache, &KEY);
        // Auth answered "valid", but a revocation arrived before the answer.
        cache.revoke(&Revocation::Credential("ses_1".to_owned()));
        cache.insert(KEY, Some(ALICE_SESSION), before);
        assert!(matches!(cache.get(&KEY), Lookup::Miss(_)));
    }

    #[test]
    fn nothing_positive_is_trusted_while_the_channel_is_down() {
        let cache = trusted_cache();
        fill(&cache, KEY, ALICE_SESSION);
        cache.insert(OTHER, None, ticket(&cache, &OTHER));
        cache.apply(&BusEvent::ChannelDown);
        assert!(matches!(cache.get(&KEY), Lookup::Miss(_)));
        // An unknown secret stays refused without asking auth.
        assert_eq!(cache.get(&OTHER), Lookup::Unknown);
        // Verdicts fetched while down are not kept.
        let down = ticket(&cache, &KEY);
        cache.insert(KEY, Some(ALICE_SESSION), down);
        cache.apply(&BusEvent::ChannelUp);
        assert!(matches!(cache.get(&KEY), Lookup::Miss(_)));
    }

    #[test]
    fn a_fresh_cache_trusts_nothing_until_the_channel_is_up() {
        let cache = VerdictCache::new(Duration::from_secs(10), Duration::from_secs(2));
        let ticket = ticket(&cache, &KEY);
        cache.insert(KEY, Some(ALICE_SESSION), ticket);
        assert!(matches!(cache.get(&KEY), Lookup::Miss(_)));
    }

    #[test]
    #[allow(
        clippy::disallowed_methods,
        reason = "a synchronous test of wall-clock expiry, with no runtime to block"
    )]
    fn a_verdict_in_use_is_renewed_once_before_it_expires() {
        let sleep = |ms| std::thread::sleep(Duration::from_millis(ms));
        let cache = VerdictCache::new(Duration::from_millis(2_000), Duration::ZERO);
        cache.apply(&BusEvent::ChannelUp);
        fill(&cache, KEY, ALICE_SESSION);
        assert_eq!(cache.get(&KEY), Lookup::Known(ALICE_SESSION));
        sleep(1_550);
        // Past three quarters of its life: one lookup renews, the rest are
        // served from the cache meanwhile.
        let Lookup::Renew(verdict, renewal) = cache.get(&KEY) else {
            panic!("expected a renewal");
        };
        assert_eq!(verdict, ALICE_SESSION);
        assert_eq!(cache.get(&KEY), Lookup::Known(ALICE_SESSION));
        cache.insert(KEY, Some(ALICE_SESSION), renewal);
        // Renewed: served past the first verdict's end, not due again yet.
        sleep(700);
        assert_eq!(cache.get(&KEY), Lookup::Known(ALICE_SESSION));
        // Not renewed this time: the verdict expires on time all the same.
        sleep(900);
        assert!(matches!(cache.get(&KEY), Lookup::Renew(..)));
        sleep(500);
        assert!(matches!(cache.get(&KEY), Lookup::Miss(_)));
    }

    #[test]
    #[allow(
        clippy::disallowed_methods,
        reason = "a synchronous test of wall-clock expiry, with no runtime to block"
    )]
    fn a_renewal_across_a_revocation_is_not_stored() {
        let cache = VerdictCache::new(Duration::from_millis(1_000), Duration::ZERO);
        cache.apply(&BusEvent::ChannelUp);
        fill(&cache, KEY, ALICE_SESSION);
        fill(&cache, OTHER, BOB_SESSION);
        std::thread::sleep(Duration::from_millis(760));
        let Lookup::Renew(_, renewal) = cache.get(&OTHER) else {
            panic!("expected a renewal");
        };
        // Another credential's revocation arrives while auth answers.
        cache.revoke(&Revocation::Credential("ses_1".to_owned()));
        cache.insert(OTHER, Some(BOB_SESSION), renewal);
        // Stored, it would be served until 1.76 s; refused, it ends at 1 s.
        std::thread::sleep(Duration::from_millis(300));
        assert!(matches!(cache.get(&OTHER), Lookup::Miss(_)));
    }

    #[test]
    fn verdicts_expire() {
        let cache = VerdictCache::new(Duration::ZERO, Duration::ZERO);
        cache.apply(&BusEvent::ChannelUp);
        fill(&cache, KEY, ALICE_SESSION);
        assert!(matches!(cache.get(&KEY), Lookup::Miss(_)));
    }
}
