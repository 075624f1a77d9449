//! The start-up check of one listed Secret (`ManagedSecrets::warm_up`), exactly as its token's
//! reconcile would check it ([`super::plan`]), so that a Secret found right is not read again
//! by that token's first reconcile.

use super::gather::{self, Inputs};
use super::plan::{self, Plan};
use super::write;
use crate::api::VideoSdkToken;
use crate::controller::cached::CachedToken;
use crate::controller::context::Context;
use crate::controller::managed_secrets::{self, Existing, Verified};
use crate::rules::secret;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use std::time::SystemTime;
use uuid::Uuid;

/// Checks one listed Secret as its token (in `tokens`) would: its token and what is verified of
/// it when it holds exactly the right token; `None` when its token's reconcile must read it.
pub(crate) async fn check_listed(
    ctx: &Context,
    tokens: &Store<CachedToken>,
    secret: Secret,
) -> Option<(VideoSdkToken, Verified)> {
    let cached = managed_secrets::token_of(&secret.metadata).and_then(|key| tokens.get(&key))?;
    let token = cached.token().ok()?;
    if secret.name_any() != secret::secret_name(&token) {
        return None;
    }
    let (issuer, fingerprint) = gather::gather_issuer(&token, ctx).await.ok()?;
    let inputs = Inputs {
        namespace: token.namespace().unwrap_or_default(),
        existing: Existing::Read(Box::new(secret)),
        issuer,
        max_ttl: ctx.settings.max_ttl,
        min_renew_before: ctx.settings.min_renew_before,
        fingerprint,
    };
    // The id is never used: only a plan that keeps the stored token is remembered.
    match plan::plan(&token, &inputs, SystemTime::now(), Uuid::nil()) {
        Ok(Plan::Ready {
            issued,
            apply: None,
        }) if issued.resigned.is_none() => {
            ctx.memory.remember_expiry(&token, issued.claims.exp);
            let verified = write::verified(&issued, None, &inputs)?;
            Some((token, verified))
        }
        _ => None,
    }
}
