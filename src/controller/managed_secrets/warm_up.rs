//! After a start the operator remembers nothing of the Secrets it manages, and each token's
//! first reconcile would read its Secret: one GET per token. Instead, before the first token
//! reconcile, one paginated LIST of the operator's own label-selected Secrets is checked page by
//! page, each Secret exactly as its token's reconcile would (the `check` the token controller
//! passes in), and what is right is recorded as verified: those tokens' first reconciles then
//! read nothing. A Secret that needs anything is left to its token's reconcile, which reads it
//! again. Memory stays bounded by the page size: nothing of a page is kept but the 48-byte
//! [`Verified`] records.

use super::{ManagedSecrets, Verified};
use crate::api::VideoSdkToken;
use crate::rules::labels::MANAGED_SELECTOR;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use std::future::Future;
use std::time::Duration;

/// Secrets per LIST page: large enough that 10,000 tokens take 20 requests, small enough that
/// a page's Secrets (about 1.5 KiB each) cost little memory while they are checked. Pages of
/// 100 were measured too: the peak after a restart with 10,000 tokens stayed as it was (70 MiB
/// against 66–72), and at 50,000 the check no longer fit in its 10 s, so 1,400 tokens read
/// their Secrets one by one.
const PAGE: u32 = 500;

/// How long token reconciles wait, at start, for the managed Secrets to be listed and checked
/// before they read their Secrets one by one instead.
const WARM_UP_LIMIT: Duration = Duration::from_secs(10);

impl ManagedSecrets {
    /// Lists the managed Secrets in `api` and records as verified every one that `check` finds
    /// holding exactly the right token for its `VideoSdkToken` (which it returns, with what was
    /// verified); then waits for the watch's first list, which the reconciles compare the
    /// records with. Gives up quietly after [`WARM_UP_LIMIT`] or at an error: the reconciles
    /// then read what was not checked.
    pub(crate) async fn warm_up<F>(&self, api: Api<Secret>, check: impl FnMut(Secret) -> F)
    where
        F: Future<Output = Option<(VideoSdkToken, Verified)>>,
    {
        let checked = async {
            self.check_listed(api, check).await;
            self.versions.wait_listed().await;
        };
        if tokio::time::timeout(WARM_UP_LIMIT, checked).await.is_err() {
            tracing::debug!(
                "checking the managed Secrets at start took too long; each token reads its own"
            );
        }
    }

    /// The LIST, page by page, and the check of each Secret.
    async fn check_listed<F>(&self, api: Api<Secret>, mut check: impl FnMut(Secret) -> F)
    where
        F: Future<Output = Option<(VideoSdkToken, Verified)>>,
    {
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
                if let Some((token, checked)) = check(secret).await {
                    self.record(&token, Some(checked));
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
}
