//! Per-notifier rate limits: a token bucket, so that a storm of alerts does not get a Slack
//! webhook throttled (or the receiver paged a thousand times). Deliveries over the limit wait,
//! pending, without spending an attempt.

use std::time::Duration;

use tokio::time::Instant;

/// `rate` per second, bursts of up to `burst`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_second: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            rate: per_second.max(f64::MIN_POSITIVE),
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
    }

    /// Takes a token if there is one.
    pub fn try_take(&mut self) -> bool {
        self.refill();
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until a token is there.
    pub fn wait(&mut self) -> Duration {
        self.refill();
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.rate)
        }
    }
}

/// Parses `30/m`, `1/s`, `100/h` into a rate per second.
pub fn parse_rate(text: &str) -> Option<f64> {
    let (n, unit) = text.trim().split_once('/')?;
    let n: f64 = n.trim().parse().ok()?;
    let per = match unit.trim() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        _ => return None,
    };
    (n.is_finite() && n > 0.0).then_some(n / per)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_passes_then_tokens_come_back_at_the_rate() {
        let mut b = TokenBucket::new(1.0, 3);
        assert!(b.try_take() && b.try_take() && b.try_take());
        assert!(!b.try_take());
        assert_eq!(b.wait(), Duration::from_secs(1));
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(!b.try_take());
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(b.try_take());
        tokio::time::advance(Duration::from_secs(60)).await;
        for _ in 0..3 {
            assert!(b.try_take());
        }
        assert!(!b.try_take(), "never more than the burst");
    }

    #[test]
    fn rates_parse_per_second_minute_or_hour() {
        assert_eq!(parse_rate("30/m"), Some(0.5));
        assert_eq!(parse_rate("2/s"), Some(2.0));
        assert_eq!(parse_rate("36/h"), Some(0.01));
        for bad in ["30", "x/m", "0/m", "3/d"] {
            assert_eq!(parse_rate(bad), None, "{bad}");
        }
    }
}
