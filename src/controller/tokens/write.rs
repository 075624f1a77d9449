//! Step 3 of a token's reconcile: apply the plan — the Secret when it must change, the Event
//! of a (re-)signing or of a new problem, the status when it changed, the rollout restarts —
//! and say when to reconcile again (the renewal time, or a backoff while a problem lasts).

use super::gather::Inputs;
use super::plan::{Issued, Plan};
use super::remaining;
use crate::api::{VideoSdkToken, VideoSdkTokenStatus};
use crate::controller::cached::WatchedSecret;
use crate::controller::context::Context;
use crate::controller::error::Error;
use crate::controller::events::{Occurrence, clip};
use crate::controller::managed_secrets::{Verified, resource_version};
use crate::controller::reason::Reason;
use crate::controller::{display, rollout, writes};
use crate::rules::decision::ResignReason;
use crate::rules::labels::FIELD_MANAGER;
use crate::rules::problem::Problem;
use crate::rules::{backoff, secret, status};
use crate::time;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use std::time::{Duration, SystemTime};

/// What became of a plan.
pub(super) enum Outcome {
    /// Applied; reconcile again after this.
    Done(Action),
    /// Nothing written: the Secret is not the one the plan was decided from (one of that name
    /// exists, or it changed since it was read); read it and decide again.
    SecretChanged,
}

/// Applies `plan` for `token`, planned at `now`.
///
/// Errors: an API request failed (the reconcile is retried with backoff).
pub(super) async fn write(
    token: &VideoSdkToken,
    ctx: &Context,
    plan: Plan,
    inputs: &Inputs,
    now: SystemTime,
) -> Result<Outcome, Error> {
    let previous = token.status.clone().unwrap_or_default();
    let generation = token.meta().generation;
    let secret_name = secret::secret_name(token);
    match plan {
        Plan::Ready { issued, apply } => {
            let written = match apply {
                Some(mut desired) => {
                    let precondition = ctx.secrets.precondition(&inputs.existing);
                    desired.metadata.resource_version = precondition.resource_version.clone();
                    // Only the written Secret's metadata is asked back, and only its
                    // resourceVersion is read of it.
                    let secrets: Api<WatchedSecret> =
                        Api::namespaced(ctx.client.clone(), &token.namespace().unwrap_or_default());
                    let params = PatchParams::apply(FIELD_MANAGER).force();
                    match secrets
                        .patch(&secret_name, &params, &Patch::Apply(&*desired))
                        .await
                    {
                        Ok(secret) => Some(secret),
                        Err(kube::Error::Api(status)) if status.is_conflict() => {
                            return Ok(Outcome::SecretChanged);
                        }
                        Err(error) if ctx.secrets.create_refused(&precondition, &error) => {
                            return Ok(Outcome::SecretChanged);
                        }
                        Err(kube::Error::Api(status)) if refused_for_the_spec(status.code) => {
                            // The same write would be refused again: report it as bad input.
                            // The Secret keeps the token it holds, and status its record of it.
                            let problem = Problem::new(
                                Reason::SecretRejected,
                                format!(
                                    "the API server refused to write Secret {secret_name}: {}",
                                    clip(&status.message, MAX_SERVER_MESSAGE)
                                ),
                            );
                            return not_ready(token, ctx, problem, &previous, now).await;
                        }
                        Err(error) => return Err(error.into()),
                    }
                }
                None => None,
            };
            ctx.memory.forget_errors(token);
            ctx.memory.remember_expiry(token, issued.claims.exp);
            ctx.secrets.record(
                token,
                verified(&issued, written.as_ref().map(|s| &s.metadata), inputs),
            );
            let ignored = secret::operator_owned_template_keys(token);
            let message = if ignored.is_empty() {
                format!("Secret {secret_name} holds a valid token")
            } else {
                format!(
                    "Secret {secret_name} holds a valid token; left out of it: secretTemplate {}, keys that are the operator's own (videosdk.live/, app.kubernetes.io/managed-by)",
                    ignored.join(", ")
                )
            };
            let announce_ignored = !ignored.is_empty()
                && status::ready_of(&previous.conditions).map(|c| &c.message) != Some(&message);
            let conditions = status::conditions(
                Reason::Issued,
                message.clone(),
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
            let new_status = status::ready(conditions, generation, times, secret_name.clone());
            if announce_ignored {
                tracing::warn!(token = %display::namespaced_name(token), "{message}");
                ctx.publish(
                    token,
                    EventType::Warning,
                    OPERATOR_KEYS_IGNORED,
                    "Write",
                    message,
                )
                .await;
            }
            write_status(token, ctx, &previous, new_status).await?;
            // The Event after the status, off the path to Ready (`routine_events`).
            if let Some(reason) = issued.resigned {
                ctx.metrics.count_issuance(reason);
                announce(token, ctx, reason, &issued, &secret_name);
            }
            let restart_wake = rollout::sync(
                token,
                ctx,
                issued.claims.jti.as_deref().unwrap_or_default(),
                time::from_unix(issued.claims.iat),
                Duration::from_secs(issued.claims.exp.saturating_sub(issued.claims.iat)),
                time::from_unix(issued.claims.exp)
                    .duration_since(issued.renewal_time)
                    .unwrap_or(Duration::ZERO),
                now,
            )
            .await;
            let wake = restart_wake.map_or(issued.renewal_time, |w| w.min(issued.renewal_time));
            Ok(Outcome::Done(Action::requeue(
                wake.duration_since(now).unwrap_or(Duration::ZERO),
            )))
        }
        Plan::NotReady(problem) => not_ready(token, ctx, problem, &previous, now).await,
    }
}

/// The Event reason of a Ready token whose `secretTemplate` has keys that are the operator's
/// own, left out of the Secret.
pub(crate) const OPERATOR_KEYS_IGNORED: &str = "OperatorKeysIgnored";

/// Whether an API server's refusal of a write (its HTTP status `code`) is about what was
/// written, so that the same write would be refused again: 400 Bad Request, 413 Request Entity
/// Too Large, 422 Invalid (Kubernetes API conventions, "HTTP Status codes").
fn refused_for_the_spec(code: u16) -> bool {
    matches!(code, 400 | 413 | 422)
}

/// The most bytes of an API server's message quoted in a condition and its Event: a message
/// about dozens of bad keys runs to kilobytes, and an Event's note is cut at
/// [`crate::controller::events::NOTE_LENGTH_LIMIT`] anyway.
const MAX_SERVER_MESSAGE: usize = 600;

/// Reports `problem` (`Ready=False`, its Event when the reason is new, the failure count) and
/// retries with backoff.
async fn not_ready(
    token: &VideoSdkToken,
    ctx: &Context,
    problem: Problem,
    previous: &VideoSdkTokenStatus,
    now: SystemTime,
) -> Result<Outcome, Error> {
    ctx.memory.forget_errors(token);
    let was = status::ready_of(&previous.conditions).map(|c| c.reason.clone());
    let generation = token.meta().generation;
    let conditions = status::conditions(
        problem.reason,
        problem.message.clone(),
        generation,
        &previous.conditions,
        now,
    );
    let new_status = status::not_ready(previous, conditions, generation, now);
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
    write_status(token, ctx, previous, new_status).await?;
    // Watches bring most fixes at once (issuer, credentials, spec); a retry with backoff
    // covers the rest (a foreign Secret deleted, namespace labels changed).
    Ok(Outcome::Done(Action::requeue(backoff::delay(
        u32::try_from(failures).unwrap_or(u32::MAX),
        remaining(ctx.memory.expiry(token, token.status.as_ref()), now),
    ))))
}

/// Reports a reconcile that failed with `error` and is retried with backoff: `Reconciling=True`
/// with reason `ApiError` and a message naming the failure (HTTP status and reason, never the
/// client library's text), `Ready` and `observedGeneration` as they were (they describe the
/// token the Secret still holds). Nothing is written for an error that is not an API error. A
/// failure of this write too (the API server is down) is only logged: the retry comes anyway.
pub(super) async fn retrying(token: &VideoSdkToken, ctx: &Context, error: &Error, now: SystemTime) {
    let Some(message) = retry_message(error) else {
        return;
    };
    let previous = token.status.clone().unwrap_or_default();
    let new = VideoSdkTokenStatus {
        conditions: status::retrying(
            &previous.conditions,
            Reason::ApiError,
            message,
            token.meta().generation,
            now,
        ),
        ..previous.clone()
    };
    if let Err(error) = write_status(token, ctx, &previous, new).await {
        tracing::debug!(token = %display::namespaced_name(token), kind = error.metric_label(), "the Reconciling condition of a retry was not written");
    }
}

/// The message of `Reconciling=True` after `error`, if it is an API error: the answer's HTTP
/// status and reason (Kubernetes API conventions, "HTTP Status codes"), that it did not answer
/// within a request's deadline ([`crate::request_timeout`]), or that it could not be reached.
fn retry_message(error: &Error) -> Option<String> {
    let what = match error {
        Error::Kube(kube::Error::Api(status)) => format!(
            "the Kubernetes API answered {} {}",
            status.code,
            if status.reason.is_empty() {
                "to a request"
            } else {
                status.reason.as_str()
            }
        ),
        Error::Kube(error) => match crate::request_timeout::timed_out(error) {
            Some(timed_out) => timed_out.to_string(),
            None => "the Kubernetes API could not be reached".to_owned(),
        },
        Error::SecretChanging => "the Secret changed again while it was being written".to_owned(),
        Error::AttemptTimedOut(_) => error.to_string(),
        Error::Sign(_) | Error::Decode(_) => return None,
    };
    Some(format!("{what}; retrying with backoff"))
}

/// What the operator now knows of the Secret without reading it again: the Secret it just
/// wrote (`written`: its metadata as the write answered), or read and kept, holds `issued`;
/// `None` when its resourceVersion is not a number.
pub(super) fn verified(
    issued: &Issued,
    written: Option<&ObjectMeta>,
    inputs: &Inputs,
) -> Option<Verified> {
    let resource_version = match written {
        Some(meta) => resource_version(meta),
        None => inputs.existing.resource_version(),
    }?;
    Some(Verified {
        resource_version,
        iat: issued.claims.iat,
        jti: uuid::Uuid::try_parse(issued.claims.jti.as_deref()?).ok()?,
        inputs: inputs.fingerprint,
        credentials: inputs.issuer.credentials_fingerprint()?,
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
    writes::patch_status(&ctx.client, token, &new).await?;
    ctx.memory.remember_status(token, fingerprint);
    Ok(())
}

/// The log line of an issuance or renewal, and its Event queued.
fn announce(
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
    let occurrence = Occurrence {
        type_: EventType::Normal,
        reason: verb,
        action: "Sign",
    };
    ctx.routine_events.queue(token, occurrence, note);
}

/// A process-local fingerprint of a status, to remember what was last written without keeping
/// a copy of it per token. It leaves out the conditions' `lastTransitionTime`: a reconcile that
/// sees a cached token from before the operator's own last status write computes the same
/// status but a new transition time (it finds no earlier condition to keep it from), and
/// writing that again would be a second status write for one issuance, with a transition time
/// that moved although nothing transitioned. A real transition changes the status itself.
fn status_fingerprint(status: &VideoSdkTokenStatus) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut value = serde_json::to_value(status).unwrap_or_default();
    if let Some(conditions) = value
        .get_mut("conditions")
        .and_then(serde_json::Value::as_array_mut)
    {
        for condition in conditions
            .iter_mut()
            .filter_map(serde_json::Value::as_object_mut)
        {
            condition.remove("lastTransitionTime");
        }
    }
    let mut hasher = DefaultHasher::new();
    value.to_string().hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
    use std::time::UNIX_EPOCH;

    #[test]
    fn a_retry_says_what_the_api_server_did() {
        let timed_out = kube::Error::Service(Box::new(crate::request_timeout::TimedOut(
            Duration::from_secs(30),
        )));
        assert_eq!(
            retry_message(&Error::Kube(timed_out)).as_deref(),
            Some("the Kubernetes API did not answer within 30s; retrying with backoff")
        );
        assert_eq!(
            retry_message(&Error::AttemptTimedOut(Duration::from_secs(2))).as_deref(),
            Some(
                "the Kubernetes API did not answer within 2s, a tenth of the token's remaining \
                 lifetime; retrying with backoff"
            )
        );
        let refused = kube::Error::Service("connection refused".into());
        assert_eq!(
            retry_message(&Error::Kube(refused)).as_deref(),
            Some("the Kubernetes API could not be reached; retrying with backoff")
        );
    }

    #[test]
    fn only_refusals_of_what_was_written_are_the_specs() {
        assert!(
            refused_for_the_spec(422) && refused_for_the_spec(400) && refused_for_the_spec(413)
        );
        assert!(
            !refused_for_the_spec(409) && !refused_for_the_spec(500) && !refused_for_the_spec(403)
        );
    }

    #[test]
    fn the_status_fingerprint_ignores_only_the_transition_time() {
        let at = |secs: u64| time::to_k8s(UNIX_EPOCH + Duration::from_secs(secs));
        let status = |ready: &str, transition: u64| VideoSdkTokenStatus {
            conditions: vec![Condition {
                type_: "Ready".into(),
                status: ready.into(),
                reason: "Issued".into(),
                message: "m".into(),
                observed_generation: Some(1),
                last_transition_time: at(transition),
            }],
            token_id: Some("id".into()),
            ..VideoSdkTokenStatus::default()
        };
        assert_eq!(
            status_fingerprint(&status("True", 1_800_000_000)),
            status_fingerprint(&status("True", 1_800_000_001))
        );
        assert_ne!(
            status_fingerprint(&status("True", 1_800_000_000)),
            status_fingerprint(&status("False", 1_800_000_000))
        );
        let mut other_id = status("True", 1_800_000_000);
        other_id.token_id = Some("other".into());
        assert_ne!(
            status_fingerprint(&other_id),
            status_fingerprint(&status("True", 1_800_000_000))
        );
    }
}
