//! Passwords: the NIST SP 800-63B rev. 4 policy, and Argon2id hashing on a
//! bounded blocking pool.
//!
//! The policy ([`PasswordPolicy::check`]) normalises to Unicode NFKC, counts
//! code points, and asks for at least 15 of them (8 when the account has a
//! second factor) and accepts up to 256. There are no composition rules and
//! no expiry. A password is refused when it is common or guessable (zxcvbn's
//! dictionaries of common passwords, names and words, with its patterns;
//! score below 3) or built on a context word (the tenant's name, the email,
//! the product's name), and the refusal says why.
//!
//! Hashing ([`PasswordHasher`]) uses Argon2id with OWASP's parameters
//! (m = 19 MiB, t = 2, p = 1) on a pool of its own: a fixed number of
//! threads (the bound on concurrent hashes), so a flood of sign-ins queues
//! for hashing instead of taking every core and 19 MiB per attempt, and a
//! bounded number wait (past it, [`PasswordHasher::place`] answers busy).
//! The pool's threads run in the idle scheduling class (`SCHED_IDLE` on
//! Linux): when the machine is busy, the kernel runs the request-serving
//! threads first, so a flood of sign-ins slows sign-ins, not everyone
//! else's reads; when it is idle, hashes run at full speed. Each thread
//! keeps its 19 MiB of Argon2 memory from one hash to the next ([`Memory`]).
//! Verifying an unknown user runs against a dummy hash with the same
//! parameters, so the answer takes as long as for a real account.

use std::sync::{Arc, Mutex, mpsc};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rampart_kit::secret::{ExposeSecret, SecretString, random_bytes};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use unicode_normalization::UnicodeNormalization;

use crate::error::Error;

/// OWASP Password Storage Cheat Sheet, Argon2id, first option: 19 MiB of
/// memory, 2 iterations, 1 lane.
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
pub const ARGON2_ITERATIONS: u32 = 2;
pub const ARGON2_LANES: u32 = 1;

/// Shortest password for an account with no second factor (NIST rev. 4).
pub const MIN_CHARS_SINGLE_FACTOR: usize = 15;
/// Shortest password for an account with a second factor.
pub const MIN_CHARS_WITH_SECOND_FACTOR: usize = 8;
/// Longest password accepted; NIST asks for at least 64.
pub const MAX_CHARS: usize = 256;
/// The product's own name, a context word for every account.
const PRODUCT_WORDS: [&str; 1] = ["rampart"];
/// Context words shorter than this would refuse too much ("ab" in a name).
const MIN_CONTEXT_WORD: usize = 4;

/// A password that passed the policy, normalised. Never printed.
pub struct NewPassword(SecretString);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(..)")
    }
}

/// NFKC, so that a password typed on another keyboard or system (composed
/// or decomposed accents, full-width digits) is the same password.
fn normalise(password: &str) -> String {
    password.nfkc().collect()
}

/// The NIST policy, with the words this account's password must not use.
#[derive(Debug, Default)]
pub struct PasswordPolicy {
    context_words: Vec<String>,
}

impl PasswordPolicy {
    /// `words` are context such as the tenant name and the email; they are
    /// split into their parts (`jane.doe@acme.example` gives `jane`, `doe`,
    /// `acme`, ...), and the product name is always added.
    #[must_use]
    pub fn with_context<'a>(words: impl IntoIterator<Item = &'a str>) -> Self {
        let mut context_words: Vec<String> = Vec::new();
        for word in words.into_iter().chain(PRODUCT_WORDS) {
            let lower = normalise(word).to_lowercase();
            let whole: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
            let parts = lower
                .split(|c: char| !c.is_alphanumeric())
                .map(str::to_owned)
                .chain(std::iter::once(whole));
            for part in parts {
                if part.chars().count() >= MIN_CONTEXT_WORD && !context_words.contains(&part) {
                    context_words.push(part);
                }
            }
        }
        Self { context_words }
    }

    /// Checks a new password; the error says what to change.
    pub fn check(&self, password: &str, has_second_factor: bool) -> Result<NewPassword, Error> {
        let normalised = normalise(password);
        let chars = normalised.chars().count();
        let min = if has_second_factor {
            MIN_CHARS_WITH_SECOND_FACTOR
        } else {
            MIN_CHARS_SINGLE_FACTOR
        };
        if chars < min {
            return Err(Error::WeakPassword(format!(
                "the password must be at least {min} characters long{}",
                if has_second_factor {
                    ""
                } else {
                    " (8 once a second factor is set up)"
                }
            )));
        }
        if chars > MAX_CHARS {
            return Err(Error::WeakPassword(format!(
                "the password must be at most {MAX_CHARS} characters long"
            )));
        }
        // Context words are looked for in the whole password, letters and
        // digits only, so "Acme-Plumbing!" matches "acmeplumbing".
        let folded: String = normalised
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect();
        if let Some(word) = self
            .context_words
            .iter()
            .find(|word| folded.contains(word.as_str()))
        {
            return Err(Error::WeakPassword(format!(
                "the password must not contain {word:?}, which is part of your account, \
                 your business or the product's name"
            )));
        }
        let inputs: Vec<&str> = self.context_words.iter().map(String::as_str).collect();
        let estimate = zxcvbn::zxcvbn(&normalised, &inputs);
        if u8::from(estimate.score()) < 3 {
            let reason = estimate
                .feedback()
                .and_then(zxcvbn::feedback::Feedback::warning)
                .map_or_else(
                    || "it is too easy to guess".to_owned(),
                    |warning| warning.to_string().trim_end_matches('.').to_lowercase(),
                );
            return Err(Error::WeakPassword(format!(
                "this password is common or easy to guess ({reason}); \
                 a few unrelated words make a strong one"
            )));
        }
        Ok(NewPassword(SecretString::from(normalised)))
    }
}

/// A stored Argon2id hash in PHC format (`$argon2id$v=19$m=...`).
#[derive(Debug, Clone)]
pub struct PasswordDigest(pub String);

/// One unit of work for the hashing pool, given the thread's kept memory.
type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// Argon2's working memory, kept by a hashing thread from one hash to the
/// next (at most the OWASP parameters' 19 MiB).
///
/// Allocating it for every hash meant, per sign-in, an `mmap` of 19 MiB,
/// 4,864 page faults and an `munmap`, all on an idle-class thread. Those
/// take the process's address-space lock, which a hashing thread could be
/// preempted holding, leaving request threads that need it (to grow a
/// buffer, to fault in a page) waiting until the idle thread next got a
/// CPU. In the `auth_load` bench's open load, the read p99 under a sign-in
/// flood was 14 to 64 ms with memory allocated per hash, and mostly 7 to
/// 13 ms with it kept (`docs/benchmarks.md`). The blocks hold the last
/// hash's state until the next overwrites them, inside the process that
/// saw the password anyway.
#[derive(Default)]
struct Memory(Vec<Block>);

impl Memory {
    /// The most this keeps: what the OWASP parameters need. A digest made
    /// with more (never one of Rampart's) gets memory of its own.
    const KEPT_BLOCKS: usize = ARGON2_MEMORY_KIB as usize;

    /// Argon2 of `password` and `salt` into `out`, in this memory.
    fn hash_into(
        &mut self,
        argon2: &Argon2<'_>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> argon2::Result<()> {
        let needed = argon2.params().block_count();
        if needed > Self::KEPT_BLOCKS {
            return argon2.hash_password_into(password, salt, out);
        }
        if self.0.len() < needed {
            self.0.resize(needed, Block::default());
        }
        argon2.hash_password_into_with_memory(password, salt, out, &mut self.0)
    }
}

/// A fixed set of low-priority threads that run hashing jobs in order of
/// arrival, and the places among them: a job holds one from before it is
/// queued until it has run, so at most `threads` run and the rest of the
/// places wait. The threads end when the last [`PasswordHasher`] clone is
/// dropped (the queue closes).
struct HashPool {
    queue: Mutex<mpsc::Sender<Job>>,
    places: Arc<Semaphore>,
    threads: usize,
}

impl HashPool {
    fn start(threads: usize, waiting: usize) -> Self {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("rampart-argon2-{n}"))
                .spawn(move || {
                    lower_own_priority();
                    let mut memory = Memory::default();
                    loop {
                        // The lock is held only while waiting for the next
                        // job, never while running one.
                        let next = receiver
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .recv();
                        match next {
                            Ok(job) => job(&mut memory),
                            Err(mpsc::RecvError) => return,
                        }
                    }
                })
                .expect("the system can start a hashing thread");
        }
        Self {
            queue: Mutex::new(sender),
            places: Arc::new(Semaphore::new(threads + waiting)),
            threads,
        }
    }

    /// A free place, or `None` when every place is taken.
    fn place(&self) -> Option<HashPlace> {
        self.places
            .clone()
            .try_acquire_owned()
            .ok()
            .map(|place| HashPlace { _place: place })
    }

    /// Runs `work` on the pool in `place` and waits for its result.
    ///
    /// A job whose caller has gone by its turn (the request was cancelled,
    /// or its deadline passed) is dropped unrun: under a flood, the threads
    /// would otherwise spend themselves on answers nobody waits for, while
    /// the callers still waiting time out behind them.
    async fn run<T: Send + 'static>(
        &self,
        place: HashPlace,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            if done.is_closed() {
                return;
            }
            let answer = work(memory);
            // Free before the caller wakes, so it finds its place given back.
            drop(place);
            // The caller may have gone meanwhile; nothing is lost then.
            let _ = done.send(answer);
        });
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(job)
            .map_err(|_| anyhow::anyhow!("the password hasher is shut down"))?;
        result
            .await
            .map_err(|_| anyhow::anyhow!("a hashing job ended without an answer"))
    }
}

/// A place among the hashes running or waiting to run
/// ([`PasswordHasher::place`]), held until its hash is done.
#[derive(Debug)]
#[must_use]
pub struct HashPlace {
    /// Given back when dropped.
    _place: OwnedSemaphorePermit,
}

/// Puts the calling thread in the idle scheduling class (`SCHED_IDLE`, at
/// nice 19): it runs only on a CPU no request-serving thread wants, and a
/// request thread that wakes takes its CPU at once. Nice 19 alone left
/// reads waiting behind a hash for a scheduler slice now and then: in the
/// `auth_load` bench, the read p99 under a sign-in flood was 1.6 to 3x its
/// quiet value with nice 19 and 2.0x with `SCHED_IDLE`. Hashing still runs
/// at full speed on an idle machine.
#[cfg(target_os = "linux")]
fn lower_own_priority() {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    if let Err(error) =
        set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
    {
        tracing::warn!(
            ?error,
            "cannot put the hashing threads in the idle scheduling class; using nice 19"
        );
    }
    // Nice 19 as well: the idle class ignores it, but it is what is left if
    // the class was refused or is ever changed back.
    // On Linux a thread id names one thread for setpriority(PRIO_PROCESS).
    let this_thread = rustix::thread::gettid();
    if let Err(error) = rustix::process::setpriority_process(Some(this_thread), LOWEST_PRIORITY) {
        tracing::warn!(
            %error,
            "cannot lower the hashing threads' priority; hashes compete with requests"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_own_priority() {}

/// The highest nice value: the smallest share of a busy CPU.
const LOWEST_PRIORITY: i32 = 19;

/// Hashes and verifies passwords on its own pool of low-priority threads,
/// a bounded number at a time.
#[derive(Clone)]
pub struct PasswordHasher {
    pool: Arc<HashPool>,
    /// Verified against when the user does not exist, so that answer costs
    /// one Argon2id run like any other.
    dummy: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("threads", &self.pool.threads)
            .finish_non_exhaustive()
    }
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None)
        .expect("the OWASP Argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A new PHC digest of `password` under a random 16-byte salt, what
/// `argon2`'s own `hash_password` makes, computed in `memory`.
fn hash_now(memory: &mut Memory, password: &str) -> anyhow::Result<String> {
    let salt_bytes = random_bytes::<16>();
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| anyhow::anyhow!("cannot encode a salt: {e}"))?;
    let argon2 = argon2();
    let mut digest = || -> argon2::password_hash::Result<String> {
        let hash = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
            Ok(memory.hash_into(&argon2, password.as_bytes(), &salt_bytes, out)?)
        })?;
        Ok(PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(argon2.params())?,
            salt: Some(salt.as_salt()),
            hash: Some(hash),
        }
        .to_string())
    };
    digest().map_err(|e| anyhow::anyhow!("argon2 failed: {e}"))
}

/// Whether `password` matches `digest` (with the algorithm, version and
/// parameters it names), computed in `memory` and compared in constant
/// time; a malformed digest matches nothing.
fn verify_now(memory: &mut Memory, password: &str, digest: &str) -> bool {
    let mut verify = || -> argon2::password_hash::Result<bool> {
        let parsed = PasswordHash::new(digest)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Ok(false);
        };
        let algorithm = Algorithm::try_from(parsed.algorithm)?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let argon2 = Argon2::new(algorithm, version, Params::try_from(&parsed)?);
        let mut salt_bytes = [0u8; 64];
        let salt = salt.decode_b64(&mut salt_bytes)?;
        let computed = Output::init_with(expected.len(), |out| {
            Ok(memory.hash_into(&argon2, password.as_bytes(), salt, out)?)
        })?;
        // `Output`'s equality is constant-time.
        Ok(computed == expected)
    };
    verify().unwrap_or(false)
}

impl PasswordHasher {
    /// At most `concurrency` hashes run at once (one per pool thread), and
    /// at most `waiting` more wait their turn; past that, [`Self::place`]
    /// answers busy.
    ///
    /// # Panics
    /// When the system cannot start a thread; never for the dummy hash,
    /// made from a random string.
    #[must_use]
    pub fn new(concurrency: usize, waiting: usize) -> Self {
        let throwaway = rampart_kit::secret::hex(&random_bytes::<16>());
        // Made on the caller's thread, in memory of its own that is then freed.
        let dummy =
            hash_now(&mut Memory::default(), &throwaway).expect("hashing a random string works");
        Self {
            pool: Arc::new(HashPool::start(concurrency.max(1), waiting)),
            dummy: dummy.into(),
        }
    }

    /// A place for one hash, taken before the work it guards begins (a
    /// sign-in takes it before the attempt is counted), or
    /// [`Error::Busy`] when as many hashes as allowed are running or
    /// waiting: a flood then gets a quick answer to retry instead of a
    /// queue that grows until deadlines pass.
    pub fn place(&self) -> Result<HashPlace, Error> {
        self.pool.place().ok_or(Error::Busy)
    }

    pub async fn hash(&self, password: &NewPassword) -> Result<PasswordDigest, Error> {
        let place = self.place()?;
        let password = SecretString::from(password.0.expose_secret().to_owned());
        let digest = self
            .pool
            .run(place, move |memory| {
                hash_now(memory, password.expose_secret())
            })
            .await??;
        Ok(PasswordDigest(digest))
    }

    /// Whether `presented` is the password of `digest`, computed in
    /// `place`; with `None` (no such user) it spends the same time and
    /// answers false.
    pub async fn verify(
        &self,
        place: HashPlace,
        presented: &str,
        digest: Option<&str>,
    ) -> Result<bool, Error> {
        let password = SecretString::from(normalise(presented));
        let (digest, real) = match digest {
            Some(digest) => (digest.to_owned(), true),
            None => (self.dummy.to_string(), false),
        };
        let matched = self
            .pool
            .run(place, move |memory| {
                verify_now(memory, password.expose_secret(), &digest)
            })
            .await?;
        Ok(matched && real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRONG: &str = "violet tractor measures quietly";

    #[test]
    fn length_counts_code_points_after_normalising() {
        let policy = PasswordPolicy::default();
        // 14 characters: too short without a second factor, fine with one.
        let short = "Zq8#vL2!mW9@tK";
        assert!(matches!(
            policy.check(short, false),
            Err(Error::WeakPassword(m)) if m.contains("at least 15")
        ));
        assert!(policy.check(short, true).is_ok());
        // 15 two-byte characters are 15 characters, not 30.
        let accented = "ŝĝĥĵŭŝĝĥĵŭéèêëō";
        assert_eq!(accented.chars().count(), 15);
        assert!(policy.check(accented, false).is_ok());
        assert!(policy.check(&"é".repeat(7), true).is_err());
        // A full-width password normalises to its ASCII form.
        let full_width = "ｖｉｏｌｅｔ ｔｒａｃｔｏｒ ｍｅａｓｕｒｅｓ ｑｕｉｅｔｌｙ";
        let normalised = policy.check(full_width, false).unwrap();
        assert_eq!(normalised.0.expose_secret(), STRONG);
    }

    #[test]
    fn long_passwords_are_accepted_whole() {
        let policy = PasswordPolicy::default();
        let long: String = (0..64)
            .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
            .collect();
        let long = format!("{long} {STRONG}");
        assert!(long.chars().count() > 64);
        assert!(policy.check(&long, false).is_ok());
        assert!(policy.check(&"x".repeat(MAX_CHARS + 1), false).is_err());
    }

    #[test]
    fn common_passwords_are_refused_with_a_reason() {
        let policy = PasswordPolicy::default();
        for common in ["passwordpassword", "1234567890123456", "qwertyuiopasdfgh"] {
            let error = policy.check(common, false).unwrap_err();
            assert!(
                matches!(&error, Error::WeakPassword(m) if m.contains("easy to guess")),
                "{common}: {error}"
            );
        }
        assert!(policy.check(STRONG, false).is_ok());
    }

    #[test]
    fn context_words_are_refused() {
        let policy = PasswordPolicy::with_context(["Acme Plumbing", "jane.doe@acme.example"]);
        for bad in [
            "acme plumbing forever and ever",
            "Jane-Doe-loves-tractors",
            "my rampart password is long",
            "ACMEPLUMBING violet tractor",
        ] {
            let error = policy.check(bad, false).unwrap_err();
            assert!(
                matches!(&error, Error::WeakPassword(m) if m.contains("must not contain")),
                "{bad}: {error}"
            );
        }
        assert!(policy.check(STRONG, false).is_ok());
    }

    /// `work` on `hasher`'s pool, in a place of its own.
    async fn on_pool<T: Send + 'static>(
        hasher: &PasswordHasher,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> T {
        let place = hasher.place().unwrap();
        hasher.pool.run(place, work).await.unwrap()
    }

    /// `hasher.verify` in a new place.
    async fn verify(hasher: &PasswordHasher, presented: &str, digest: Option<&str>) -> bool {
        let place = hasher.place().unwrap();
        hasher.verify(place, presented, digest).await.unwrap()
    }

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_do() {
        let hasher = PasswordHasher::new(2, 0);
        let password = PasswordPolicy::default().check(STRONG, false).unwrap();
        let digest = hasher.hash(&password).await.unwrap();
        assert!(digest.0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(&hasher, STRONG, Some(&digest.0)).await);
        assert!(!verify(&hasher, "violet tractor", Some(&digest.0)).await);
        // The same password under another salt is another digest.
        assert_ne!(hasher.hash(&password).await.unwrap().0, digest.0);
        // No user: false, even for the dummy's own password.
        assert!(!verify(&hasher, STRONG, None).await);
        assert!(!verify(&hasher, STRONG, Some("not a hash")).await);
    }

    /// Digests made in kept memory are `argon2`'s own and the other way
    /// round, whatever the memory last held: smaller parameters (m = 64 KiB,
    /// a digest from elsewhere) use a part of it, and a hash after them is
    /// still right.
    #[test]
    fn kept_memory_hashes_as_argon2_does() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let mut memory = Memory::default();
        let ours = hash_now(&mut memory, STRONG).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2().verify_password(STRONG.as_bytes(), &parsed).is_ok());
        assert!(
            argon2()
                .verify_password(b"violet tractor", &parsed)
                .is_err()
        );
        assert_eq!(memory.0.len(), Memory::KEPT_BLOCKS);

        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        )
        .hash_password(STRONG.as_bytes(), &salt)
        .unwrap()
        .to_string();
        let theirs = argon2()
            .hash_password(STRONG.as_bytes(), &salt)
            .unwrap()
            .to_string();
        for digest in [&small, &theirs, &ours, &small] {
            assert!(verify_now(&mut memory, STRONG, digest), "{digest}");
            assert!(
                !verify_now(&mut memory, "violet tractor", digest),
                "{digest}"
            );
        }
        // A digest cut short, or with its hash changed, matches nothing.
        assert!(!verify_now(
            &mut memory,
            STRONG,
            &theirs[..theirs.len() - 4]
        ));
        let last = theirs.chars().last().unwrap();
        let changed = format!(
            "{}{}",
            &theirs[..theirs.len() - 1],
            if last == 'A' { 'B' } else { 'A' }
        );
        assert!(!verify_now(&mut memory, STRONG, &changed));
        assert_eq!(memory.0.len(), Memory::KEPT_BLOCKS, "never grew past it");
    }

    /// Holds `hasher`'s only thread until the returned sender is used or
    /// dropped.
    async fn hold_the_thread(hasher: &PasswordHasher) -> mpsc::Sender<()> {
        let (release, held) = mpsc::channel::<()>();
        let (running, started) = oneshot::channel();
        let place = hasher.place().unwrap();
        let pool = hasher.pool.clone();
        tokio::spawn(async move {
            pool.run(place, move |_| {
                running.send(()).unwrap();
                let _ = held.recv();
            })
            .await
        });
        started.await.unwrap();
        release
    }

    #[tokio::test]
    async fn hashes_run_and_wait_within_their_bounds_and_refuse_past_them() {
        let hasher = PasswordHasher::new(1, 1);
        let release = hold_the_thread(&hasher).await;
        let waiting = tokio::spawn({
            let hasher = hasher.clone();
            async move {
                let place = hasher.place().unwrap();
                hasher.verify(place, STRONG, None).await
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "ran while the only thread was busy");
        // One running, one waiting: no place left, and the answer says so
        // at once.
        assert!(matches!(hasher.place(), Err(Error::Busy)));
        release.send(()).unwrap();
        assert!(!waiting.await.unwrap().unwrap());
        // Every place is free again.
        let places = [hasher.place().unwrap(), hasher.place().unwrap()];
        assert!(matches!(hasher.place(), Err(Error::Busy)));
        drop(places);
        assert!(!verify(&hasher, STRONG, None).await);
    }

    #[tokio::test]
    async fn a_job_whose_caller_has_gone_is_dropped_unrun() {
        let hasher = PasswordHasher::new(1, 8);
        let release = hold_the_thread(&hasher).await;
        let ran = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut callers = Vec::new();
        for _ in 0..5 {
            let (hasher, ran) = (hasher.clone(), ran.clone());
            callers.push(tokio::spawn(async move {
                on_pool(&hasher, move |_| {
                    ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                })
                .await;
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        // Their requests are cancelled while the jobs wait.
        for caller in &callers {
            caller.abort();
        }
        for caller in callers {
            assert!(caller.await.unwrap_err().is_cancelled());
        }
        release.send(()).unwrap();
        // A job queued after them runs, so they have had their turn.
        assert_eq!(on_pool(&hasher, |_| 7).await, 7);
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 0);
        // And their places were given back: all nine can be taken.
        let places: Vec<_> = (0..9).map(|_| hasher.place().unwrap()).collect();
        assert!(matches!(hasher.place(), Err(Error::Busy)));
        drop(places);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_the_lowest_priority() {
        let hasher = PasswordHasher::new(1, 0);
        let nice_of_this_thread =
            || rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let policy_of_this_thread = || thread_priority::thread_schedule_policy().unwrap();
        let idle = thread_priority::ThreadSchedulePolicy::Normal(
            thread_priority::NormalThreadSchedulePolicy::Idle,
        );
        let (nice, policy) = on_pool(&hasher, move |_| {
            (nice_of_this_thread(), policy_of_this_thread())
        })
        .await;
        assert_eq!(policy, idle);
        assert_eq!(nice, LOWEST_PRIORITY);
        assert!(
            nice_of_this_thread() < LOWEST_PRIORITY,
            "the caller's own thread was left alone"
        );
        assert_ne!(policy_of_this_thread(), idle);
    }
}
