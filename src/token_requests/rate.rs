//! Each caller's rate limit (`--token-requests-rate` per second, `--token-requests-burst`), keyed
//! by the username the TokenReview gave, and kept from growing for the process's life: a
//! caller's entry is dropped once its burst has refilled (it then behaves as a new caller, so
//! dropping it changes no answer), at most once per [`PRUNE_INTERVAL`], on a request.

use super::refusal::Refusal;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often entries of callers whose burst has refilled are dropped: a pass over all entries
/// (one per caller seen since), so not on every request.
pub(crate) const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// The callers' rate limits; one per endpoint.
pub(crate) struct CallerRates {
    limiter: DefaultKeyedRateLimiter<String>,
    /// When entries were last dropped.
    pruned: Mutex<Instant>,
}

impl CallerRates {
    pub(crate) fn new(quota: Quota) -> Self {
        CallerRates {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            pruned: Mutex::new(Instant::now()),
        }
    }

    /// A request of `username` out of its rate limit, or the 429 with `Retry-After`; first drops
    /// the entries of callers whose burst has refilled when [`PRUNE_INTERVAL`] has passed at
    /// `now`.
    pub(crate) fn check(&self, username: &str, now: Instant) -> Result<(), Refusal> {
        self.prune(now);
        self.limiter
            .check_key(&username.to_owned())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                Refusal::too_many(username, wait)
            })
    }

    fn prune(&self, now: Instant) {
        let mut pruned = self.pruned.lock().expect("not poisoned");
        if now.saturating_duration_since(*pruned) < PRUNE_INTERVAL {
            return;
        }
        *pruned = now;
        drop(pruned);
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// How many callers have an entry.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.limiter.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    #[test]
    fn callers_whose_burst_has_refilled_are_forgotten_at_the_next_prune() {
        // 5 per second, a burst of 1: a caller's entry is back to new after 200 ms.
        let one = NonZeroU32::new(1).unwrap();
        let rates =
            CallerRates::new(Quota::per_second(NonZeroU32::new(5).unwrap()).allow_burst(one));
        let t0 = Instant::now();
        for n in 0..10 {
            assert!(rates.check(&format!("caller-{n}"), t0).is_ok());
        }
        assert!(rates.check("caller-0", t0).is_err(), "the limit holds");
        assert_eq!(rates.len(), 10);
        std::thread::sleep(Duration::from_millis(400));
        assert!(rates.check("recent", t0 + PRUNE_INTERVAL / 2).is_ok());
        assert_eq!(rates.len(), 11, "not before the interval");
        assert!(rates.check("newest", t0 + PRUNE_INTERVAL).is_ok());
        assert_eq!(
            rates.len(),
            2,
            "only the callers that asked within their burst's refill time are kept"
        );
    }
}
