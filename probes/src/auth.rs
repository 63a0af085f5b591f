//! HTTP basic auth for the agent's endpoints.
//!
//! bcrypt is deliberately slow (tens to hundreds of milliseconds per check), so:
//! - it runs off the async runtime, on one dedicated worker thread at lowered CPU priority
//!   (nice 10), never on the workers that serve scrapes and time measurements, and a flood of
//!   checks yields the CPU to them;
//! - at most one check runs at a time and at most [`MAX_WAITING`] wait for their turn; more
//!   failed logins get `429 Too Many Requests` at once, so they cost one core at most and
//!   cannot queue unbounded work;
//! - a verified `Authorization` header is remembered for [`CACHE_TTL`] (at most
//!   [`CACHE_ENTRIES`] of them), so Prometheus' scrapes do not pay for bcrypt each time;
//! - an unknown user is checked against a real hash of the highest cost configured and then
//!   refused, so the response time does not tell which user names exist.

use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;

/// Verified headers remembered.
pub const CACHE_ENTRIES: usize = 16;
/// How long a verified header is remembered.
pub const CACHE_TTL: Duration = Duration::from_secs(300);
/// Checks that may wait for the bcrypt slot; beyond this, `429`.
pub const MAX_WAITING: usize = 8;

/// Whether `s` looks like a bcrypt hash (`$2a$`, `$2b$` or `$2y$`, 60 characters).
pub fn is_bcrypt_hash(s: &str) -> bool {
    s.len() == 60 && (s.starts_with("$2a$") || s.starts_with("$2b$") || s.starts_with("$2y$"))
}

/// The cost factor of a bcrypt hash (`$2b$10$…` → 10).
fn cost(hash: &str) -> u32 {
    hash.get(4..6).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Credentials valid.
    Allowed,
    /// Missing or wrong credentials: `401`.
    Denied,
    /// Too many checks in progress: `429`, try again later.
    Busy,
}

/// The configured users and the verification machinery.
#[derive(Debug)]
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    /// Hash unknown users are checked against (the costliest configured one).
    decoy: String,
    cache: Mutex<VecDeque<(String, Instant)>>,
}

/// A password check for the worker: password, hash, where to send the answer.
type Job = (String, String, tokio::sync::oneshot::Sender<bool>);

/// The bcrypt worker thread, started on first use; its queue holds [`MAX_WAITING`] checks.
fn worker() -> &'static SyncSender<Job> {
    static WORKER: OnceLock<SyncSender<Job>> = OnceLock::new();
    WORKER.get_or_init(|| {
        let (tx, rx) = sync_channel::<Job>(MAX_WAITING);
        let spawned = std::thread::Builder::new()
            .name("bcrypt".into())
            .spawn(move || {
                lower_priority();
                for (pass, hash, answer) in rx {
                    let _ = answer.send(bcrypt::verify(pass, &hash).unwrap_or(false));
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the bcrypt worker thread: {e}");
        }
        tx
    })
}

/// Nice the calling thread to 10, so password checks yield the CPU to scrapes and
/// measurements on a busy machine.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn lower_priority() {
    // SAFETY: setpriority takes plain integers; on Linux `who = 0` with PRIO_PROCESS names the
    // calling thread only. Failure (e.g. a seccomp filter) leaves the default priority.
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) };
    if r != 0 {
        tracing::debug!(
            "bcrypt worker keeps its priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// Decode an `Authorization: Basic …` value into user and password.
pub fn decode_basic(header: &str) -> Option<(String, String)> {
    let (scheme, b64) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

impl BasicAuth {
    /// `None` when no users are configured (no auth).
    pub fn new(users: &BTreeMap<String, String>) -> Option<Arc<Self>> {
        let decoy = users.values().max_by_key(|h| cost(h))?.clone();
        Some(Arc::new(BasicAuth {
            users: users.clone(),
            decoy,
            cache: Mutex::new(VecDeque::new()),
        }))
    }

    fn cached(&self, header: &str) -> bool {
        let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        c.retain(|(_, at)| at.elapsed() < CACHE_TTL);
        c.iter().any(|(h, _)| h == header)
    }

    fn remember(&self, header: &str) {
        let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if c.len() >= CACHE_ENTRIES {
            c.pop_front();
        }
        c.push_back((header.to_string(), Instant::now()));
    }

    /// Check an `Authorization` header value.
    pub async fn check(&self, header: Option<&str>) -> Verdict {
        let Some(header) = header else {
            return Verdict::Denied;
        };
        if self.cached(header) {
            return Verdict::Allowed;
        }
        let Some((user, pass)) = decode_basic(header) else {
            return Verdict::Denied;
        };
        let (hash, known) = match self.users.get(&user) {
            Some(h) => (h.clone(), true),
            None => (self.decoy.clone(), false),
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        match worker().try_send((pass, hash, tx)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Verdict::Busy,
            Err(TrySendError::Disconnected(_)) => return Verdict::Denied,
        }
        let ok = rx.await.unwrap_or(false);
        if ok && known {
            self.remember(header);
            Verdict::Allowed
        } else {
            Verdict::Denied
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_and_hash_shape() {
        assert_eq!(
            decode_basic("Basic dXNlcjpwYXNz"),
            Some(("user".into(), "pass".into()))
        );
        assert_eq!(decode_basic("Basic a b"), None);
        assert_eq!(decode_basic("Bearer dXNlcjpwYXNz"), None);
        let h = bcrypt::hash("pass", 4).unwrap();
        assert!(is_bcrypt_hash(&h), "{h}");
        assert_eq!(cost(&h), 4);
        assert!(!is_bcrypt_hash("secret"));
    }

    #[tokio::test]
    async fn verdicts_and_cache() {
        let users = BTreeMap::from([("u".to_string(), bcrypt::hash("p", 4).unwrap())]);
        let a = BasicAuth::new(&users).unwrap();
        let b64 = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        assert_eq!(a.check(None).await, Verdict::Denied);
        assert_eq!(a.check(Some(&b64("u:x"))).await, Verdict::Denied);
        assert_eq!(a.check(Some(&b64("nobody:p"))).await, Verdict::Denied);
        assert_eq!(a.check(Some(&b64("u:p"))).await, Verdict::Allowed);
        assert!(a.cached(&b64("u:p")));
        assert!(BasicAuth::new(&BTreeMap::new()).is_none());
    }
}
