//! Step 3 of a token's reconcile: apply the plan — the Secret when it must change, the Event
//! of a (re-)signing or of a new problem, the status when it changed, the rollout restarts —
//! and say when to reconcile again (the renewal time, or a backoff while a problem lasts).

use super::plan::{Issued, Plan};
use super::remaining;
use crate::api::{VideoSdkToken, VideoSdkTokenStatus};
use crate::controller::context::Context;
use crate::controller::decision::ResignReason;
use crate::controller::error::Error;
use crate::controller::labels::FIELD_MANAGER;
use crate::controller::reason::Reason;
use crate::controller::{backoff, display, rollout, secret, status};
use crate::time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use std::time::{Duration, SystemTime};

/// Applies `plan` for `token`, planned at `now`.
///
/// Errors: an API request failed (the reconcile is retried with backoff).
pub(super) async fn write(
    token: &VideoSdkToken,
    ctx: &Context,
    plan: Plan,
    now: SystemTime,
) -> Result<Action, Error> {
    let previous = token.status.clone().unwrap_or_default();
    let generation = token.meta().generation;
    let secret_name = secret::secret_name(token);
    match plan {
        Plan::Ready { issued, apply } => {
            if let Some(desired) = apply {
                let secrets: Api<k8s_openapi::api::core::v1::Secret> =
                    Api::namespaced(ctx.client.clone(), &token.namespace().unwrap_or_default());
                secrets
                    .patch(
                        &secret_name,
                        &PatchParams::apply(FIELD_MANAGER).force(),
                        &Patch::Apply(&*desired),
                    )
                    .await?;
            }
            ctx.memory.forget_errors(token);
            ctx.memory.remember_expiry(token, issued.claims.exp);
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
                announce(token, ctx, reason, &issued, &secret_name).await;
            }
            write_status(token, ctx, &previous, new_status).await?;
            let restart_wake = rollout::sync(
                token,
                ctx,
                issued.claims.jti.as_deref().unwrap_or_default(),
                time::from_unix(issued.claims.iat),
                now,
            )
            .await?;
            let wake = restart_wake.map_or(issued.renewal_time, |w| w.min(issued.renewal_time));
            Ok(Action::requeue(
                wake.duration_since(now).unwrap_or(Duration::ZERO),
            ))
        }
        Plan::NotReady(problem) => {
            ctx.memory.forget_errors(token);
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
                tracing::warn!(token = %display::namespaced_name(token), reason = problem.reason.as_str(), "{}", problem.message);
                ctx.publish(
                    token,
                    EventType::Warning,
                    problem.reason.as_str(),
                    "Issue",
                    problem.message,
                )
                .await;
            }
            write_status(token, ctx, &previous, new_status).await?;
            // Watches bring most fixes at once (issuer, credentials, spec); a retry with backoff
            // covers the rest (a foreign Secret deleted, namespace labels changed).
            Ok(Action::requeue(backoff::delay(
                u32::try_from(failures).unwrap_or(u32::MAX),
                remaining(ctx.memory.expiry(token), now),
            )))
        }
    }
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
