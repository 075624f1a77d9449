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
//! does not roll it), the token id it was last restarted for. A workload is restarted when that
//! differs from the token in the Secret and the token is at least the debounce window ([`Settings::rollout_debounce`](super::Settings)) old, so that
//! several re-signs in quick succession (a credential rotation right after a spec change) restart
//! it once, and an operator restart, or a label-only change, restarts nothing. A workload seen
//! for the first time is only recorded: its pods started with whatever token was there.
//!
//! Each target is handled on its own: a target that fails (missing, forbidden, any other API
//! error) gets a Warning Event and is retried with backoff, and the others go on. The token stays
//! Ready whatever becomes of its targets: its Secret holds a valid token, and restarting a
//! workload is its owner's choice, reported on the token's Events.

use super::backoff;
use super::context::Context;
use super::labels::FIELD_MANAGER;
use crate::api::{VideoSdkToken, WorkloadKind};
use crate::time;
use aws_lc_rs::digest::{SHA256, digest};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use kube::api::{Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// Re-signs closer together than this restart a workload once, by default.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_secs(10);

/// The pod template annotation `kubectl rollout restart` sets.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// The workload annotation by which its owner consents to restarts for tokens: a
/// comma-separated list of `VideoSdkToken` names in the workload's namespace (whitespace around a
/// name is ignored), e.g. `videosdk.live/restart-on-renewal: "api-token,room-token"`.
pub const RESTART_ON_RENEWAL: &str = "videosdk.live/restart-on-renewal";

/// What to do with one workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The workload does not carry [`RESTART_ON_RENEWAL`] naming the token: nothing is written.
    NotConsented,
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

/// Whether a workload with `annotations` consents to restarts for token `token_name`.
pub fn consents(annotations: &BTreeMap<String, String>, token_name: &str) -> bool {
    annotations
        .get(RESTART_ON_RENEWAL)
        .is_some_and(|names| names.split(',').any(|n| n.trim() == token_name))
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
    match annotations.get(&record_key(token_name)) {
        None => Step::Record,
        Some(recorded) if recorded == token_id => Step::Nothing,
        Some(_) if now < issued_at + debounce => Step::WaitUntil(issued_at + debounce),
        Some(_) => Step::Restart,
    }
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
/// [`backoff::delay`]). Never fails: each target's failure is its own Warning Event.
pub async fn sync(
    token: &VideoSdkToken,
    ctx: &Context,
    token_id: &str,
    issued_at: SystemTime,
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
            Ok(Step::Restart) => (
                EventType::Normal,
                "RolloutRestarted",
                format!("restarted {described} for token {token_id}"),
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
    let meta = api.get_metadata(&name).await?;
    let annotations = meta.metadata.annotations.clone().unwrap_or_default();
    let step = plan(&annotations, token_name, token_id, issued_at, now, debounce);
    let record =
        serde_json::json!({"metadata": {"annotations": {record_key(token_name): token_id}}});
    let patch = match step {
        Step::Record => record,
        Step::Restart => {
            let mut patch = record;
            patch["spec"] = serde_json::json!({"template": {"metadata": {"annotations": {
                RESTARTED_AT: time::rfc3339(time::to_unix(now))
            }}}});
            patch
        }
        Step::NotConsented | Step::Nothing | Step::WaitUntil(_) => return Ok(step),
    };
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    api.patch(&name, &params, &Patch::Merge(&patch)).await?;
    Ok(step)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(without(Some(" other , t ")), Step::Restart);
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
