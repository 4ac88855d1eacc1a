//! Exponential backoff with full jitter, and a token-bucket rate limit for API requests.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use tokio::time::Instant;

/// Exponential backoff: `min · 2^attempt`, capped at `max`, with full jitter (a uniform draw in
/// `[delay/2, delay]`) so that many watchers restarting together do not stampede.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff whose first delay is between `min/2` and `min` and that never waits more than
    /// `max` (`max` below `min` counts as `min`).
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max: max.max(min),
            attempt: 0,
        }
    }

    /// The delay before the next retry; grows with each call until [`Backoff::reset`].
    pub fn next_delay(&mut self) -> Duration {
        let exp = self.min.saturating_mul(1u32 << self.attempt.min(20));
        self.attempt = self.attempt.saturating_add(1);
        let capped = exp.min(self.max);
        let half = capped / 2;
        half + Duration::from_nanos(random_u64() % (half.as_nanos() as u64).max(1))
    }

    /// After a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(0x9E37_79B9_7F4A_7C15);
    h.finish()
}

/// A token bucket: at most `burst` requests at once, refilled at `per_second`.
#[derive(Debug)]
pub struct RateLimit {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    /// A limit of `per_second` requests on average (at least 0.001) and `burst` at once (at least
    /// 1); the bucket starts full.
    pub fn new(per_second: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        RateLimit {
            per_second: per_second.max(0.001),
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Waits until a request may be made.
    pub async fn acquire(&mut self) {
        let now = Instant::now();
        self.tokens =
            (self.tokens + (now - self.last).as_secs_f64() * self.per_second).min(self.burst);
        self.last = now;
        if self.tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - self.tokens) / self.per_second);
            tokio::time::sleep(wait).await;
            self.tokens = 1.0;
            self.last = Instant::now();
        }
        self.tokens -= 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_jitter_and_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let d: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        assert!(d[0] >= Duration::from_millis(50) && d[0] <= Duration::from_millis(100));
        assert!(d[3] >= Duration::from_millis(400) && d[3] <= Duration::from_millis(800));
        assert!(d[7] >= Duration::from_secs(1) && d[7] <= Duration::from_secs(2));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_limit_spaces_requests_after_the_burst() {
        let mut r = RateLimit::new(10.0, 2);
        let start = Instant::now();
        for _ in 0..4 {
            r.acquire().await;
        }
        // Two from the burst, then two more at 10/s.
        let took = Instant::now() - start;
        assert!(
            took >= Duration::from_millis(190) && took <= Duration::from_millis(250),
            "{took:?}"
        );
    }
}
