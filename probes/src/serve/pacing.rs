//! Per-client limits of the speed-test server: a byte pacer (payload rate) and a token bucket
//! (request rate), both safe for every rate the command line accepts.

use std::time::{Duration, Instant};

/// Paces one client's payload to a byte rate (virtual scheduling: each chunk gets the next
/// free slot on the client's timeline; a small burst is allowed).
#[derive(Debug)]
pub struct Pacer {
    rate_bytes_per_s: f64,
    next_free: Instant,
}

/// Longest single wait a pacer asks for; slower rates are refused by the command line, this
/// only keeps the arithmetic finite.
const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

impl Pacer {
    /// A pacer starting now.
    pub fn new(rate_bytes_per_s: f64) -> Self {
        Pacer {
            rate_bytes_per_s,
            next_free: Instant::now(),
        }
    }

    /// How long to wait before moving `n` bytes.
    pub fn reserve(&mut self, n: usize, now: Instant) -> Duration {
        let burst = Duration::from_millis(20);
        let start = if self.next_free + burst < now {
            now.checked_sub(burst).unwrap_or(now)
        } else {
            self.next_free
        };
        let cost = Duration::try_from_secs_f64(n as f64 / self.rate_bytes_per_s)
            .unwrap_or(MAX_WAIT)
            .min(MAX_WAIT);
        self.next_free = start.checked_add(cost).unwrap_or(start);
        start.saturating_duration_since(now)
    }
}

/// A token bucket of requests.
#[derive(Debug)]
pub struct Bucket {
    tokens: f64,
    /// Last refill.
    pub last: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn full(burst: f64, now: Instant) -> Self {
        Bucket {
            tokens: burst,
            last: now,
        }
    }

    /// Take one token if there is one, refilling at `rate` per second up to `burst`.
    pub fn take(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * rate).min(burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_limits_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::full(2.0, t0);
        assert!(b.take(1.0, 2.0, t0));
        assert!(b.take(1.0, 2.0, t0));
        assert!(!b.take(1.0, 2.0, t0));
        assert!(b.take(1.0, 2.0, t0 + Duration::from_secs(1)));
    }

    #[test]
    fn pacer_never_panics_at_extreme_rates() {
        let now = Instant::now();
        for rate in [1e-300, 1e-9, 1.0, 1e6, 1e300, f64::MAX] {
            let mut p = Pacer::new(rate);
            for k in 0..3u32 {
                let w = p.reserve(65536, now);
                assert!(
                    w <= MAX_WAIT * k + Duration::from_millis(25),
                    "{rate}: {w:?}"
                );
            }
        }
        let mut p = Pacer::new(1e6);
        let now = Instant::now();
        assert_eq!(p.reserve(1000, now), Duration::ZERO);
        let w = p.reserve(1_000_000, now);
        assert!(w <= Duration::from_millis(1), "{w:?}");
        assert!(p.reserve(1, now) >= Duration::from_millis(900));
    }
}
