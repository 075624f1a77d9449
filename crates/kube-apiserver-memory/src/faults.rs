//! Faults on demand, for testing how clients cope: error rates per verb and resource, added
//! latency, and closing watches.

use super::accounting::Verb;
use super::error::ApiError;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// One fault rule; `None` in `verb` or `resource` matches any. Rates are probabilities in 0..=1.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultRule {
    pub(crate) verb: Option<Verb>,
    /// Resource as accounted: `secrets`, or `videosdktokens/status`.
    pub(crate) resource: Option<String>,
    /// Rate of 500 InternalError answers.
    pub(crate) internal_errors: f64,
    /// Rate of 429 TooManyRequests answers, with `Retry-After: retry_after_seconds`.
    pub(crate) too_many_requests: f64,
    pub(crate) retry_after_seconds: u64,
    /// Rate of 409 Conflict answers to writes.
    pub(crate) conflicts: f64,
    /// Rate of 403 Forbidden answers, as RBAC gives a user without the right (this server does
    /// not authorize requests against RBAC, see the crate's documentation).
    pub(crate) forbidden: f64,
    /// Added before answering.
    pub(crate) latency: Duration,
}

impl FaultRule {
    /// A rule for every request; narrow it with [`FaultRule::verb`] and [`FaultRule::resource`].
    pub fn any() -> Self {
        FaultRule {
            retry_after_seconds: 1,
            ..Default::default()
        }
    }
    pub fn verb(mut self, verb: Verb) -> Self {
        self.verb = Some(verb);
        self
    }
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }
    pub fn internal_errors(mut self, rate: f64) -> Self {
        self.internal_errors = rate;
        self
    }
    pub fn too_many_requests(mut self, rate: f64, retry_after_seconds: u64) -> Self {
        self.too_many_requests = rate;
        self.retry_after_seconds = retry_after_seconds;
        self
    }
    pub fn conflicts(mut self, rate: f64) -> Self {
        self.conflicts = rate;
        self
    }
    pub fn forbidden(mut self, rate: f64) -> Self {
        self.forbidden = rate;
        self
    }
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    fn matches(&self, verb: Verb, resource: &str) -> bool {
        self.verb.is_none_or(|v| v == verb)
            && self.resource.as_deref().is_none_or(|r| r == resource)
    }
}

/// What a request meets: a delay first, then maybe an injected error.
pub(crate) struct Verdict {
    pub(crate) latency: Duration,
    pub(crate) error: Option<ApiError>,
}

/// The fault rules of a server and the source of their randomness (a xorshift generator:
/// reproducible enough and free of locks).
pub(crate) struct Faults {
    rules: Mutex<Vec<FaultRule>>,
    seed: AtomicU64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            rules: Mutex::new(Vec::new()),
            seed: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
        }
    }
}

impl Faults {
    pub(crate) fn add(&self, rule: FaultRule) {
        self.rules.lock().expect("faults lock").push(rule);
    }

    pub(crate) fn clear(&self) {
        self.rules.lock().expect("faults lock").clear();
    }

    /// A uniform draw in [0, 1).
    fn draw(&self) -> f64 {
        let mut x = self.seed.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Decides the fault (if any) of one request. `conflict` builds the 409 for writes.
    pub(crate) fn judge(
        &self,
        verb: Verb,
        resource: &str,
        conflict: impl Fn() -> ApiError,
    ) -> Verdict {
        let rules = self.rules.lock().expect("faults lock");
        let mut verdict = Verdict {
            latency: Duration::ZERO,
            error: None,
        };
        for rule in rules.iter().filter(|r| r.matches(verb, resource)) {
            verdict.latency += rule.latency;
            if verdict.error.is_some() {
                continue;
            }
            if rule.forbidden > 0.0 && self.draw() < rule.forbidden {
                verdict.error = Some(ApiError::forbidden(format!(
                    "{resource} is forbidden: the request's user may not {} it (injected fault)",
                    verb.as_str()
                )));
            } else if rule.internal_errors > 0.0 && self.draw() < rule.internal_errors {
                verdict.error = Some(ApiError::internal("injected fault"));
            } else if rule.too_many_requests > 0.0 && self.draw() < rule.too_many_requests {
                verdict.error = Some(ApiError::too_many_requests(rule.retry_after_seconds));
            } else if verb.is_write() && rule.conflicts > 0.0 && self.draw() < rule.conflicts {
                verdict.error = Some(conflict());
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(f: &Faults, verb: Verb, resource: &str) -> Option<u16> {
        f.judge(verb, resource, || ApiError::bad_request("conflict"))
            .error
            .map(|e| e.code)
    }

    #[test]
    fn rules_match_verb_and_resource() {
        let f = Faults::default();
        f.add(
            FaultRule::any()
                .verb(Verb::Patch)
                .resource("secrets")
                .internal_errors(1.0),
        );
        assert_eq!(judge(&f, Verb::Patch, "secrets"), Some(500));
        assert_eq!(judge(&f, Verb::Get, "secrets"), None);
        assert_eq!(judge(&f, Verb::Patch, "leases"), None);
        f.clear();
        f.add(FaultRule::any().too_many_requests(1.0, 3));
        assert_eq!(judge(&f, Verb::List, "x"), Some(429));
        f.clear();
        f.add(FaultRule::any().resource("deployments").forbidden(1.0));
        assert_eq!(judge(&f, Verb::Get, "deployments"), Some(403));
        assert_eq!(judge(&f, Verb::Get, "statefulsets"), None);
    }

    #[test]
    fn rates_are_roughly_honoured() {
        let f = Faults::default();
        f.add(FaultRule::any().conflicts(0.25));
        let hits = (0..4000)
            .filter(|_| judge(&f, Verb::Create, "secrets").is_some())
            .count();
        assert!((800..1200).contains(&hits), "{hits}");
        assert_eq!(judge(&f, Verb::Get, "secrets"), None);
    }
}
