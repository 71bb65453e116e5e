//! Password hashing (argon2id) behind a bounded queue.
//!
//! One argon2id computation holds 19 MiB for its duration. Unbounded, a burst of sign-ins
//! (150 at once took a server from 35 MB to 2 GB resident, and it stayed there: the
//! allocator kept the freed blocks) lets anyone without an account exhaust memory. So every
//! hash and verification takes a permit of one process-wide semaphore first (permits sized
//! from the cores and the available memory, see [`HashingLimits::automatic`]), waits for one
//! at most [`HashingLimits::wait`], and otherwise answers [`PasswordError::Busy`] (the web
//! layer's `503` with `Retry-After`). The 19 MiB working memory of a computation is one of a
//! small pool of buffers, one per permit, allocated once and reused: no computation
//! allocates its blocks itself, so resident memory is bounded by the permits and does not
//! grow with bursts.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::Rng;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("could not hash the password")]
    Hash,
    #[error("the hashing task failed")]
    Task,
    /// Every hashing permit stayed taken for the whole wait limit: try again later.
    #[error("too many passwords are being checked at once; try again in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
}

/// The memory cost of one computation in KiB (OWASP: 19 MiB).
const M_COST_KIB: u32 = 19 * 1024;
/// Stored hashes asking for more memory than this are not computed (a damaged or hostile
/// row must not make one verification take gigabytes).
const MAX_M_COST_KIB: u32 = 256 * 1024;
/// What the automatic sizing reserves per permit (the 19 MiB buffer and headroom).
const MEMORY_PER_PERMIT: u64 = 64 * 1024 * 1024;

/// How many computations may run at once, and how long a request waits for its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingLimits {
    pub permits: usize,
    pub wait: Duration,
}

impl HashingLimits {
    /// min(2 × cores, available memory / 64 MiB), at least 1; a wait limit of 5 s.
    pub fn automatic() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let by_memory = available_memory()
            .map(|m| usize::try_from(m / MEMORY_PER_PERMIT).unwrap_or(usize::MAX))
            .unwrap_or(cores * 2);
        Self {
            permits: (cores * 2).min(by_memory).max(1),
            wait: Duration::from_secs(5),
        }
    }
}

/// MemAvailable of /proc/meminfo in bytes, where there is one.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The bounded queue: permits, and the working memory that goes with them.
pub struct Hasher {
    limits: HashingLimits,
    permits: std::sync::Arc<Semaphore>,
    /// Idle working buffers of the standard size; never more than `limits.permits`.
    buffers: Mutex<Vec<Vec<Block>>>,
}

static HASHER: OnceLock<Hasher> = OnceLock::new();

/// Sets the process-wide limits; the first call (or first use) wins. Answers whether these
/// limits are the ones in force.
pub fn configure_hashing(limits: HashingLimits) -> bool {
    HASHER.get_or_init(|| Hasher::new(limits)).limits == limits
}

/// The limits in force.
pub fn hashing_limits() -> HashingLimits {
    hasher().limits
}

/// How many password checks may run at once, and how many places are free now (for the
/// status page's sign-in probe and the metrics).
pub fn hashing_load() -> (usize, usize) {
    let h = hasher();
    (h.limits.permits, h.permits.available_permits())
}

fn hasher() -> &'static Hasher {
    HASHER.get_or_init(|| Hasher::new(HashingLimits::automatic()))
}

fn standard_params() -> Params {
    Params::new(M_COST_KIB, 2, 1, None).unwrap_or_default()
}

/// argon2id with the OWASP Password Storage Cheat Sheet's first recommendation:
/// 19 MiB of memory, 2 iterations, 1 lane.
fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, standard_params())
}

/// A hash of a password nobody knows, verified against when a username is unknown so that
/// "no such user" costs the same time as "wrong password".
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut blocks = vec![Block::default(); standard_params().block_count()];
        compute_hash(b"skjold-dummy-password-for-timing", &mut blocks).unwrap_or_default()
    })
}

/// A new PHC string for `password`, computed in `blocks`.
fn compute_hash(password: &[u8], blocks: &mut [Block]) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|_| PasswordError::Hash)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2()
        .hash_password_into_with_memory(password, salt_raw, &mut out, &mut *blocks)
        .map_err(|_| PasswordError::Hash)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&standard_params()).map_err(|_| PasswordError::Hash)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|_| PasswordError::Hash)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `stored`, computed in `blocks` (or in a
/// buffer of its own when the stored parameters are not the standard ones).
fn compute_verify(password: &[u8], stored: &str, blocks: &mut [Block]) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_M_COST_KIB {
        return false;
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let needed = params.block_count();
    let hasher = Argon2::new(algorithm, version, params);
    let computed = if blocks.len() == needed {
        hasher.hash_password_into_with_memory(password, salt_raw, &mut out, &mut blocks[..])
    } else {
        let mut own = vec![Block::default(); needed];
        hasher.hash_password_into_with_memory(password, salt_raw, &mut out, &mut own[..])
    };
    // `Output`'s equality is constant-time.
    computed.is_ok() && Output::new(&out).is_ok_and(|o| o == expected)
}

impl Hasher {
    pub fn new(limits: HashingLimits) -> Self {
        let limits = HashingLimits {
            permits: limits.permits.max(1),
            ..limits
        };
        Self {
            limits,
            permits: std::sync::Arc::new(Semaphore::new(limits.permits)),
            buffers: Mutex::new(Vec::new()),
        }
    }

    /// Runs `work` with a working buffer on the blocking pool, once a permit is free (or
    /// [`PasswordError::Busy`] after the wait limit).
    async fn run<T: Send + 'static>(
        &'static self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        self.run_within(Some(self.limits.wait), work).await
    }

    /// [`Self::run`], waiting at most `wait` for a permit (`None`: as long as it takes).
    async fn run_within<T: Send + 'static>(
        &'static self,
        wait: Option<Duration>,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let busy = PasswordError::Busy {
            retry_after_secs: self.limits.wait.as_secs().max(1),
        };
        let acquire = self.permits.clone().acquire_owned();
        let acquired = match wait {
            Some(wait) => match tokio::time::timeout(wait, acquire).await {
                Ok(p) => p,
                Err(_) => return Err(busy),
            },
            None => acquire.await,
        };
        let Ok(permit) = acquired else {
            return Err(PasswordError::Task);
        };
        tokio::task::spawn_blocking(move || {
            let mut blocks = self
                .buffers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop()
                .unwrap_or_else(|| vec![Block::default(); standard_params().block_count()]);
            let result = work(&mut blocks);
            let mut idle = self.buffers.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < self.limits.permits {
                idle.push(blocks);
            }
            drop(idle);
            drop(permit);
            result
        })
        .await
        .map_err(|_| PasswordError::Task)
    }
}

pub async fn hash_password(password: String) -> Result<String, PasswordError> {
    hasher()
        .run(move |blocks| compute_hash(password.as_bytes(), blocks))
        .await?
}

/// Checks a password against a stored hash. With `None` (unknown user, or a user without a
/// password) it does the same work against a dummy hash and answers `false`. Fails only
/// when no hashing permit came free within the wait limit ([`PasswordError::Busy`]).
pub async fn verify_password(
    password: String,
    stored: Option<String>,
) -> Result<bool, PasswordError> {
    // Made before taking a permit: the first call computes it.
    let dummy = dummy_hash();
    hasher()
        .run(move |blocks| {
            let known = stored.is_some();
            let hash = stored.as_deref().unwrap_or(dummy);
            compute_verify(password.as_bytes(), hash, blocks) && known
        })
        .await
}

/// [`verify_password`] for a signed-in user's own request (the password history check):
/// it queues like every other computation but waits for its turn without a limit.
pub async fn verify_password_patiently(
    password: String,
    stored: String,
) -> Result<bool, PasswordError> {
    hasher()
        .run_within(None, move |blocks| {
            compute_verify(password.as_bytes(), &stored, blocks)
        })
        .await
}

/// A one-time password for a new administrator: 20 characters from an alphabet without
/// look-alikes (about 115 bits).
pub fn generate_password() -> String {
    generate_password_of(20)
}

/// A random password of `len` characters from the same alphabet.
pub fn generate_password_of(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_match() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let verify = |p: &str, h: Option<String>| verify_password(p.into(), h);
        assert!(verify("correct horse battery", Some(hash.clone()))
            .await
            .unwrap());
        // Twice: the second computation reuses the first one's working memory.
        assert!(verify("correct horse battery", Some(hash.clone()))
            .await
            .unwrap());
        assert!(!verify("wrong", Some(hash)).await.unwrap());
        assert!(!verify("skjold-dummy-password-for-timing", None)
            .await
            .unwrap());
        assert!(!verify("x", Some("not a hash".into())).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_are_those_of_the_argon2_crate_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash_password("pw one two three".into()).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2()
            .verify_password(b"pw one two three", &parsed)
            .is_ok());
        assert!(argon2()
            .verify_password(b"pw one two four", &parsed)
            .is_err());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = argon2()
            .hash_password(b"pw five six", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password("pw five six".into(), Some(theirs.clone()))
            .await
            .unwrap());
        assert!(!verify_password("pw five seven".into(), Some(theirs))
            .await
            .unwrap());
        // Other (smaller) parameters are computed in a buffer of their own.
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"small", &salt)
        .unwrap()
        .to_string();
        assert!(verify_password("small".into(), Some(small)).await.unwrap());
        // A stored hash asking for more memory than allowed is never computed.
        let huge = ours.replace("m=19456", "m=4000000");
        assert!(!verify_password("pw one two three".into(), Some(huge))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_after_the_wait_limit() {
        let h: &'static Hasher = Box::leak(Box::new(Hasher::new(HashingLimits {
            permits: 1,
            wait: Duration::from_millis(50),
        })));
        let held = h.permits.clone().acquire_owned().await.unwrap();
        let started = std::time::Instant::now();
        let refused = h.run(|_| ()).await;
        assert!(matches!(
            refused,
            Err(PasswordError::Busy {
                retry_after_secs: 1
            })
        ));
        assert!(started.elapsed() >= Duration::from_millis(50));
        drop(held);
        assert!(h.run(|b| b.len()).await.is_ok());
        // One buffer for one permit, kept for the next computation.
        assert_eq!(h.buffers.lock().unwrap().len(), 1);
    }

    #[test]
    fn automatic_limits_are_at_least_one_permit() {
        let l = HashingLimits::automatic();
        assert!(l.permits >= 1);
        assert_eq!(l.wait, Duration::from_secs(5));
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let a = generate_password();
        assert_eq!(a.len(), 20);
        assert_ne!(a, generate_password());
    }
}
