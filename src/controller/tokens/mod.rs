//! Reconcile of a `VideoSdkToken`, in three steps, each in a module of its own:
//! [`gather`] reads what the decision needs (caches and the API), [`plan`] decides (a pure
//! function of those inputs, the time and a fresh token id: a problem to report, or the token
//! the Secret must hold, with the Secret to apply and the renewal time, computed once), and
//! [`write`] applies the plan (Secret, Event, status, rollout restarts) and says when to come
//! back.

mod gather;
mod plan;
mod write;

use crate::api::VideoSdkToken;
use crate::controller::context::Context;
use crate::controller::error::Error;
use crate::controller::{backoff, display};
use crate::time;
use crate::token;
use kube::Resource;
use kube::runtime::controller::Action;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Reconciles one token.
pub(crate) async fn reconcile(
    token: Arc<VideoSdkToken>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    if token.meta().deletion_timestamp.is_some() {
        // The Secret goes with it, by its ownerReference.
        return Ok(Action::await_change());
    }
    let now = SystemTime::now();
    let started = std::time::Instant::now();
    let inputs = gather::gather(&token, &ctx).await?;
    let plan = plan::plan(&token, &inputs, now, token::new_token_id()?)?;
    let action = write::write(&token, &ctx, plan, now).await?;
    ctx.metrics.observe_reconcile(started.elapsed());
    Ok(action)
}

/// Retry delay after an API or signing error, with exponential backoff per token, capped inside
/// the lifetime of the token its Secret still holds.
pub(crate) fn error_policy(token: Arc<VideoSdkToken>, error: &Error, ctx: Arc<Context>) -> Action {
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
