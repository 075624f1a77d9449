//! The audit log of token requests (target `videosdk_token_operator::token_requests::audit`):
//! who asked what, and the answer; never a token or a bearer credential.
//!
//! The rule, so that refused requests cannot fill a disk: one line per granted request and per
//! refusal of an authenticated caller within its rate limit (a TokenReview named it, so it is
//! accountable), except the refusals a caller can repeat at no cost to itself. A refusal before
//! authentication (no or unfit bearer, a bearer the TokenReview refused, the TokenReview budget
//! spent, a bad namespace) is logged at most once per [`SAMPLE_INTERVAL`] for each status code
//! and reason; a 429 (past its rate limit or a review budget) or a 403 (RBAC, namespaceSelector,
//! policy) of an authenticated caller at most once per interval for each caller, code and
//! reason (for a 403, the check that refused): else one keep-alive connection with a valid token writes a line per request,
//! thousands a second. The next line of that key carries `suppressed`, the number of lines left
//! out since the last one. The request metric (`videosdk_token_requests_total`) still counts
//! every answer.

use super::refusal::{Check, Refusal};
use super::review::{Caller, Target};
use crate::token::TokenRequest;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one line per this time for each key of a sampled refusal.
pub(crate) const SAMPLE_INTERVAL: Duration = Duration::from_secs(10);

/// What one request's audit line shows: never the token or the bearer credential.
#[derive(Default)]
pub(crate) struct Audit {
    /// Whether the issuer exists: only then is it a metric label (a caller could otherwise add
    /// a series per name it makes up).
    pub(crate) found: bool,
    pub(crate) caller: Option<Caller>,
    pub(crate) target: Option<Target>,
    pub(crate) request: Option<TokenRequest>,
    pub(crate) token_id: Option<String>,
}

/// The lines of sampled refusals: when each key was last logged, and how many lines were left
/// out since. Once per interval, the entries last logged over two intervals ago are dropped
/// (with the count of lines left out, if any: nothing of that key came for a whole interval to
/// have it logged), so only keys logged in the last two intervals are kept: bounded by the
/// lines written.
pub(crate) struct Sampler {
    last: Mutex<HashMap<Kind, (Instant, u64)>>,
    pruned: Mutex<Instant>,
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler {
            last: Mutex::default(),
            pruned: Mutex::new(Instant::now()),
        }
    }
}

/// The caller's username (empty before authentication), the status code and the refusal's
/// reason word.
type Kind = (String, u16, &'static str);

impl Sampler {
    /// Whether a line of `caller` (empty: unauthenticated) for `code` and `reason` is written
    /// at `now`: `Some(suppressed)` (lines left out since the last one), or `None` (this one is
    /// left out and counted).
    pub(crate) fn admit(
        &self,
        caller: &str,
        code: u16,
        reason: &'static str,
        now: Instant,
    ) -> Option<u64> {
        let mut last = self.last.lock().expect("not poisoned");
        self.prune(&mut last, now);
        let kind = (caller.to_owned(), code, reason);
        match last.get_mut(&kind) {
            Some((at, suppressed)) if now.duration_since(*at) < SAMPLE_INTERVAL => {
                *suppressed += 1;
                None
            }
            Some((at, suppressed)) => {
                *at = now;
                Some(std::mem::take(suppressed))
            }
            None => {
                last.insert(kind, (now, 0));
                Some(0)
            }
        }
    }

    /// Drops the entries last logged two intervals ago or more, at most once per interval.
    fn prune(&self, last: &mut HashMap<Kind, (Instant, u64)>, now: Instant) {
        let mut pruned = self.pruned.lock().expect("not poisoned");
        if now.saturating_duration_since(*pruned) >= SAMPLE_INTERVAL {
            *pruned = now;
            last.retain(|_, (at, _)| now.saturating_duration_since(*at) < SAMPLE_INTERVAL * 2);
        }
    }

    /// How many keys are held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.last.lock().expect("not poisoned").len()
    }
}

/// What a sampled line is told apart by besides caller and code: the check that refused (a
/// 403's `RBAC`, `NamespaceSelector` or `Policy`), else the refusal's reason word; so a denial
/// by RBAC is never hidden behind a policy denial logged just before.
fn sample_reason(refusal: Option<&Refusal>) -> &'static str {
    refusal.map_or("Granted", |r| r.check.map_or(r.reason, Check::as_str))
}

/// Whether the line of a refusal `code` is sampled: every refusal before authentication, and
/// an authenticated caller's 429 and 403.
fn sampled(authenticated: bool, code: u16) -> bool {
    !authenticated || matches!(code, 403 | 429)
}

impl Audit {
    /// Writes the line of a request to `namespace` (as the path gave it: shown only when it is a
    /// namespace name), answered `code` or refused with `refusal`, unless `sampler` leaves it
    /// out (see [`sampled`]).
    pub(crate) fn log(
        &self,
        namespace: &str,
        code: u16,
        refusal: Option<&Refusal>,
        sampler: &Sampler,
    ) {
        let reason = refusal.map_or("Granted", |r| r.reason);
        let user = self.caller.as_ref().map_or("", |c| c.username.as_str());
        let suppressed = match refusal {
            Some(_) if sampled(self.caller.is_some(), code) => {
                match sampler.admit(user, code, sample_reason(refusal), Instant::now()) {
                    Some(suppressed) => suppressed,
                    None => return,
                }
            }
            _ => 0,
        };
        let namespace = if crate::api::is_dns1123_label(namespace) {
            namespace
        } else {
            "(not a namespace name)"
        };
        let request = self.request.as_ref();
        let list = |items: Vec<&str>| items.join(",");
        tracing::info!(
            target: "videosdk_token_operator::token_requests::audit",
            user,
            service_account = self.caller.as_ref().and_then(|c| service_account(&c.username)).unwrap_or_default(),
            namespace,
            issuer_kind = self.target.as_ref().map_or("", |t| t.kind.as_str()),
            issuer = self.target.as_ref().map_or("", |t| t.name.as_str()),
            permissions = request.map(|r| list(r.permissions.iter().map(|p| p.as_str()).collect())).unwrap_or_default(),
            roles = request.map(|r| list(r.roles.iter().map(|r| r.as_str()).collect())).unwrap_or_default(),
            room_id = request.and_then(|r| r.room_id.as_deref()).unwrap_or_default(),
            participant_id = request.and_then(|r| r.participant_id.as_deref()).unwrap_or_default(),
            ttl_seconds = request.map_or(0, |r| r.ttl.as_secs()),
            code,
            reason,
            check = refusal.and_then(|r| r.check).map_or("", Check::as_str),
            token_id = self.token_id.as_deref().unwrap_or_default(),
            suppressed,
            "token request"
        );
    }
}

/// `namespace/name` of a ServiceAccount username (`system:serviceaccount:NS:NAME`).
fn service_account(username: &str) -> Option<String> {
    let rest = username.strip_prefix("system:serviceaccount:")?;
    let (namespace, name) = rest.split_once(':')?;
    Some(format!("{namespace}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_account_is_named_from_its_username() {
        assert_eq!(
            service_account("system:serviceaccount:media:backend").as_deref(),
            Some("media/backend")
        );
        assert_eq!(service_account("alice"), None);
    }

    #[test]
    fn one_line_per_code_and_reason_per_interval_with_the_count_left_out() {
        let sampler = Sampler::default();
        let t0 = Instant::now();
        assert_eq!(sampler.admit("", 401, "Unauthorized", t0), Some(0));
        for i in 1..=1000 {
            assert_eq!(
                sampler.admit("", 401, "Unauthorized", t0 + Duration::from_millis(i)),
                None
            );
        }
        assert_eq!(
            sampler.admit("", 429, "TooManyRequests", t0 + Duration::from_secs(1)),
            Some(0),
            "another code and reason has its own line"
        );
        assert_eq!(
            sampler.admit("", 401, "Unauthorized", t0 + SAMPLE_INTERVAL),
            Some(1000)
        );
        assert_eq!(
            sampler.admit("", 401, "Unauthorized", t0 + SAMPLE_INTERVAL * 2),
            Some(0)
        );
    }

    #[test]
    fn a_403_is_sampled_by_the_check_that_refused() {
        let rbac = Refusal::forbidden(Check::Rbac, "no grant".into());
        let policy = Refusal::forbidden(Check::Policy, "ttl too long".into());
        assert_ne!(sample_reason(Some(&rbac)), sample_reason(Some(&policy)));
        let sampler = Sampler::default();
        let (caller, t0) = ("system:serviceaccount:media:probe", Instant::now());
        assert_eq!(
            sampler.admit(caller, 403, sample_reason(Some(&policy)), t0),
            Some(0)
        );
        assert_eq!(
            sampler.admit(caller, 403, sample_reason(Some(&rbac)), t0),
            Some(0),
            "an RBAC denial right after a policy denial has its own line"
        );
    }

    #[test]
    fn an_authenticated_callers_429_and_403_are_sampled_per_caller_and_the_rest_logged() {
        assert!(sampled(false, 401) && sampled(false, 404) && sampled(false, 429));
        assert!(sampled(true, 429) && sampled(true, 403));
        assert!(!sampled(true, 404) && !sampled(true, 422) && !sampled(true, 503));
        let sampler = Sampler::default();
        let t0 = Instant::now();
        let hammer = "system:serviceaccount:media:hammer";
        assert_eq!(sampler.admit(hammer, 429, "TooManyRequests", t0), Some(0));
        for i in 1..=1000 {
            let at = t0 + Duration::from_millis(i);
            assert_eq!(sampler.admit(hammer, 429, "TooManyRequests", at), None);
        }
        assert_eq!(
            sampler.admit(
                "system:serviceaccount:media:other",
                429,
                "TooManyRequests",
                t0
            ),
            Some(0),
            "another caller has its own line"
        );
        assert_eq!(
            sampler.admit(hammer, 403, "Forbidden", t0),
            Some(0),
            "another code has its own line"
        );
        assert_eq!(sampler.len(), 3);
        let later = t0 + SAMPLE_INTERVAL * 3;
        assert_eq!(
            sampler.admit(hammer, 429, "TooManyRequests", later),
            Some(0),
            "a key silent for a whole interval after its own is dropped with its count"
        );
        assert_eq!(
            sampler.len(),
            1,
            "keys logged two intervals ago are dropped"
        );
    }
}
