//! After a start the operator remembers nothing of the Secrets it manages, and each token's
//! first reconcile would read its Secret: one GET per token. Instead, before the first token
//! reconcile, one paginated LIST of the operator's own label-selected Secrets is checked page by
//! page, each Secret exactly as its token's reconcile would ([`super::plan`]), and what is right
//! is remembered as verified: those tokens' first reconciles then read nothing. A Secret that
//! needs anything is left to its token's reconcile, which reads it again. Memory stays bounded
//! by the page size: nothing of a page is kept but the 48-byte [`Verified`] records.

use super::gather::{self, Existing, Inputs};
use super::plan::{self, Plan};
use super::write;
use crate::controller::cached::CachedToken;
use crate::controller::context::Context;
use crate::controller::owner;
use crate::rules::labels::MANAGED_SELECTOR;
use crate::rules::secret;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::runtime::reflector::Store;
use std::time::SystemTime;
use uuid::Uuid;

/// Secrets per LIST page: large enough that 10,000 tokens take 20 requests, small enough that
/// a page's Secrets (about 1.5 KiB each) cost little memory while they are checked. Pages of
/// 100 were measured too: the peak after a restart with 10,000 tokens stayed as it was (70 MiB
/// against 66–72), and at 50,000 the check no longer fit in its 10 s, so 1,400 tokens read
/// their Secrets one by one.
const PAGE: u32 = 500;

/// Lists the managed Secrets (in `namespace`, or all) and remembers every one that holds exactly
/// the right token for its `VideoSdkToken` in `tokens`. Errors end it early, quietly: the
/// reconciles then read what was not checked.
pub(crate) async fn warm_up(ctx: &Context, tokens: &Store<CachedToken>, namespace: Option<&str>) {
    let api: Api<Secret> = match namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let mut params = ListParams::default().labels(MANAGED_SELECTOR).limit(PAGE);
    let mut verified = 0usize;
    loop {
        let page = match api.list(&params).await {
            Ok(page) => page,
            Err(error) => {
                tracing::debug!(%error, "listing the managed Secrets failed; each token reads its own");
                return;
            }
        };
        for secret in page.items {
            if check(ctx, tokens, secret).await {
                verified += 1;
            }
        }
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params.continue_token = Some(token),
            _ => break,
        }
    }
    tracing::debug!(verified, "managed Secrets checked at start");
}

/// Checks one listed Secret as its token's reconcile would; `true` when it was right and is
/// now remembered as verified.
async fn check(ctx: &Context, tokens: &Store<CachedToken>, secret: Secret) -> bool {
    let Some(cached) = owner::token_of(&secret.metadata).and_then(|key| tokens.get(&key)) else {
        return false;
    };
    let Ok(token) = cached.token() else {
        return false;
    };
    if secret.name_any() != secret::secret_name(&token) {
        return false;
    }
    let Ok((issuer, fingerprint)) = gather::gather_issuer(&token, ctx).await else {
        return false;
    };
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
            let verified = write::verified(&issued, None, &inputs);
            ctx.memory.remember_expiry(&token, issued.claims.exp);
            ctx.memory.remember_verified(&token, verified);
            verified.is_some()
        }
        _ => false,
    }
}
