//! How long to wait before retrying a token whose reconcile failed, and how long an attempt may
//! take.

use std::time::Duration;

/// The first retry comes after a second, so that a brief API server hiccup costs little.
pub(crate) const FIRST: Duration = Duration::from_secs(1);
/// No retry waits longer than this, so that a fixed problem is noticed within minutes.
pub(crate) const MAX: Duration = Duration::from_secs(300);
/// A retry never waits more than this fraction of the stored token's remaining lifetime, so that
/// at least this many attempts fit before it expires.
pub(crate) const ATTEMPTS_BEFORE_EXPIRY: u32 = 10;

/// The delay after `failures` consecutive failures (1 for the first): `FIRST` doubling, capped
/// at `MAX` and at 1/`ATTEMPTS_BEFORE_EXPIRY` of `remaining`, the time the token in the Secret
/// has left (`None` when there is no usable token, when only `MAX` applies). Never below
/// `FIRST`, so that a token about to expire is retried every second rather than in a hot loop.
pub(crate) fn delay(failures: u32, remaining: Option<Duration>) -> Duration {
    let exponential = FIRST.saturating_mul(1 << failures.saturating_sub(1).min(20));
    let cap = remaining.map_or(MAX, |r| (r / ATTEMPTS_BEFORE_EXPIRY).min(MAX));
    exponential.min(cap).max(FIRST)
}

/// The shortest [`attempt_deadline`]: what a loaded API server may take to answer an attempt's
/// writes (kube-apiserver's objective for a mutating call on one object is 1 s at the 99th
/// percentile: Kubernetes SIG Scalability, "API call latency" SLO).
pub(crate) const MIN_ATTEMPT: Duration = Duration::from_secs(2);

/// How long one attempt at a token may take, given `remaining`, the time the token in its Secret
/// has left (`None` when there is none: then only each request's own deadline,
/// `request_timeout::REQUEST_TIMEOUT`, applies): a tenth of it, as for [`delay`], and at least
/// [`MIN_ATTEMPT`]. A token close to expiry whose request sits on a connection that never
/// answers is then retried within seconds, not after the 30 s of a request's deadline.
pub(crate) fn attempt_deadline(remaining: Option<Duration>) -> Option<Duration> {
    remaining.map(|r| (r / ATTEMPTS_BEFORE_EXPIRY).max(MIN_ATTEMPT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_a_second_to_five_minutes() {
        let delays: Vec<u64> = (1..=11).map(|n| delay(n, None).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(delay(u32::MAX, None), MAX);
    }

    #[test]
    fn stays_well_inside_the_remaining_lifetime() {
        // 10 minutes left: never wait more than a minute.
        assert_eq!(
            delay(30, Some(Duration::from_secs(600))),
            Duration::from_secs(60)
        );
        // Seconds left, or expired: retry every second.
        assert_eq!(delay(30, Some(Duration::from_secs(3))), FIRST);
        assert_eq!(delay(30, Some(Duration::ZERO)), FIRST);
    }

    #[test]
    fn an_attempt_takes_at_most_a_tenth_of_the_remaining_lifetime() {
        assert_eq!(attempt_deadline(None), None, "no stored token: no cap");
        assert_eq!(
            attempt_deadline(Some(Duration::from_secs(120))),
            Some(Duration::from_secs(12))
        );
        assert_eq!(
            attempt_deadline(Some(Duration::from_secs(15))),
            Some(MIN_ATTEMPT)
        );
        assert_eq!(attempt_deadline(Some(Duration::ZERO)), Some(MIN_ATTEMPT));
    }
}
