//! Token buckets keyed by tenant or peer address.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token-bucket rate: `per_second` requests refill continuously, up to
/// `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    per_second: NonZeroU32,
    burst: NonZeroU32,
}

impl RateLimit {
    /// `per_second` sustained, `burst` at once (both at least 1, so a zero
    /// rate that would lock a client out forever cannot be built).
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Self { per_second, burst }
    }

    /// Requests per second, sustained.
    pub fn per_second(&self) -> u32 {
        self.per_second.get()
    }

    /// Requests allowed at once after a quiet spell.
    pub fn burst(&self) -> u32 {
        self.burst.get()
    }
}

/// Above this many keys, full buckets (keys quiet long enough to have
/// refilled) are dropped, so a flood from many addresses cannot grow the
/// map without bound.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// One bucket per key.
#[derive(Debug)]
pub(crate) struct Buckets {
    rate: RateLimit,
    map: Mutex<HashMap<String, Bucket>>,
}

impl Buckets {
    pub(crate) fn new(rate: RateLimit) -> Self {
        Self {
            rate,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key`: `Ok` when there was one, else the wait
    /// until the next one.
    pub(crate) fn take(&self, key: &str) -> Result<(), Duration> {
        self.with_bucket(key, |b| {
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                Ok(())
            } else {
                Err(())
            }
        })
        .map_err(|()| self.wait_for_one(key))
    }

    /// Whether `key` has a token left, without taking it: `Err` with the
    /// wait when it has none.
    pub(crate) fn check(&self, key: &str) -> Result<(), Duration> {
        self.with_bucket(key, |b| if b.tokens >= 1.0 { Ok(()) } else { Err(()) })
            .map_err(|()| self.wait_for_one(key))
    }

    fn wait_for_one(&self, key: &str) -> Duration {
        let missing = self.with_bucket(key, |b| (1.0 - b.tokens).max(0.0));
        Duration::from_secs_f64(missing / f64::from(self.rate.per_second()))
    }

    fn with_bucket<T>(&self, key: &str, f: impl FnOnce(&mut Bucket) -> T) -> T {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, b| self.refilled(*b, now).tokens < f64::from(self.rate.burst()));
        }
        let full = Bucket {
            tokens: f64::from(self.rate.burst()),
            at: now,
        };
        let bucket = map.entry(key.to_string()).or_insert(full);
        *bucket = self.refilled(*bucket, now);
        f(bucket)
    }

    fn refilled(&self, b: Bucket, now: Instant) -> Bucket {
        let gained = now.duration_since(b.at).as_secs_f64() * f64::from(self.rate.per_second());
        Bucket {
            tokens: (b.tokens + gained).min(f64::from(self.rate.burst())),
            at: now,
        }
    }
}

/// A wait as a `Retry-After` value: whole seconds, rounded up, at least 1.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_second: u32, burst: u32) -> RateLimit {
        RateLimit::new(
            NonZeroU32::new(per_second).unwrap(),
            NonZeroU32::new(burst).unwrap(),
        )
    }

    #[test]
    fn burst_then_refused_with_a_wait_per_key() {
        let b = Buckets::new(limit(1, 2));
        assert!(b.take("a").is_ok());
        assert!(b.check("a").is_ok());
        assert!(b.take("a").is_ok());
        let wait = b.take("a").unwrap_err();
        assert!(wait <= Duration::from_secs(1));
        assert!(b.check("a").is_err());
        assert!(b.take("b").is_ok());
    }

    #[test]
    fn retry_after_is_whole_seconds_at_least_one() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
