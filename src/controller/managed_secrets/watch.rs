//! The watch of the managed Secrets: metadata only, selected by the operator's label, feeding
//! [`super::versions`] and, through the token controller, the reconcile of each Secret's token.

use super::ManagedSecrets;
use crate::controller::cached::WatchedSecret;
use crate::rules::labels;
use futures::{Stream, StreamExt};
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use std::sync::Arc;

impl ManagedSecrets {
    /// Takes in one event of the managed Secrets' watch. Returns whether a relist just ended
    /// that forgot Secrets (deleted while the watch was down: a relist sends no deletions):
    /// then every token is reconciled once, so that a Secret deleted meanwhile is restored.
    pub(crate) fn observe(&self, event: &watcher::Event<WatchedSecret>) -> bool {
        match event {
            watcher::Event::Apply(s) | watcher::Event::InitApply(s) => {
                self.versions.saw(&s.metadata);
            }
            watcher::Event::Delete(s) => self.versions.gone(&s.metadata),
            watcher::Event::Init => self.versions.relist_started(),
            watcher::Event::InitDone => return self.versions.relist_done() > 0,
        }
        false
    }

    /// The watch of the managed Secrets in `api`, each event taken in by
    /// [`ManagedSecrets::observe`] before it goes on; `relisted` gets a `()` after a relist
    /// that forgot Secrets. Its items are to be mapped by [`ManagedSecrets::token_to_reconcile`].
    pub(crate) fn watch(
        self: Arc<Self>,
        api: Api<WatchedSecret>,
        relisted: futures::channel::mpsc::UnboundedSender<()>,
    ) -> impl Stream<Item = Result<WatchedSecret, watcher::Error>> + Send + 'static {
        watcher(
            api,
            watcher::Config::default().labels(labels::MANAGED_SELECTOR),
        )
        .default_backoff()
        .inspect(move |event| {
            if let Ok(event) = event
                && self.observe(event)
            {
                let _ = relisted.unbounded_send(());
            }
        })
        .touched_objects()
    }
}
