//! The status the operator writes: the `Ready` condition and what it says about the stored
//! token. Built whole and compared with the current one, so that an unchanged status is never
//! written again.

use super::reason::Reason;
use crate::api::VideoSdkTokenStatus;
use crate::time;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use std::time::SystemTime;

/// The condition type the operator maintains.
pub const READY: &str = "Ready";

/// The `Ready` condition, keeping `lastTransitionTime` from `previous` when the status did not
/// flip (API conventions: it marks the last change of status, not of reason or message).
pub fn ready_condition(
    reason: Reason,
    message: String,
    generation: Option<i64>,
    previous: &[Condition],
    now: SystemTime,
) -> Condition {
    let status = if reason.ready() { "True" } else { "False" };
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == READY && c.status == status)
        .map_or_else(|| time::to_k8s(now), |c| c.last_transition_time.clone());
    Condition {
        type_: READY.to_owned(),
        status: status.to_owned(),
        reason: reason.as_str().to_owned(),
        message,
        observed_generation: generation,
        last_transition_time,
    }
}

/// The `Ready` condition of a status, if any.
pub fn ready_of(conditions: &[Condition]) -> Option<&Condition> {
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

/// Status of a token whose Secret holds a good token.
pub fn ready(condition: Condition, times: TokenTimes, secret_name: String) -> VideoSdkTokenStatus {
    VideoSdkTokenStatus {
        conditions: vec![condition],
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
pub fn not_ready(
    previous: &VideoSdkTokenStatus,
    condition: Condition,
    now: SystemTime,
) -> VideoSdkTokenStatus {
    VideoSdkTokenStatus {
        conditions: vec![condition],
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
