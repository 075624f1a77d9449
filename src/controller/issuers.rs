//! Reconcile of `VideoSdkIssuer` and `ClusterVideoSdkIssuer`: `Ready` when the credentials
//! Secret exists and holds a well-formed API key and secret and the policy is well-formed;
//! otherwise `Ready=False` with the reason. Tokens do not wait for this status: they check their
//! issuer's credentials themselves, with the same functions, so the two never disagree.
//!
//! The same three steps as a token's: gather (the credentials Secret from the cache), plan
//! ([`plan`], pure), write (the status and the Event of a transition).
//!
//! Two installations (each with its own cluster resource namespace) both reconcile every
//! `ClusterVideoSdkIssuer`, and would judge it from different Secrets. So that they do not
//! rewrite each other's status in a loop, an installation writes its cluster resource
//! namespace into the status (`status.clusterResourceNamespace`), and leaves alone a status
//! that another one wrote: it publishes a `ConflictingInstallation` Warning Event instead
//! ([`written_elsewhere`]). Nothing of this installation depends on that status (tokens and
//! token requests check the credentials themselves), so only the display is the other's.

use super::context::Context;
use super::display;
use super::error::Error;
use super::reason::Reason;
use super::writes;
use crate::api::{
    ClusterVideoSdkIssuer, CredentialsSecretRef, IssuerPolicy, IssuerStatus, VideoSdkIssuer,
};
use crate::rules::problem::Problem;
use crate::rules::{backoff, credentials, policy, status};
use crate::token;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

/// Reconciles a namespaced issuer; its credentials live in its own namespace.
pub(crate) async fn reconcile_namespaced(
    issuer: Arc<VideoSdkIssuer>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let namespace = issuer.namespace().unwrap_or_default();
    let spec = &issuer.spec;
    let outcome = check(
        &ctx,
        &spec.credentials_secret_ref,
        &spec.policy,
        None,
        &namespace,
    )
    .await;
    write(&*issuer, issuer.status.as_ref(), outcome, None, &ctx).await?;
    Ok(Action::await_change())
}

/// Reconciles a cluster issuer; its credentials live in the cluster resource namespace.
pub(crate) async fn reconcile_cluster(
    issuer: Arc<ClusterVideoSdkIssuer>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let spec = &issuer.spec;
    let namespace = ctx.settings.cluster_resource_namespace.clone();
    if let Some(other) = written_elsewhere(issuer.status.as_ref(), &namespace) {
        let message = format!(
            "another installation of the operator, with cluster resource namespace {other}, writes this issuer's status; this one (cluster resource namespace {namespace}) leaves it alone: keep cluster issuers to one installation, or remove the status to hand it over"
        );
        tracing::warn!(issuer = %display::namespaced_name(&*issuer), "{message}");
        ctx.publish(
            &*issuer,
            EventType::Warning,
            Reason::ConflictingInstallation.as_str(),
            "CheckCredentials",
            message,
        )
        .await;
        return Ok(Action::await_change());
    }
    let outcome = check(
        &ctx,
        &spec.credentials_secret_ref,
        &spec.policy,
        spec.namespace_selector.as_ref(),
        &namespace,
    )
    .await;
    write(
        &*issuer,
        issuer.status.as_ref(),
        outcome,
        Some(namespace),
        &ctx,
    )
    .await?;
    Ok(Action::await_change())
}

/// The cluster resource namespace of another installation that wrote `status`, when it is not
/// `ours`; `None` when the status is this installation's to write (none yet, or written before
/// the marker existed, or by this installation).
fn written_elsewhere<'a>(status: Option<&'a IssuerStatus>, ours: &str) -> Option<&'a str> {
    status
        .and_then(|s| s.cluster_resource_namespace.as_deref())
        .filter(|writer| *writer != ours)
}

/// Issuers are retried only on change: their problems are all fixed by a change that a watch
/// brings (the issuer itself, or its credentials Secret).
pub(crate) fn error_policy<K>(issuer: Arc<K>, error: &Error, _ctx: Arc<Context>) -> Action
where
    K: Resource<DynamicType = ()>,
{
    tracing::warn!(issuer = %display::namespaced_name(&*issuer), %error, "issuer reconcile failed; retrying");
    Action::requeue(backoff::MAX / 10)
}

/// Gathers what the plan needs (the credentials Secret, from the cache) and plans.
async fn check(
    ctx: &Context,
    secret_ref: &CredentialsSecretRef,
    issuer_policy: &IssuerPolicy,
    selector: Option<&LabelSelector>,
    namespace: &str,
) -> Result<String, Problem> {
    let secret = ctx.credentials.get(namespace, &secret_ref.name).await;
    plan(
        secret.as_deref(),
        secret_ref,
        issuer_policy,
        selector,
        namespace,
    )
}

/// The plan, a pure function of the issuer and its credentials Secret (`secret`, in
/// `namespace`): the API key's fingerprint when everything is in order, else the problem.
fn plan(
    secret: Option<&Secret>,
    secret_ref: &CredentialsSecretRef,
    issuer_policy: &IssuerPolicy,
    selector: Option<&LabelSelector>,
    namespace: &str,
) -> Result<String, Problem> {
    policy::check_policy(issuer_policy)
        .map_err(|e| Problem::new(Reason::InvalidPolicy, e.to_string()))?;
    if let Some(selector) = selector {
        policy::selector_matches(Some(selector), &BTreeMap::new()).map_err(|e| {
            Problem::new(
                Reason::InvalidNamespaceSelector,
                format!("spec.namespaceSelector: {e}"),
            )
        })?;
    }
    let credentials = credentials::read(secret, secret_ref, namespace)?;
    Ok(token::fingerprint(credentials.api_key()))
}

/// Writes the issuer's status if it changed, with an Event when readiness or its reason changes;
/// `cluster_resource_namespace` is the marker of a cluster issuer's status.
async fn write<K>(
    issuer: &K,
    previous: Option<&IssuerStatus>,
    outcome: Result<String, Problem>,
    cluster_resource_namespace: Option<String>,
    ctx: &Context,
) -> Result<(), Error>
where
    K: Resource<DynamicType = ()>,
{
    let previous = previous.cloned().unwrap_or_default();
    let generation = issuer.meta().generation;
    let now = SystemTime::now();
    let (reason, message, fingerprint) = match &outcome {
        Ok(fingerprint) => (
            Reason::CredentialsValid,
            format!("credentials are well-formed (API key sha256:{fingerprint})"),
            Some(fingerprint.clone()),
        ),
        Err(p) => (p.reason, p.message.clone(), None),
    };
    let new = IssuerStatus {
        observed_generation: generation.unwrap_or_default(),
        conditions: status::conditions(
            reason,
            message.clone(),
            generation,
            &previous.conditions,
            now,
        ),
        api_key_fingerprint: fingerprint,
        cluster_resource_namespace,
    };
    if new == previous {
        return Ok(());
    }
    writes::patch_status(&ctx.client, issuer, &new).await?;
    if status::ready_of(&previous.conditions).map(|c| c.reason.as_str()) != Some(reason.as_str()) {
        let type_ = if outcome.is_ok() {
            EventType::Normal
        } else {
            EventType::Warning
        };
        // As for tokens: a problem a person must fix (a Warning Event) is logged at WARN.
        if outcome.is_ok() {
            tracing::info!(issuer = %display::namespaced_name(issuer), reason = reason.as_str(), "{message}");
        } else {
            tracing::warn!(issuer = %display::namespaced_name(issuer), reason = reason.as_str(), "{message}");
        }
        ctx.publish(issuer, type_, reason.as_str(), "CheckCredentials", message)
            .await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use serde_json::json;

    fn secret_ref() -> CredentialsSecretRef {
        serde_json::from_value(json!({"name": "creds"})).unwrap()
    }

    #[test]
    fn a_status_another_installation_wrote_is_told_apart() {
        let written_by = |marker: Option<&str>| IssuerStatus {
            cluster_resource_namespace: marker.map(str::to_owned),
            ..IssuerStatus::default()
        };
        assert_eq!(written_elsewhere(None, "ours"), None, "no status yet");
        assert_eq!(
            written_elsewhere(Some(&written_by(None)), "ours"),
            None,
            "before the marker"
        );
        assert_eq!(
            written_elsewhere(Some(&written_by(Some("ours"))), "ours"),
            None
        );
        assert_eq!(
            written_elsewhere(Some(&written_by(Some("theirs"))), "ours"),
            Some("theirs")
        );
    }

    #[test]
    fn the_plan_checks_policy_selector_and_credentials_in_turn() {
        let good = Secret {
            data: Some(BTreeMap::from([
                ("apiKey".to_owned(), ByteString(b"key".to_vec())),
                ("secret".to_owned(), ByteString(b"s3cret".to_vec())),
            ])),
            ..Secret::default()
        };
        let open = IssuerPolicy::default();
        assert_eq!(
            plan(Some(&good), &secret_ref(), &open, None, "ns"),
            Ok(token::fingerprint("key"))
        );
        let bad_policy: IssuerPolicy = serde_json::from_value(json!({"maxTtl": "1d"})).unwrap();
        let reason = |r: Result<String, Problem>| r.unwrap_err().reason;
        assert_eq!(
            reason(plan(Some(&good), &secret_ref(), &bad_policy, None, "ns")),
            Reason::InvalidPolicy
        );
        let selector: LabelSelector =
            serde_json::from_value(json!({"matchExpressions": [{"key": "a", "operator": "Gt"}]}))
                .unwrap();
        assert_eq!(
            reason(plan(
                Some(&good),
                &secret_ref(),
                &open,
                Some(&selector),
                "ns"
            )),
            Reason::InvalidNamespaceSelector
        );
        assert_eq!(
            reason(plan(None, &secret_ref(), &open, None, "ns")),
            Reason::SecretNotFound
        );
    }
}
