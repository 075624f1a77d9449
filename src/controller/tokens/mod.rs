//! Reconcile of a `VideoSdkToken`, in three steps, each in a module of its own:
//! [`gather`] reads what the decision needs (caches and the API), [`plan`] decides (a pure
//! function of those inputs, the time and a fresh token id: a problem to report, or the token
//! the Secret must hold, with the Secret to apply and the renewal time, computed once), and
//! [`write`] applies the plan (Secret, Event, status, rollout restarts) and says when to come
//! back. [`check_listed`] checks one Secret of the start-up LIST (`ManagedSecrets::warm_up`), so
//! that the first reconciles read none again.

mod check_listed;
mod gather;
mod plan;
mod write;

pub(crate) use check_listed::check_listed;

use crate::api::{RENEW_NOW_ANNOTATION, VideoSdkToken};
use crate::controller::cached::CachedToken;
use crate::controller::context::Context;
use crate::controller::display;
use crate::controller::error::Error;
use crate::rules::backoff;
use crate::time;
use crate::token;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::runtime::controller::Action;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Hashes which token it is (`uid`: a [`CachedToken`] keeps it outside its metadata) and what it
/// asks (`meta`'s generation and renew-now annotation) into `hasher`: the part of a token that
/// both its watch trigger (`run`) and its plan's fingerprint ([`gather`]) depend on.
pub(crate) fn hash_request(uid: Option<&str>, meta: &ObjectMeta, hasher: &mut impl Hasher) {
    uid.hash(hasher);
    meta.generation.hash(hasher);
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(RENEW_NOW_ANNOTATION))
        .hash(hasher);
}

/// Reconciles one token.
///
/// Errors: an API request failed, signing failed, or the cached spec or status does not parse.
pub(crate) async fn reconcile(
    cached: Arc<CachedToken>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let token = cached.token()?;
    if token.meta().deletion_timestamp.is_some() {
        // The Secret goes with it, by its ownerReference.
        return Ok(Action::await_change());
    }
    let _busy = ctx.routine_events.busy();
    let now = SystemTime::now();
    let started = std::time::Instant::now();
    let deadline = backoff::attempt_deadline(remaining(
        ctx.memory.expiry(&*cached, token.status.as_ref()),
        now,
    ));
    let result = within(deadline, reconcile_token(&token, &ctx, now)).await;
    match &result {
        Ok(_) => ctx.metrics.observe_reconcile(started.elapsed()),
        Err(error) => {
            // Its own deadline: the write that reports the failure may meet the same silence.
            let _ = within(deadline, async {
                write::retrying(&token, &ctx, error, now).await;
                Ok(())
            })
            .await;
        }
    }
    result
}

/// `attempt`, cut at `deadline` if there is one. Cutting it is as safe as a crash at that point:
/// each write is whole or absent, and the next attempt reads what is there.
async fn within<T>(
    deadline: Option<Duration>,
    attempt: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match deadline {
        Some(deadline) => tokio::time::timeout(deadline, attempt)
            .await
            .unwrap_or(Err(Error::AttemptTimedOut(deadline))),
        None => attempt.await,
    }
}

/// Gathers, plans and writes, once more when the Secret changed in between.
async fn reconcile_token(
    token: &VideoSdkToken,
    ctx: &Context,
    now: SystemTime,
) -> Result<Action, Error> {
    let mut inputs = gather::gather(token, ctx).await?;
    let mut attempts = 0;
    let action = loop {
        let plan = plan::plan(token, &inputs, now, token::new_token_id()?)?;
        match write::write(token, ctx, plan, &inputs, now).await? {
            write::Outcome::Done(action) => break action,
            // A Secret of that name appeared, or changed since it was read: read it and decide
            // again, once; a Secret that keeps changing is left to the retry with backoff.
            write::Outcome::SecretChanged if attempts == 0 => {
                attempts += 1;
                let secret_name = crate::rules::secret::secret_name(token);
                inputs.existing = gather::read_secret(ctx, &inputs.namespace, &secret_name).await?;
            }
            write::Outcome::SecretChanged => {
                return Err(Error::SecretChanging);
            }
        }
    };
    Ok(action)
}

/// Retry delay after an API or signing error, with exponential backoff per token, capped inside
/// the lifetime of the token its Secret still holds.
pub(crate) fn error_policy(cached: Arc<CachedToken>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.count_error(error.metric_label());
    let failures = ctx.memory.count_error(&*cached);
    let status = cached.status().ok().flatten();
    let delay = backoff::delay(
        failures,
        remaining(
            ctx.memory.expiry(&*cached, status.as_ref()),
            SystemTime::now(),
        ),
    );
    tracing::warn!(token = %display::namespaced_name(&*cached), error = %error, kind = error.metric_label(), retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// How long the token in the Secret has left, given when it expires (Unix seconds).
fn remaining(expires: Option<u64>, now: SystemTime) -> Option<Duration> {
    let expires = time::from_unix(expires?);
    Some(expires.duration_since(now).unwrap_or(Duration::ZERO))
}
