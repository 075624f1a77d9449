//! Restarting the workloads that read a token only at start (`spec.rolloutRestartTargets`), as
//! `kubectl rollout restart` does, after the token is re-signed — only those whose owner asked.
//!
//! Consent lives on the workload, as in Stakater Reloader: a workload is restarted for token `t`
//! only when its own metadata carries the annotation [`RESTART_ON_RENEWAL`] with `t` in its
//! comma-separated list. Whoever may create a `VideoSdkToken` (the `edit` role) thereby gets no
//! power over workloads: naming one in `rolloutRestartTargets` without its annotation patches
//! nothing and publishes a Warning Event that says which annotation to add to which workload.
//!
//! Stateless and idempotent: each workload records, in an annotation on its own metadata (which
//! does not roll it), the token id it was last restarted for and when (`<token id>@<RFC 3339>`).
//! A workload is restarted when that differs from the token in the Secret, the token is at least
//! the debounce window ([`Settings::rollout_debounce`](super::Settings)) old, so that several
//! re-signs in quick succession (a credential rotation right after a spec change) restart it
//! once, and its last restart for this token is at least its minimum restart interval
//! ([`MIN_RESTART_INTERVAL`], default [`DEFAULT_MIN_RESTART_INTERVAL`]) ago, so that whoever may
//! edit the token (renew-now, spec edits, a 1-minute ttl) cannot roll a consenting workload more
//! often than its owner allows. An operator restart, or a label-only change, restarts nothing. A
//! workload seen for the first time is only recorded: its pods started with whatever token was
//! there.
//!
//! Consent is read and the restart written in two requests, so the patch carries the
//! `metadata.resourceVersion` that was read: the API server refuses it (409 Conflict) if the
//! workload changed in between (its owner withdrawing consent, say), and the next attempt reads
//! the workload again.
//!
//! Each target is handled on its own: a target that fails (missing, forbidden, any other API
//! error) gets a Warning Event and is retried with backoff, and the others go on. The token stays
//! Ready whatever becomes of its targets: its Secret holds a valid token, and restarting a
//! workload is its owner's choice, reported on the token's Events.

use super::context::Context;
use crate::api::{VideoSdkToken, WorkloadKind};
use crate::rules::backoff;
use crate::rules::labels::FIELD_MANAGER;
use crate::time;
use aws_lc_rs::digest::{SHA256, digest};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use kube::api::{Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// The reason of the Warning Event on a token whose restart targets' pods may hold it past its
/// expiry before their next restart ([`restart_lag`]).
pub(crate) const RESTART_LAGS_RENEWAL: &str = "RolloutRestartLagsRenewal";

/// The pod template annotation `kubectl rollout restart` sets.
pub(crate) const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// The workload annotation by which its owner consents to restarts for tokens: a
/// comma-separated list of `VideoSdkToken` names in the workload's namespace (whitespace around a
/// name is ignored), e.g. `videosdk.live/restart-on-renewal: "api-token,room-token"`.
pub const RESTART_ON_RENEWAL: &str = "videosdk.live/restart-on-renewal";

/// The workload annotation by which its owner sets the least time between two restarts for one
/// token: a Go duration (`time.ParseDuration` syntax, e.g. `30m`, `0s`) from 0 to
/// [`MAX_MIN_RESTART_INTERVAL`]; without it, [`DEFAULT_MIN_RESTART_INTERVAL`].
pub const MIN_RESTART_INTERVAL: &str = "videosdk.live/min-restart-interval";

/// A workload is restarted for one token at most once in this time, unless it says otherwise.
pub(crate) const DEFAULT_MIN_RESTART_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The largest [`MIN_RESTART_INTERVAL`] a workload may set: 7 days, well past any token's useful
/// renewal period, and small enough that `last restart + interval` never overflows a clock time.
pub(crate) const MAX_MIN_RESTART_INTERVAL: Duration = Duration::from_secs(7 * 24 * 3600);

/// What to do with one workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The workload does not carry [`RESTART_ON_RENEWAL`] naming the token: nothing is written.
    NotConsented,
    /// It already runs with this token (or restarts for it): nothing.
    Nothing,
    /// First sight: record the token id without restarting.
    Record,
    /// Restart it now; the next restart for this token may come this interval later.
    Restart(Duration),
    /// The workload's [`MIN_RESTART_INTERVAL`] is not a duration from 0 to
    /// [`MAX_MIN_RESTART_INTERVAL`] (the value, as written): nothing is written.
    InvalidInterval(String),
    /// The token is younger than the debounce window, or the last restart for it is more recent
    /// than the workload's minimum restart interval: come back at this time.
    WaitUntil(SystemTime),
}

/// The workload annotation that records the token id it was restarted for. The token's name is
/// hashed into the key so that any token name fits the 63 characters an annotation name allows.
pub fn record_key(token_name: &str) -> String {
    let hash = digest(&SHA256, token_name.as_bytes());
    let hex: String = hash.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("videosdk.live/restarted-for-{hex}")
}

/// Whether a workload with `annotations` consents to restarts for token `token_name`.
pub(crate) fn consents(annotations: &BTreeMap<String, String>, token_name: &str) -> bool {
    annotations
        .get(RESTART_ON_RENEWAL)
        .is_some_and(|names| names.split(',').any(|n| n.trim() == token_name))
}

/// The minimum restart interval a workload with `annotations` asks for, or its value as written
/// when that is not a Go duration from 0 to [`MAX_MIN_RESTART_INTERVAL`].
fn min_restart_interval(annotations: &BTreeMap<String, String>) -> Result<Duration, String> {
    let Some(value) = annotations.get(MIN_RESTART_INTERVAL) else {
        return Ok(DEFAULT_MIN_RESTART_INTERVAL);
    };
    value
        .trim()
        .parse::<go_duration::GoDuration>()
        .ok()
        .and_then(|d| u64::try_from(d.as_nanos()).ok())
        .map(Duration::from_nanos)
        .filter(|d| *d <= MAX_MIN_RESTART_INTERVAL)
        .ok_or_else(|| value.clone())
}

/// The record annotation's value: the token id, and when the workload was restarted for it
/// (`<token id>@<RFC 3339>`; a first-sight record has no time, and one whose time does not parse
/// counts as none).
fn parse_record(value: &str) -> (&str, Option<SystemTime>) {
    match value.split_once('@') {
        Some((id, at)) => {
            let at = at
                .parse::<k8s_openapi::jiff::Timestamp>()
                .ok()
                .and_then(|t| u64::try_from(t.as_second()).ok())
                .map(time::from_unix);
            (id, at)
        }
        None => (value, None),
    }
}

/// The step for a workload with `annotations`, for token `token_name` whose Secret holds token
/// `token_id`, issued at `issued_at`.
pub fn plan(
    annotations: &BTreeMap<String, String>,
    token_name: &str,
    token_id: &str,
    issued_at: SystemTime,
    now: SystemTime,
    debounce: Duration,
) -> Step {
    if !consents(annotations, token_name) {
        return Step::NotConsented;
    }
    let Some(recorded) = annotations.get(&record_key(token_name)) else {
        return Step::Record;
    };
    let (recorded_id, restarted_at) = parse_record(recorded);
    if recorded_id == token_id {
        return Step::Nothing;
    }
    let interval = match min_restart_interval(annotations) {
        Ok(interval) => interval,
        Err(value) => return Step::InvalidInterval(value),
    };
    let mut ready = issued_at + debounce;
    if let Some(restarted_at) = restarted_at {
        ready = ready.max(restarted_at + interval);
    }
    if now < ready {
        Step::WaitUntil(ready)
    } else {
        Step::Restart(interval)
    }
}

/// How long after the token they read at start expires a workload's pods may still wait for
/// their next restart, at worst, for a token of lifetime `ttl` re-signed `window` before its
/// expiry (its renew window), a workload restarted at most every `interval` and the restart
/// `debounce`; `None` when the pods are always restarted before their token expires. The
/// rollout's own duration (new pods scheduled, started and ready) comes on top, and only the
/// user knows it.
///
/// The schedule ([`plan`]): a restart waits until the newest token is `debounce` old and the
/// previous restart `interval` ago. The pods read token `k` at their restart `R`, which came at
/// most `wait = max(interval, debounce)` after token `k` was issued (the previous restart came
/// before it), and before token `k + 1`, due `lead = ttl - window` after token `k` (or earlier,
/// by a renew-now or a spec change): so `R` is at most `min(wait, lead)` after token `k`. Their
/// next restart comes `debounce` after token `k + 1`, or `interval` after `R`, and then at most
/// `debounce` later if a re-sign (the schedule's or a renew-now) came just before: at most
/// `max(lead, min(wait, lead) + interval) + debounce` after token `k`, which expired `ttl`
/// after it. With the default 5m interval and 10 s debounce, that is up to 3m10s for `ttl: 6m`
/// (2m window), 2m10s for `ttl: 8m` with `renewBefore: 2m`, none for `ttl: 1h` with
/// `renewBefore: 2m`; with a window longer than the debounce (always: at least
/// `token::MIN_RENEW_BEFORE`, 2m) the lag is positive exactly when `ttl` is under
/// `interval + wait + debounce` and the window under `interval + debounce`. Re-signs closer
/// together than the debounce (only renew-nows can be) postpone the restart until they stop.
pub fn restart_lag(
    interval: Duration,
    debounce: Duration,
    ttl: Duration,
    window: Duration,
) -> Option<Duration> {
    let wait = interval.max(debounce);
    let lead = ttl.saturating_sub(window);
    let next_restart = lead.max(wait.min(lead) + interval) + debounce;
    next_restart.checked_sub(ttl).filter(|lag| !lag.is_zero())
}

/// What a failed target's Warning Event says: its reason and note.
fn failure(target: &str, namespace: &str, error: &kube::Error) -> (&'static str, String) {
    match error {
        kube::Error::Api(status) if status.is_not_found() => (
            "RolloutTargetNotFound",
            format!(
                "rolloutRestartTargets names {target}, which does not exist in namespace {namespace}"
            ),
        ),
        kube::Error::Api(status) if status.code == 409 => (
            "RolloutTargetChanged",
            format!(
                "{target} was not restarted: it changed between reading its consent and restarting it; it is read again"
            ),
        ),
        kube::Error::Api(status) if status.is_forbidden() => (
            "RolloutRestartForbidden",
            format!(
                "{target} was not restarted: the operator's install does not grant rollout restarts in namespace {namespace} \
                 (Helm: rolloutRestarts.enabled, rolloutRestarts.namespaces; kustomize: the components/rollout-restarts component)"
            ),
        ),
        kube::Error::Api(status) => (
            "RolloutRestartFailed",
            format!(
                "{target} was not restarted: the API server answered {} {}: {}",
                status.code, status.reason, status.message
            ),
        ),
        _ => (
            "RolloutRestartFailed",
            format!(
                "{target} was not restarted: the request to the API server got no answer it could read; retrying"
            ),
        ),
    }
}

/// Brings every target of `token` up to its current token; returns when to come back: when a
/// restart waits out the debounce window, or when a failed target is retried (with backoff, see
/// [`backoff::delay`]). Never fails: each target's failure is its own Warning Event. `ttl` is
/// the current token's lifetime and `renew_window` the time between its renewal and its expiry.
pub(crate) async fn sync(
    token: &VideoSdkToken,
    ctx: &Context,
    token_id: &str,
    issued_at: SystemTime,
    ttl: Duration,
    renew_window: Duration,
    now: SystemTime,
) -> Option<SystemTime> {
    let namespace = token.namespace().unwrap_or_default();
    let token_name = token.name_any();
    let mut wake = None;
    let mut failed = false;
    let moment = (token_id, issued_at, now, ctx.settings.rollout_debounce);
    for target in &token.spec.rollout_restart_targets {
        let client = ctx.client.clone();
        let result = match target.kind {
            WorkloadKind::Deployment => {
                step(
                    Api::<Deployment>::namespaced(client, &namespace),
                    &token_name,
                    &target.name,
                    moment,
                )
                .await
            }
            WorkloadKind::StatefulSet => {
                step(
                    Api::<StatefulSet>::namespaced(client, &namespace),
                    &token_name,
                    &target.name,
                    moment,
                )
                .await
            }
            WorkloadKind::DaemonSet => {
                step(
                    Api::<DaemonSet>::namespaced(client, &namespace),
                    &token_name,
                    &target.name,
                    moment,
                )
                .await
            }
        };
        let described = format!("{:?} {}", target.kind, target.name);
        let (type_, reason, note) = match result {
            Ok(Step::WaitUntil(at)) => {
                wake = Some(wake.map_or(at, |w: SystemTime| w.min(at)));
                continue;
            }
            Ok(Step::Nothing | Step::Record) => continue,
            Ok(Step::Restart(interval)) => {
                let debounce = ctx.settings.rollout_debounce;
                if let Some(lag) = restart_lag(interval, debounce, ttl, renew_window) {
                    let wait = interval.max(debounce);
                    let note = format!(
                        "{described} restarts for this token at most every {} ({MIN_RESTART_INTERVAL}), and the token lives {} with a renew window of {}: \
                         after a re-sign soon after its last restart, its pods, which read the token at start, may hold an expired token for up to {} \
                         plus the rollout's duration; set the token's ttl to at least {} or its renewBefore to at least {}, either plus the rollout's duration, \
                         or lower {MIN_RESTART_INTERVAL}",
                        go_duration::format_human(interval),
                        go_duration::format_human(ttl),
                        go_duration::format_human(renew_window),
                        go_duration::format_human(lag),
                        go_duration::format_human(interval + wait + debounce),
                        go_duration::format_human(interval + debounce),
                    );
                    tracing::warn!(token = %super::display::namespaced_name(token), reason = RESTART_LAGS_RENEWAL, "{note}");
                    ctx.publish(
                        token,
                        EventType::Warning,
                        RESTART_LAGS_RENEWAL,
                        "RolloutRestart",
                        note,
                    )
                    .await;
                }
                (
                    EventType::Normal,
                    "RolloutRestarted",
                    format!(
                        "restarted {described} for token {token_id}; its next restart for this token is not before {} \
                     ({MIN_RESTART_INTERVAL}: {})",
                        time::rfc3339(time::to_unix(now + interval)),
                        go_duration::format_human(interval)
                    ),
                )
            }
            Ok(Step::InvalidInterval(value)) => (
                EventType::Warning,
                "RolloutRestartIntervalInvalid",
                format!(
                    "{described} was not restarted: its annotation {MIN_RESTART_INTERVAL}={value:?} is not a duration \
                     from 0s to {} (Go syntax, e.g. 30m)",
                    go_duration::format_human(MAX_MIN_RESTART_INTERVAL)
                ),
            ),
            Ok(Step::NotConsented) => (
                EventType::Warning,
                "RolloutRestartNotConsented",
                format!(
                    "{described} was not restarted: it does not consent to restarts for this token; \
                     its owner can annotate it {RESTART_ON_RENEWAL}={token_name} (a comma-separated list of token names)"
                ),
            ),
            Err(error) => {
                failed = true;
                let (reason, note) = failure(&described, &namespace, &error);
                (EventType::Warning, reason, note)
            }
        };
        tracing::info!(token = %super::display::namespaced_name(token), reason, "{note}");
        ctx.publish(token, type_, reason, "RolloutRestart", note)
            .await;
    }
    if failed {
        let retry = now + backoff::delay(ctx.memory.count_rollout_failure(token), None);
        wake = Some(wake.map_or(retry, |w| w.min(retry)));
    } else {
        ctx.memory.forget_rollout_failures(token);
    }
    wake
}

/// Characters percent-encoded in a path segment: all but the unreserved ones of RFC 3986 §2.3.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `name` as one path segment. kube's `Api` puts a name into the request path as it is, so a
/// target name that bypassed admission (stored before the CRD's pattern existed), such as
/// `web?dryRun=All`, would otherwise reach the API server as a query string.
fn path_segment(name: &str) -> String {
    utf8_percent_encode(name, PATH_SEGMENT).to_string()
}

async fn step<K>(
    api: Api<K>,
    token_name: &str,
    name: &str,
    (token_id, issued_at, now, debounce): (&str, SystemTime, SystemTime, Duration),
) -> Result<Step, kube::Error>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = path_segment(name);
    let meta = api.get_metadata(&name).await?.metadata;
    let annotations = meta.annotations.clone().unwrap_or_default();
    let step = plan(&annotations, token_name, token_id, issued_at, now, debounce);
    write(&api, &name, &meta, token_name, token_id, now, &step).await?;
    Ok(step)
}

/// The merge patch for `step` of the workload read as `read`, or None when nothing is written.
/// It carries the `resourceVersion` that was read, as a precondition: the consent it was planned
/// from still holds when the API server applies it, or the server answers 409 Conflict.
fn patch_for(
    read: &kube::core::ObjectMeta,
    token_name: &str,
    token_id: &str,
    now: SystemTime,
    step: &Step,
) -> Option<serde_json::Value> {
    let now = time::rfc3339(time::to_unix(now));
    let (record, spec) = match step {
        Step::Record => (token_id.to_owned(), None),
        Step::Restart(_) => (
            format!("{token_id}@{now}"),
            Some(
                serde_json::json!({"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}),
            ),
        ),
        Step::NotConsented | Step::InvalidInterval(_) | Step::Nothing | Step::WaitUntil(_) => {
            return None;
        }
    };
    let mut patch = serde_json::json!({"metadata": {
        "resourceVersion": read.resource_version,
        "annotations": {record_key(token_name): record},
    }});
    if let Some(spec) = spec {
        patch["spec"] = spec;
    }
    Some(patch)
}

/// Writes `step` to the workload `name` read as `read`.
async fn write<K>(
    api: &Api<K>,
    name: &str,
    read: &kube::core::ObjectMeta,
    token_name: &str,
    token_id: &str,
    now: SystemTime,
    step: &Step,
) -> Result<(), kube::Error>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let Some(patch) = patch_for(read, token_name, token_id, now, step) else {
        return Ok(());
    };
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    api.patch(name, &params, &Patch::Merge(&patch)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The debounce the tests plan with (the default, `context::DEFAULT_ROLLOUT_DEBOUNCE`).
    const DEFAULT_DEBOUNCE: Duration = Duration::from_secs(10);

    fn at(secs: u64) -> SystemTime {
        time::from_unix(1_800_000_000 + secs)
    }

    fn consenting() -> BTreeMap<String, String> {
        BTreeMap::from([(RESTART_ON_RENEWAL.to_owned(), "other, t".to_owned())])
    }

    fn recorded(token_id: &str) -> BTreeMap<String, String> {
        let mut annotations = consenting();
        annotations.insert(record_key("t"), token_id.to_owned());
        annotations
    }

    #[test]
    fn the_restart_lag_follows_the_schedule() {
        let (minute, debounce) = (Duration::from_secs(60), DEFAULT_DEBOUNCE);
        let (five, ten_s) = (DEFAULT_MIN_RESTART_INTERVAL, Duration::from_secs(10));
        // ttl 6m, the default window of a third (2m): renewal 4m after issuance, a restart up to
        // 4m after it, the next 5m (and a debounce) later: 9m10s, 3m10s past expiry.
        assert_eq!(
            restart_lag(five, debounce, 6 * minute, 2 * minute),
            Some(3 * minute + ten_s)
        );
        // ttl 8m, renewBefore 2m: restart up to 5m after issuance, the next at 10m10s.
        assert_eq!(
            restart_lag(five, debounce, 8 * minute, 2 * minute),
            Some(2 * minute + ten_s)
        );
        // A window shorter than the interval, but a ttl of at least twice the interval plus the
        // debounce: the restart that took token k comes 5m after it at most, the next 5m10s
        // later, within its lifetime. (The rule before counted the window alone and warned.)
        assert_eq!(restart_lag(five, debounce, 60 * minute, 2 * minute), None);
        assert_eq!(
            restart_lag(five, debounce, 24 * 60 * minute, 2 * minute),
            None
        );
        assert_eq!(
            restart_lag(five, debounce, 10 * minute + ten_s, 2 * minute),
            None
        );
        assert_eq!(
            restart_lag(five, debounce, 10 * minute, 2 * minute),
            Some(ten_s)
        );
        // A window of at least the interval plus the debounce: the restart comes before the
        // renewal.
        assert_eq!(
            restart_lag(five, debounce, 6 * minute, 5 * minute + ten_s),
            None
        );
        assert_eq!(
            restart_lag(five, debounce, 6 * minute, 5 * minute),
            Some(ten_s)
        );
        assert_eq!(
            restart_lag(five, debounce, 8 * 60 * minute, 8 * 60 * minute / 3),
            None
        );
        // An interval of 0s still waits out the debounce, which every legal window covers; a
        // window shorter than the debounce (not admitted) lags by the difference.
        assert_eq!(
            restart_lag(Duration::ZERO, debounce, 2 * minute + debounce, 2 * minute),
            None
        );
        assert_eq!(
            restart_lag(Duration::ZERO, debounce, 2 * minute, Duration::from_secs(4)),
            Some(Duration::from_secs(6))
        );
    }

    /// The worst case is real: replayed through [`plan`], a renew-now just over a minute after
    /// a restart of a `ttl: 6m` token's workload, and another just before the next restart was
    /// due, leave the pods restarted for the first with an expired token for (within 2 s) the
    /// 3m10s [`restart_lag`] says.
    #[test]
    fn the_worst_restart_lag_happens() {
        let (ttl, lead) = (360, 240);
        let mut workload = consenting();
        workload.insert(
            record_key("t"),
            format!("a@{}", time::rfc3339(1_800_000_000)),
        );
        // Token b: a renew-now at 61 s; its restart waits for the interval, until 300 s.
        assert_eq!(
            plan(&workload, "t", "b", at(61), at(71), DEFAULT_DEBOUNCE),
            Step::WaitUntil(at(300))
        );
        assert_eq!(
            plan(&workload, "t", "b", at(61), at(300), DEFAULT_DEBOUNCE),
            Step::Restart(DEFAULT_MIN_RESTART_INTERVAL)
        );
        workload.insert(
            record_key("t"),
            format!("b@{}", time::rfc3339(1_800_000_300)),
        );
        // Token c at b's scheduled renewal (61 + 240 s) waits for the interval, until 600 s;
        // a renew-now (token d) at 599 s then waits for the debounce, until 609 s. b expired at
        // 421 s.
        assert_eq!(
            plan(
                &workload,
                "t",
                "c",
                at(61 + lead),
                at(61 + lead),
                DEFAULT_DEBOUNCE
            ),
            Step::WaitUntil(at(600))
        );
        assert_eq!(
            plan(&workload, "t", "d", at(599), at(599), DEFAULT_DEBOUNCE),
            Step::WaitUntil(at(609))
        );
        let late = Duration::from_secs(609 - (61 + ttl));
        let worst = restart_lag(
            DEFAULT_MIN_RESTART_INTERVAL,
            DEFAULT_DEBOUNCE,
            Duration::from_secs(ttl),
            Duration::from_secs(ttl - lead),
        );
        assert_eq!(worst, Some(Duration::from_secs(190)));
        assert_eq!(late, Duration::from_secs(188));
    }

    #[test]
    fn first_sight_records_without_restarting() {
        assert_eq!(
            plan(&consenting(), "t", "a", at(0), at(100), DEFAULT_DEBOUNCE),
            Step::Record
        );
    }

    #[test]
    fn a_workload_without_consent_for_the_token_is_never_written() {
        let without = |value: Option<&str>| {
            let mut annotations = BTreeMap::from([(record_key("t"), "a".to_owned())]);
            if let Some(value) = value {
                annotations.insert(RESTART_ON_RENEWAL.to_owned(), value.to_owned());
            }
            plan(&annotations, "t", "b", at(0), at(100), DEFAULT_DEBOUNCE)
        };
        for value in [None, Some(""), Some("other"), Some("t2,tt"), Some("*")] {
            assert_eq!(without(value), Step::NotConsented, "{value:?}");
        }
        assert_eq!(
            plan(&BTreeMap::new(), "t", "a", at(0), at(100), DEFAULT_DEBOUNCE),
            Step::NotConsented
        );
        assert_eq!(
            without(Some(" other , t ")),
            Step::Restart(DEFAULT_MIN_RESTART_INTERVAL)
        );
    }

    #[test]
    fn each_failure_says_what_happened_without_client_library_text() {
        let status = |code: u16, reason: &str| {
            kube::Error::Api(
                kube::core::Status::failure("the message", reason)
                    .with_code(code)
                    .boxed(),
            )
        };
        let cases = [
            (
                status(404, "NotFound"),
                "RolloutTargetNotFound",
                "rolloutRestartTargets names Deployment web, which does not exist in namespace apps",
            ),
            (
                status(403, "Forbidden"),
                "RolloutRestartForbidden",
                "Deployment web was not restarted: the operator's install does not grant rollout restarts in namespace apps",
            ),
            (
                status(500, "InternalError"),
                "RolloutRestartFailed",
                "Deployment web was not restarted: the API server answered 500 InternalError: the message",
            ),
            (
                kube::Error::LinesCodecMaxLineLengthExceeded,
                "RolloutRestartFailed",
                "Deployment web was not restarted: the request to the API server got no answer it could read; retrying",
            ),
        ];
        for (error, reason, note) in cases {
            let (got_reason, got_note) = failure("Deployment web", "apps", &error);
            assert_eq!(got_reason, reason);
            assert!(got_note.starts_with(note), "{got_note}");
        }
    }

    #[test]
    fn target_names_are_one_path_segment() {
        let request = kube::core::Request::new("/apis/apps/v1/namespaces/n/deployments");
        for (name, path) in [
            ("web", "/apis/apps/v1/namespaces/n/deployments/web"),
            (
                "web?dryRun=All",
                "/apis/apps/v1/namespaces/n/deployments/web%3FdryRun%3DAll",
            ),
            (
                "../secrets/x",
                "/apis/apps/v1/namespaces/n/deployments/..%2Fsecrets%2Fx",
            ),
            ("a#b c", "/apis/apps/v1/namespaces/n/deployments/a%23b%20c"),
        ] {
            let built = request
                .get(&path_segment(name), &Default::default())
                .unwrap();
            assert_eq!(built.uri().path(), path, "{name}");
            assert_eq!(built.uri().query(), None, "{name}");
        }
    }

    /// Against the in-memory API server: a target name with a query string (one that bypassed
    /// admission) reaches the server as a name, so it is not found, and the workload whose
    /// name it starts with is neither read nor written.
    #[tokio::test]
    async fn a_target_name_with_a_query_string_touches_no_workload() {
        use kube::api::PostParams;
        use kube_apiserver_memory::{ApiServer, ApiServerOptions};
        let server = ApiServer::start(ApiServerOptions::default())
            .await
            .expect("the server starts");
        let api: Api<Deployment> = Api::namespaced(server.client(), "default");
        let web: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "annotations": {RESTART_ON_RENEWAL: "t"}},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "app", "image": "example/app:1"}]}}}
        }))
        .unwrap();
        api.create(&PostParams::default(), &web).await.unwrap();
        let moment = ("a", at(0), at(100), DEFAULT_DEBOUNCE);
        for name in ["web?x=1", "web?dryRun=All", "web/status"] {
            let error = step(api.clone(), "t", name, moment).await.unwrap_err();
            assert!(
                matches!(&error, kube::Error::Api(s) if s.is_not_found()),
                "{name}: {error:?}"
            );
        }
        let web = api.get("web").await.unwrap();
        assert!(
            !web.annotations().contains_key(&record_key("t")),
            "Deployment web was written: {:?}",
            web.annotations()
        );
        assert_eq!(step(api, "t", "web", moment).await.unwrap(), Step::Record);
    }

    #[test]
    fn the_same_token_restarts_nothing() {
        assert_eq!(
            plan(&recorded("a"), "t", "a", at(0), at(100), DEFAULT_DEBOUNCE),
            Step::Nothing
        );
    }

    #[test]
    fn a_new_token_restarts_once_the_debounce_window_passed() {
        assert_eq!(
            plan(&recorded("a"), "t", "b", at(0), at(3), DEFAULT_DEBOUNCE),
            Step::WaitUntil(at(10))
        );
        assert_eq!(
            plan(&recorded("a"), "t", "b", at(0), at(10), DEFAULT_DEBOUNCE),
            Step::Restart(DEFAULT_MIN_RESTART_INTERVAL)
        );
    }

    /// A workload last restarted for token `t` at `at(restarted)`, with its interval annotation.
    fn restarted(restarted: u64, interval: Option<&str>) -> BTreeMap<String, String> {
        let mut annotations = recorded(&format!(
            "a@{}",
            time::rfc3339(time::to_unix(at(restarted)))
        ));
        if let Some(interval) = interval {
            annotations.insert(MIN_RESTART_INTERVAL.to_owned(), interval.to_owned());
        }
        annotations
    }

    /// Review of issue 20: whoever may edit the token (renew-now, spec edits, ttl 1m) re-signs it
    /// every few seconds; the consenting workload is restarted at most once per interval.
    #[test]
    fn a_workload_is_restarted_at_most_once_per_minimum_interval() {
        let plan_at = |annotations: &BTreeMap<String, String>, issued: u64, now: u64| {
            plan(annotations, "t", "b", at(issued), at(now), DEFAULT_DEBOUNCE)
        };
        // Default 5 min from the last restart, whatever the re-signs in between.
        let default = restarted(0, None);
        for (issued, now) in [(10, 20), (100, 110), (280, 299)] {
            assert_eq!(
                plan_at(&default, issued, now),
                Step::WaitUntil(at(300)),
                "{issued} {now}"
            );
        }
        assert_eq!(
            plan_at(&default, 280, 300),
            Step::Restart(DEFAULT_MIN_RESTART_INTERVAL)
        );
        // The debounce window still applies past the interval.
        assert_eq!(plan_at(&default, 298, 300), Step::WaitUntil(at(308)));
        // The workload's owner lowers or raises it.
        assert_eq!(
            plan_at(&restarted(0, Some("0s")), 10, 20),
            Step::Restart(Duration::ZERO)
        );
        assert_eq!(
            plan_at(&restarted(0, Some("1h")), 10, 20),
            Step::WaitUntil(at(3600))
        );
        assert_eq!(
            plan_at(&restarted(0, Some(" 30s ")), 10, 30),
            Step::Restart(Duration::from_secs(30))
        );
        assert_eq!(
            plan_at(&restarted(0, Some("168h")), 10, 20),
            Step::WaitUntil(at(168 * 3600))
        );
        // A record without a time (first sight, or written before the interval existed), or with
        // one that does not parse: only the debounce window.
        for record in ["a", "a@yesterday"] {
            assert_eq!(
                plan_at(&recorded(record), 10, 20),
                Step::Restart(DEFAULT_MIN_RESTART_INTERVAL),
                "{record}"
            );
        }
    }

    #[test]
    fn an_invalid_minimum_interval_restarts_nothing_and_says_so() {
        for value in ["", "5", "-1s", "soon", "169h", "168h1ns"] {
            let annotations = restarted(0, Some(value));
            assert_eq!(
                plan(
                    &annotations,
                    "t",
                    "b",
                    at(0),
                    at(1_000_000),
                    DEFAULT_DEBOUNCE
                ),
                Step::InvalidInterval(value.to_owned()),
                "{value:?}"
            );
            // Checked only when a restart is due: the same token reports nothing.
            assert_eq!(
                plan(
                    &annotations,
                    "t",
                    "a",
                    at(0),
                    at(1_000_000),
                    DEFAULT_DEBOUNCE
                ),
                Step::Nothing
            );
        }
    }

    #[test]
    fn a_restart_records_the_token_id_and_time_under_the_read_resource_version() {
        let read = kube::core::ObjectMeta {
            resource_version: Some("42".to_owned()),
            ..Default::default()
        };
        let restart = patch_for(&read, "t", "b", at(0), &Step::Restart(Duration::ZERO)).unwrap();
        assert_eq!(
            restart,
            serde_json::json!({
                "metadata": {"resourceVersion": "42",
                             "annotations": {record_key("t"): "b@2027-01-15T08:00:00Z"}},
                "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: "2027-01-15T08:00:00Z"}}}},
            })
        );
        assert_eq!(parse_record("b@2027-01-15T08:00:00Z"), ("b", Some(at(0))));
        let record = patch_for(&read, "t", "b", at(0), &Step::Record).unwrap();
        assert_eq!(
            record,
            serde_json::json!({"metadata": {"resourceVersion": "42", "annotations": {record_key("t"): "b"}}})
        );
        for step in [
            Step::NotConsented,
            Step::Nothing,
            Step::WaitUntil(at(1)),
            Step::InvalidInterval("x".to_owned()),
        ] {
            assert_eq!(patch_for(&read, "t", "b", at(0), &step), None, "{step:?}");
        }
    }

    /// Review of issue 20: the owner withdrawing consent between the operator's read and its
    /// patch gets no restart (409 Conflict), and the next attempt reads the withdrawal.
    #[tokio::test]
    async fn consent_withdrawn_after_the_read_restarts_nothing() {
        use kube::api::PostParams;
        use kube_apiserver_memory::{ApiServer, ApiServerOptions};
        let server = ApiServer::start(ApiServerOptions::default())
            .await
            .expect("the server starts");
        let api: Api<Deployment> = Api::namespaced(server.client(), "default");
        let web: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "annotations": {RESTART_ON_RENEWAL: "t", record_key("t"): "a"}},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "app", "image": "example/app:1"}]}}}
        }))
        .unwrap();
        api.create(&PostParams::default(), &web).await.unwrap();
        let read = api.get_metadata("web").await.unwrap().metadata;
        let annotations = read.annotations.clone().unwrap_or_default();
        let step = plan(&annotations, "t", "b", at(0), at(100), DEFAULT_DEBOUNCE);
        assert_eq!(step, Step::Restart(DEFAULT_MIN_RESTART_INTERVAL));
        // The owner withdraws consent.
        let withdraw = serde_json::json!({"metadata": {"annotations": {RESTART_ON_RENEWAL: null}}});
        api.patch("web", &PatchParams::default(), &Patch::Merge(&withdraw))
            .await
            .unwrap();
        let error = write(&api, "web", &read, "t", "b", at(100), &step)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, kube::Error::Api(s) if s.code == 409),
            "{error:?}"
        );
        assert_eq!(
            failure("Deployment web", "default", &error).0,
            "RolloutTargetChanged"
        );
        let web = api.get("web").await.unwrap();
        assert_eq!(
            web.spec.unwrap().template.metadata.unwrap().annotations,
            None,
            "restarted without consent"
        );
        let moment = ("b", at(0), at(100), DEFAULT_DEBOUNCE);
        assert_eq!(step_of(&api, moment).await, Step::NotConsented);
    }

    async fn step_of(
        api: &Api<Deployment>,
        moment: (&str, SystemTime, SystemTime, Duration),
    ) -> Step {
        step(api.clone(), "t", "web", moment).await.unwrap()
    }

    #[test]
    fn record_keys_are_valid_annotation_names_for_any_token_name() {
        let long = "a".repeat(253);
        for name in ["t", long.as_str()] {
            let key = record_key(name);
            let (prefix, short) = key.split_once('/').unwrap();
            assert_eq!(prefix, "videosdk.live");
            assert!(short.len() <= 63);
        }
        assert_ne!(record_key("a"), record_key("b"));
    }
}
