//! Reconcile of a `VideoSdkToken`: resolve its issuer and credentials, check the issuer's policy,
//! decide from its Secret whether to re-sign, write the Secret and the status, and schedule the
//! next reconcile at the renewal time.

use super::context::Context;
use super::decision::{self, Decision, Desired, ResignReason};
use super::error::Error;
use super::labels::FIELD_MANAGER;
use super::problem::Problem;
use super::reason::Reason;
use super::stored::StoredToken;
use super::{backoff, credentials, display, policy, rollout, secret, status};
use crate::api::{IssuerKind, RENEW_NOW_ANNOTATION, VideoSdkToken, VideoSdkTokenStatus};
use crate::time;
use crate::token::{self, Claims, Credentials, RenewBefore, TokenRequest};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// What the token needs from its issuer, once everything checked out.
struct Prepared {
    request: TokenRequest,
    renew_before: RenewBefore,
    credentials: Credentials,
}

/// The token in the Secret after a successful reconcile.
struct Issued {
    claims: Claims,
    renewal_time: SystemTime,
    /// The renew-now value it answers.
    renew_now_handled: Option<String>,
    /// Why it was (re-)signed now; `None` when the stored token was kept.
    resigned: Option<ResignReason>,
}

/// Reconciles one token.
pub async fn reconcile(token: Arc<VideoSdkToken>, ctx: Arc<Context>) -> Result<Action, Error> {
    if token.meta().deletion_timestamp.is_some() {
        // The Secret goes with it, by its ownerReference.
        return Ok(Action::await_change());
    }
    let now = SystemTime::now();
    let started = std::time::Instant::now();
    let namespace = token.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let secret_name = secret::secret_name(&token);
    let existing = secrets.get_opt(&secret_name).await?;

    let outcome = match prepare(&token, &ctx, &namespace).await? {
        Err(problem) => Err(problem),
        Ok(_)
            if existing
                .as_ref()
                .is_some_and(|s| !secret::is_owned_by(s, &token)) =>
        {
            Err(Problem::new(
                Reason::SecretNotOwned,
                format!(
                    "Secret {namespace}/{secret_name} exists and was not created for this VideoSdkToken, so it is left untouched: delete it, or set spec.secretName to another name"
                ),
            ))
        }
        Ok(prepared) => Ok(issue(&token, prepared, existing.as_ref(), &secrets, now).await?),
    };
    ctx.memory.forget_errors(&token);
    let previous = token.status.clone().unwrap_or_default();
    let generation = token.meta().generation;
    match outcome {
        Ok(issued) => {
            ctx.memory.remember_expiry(&token, issued.claims.exp);
            let condition = status::ready_condition(
                Reason::Issued,
                format!("Secret {secret_name} holds a valid token"),
                generation,
                &previous.conditions,
                now,
            );
            let times = status::TokenTimes {
                token_id: issued.claims.jti.clone(),
                not_before: time::to_k8s(time::from_unix(issued.claims.iat)),
                not_after: time::to_k8s(time::from_unix(issued.claims.exp)),
                renewal_time: time::to_k8s(issued.renewal_time),
                renew_now_handled: issued.renew_now_handled.clone(),
            };
            let new_status = status::ready(condition, times, secret_name.clone());
            // The Event before the status: a reader who sees the new status finds its Event.
            if let Some(reason) = issued.resigned {
                ctx.metrics.count_issuance(reason);
                announce(&token, &ctx, reason, &issued, &secret_name).await;
            }
            write_status(&token, &ctx, &previous, new_status).await?;
            let restart_wake = rollout::sync(
                &token,
                &ctx,
                issued.claims.jti.as_deref().unwrap_or_default(),
                time::from_unix(issued.claims.iat),
                now,
            )
            .await?;
            let wake = restart_wake.map_or(issued.renewal_time, |w| w.min(issued.renewal_time));
            ctx.metrics.observe_reconcile(started.elapsed());
            Ok(Action::requeue(
                wake.duration_since(now).unwrap_or(Duration::ZERO),
            ))
        }
        Err(problem) => {
            let was = status::ready_of(&previous.conditions).map(|c| c.reason.clone());
            let condition = status::ready_condition(
                problem.reason,
                problem.message.clone(),
                generation,
                &previous.conditions,
                now,
            );
            let new_status = status::not_ready(&previous, condition, now);
            let failures = new_status.failed_issuance_attempts.unwrap_or(1);
            if was.as_deref() != Some(problem.reason.as_str()) {
                tracing::warn!(token = %display::namespaced_name(&*token), reason = problem.reason.as_str(), "{}", problem.message);
                ctx.publish(
                    &*token,
                    EventType::Warning,
                    problem.reason.as_str(),
                    "Issue",
                    problem.message,
                )
                .await;
            }
            write_status(&token, &ctx, &previous, new_status).await?;
            // Watches bring most fixes at once (issuer, credentials, spec); a retry with backoff
            // covers the rest (a foreign Secret deleted, namespace labels changed).
            let delay = backoff::delay(
                u32::try_from(failures).unwrap_or(u32::MAX),
                remaining(ctx.memory.expiry(&token), now),
            );
            ctx.metrics.observe_reconcile(started.elapsed());
            Ok(Action::requeue(delay))
        }
    }
}

/// Retry delay after an API or signing error, with exponential backoff per token, capped inside
/// the lifetime of the token its Secret still holds.
pub fn error_policy(token: Arc<VideoSdkToken>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.count_error(error.metric_label());
    let failures = ctx.memory.count_error(&token);
    let delay = backoff::delay(
        failures,
        remaining(ctx.memory.expiry(&token), SystemTime::now()),
    );
    tracing::warn!(token = %display::namespaced_name(&*token), error = %error, kind = error.metric_label(), retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// How long the token in the Secret has left, given when it expires (Unix seconds).
fn remaining(expires: Option<u64>, now: SystemTime) -> Option<Duration> {
    let expires = time::from_unix(expires?);
    Some(expires.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Resolves the issuer, its credentials and policy; `Ok(Err(problem))` for bad input.
async fn prepare(
    token: &VideoSdkToken,
    ctx: &Context,
    namespace: &str,
) -> Result<Result<Prepared, Problem>, Error> {
    let invalid_spec = |e: &dyn std::fmt::Display| Problem::new(Reason::InvalidSpec, e.to_string());
    let request = match TokenRequest::from_spec(&token.spec) {
        Ok(request) => request,
        Err(e) => return Ok(Err(invalid_spec(&e))),
    };
    let renew_before = match RenewBefore::from_spec(&token.spec) {
        Ok(renew_before) => renew_before,
        Err(e) => return Ok(Err(invalid_spec(&e))),
    };
    let issuer_ref = &token.spec.issuer_ref;
    let (secret_ref, issuer_policy, secret_namespace, describe) = match issuer_ref.kind {
        IssuerKind::VideoSdkIssuer => {
            let key = ObjectRef::new(&issuer_ref.name).within(namespace);
            let Some(issuer) = ctx.issuers.get(&key) else {
                let hint = if ctx
                    .cluster_issuers
                    .get(&ObjectRef::new(&issuer_ref.name))
                    .is_some()
                {
                    " (a ClusterVideoSdkIssuer of that name exists: set issuerRef.kind: ClusterVideoSdkIssuer)"
                } else {
                    " (a VideoSdkIssuer must be in the token's own namespace; to share one issuer across namespaces use a ClusterVideoSdkIssuer)"
                };
                return Ok(Err(Problem::new(
                    Reason::IssuerNotFound,
                    format!(
                        "VideoSdkIssuer {namespace}/{} does not exist{hint}",
                        issuer_ref.name
                    ),
                )));
            };
            let describe = format!("VideoSdkIssuer {namespace}/{}", issuer_ref.name);
            (
                issuer.spec.credentials_secret_ref.clone(),
                issuer.spec.policy.clone(),
                namespace.to_owned(),
                describe,
            )
        }
        IssuerKind::ClusterVideoSdkIssuer => {
            let Some(issuer) = ctx.cluster_issuers.get(&ObjectRef::new(&issuer_ref.name)) else {
                let local = ObjectRef::new(&issuer_ref.name).within(namespace);
                let hint = if ctx.issuers.get(&local).is_some() {
                    " (a VideoSdkIssuer of that name exists in this namespace: set issuerRef.kind: VideoSdkIssuer or leave it out)"
                } else {
                    ""
                };
                return Ok(Err(Problem::new(
                    Reason::IssuerNotFound,
                    format!(
                        "ClusterVideoSdkIssuer {} does not exist{hint}",
                        issuer_ref.name
                    ),
                )));
            };
            let describe = format!("ClusterVideoSdkIssuer {}", issuer_ref.name);
            if let Some(problem) =
                namespace_refused(ctx, &issuer.spec.namespace_selector, namespace, &describe)
                    .await?
            {
                return Ok(Err(problem));
            }
            (
                issuer.spec.credentials_secret_ref.clone(),
                issuer.spec.policy.clone(),
                ctx.settings.cluster_resource_namespace.clone(),
                describe,
            )
        }
    };
    if let Err(e) = policy::check_policy(&issuer_policy) {
        return Ok(Err(Problem::new(
            Reason::IssuerNotReady,
            format!("{describe} has an invalid policy: {e}"),
        )));
    }
    let secret = ctx
        .credentials
        .get(&secret_namespace, &secret_ref.name)
        .await;
    let credentials = match credentials::read(secret.as_ref(), &secret_ref, &secret_namespace) {
        Ok(credentials) => credentials,
        Err(p) => {
            return Ok(Err(Problem::new(
                Reason::IssuerNotReady,
                format!("{describe} is not ready ({}): {}", p.reason, p.message),
            )));
        }
    };
    if let Some(violation) = policy::violation(&request, &issuer_policy, &describe) {
        return Ok(Err(Problem::new(Reason::PolicyViolation, violation)));
    }
    Ok(Ok(Prepared {
        request,
        renew_before,
        credentials,
    }))
}

/// Whether a cluster issuer's namespaceSelector refuses the token's namespace.
async fn namespace_refused(
    ctx: &Context,
    selector: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    namespace: &str,
    describe: &str,
) -> Result<Option<Problem>, Error> {
    let Some(selector) = selector else {
        return Ok(None);
    };
    let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
    let labels = namespaces
        .get_metadata(namespace)
        .await?
        .metadata
        .labels
        .unwrap_or_default();
    Ok(match policy::selector_matches(Some(selector), &labels) {
        Ok(true) => None,
        Ok(false) => Some(Problem::new(
            Reason::NamespaceNotAllowed,
            format!("the namespaceSelector of {describe} does not admit namespace {namespace}"),
        )),
        Err(e) => Some(Problem::new(
            Reason::IssuerNotReady,
            format!("{describe} has an invalid namespaceSelector (InvalidNamespaceSelector): {e}"),
        )),
    })
}

/// Keeps or re-signs the token and brings the Secret to what it should be: the token, and every
/// mark the operator leaves (labels, annotations, ownerReference), restored if a tool removed
/// them, without re-signing a token that is right.
async fn issue(
    token: &VideoSdkToken,
    prepared: Prepared,
    existing: Option<&Secret>,
    secrets: &Api<Secret>,
    now: SystemTime,
) -> Result<Issued, Error> {
    let stored = existing.map(StoredToken::from_secret);
    let spec_hash = prepared.request.fingerprint();
    let renew_now = token
        .annotations()
        .get(RENEW_NOW_ANNOTATION)
        .map(String::as_str);
    let status = token.status.as_ref();
    let uid = token.uid().unwrap_or_default();
    let desired = Desired {
        request: &prepared.request,
        spec_hash: &spec_hash,
        credentials: &prepared.credentials,
        renew_now,
        renew_now_answered: status.and_then(|s| s.renew_now_handled.as_deref()),
        recorded_token_id: status.and_then(|s| s.token_id.as_deref()),
        renew_before: prepared.renew_before,
        uid: &uid,
    };
    let (jwt, claims, renewal_time, resigned, renew_now_handled) =
        match decision::decide(stored.as_ref(), &desired, now) {
            Decision::Keep {
                renewal_time,
                claims,
            } => {
                let stored = stored.expect("a kept token was read from its Secret");
                let jwt = stored.jwt.expect("a kept token has a JWT");
                // A kept token answers a pending renew-now value already (or none was asked).
                let handled = renew_now.map(str::to_owned).or(stored.renew_now_handled);
                (jwt, *claims, renewal_time, None, handled)
            }
            Decision::Resign(reason) => {
                let signed = token::sign(&prepared.request, &prepared.credentials, now)?;
                let renewal_time = token::renewal_time(
                    time::from_unix(signed.claims.iat),
                    time::from_unix(signed.claims.exp),
                    prepared.renew_before,
                    &uid,
                )
                .unwrap_or(now);
                let handled = renew_now.map(str::to_owned);
                (
                    signed.jwt,
                    signed.claims,
                    renewal_time,
                    Some(reason),
                    handled,
                )
            }
        };
    // What the Secret records is rebuilt from what was just checked or signed, never copied
    // from the Secret: an edited annotation is corrected, a removed one restored.
    let record = StoredToken {
        jwt: None,
        token_id: None,
        token_uid: None,
        spec_hash: Some(spec_hash),
        credentials_hash: Some(prepared.credentials.fingerprint()),
        renew_now_handled: renew_now_handled.clone(),
    };
    let desired_secret = secret::desired(token, &jwt, record.annotations(&claims));
    if existing.is_none_or(|e| secret::needs_apply(e, &desired_secret)) {
        let params = PatchParams::apply(FIELD_MANAGER).force();
        secrets
            .patch(
                &secret::secret_name(token),
                &params,
                &Patch::Apply(&desired_secret),
            )
            .await?;
    }
    Ok(Issued {
        claims,
        renewal_time,
        renew_now_handled,
        resigned,
    })
}

/// Writes `new` as the token's status unless it is what is there already.
async fn write_status(
    token: &VideoSdkToken,
    ctx: &Context,
    previous: &VideoSdkTokenStatus,
    new: VideoSdkTokenStatus,
) -> Result<(), Error> {
    // The token in the cache may predate the operator's own last status write (the Secret's
    // watch event can bring a reconcile before the token's does), so compare with that too.
    let fingerprint = status_fingerprint(&new);
    if &new == previous || ctx.memory.last_status(token) == Some(fingerprint) {
        return Ok(());
    }
    let api: Api<VideoSdkToken> =
        Api::namespaced(ctx.client.clone(), &token.namespace().unwrap_or_default());
    let patch = serde_json::json!({
        "apiVersion": VideoSdkToken::api_version(&()),
        "kind": VideoSdkToken::kind(&()),
        "metadata": {"name": ResourceExt::name_any(token), "namespace": ResourceExt::namespace(token)},
        "status": new,
    });
    api.patch_status(
        &token.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    ctx.memory.remember_status(token, fingerprint);
    Ok(())
}

/// The log line and Event of an issuance or renewal.
async fn announce(
    token: &VideoSdkToken,
    ctx: &Context,
    reason: ResignReason,
    issued: &Issued,
    secret_name: &str,
) {
    let first = reason == ResignReason::Missing
        && token
            .status
            .as_ref()
            .and_then(|s| s.token_id.as_ref())
            .is_none();
    let verb = if first { "Issued" } else { "Renewed" };
    let note = format!(
        "{verb} token {} into Secret {secret_name} ({reason}); expires {}, renews {}",
        issued.claims.jti.as_deref().unwrap_or("-"),
        time::rfc3339(issued.claims.exp),
        time::rfc3339(time::to_unix(issued.renewal_time)),
    );
    tracing::info!(token = %display::namespaced_name(token), reason = reason.as_str(), "{note}");
    ctx.publish(token, EventType::Normal, verb, "Sign", note)
        .await;
}

/// A process-local fingerprint of a status, to remember what was last written without keeping
/// a copy of it per token.
fn status_fingerprint(status: &VideoSdkTokenStatus) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    serde_json::to_string(status)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}
