//! The status the operator writes: `observedGeneration`, the `Ready` condition (with
//! `Reconciling` or `Stalled` beside it, as kstatus reads them) and what it says about the
//! stored token. Built whole and compared with the current one, so that an unchanged status is never
//! written again.

use crate::api::VideoSdkTokenStatus;
use crate::controller::reason::Reason;
use crate::time;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use std::time::SystemTime;

/// The condition type that says whether the object is usable.
pub(crate) const READY: &str = "Ready";

/// The conditions beside `Ready` that the operator writes, both "abnormal-true": present, with
/// status True, only while they hold, and removed otherwise (kstatus README, "Conditions":
/// "the absence of any conditions means everything is normal"; Flux's runtime deletes them
/// when a reconcile ends). Removing rather than writing False keeps `kubectl describe` short and
/// reads the same to kstatus, which only looks for status True
/// (cli-utils `pkg/kstatus/status/generic.go`, `checkGenericProperties`).
pub(crate) const ABNORMAL_TRUE: [&str; 2] = [RECONCILING, STALLED];

/// The condition type kstatus reads as InProgress while True.
pub(crate) const RECONCILING: &str = "Reconciling";

/// The condition type kstatus reads as Failed while True.
pub(crate) const STALLED: &str = "Stalled";

/// The conditions of a status whose `Ready` has `reason` and `message`: `Ready`, and beside it
/// `Reconciling` or `Stalled` by [`Reason::class`] with the same reason and message. Each keeps
/// its `lastTransitionTime` from `previous` while its status does not flip (API conventions: it
/// marks the last change of status, not of reason or message).
pub fn conditions(
    reason: Reason,
    message: String,
    generation: Option<i64>,
    previous: &[Condition],
    now: SystemTime,
) -> Vec<Condition> {
    let ready = if reason.ready() { "True" } else { "False" };
    let mut conditions = vec![condition(
        READY, ready, reason, &message, generation, previous, now,
    )];
    if let Some(type_) = reason.class().condition_type() {
        conditions.push(condition(
            type_, "True", reason, &message, generation, previous, now,
        ));
    }
    conditions
}

/// `conditions` with `Reconciling=True` for `reason` and `message` added (or replacing one),
/// `Stalled` removed, `Ready` kept: the status of a retry after an API error, which says nothing
/// new about the Secret's token.
pub(crate) fn retrying(
    conditions: &[Condition],
    reason: Reason,
    message: String,
    generation: Option<i64>,
    now: SystemTime,
) -> Vec<Condition> {
    let mut out: Vec<Condition> = conditions
        .iter()
        .filter(|c| !ABNORMAL_TRUE.contains(&c.type_.as_str()))
        .cloned()
        .collect();
    out.push(condition(
        RECONCILING,
        "True",
        reason,
        &message,
        generation,
        conditions,
        now,
    ));
    out
}

/// One condition, its `lastTransitionTime` kept from the condition of that type in `previous`
/// when that had the same status.
fn condition(
    type_: &str,
    status: &str,
    reason: Reason,
    message: &str,
    generation: Option<i64>,
    previous: &[Condition],
    now: SystemTime,
) -> Condition {
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map_or_else(|| time::to_k8s(now), |c| c.last_transition_time.clone());
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.as_str().to_owned(),
        message: message.to_owned(),
        observed_generation: generation,
        last_transition_time,
    }
}

/// The `Ready` condition of a status, if any.
pub(crate) fn ready_of(conditions: &[Condition]) -> Option<&Condition> {
    conditions.iter().find(|c| c.type_ == READY)
}

/// What the stored token is, for the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenTimes {
    /// Its `jti`.
    pub token_id: Option<String>,
    /// `iat`.
    pub not_before: Time,
    /// `exp`.
    pub not_after: Time,
    /// When the operator re-signs it.
    pub renewal_time: Time,
    /// The renew-now value it answered.
    pub renew_now_handled: Option<String>,
}

/// Status of a token whose Secret holds a good token, for `generation`.
pub fn ready(
    conditions: Vec<Condition>,
    generation: Option<i64>,
    times: TokenTimes,
    secret_name: String,
) -> VideoSdkTokenStatus {
    VideoSdkTokenStatus {
        observed_generation: generation.unwrap_or_default(),
        conditions,
        token_id: times.token_id,
        not_before: Some(times.not_before),
        not_after: Some(times.not_after),
        renewal_time: Some(times.renewal_time),
        secret_name: Some(secret_name),
        renew_now_handled: times.renew_now_handled,
        failed_issuance_attempts: None,
        last_failure_time: None,
    }
}

/// Status of a token that could not be made ready: the condition says why; what is known of the
/// token still in the Secret (it keeps serving until it expires) is kept from `previous`; the
/// failure is counted.
pub(crate) fn not_ready(
    previous: &VideoSdkTokenStatus,
    conditions: Vec<Condition>,
    generation: Option<i64>,
    now: SystemTime,
) -> VideoSdkTokenStatus {
    VideoSdkTokenStatus {
        observed_generation: generation.unwrap_or_default(),
        conditions,
        failed_issuance_attempts: Some(
            previous
                .failed_issuance_attempts
                .unwrap_or(0)
                .saturating_add(1),
        ),
        last_failure_time: Some(time::to_k8s(now)),
        ..previous.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn types(conditions: &[Condition]) -> Vec<(&str, &str)> {
        conditions
            .iter()
            .map(|c| (c.type_.as_str(), c.status.as_str()))
            .collect()
    }

    #[test]
    fn reconciling_and_stalled_are_present_only_while_they_hold() {
        let issued = conditions(Reason::Issued, "ok".into(), Some(1), &[], at(10));
        assert_eq!(types(&issued), [("Ready", "True")]);
        let stalled = conditions(
            Reason::PolicyViolation,
            "no".into(),
            Some(2),
            &issued,
            at(20),
        );
        assert_eq!(types(&stalled), [("Ready", "False"), ("Stalled", "True")]);
        assert!(
            stalled
                .iter()
                .all(|c| c.reason == "PolicyViolation" && c.message == "no")
        );
        let waiting = conditions(
            Reason::IssuerNotFound,
            "later".into(),
            Some(2),
            &stalled,
            at(30),
        );
        assert_eq!(
            types(&waiting),
            [("Ready", "False"), ("Reconciling", "True")]
        );
        // Ready stayed False: its transition time is the first False's.
        assert_eq!(waiting[0].last_transition_time, time::to_k8s(at(20)));
        assert_eq!(waiting[1].last_transition_time, time::to_k8s(at(30)));
        let again = conditions(Reason::Issued, "ok".into(), Some(2), &waiting, at(40));
        assert_eq!(types(&again), [("Ready", "True")]);
        assert_eq!(again[0].last_transition_time, time::to_k8s(at(40)));
    }

    #[test]
    fn a_retry_adds_reconciling_and_keeps_ready() {
        let issued = conditions(Reason::Issued, "ok".into(), Some(1), &[], at(10));
        let retry = |previous: &[Condition], now| {
            retrying(previous, Reason::ApiError, "500".into(), Some(1), now)
        };
        let after_issued = retry(&issued, at(20));
        assert_eq!(
            types(&after_issued),
            [("Ready", "True"), ("Reconciling", "True")]
        );
        assert_eq!(after_issued[0], issued[0]);
        assert_eq!(after_issued[1].reason, "ApiError");
        let stalled = conditions(Reason::SecretNotOwned, "no".into(), Some(1), &[], at(10));
        let after_stalled = retry(&stalled, at(20));
        assert_eq!(
            types(&after_stalled),
            [("Ready", "False"), ("Reconciling", "True")]
        );
        // The same retry again keeps the Reconciling transition time.
        assert_eq!(retry(&after_stalled, at(30)), after_stalled);
    }
}
