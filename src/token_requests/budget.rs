//! A budget of reviews the endpoint may ask of the API server, for all callers together: a rate
//! (per second, with a burst) and a number in flight. There are two, one for TokenReviews and
//! one for SubjectAccessReviews ([`Review`]). Whatever the number of clients or
//! of distinct bearers they send, the API server gets no more than this from the endpoint; a
//! request whose bearer's answer is already cached needs none.
//!
//! Beyond the rate the answer is 429 with `Retry-After` (when the next review may be asked);
//! with every review in flight taken, 503 with `Retry-After: 1` (an in-flight review takes
//! milliseconds). A bearer the TokenReview authenticated before (and not yet expired) is not
//! held to the rate when its cached answer runs out: a flood of garbage spending the rate
//! cannot lock out a caller that was already in. Those reviews are bounded by the callers'
//! number, one per bearer per cache lifetime, and still by the number in flight.
//!
//! SubjectAccessReviews have their own budget: one is asked only for an authenticated caller
//! within its rate limit, but every new issuer name or namespace in a request is a new answer
//! to ask, so a tenant with N ServiceAccounts could otherwise cause N times the per-caller rate
//! (50/s) of them. A Namespace read (a cluster issuer's `namespaceSelector`) follows a granted
//! SubjectAccessReview for that namespace and is cached, found or not, for the same lifetime, so
//! this budget bounds those reads too. As with TokenReviews, an answer granted before is not
//! held to the rate when it runs out (see [`super::review::Reviewer`]).

use super::refusal::Refusal;
use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, Quota};
use std::num::NonZeroU32;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Which review a budget is for; it names the flags in its refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Review {
    /// `--token-requests-review-rate`, `-review-burst`, `-reviews-in-flight`.
    TokenReview,
    /// `--token-requests-access-review-rate`, `-access-review-burst`,
    /// `-access-reviews-in-flight`.
    SubjectAccessReview,
}

impl Review {
    /// Its plural, as refusals say it.
    pub(crate) fn plural(self) -> &'static str {
        match self {
            Review::TokenReview => "TokenReviews",
            Review::SubjectAccessReview => "SubjectAccessReviews",
        }
    }

    /// The flag of its rate.
    pub(crate) fn rate_flag(self) -> &'static str {
        match self {
            Review::TokenReview => "--token-requests-review-rate",
            Review::SubjectAccessReview => "--token-requests-access-review-rate",
        }
    }

    /// The flag of its number in flight.
    fn in_flight_flag(self) -> &'static str {
        match self {
            Review::TokenReview => "--token-requests-reviews-in-flight",
            Review::SubjectAccessReview => "--token-requests-access-reviews-in-flight",
        }
    }
}

/// The flags' values: `--token-requests-review-rate`, `--token-requests-review-burst`,
/// `--token-requests-reviews-in-flight` (and the `access-review` ones of SubjectAccessReviews).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// TokenReviews per second, sustained.
    pub per_second: NonZeroU32,
    /// TokenReviews at once above the sustained rate.
    pub burst: NonZeroU32,
    /// TokenReviews waiting on the API server at once.
    pub in_flight: NonZeroU32,
}

impl Default for Limits {
    /// 100 per second, a burst of 200, 20 in flight (the default of both budgets): 1,000
    /// distinct callers each re-reviewed every 10 s (the default cache lifetime) use a tenth of
    /// it, and it is a small share of kube-apiserver's default 200 mutating requests in flight.
    fn default() -> Self {
        Limits {
            per_second: NonZeroU32::new(100).expect("not zero"),
            burst: NonZeroU32::new(200).expect("not zero"),
            in_flight: NonZeroU32::new(20).expect("not zero"),
        }
    }
}

/// A budget; one per endpoint and review.
pub(crate) struct Budget {
    review: Review,
    limits: Limits,
    rate: DefaultDirectRateLimiter,
    in_flight: Semaphore,
}

impl Budget {
    pub(crate) fn new(review: Review, limits: Limits) -> Self {
        Budget {
            review,
            limits,
            rate: DefaultDirectRateLimiter::direct(
                Quota::per_second(limits.per_second).allow_burst(limits.burst),
            ),
            in_flight: Semaphore::new(limits.in_flight.get() as usize),
        }
    }

    /// A review out of the budget, held while the review is in flight; or the refusal
    /// (429 or 503, with `Retry-After`). A place in flight is taken first, so that a request
    /// refused for want of one spends nothing of the rate. A `known` bearer (authenticated
    /// before) spends of the rate what is left but is not refused for it.
    pub(crate) fn take(&self, known: bool) -> Result<SemaphorePermit<'_>, Refusal> {
        let permit = self.in_flight.try_acquire().map_err(|_| {
            Refusal::busy(format!(
                "the operator has {} {} in flight, its limit ({}): try again in a moment",
                self.limits.in_flight,
                self.review.plural(),
                self.review.in_flight_flag()
            ))
        })?;
        if let Err(not_until) = self.rate.check()
            && !known
        {
            let wait: Duration = not_until.wait_time_from(self.rate.clock().now());
            return Err(Refusal::reviews_spent(
                self.review,
                self.limits.per_second.get(),
                wait,
            ));
        }
        Ok(permit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_second: u32, burst: u32, in_flight: u32) -> Limits {
        Limits {
            per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
            in_flight: NonZeroU32::new(in_flight).unwrap(),
        }
    }

    #[test]
    fn past_the_burst_a_review_waits_with_retry_after() {
        let budget = Budget::new(Review::TokenReview, limits(1, 2, 10));
        assert!(budget.take(false).is_ok());
        assert!(budget.take(false).is_ok());
        assert!(
            budget.take(true).is_ok(),
            "a known bearer is not held to the rate"
        );
        let refused = budget.take(false).unwrap_err();
        assert_eq!(refused.status.as_u16(), 429);
        assert!(
            refused
                .retry_after
                .is_some_and(|w| w <= Duration::from_secs(1))
        );
        assert!(
            refused.message.contains("TokenReviews"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn reviews_in_flight_are_capped_and_given_back() {
        let budget = Budget::new(Review::SubjectAccessReview, limits(100, 100, 2));
        let first = budget.take(false).unwrap();
        let _second = budget.take(false).unwrap();
        let refused = budget.take(false).unwrap_err();
        assert_eq!(refused.status.as_u16(), 503);
        assert_eq!(refused.retry_after, Some(Duration::from_secs(1)));
        assert!(
            refused
                .message
                .contains("SubjectAccessReviews in flight, its limit (--token-requests-access-reviews-in-flight)"),
            "{}",
            refused.message
        );
        assert!(
            budget.take(true).is_err(),
            "a known bearer too waits for a place"
        );
        drop(first);
        assert!(
            budget.take(false).is_ok(),
            "a finished review gives its place back"
        );
    }
}
