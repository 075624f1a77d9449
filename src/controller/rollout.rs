//! Restarting the workloads that read a token only at start (`spec.rolloutRestartTargets`), as
//! `kubectl rollout restart` does, after the token is re-signed.
//!
//! Stateless and idempotent: each workload records, in an annotation on its own metadata (which
//! does not roll it), the token id it was last restarted for. A workload is restarted when that
//! differs from the token in the Secret and the token is at least the debounce window ([`Settings::rollout_debounce`](super::Settings)) old, so that
//! several re-signs in quick succession (a credential rotation right after a spec change) restart
//! it once, and an operator restart, or a label-only change, restarts nothing. A workload seen
//! for the first time is only recorded: its pods started with whatever token was there.

use super::context::Context;
use super::labels::FIELD_MANAGER;
use crate::api::{VideoSdkToken, WorkloadKind};
use crate::time;
use aws_lc_rs::digest::{SHA256, digest};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use kube::api::{Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// Re-signs closer together than this restart a workload once, by default.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_secs(10);

/// The pod template annotation `kubectl rollout restart` sets.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// What to do with one workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// It already runs with this token (or restarts for it): nothing.
    Nothing,
    /// First sight: record the token id without restarting.
    Record,
    /// Restart it now.
    Restart,
    /// The token is younger than the debounce window: come back at this time.
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
    match annotations.get(&record_key(token_name)) {
        None => Step::Record,
        Some(recorded) if recorded == token_id => Step::Nothing,
        Some(_) if now < issued_at + debounce => Step::WaitUntil(issued_at + debounce),
        Some(_) => Step::Restart,
    }
}

/// Brings every target of `token` up to its current token; returns when to come back, if a
/// restart waits out the debounce window. A missing workload is reported (Event) and skipped:
/// it does not make the token itself unready.
pub async fn sync(
    token: &VideoSdkToken,
    ctx: &Context,
    token_id: &str,
    issued_at: SystemTime,
    now: SystemTime,
) -> Result<Option<SystemTime>, kube::Error> {
    let namespace = token.namespace().unwrap_or_default();
    let mut wake = None;
    let moment = (token_id, issued_at, now, ctx.settings.rollout_debounce);
    for target in &token.spec.rollout_restart_targets {
        let client = ctx.client.clone();
        let result = match target.kind {
            WorkloadKind::Deployment => {
                step(
                    Api::<Deployment>::namespaced(client, &namespace),
                    token,
                    &target.name,
                    moment,
                )
                .await
            }
            WorkloadKind::StatefulSet => {
                step(
                    Api::<StatefulSet>::namespaced(client, &namespace),
                    token,
                    &target.name,
                    moment,
                )
                .await
            }
            WorkloadKind::DaemonSet => {
                step(
                    Api::<DaemonSet>::namespaced(client, &namespace),
                    token,
                    &target.name,
                    moment,
                )
                .await
            }
        };
        match result {
            Ok(Step::WaitUntil(at)) => wake = Some(wake.map_or(at, |w: SystemTime| w.min(at))),
            Ok(Step::Restart) => {
                let note = format!(
                    "restarted {:?} {} for token {token_id}",
                    target.kind, target.name
                );
                tracing::info!(token = %super::display::namespaced_name(token), "{note}");
                ctx.publish(
                    token,
                    EventType::Normal,
                    "RolloutRestarted",
                    "RolloutRestart",
                    note,
                )
                .await;
            }
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.is_not_found() => {
                let note = format!(
                    "rolloutRestartTargets names {:?} {}, which does not exist in namespace {namespace}",
                    target.kind, target.name
                );
                ctx.publish(
                    token,
                    EventType::Warning,
                    "RolloutTargetNotFound",
                    "RolloutRestart",
                    note,
                )
                .await;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(wake)
}

async fn step<K>(
    api: Api<K>,
    token: &VideoSdkToken,
    name: &str,
    (token_id, issued_at, now, debounce): (&str, SystemTime, SystemTime, Duration),
) -> Result<Step, kube::Error>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let meta = api.get_metadata(name).await?;
    let annotations = meta.metadata.annotations.clone().unwrap_or_default();
    let step = plan(
        &annotations,
        &token.name_any(),
        token_id,
        issued_at,
        now,
        debounce,
    );
    let record =
        serde_json::json!({"metadata": {"annotations": {record_key(&token.name_any()): token_id}}});
    let patch = match step {
        Step::Record => record,
        Step::Restart => {
            let mut patch = record;
            patch["spec"] = serde_json::json!({"template": {"metadata": {"annotations": {
                RESTARTED_AT: time::rfc3339(time::to_unix(now))
            }}}});
            patch
        }
        Step::Nothing | Step::WaitUntil(_) => return Ok(step),
    };
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    api.patch(name, &params, &Patch::Merge(&patch)).await?;
    Ok(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        time::from_unix(1_800_000_000 + secs)
    }

    fn recorded(token_id: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(record_key("t"), token_id.to_owned())])
    }

    #[test]
    fn first_sight_records_without_restarting() {
        assert_eq!(
            plan(&BTreeMap::new(), "t", "a", at(0), at(100), DEFAULT_DEBOUNCE),
            Step::Record
        );
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
            Step::Restart
        );
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
