//! Watches on exactly the Secrets that issuers reference for their credentials.
//!
//! The operator must notice a credentials change at once (every token of that issuer is
//! re-signed), yet must not watch every Secret of the cluster: its memory would grow with
//! Secrets it has nothing to do with. Credentials Secrets are created by people and carry no
//! label of the operator's, so each gets its own watch, field-selected by name — one per
//! distinct Secret that an issuer references, a handful in practice. The latest state of each
//! is kept here, so that reconciles read credentials from memory rather than with a GET.
//!
//! A watch stays open after the last issuer stops referencing its Secret; they are few and
//! cheap, and closing them would need reference counting across issuers for little gain.

use super::cached::slim;
use futures::StreamExt;
use futures::channel::mpsc;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Which Secret: namespace and name.
pub(crate) type SecretKey = (String, String);

/// One credentials Secret as its watch last saw it: `None` until the watch has listed once,
/// then whether it exists (as [`slim`]med: shared by every reconcile that reads it, never
/// copied).
type Seen = watch::Receiver<Option<Option<Arc<Secret>>>>;

/// The credentials Secrets being watched, their latest state, and who to tell of changes.
pub struct CredentialSecrets {
    client: Client,
    /// Per Secret, as last seen.
    entries: Mutex<HashMap<SecretKey, Seen>>,
    subscribers: std::sync::Arc<Mutex<Vec<mpsc::UnboundedSender<SecretKey>>>>,
    /// The watch tasks, ended when the operator stops.
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Drop for CredentialSecrets {
    fn drop(&mut self) {
        for task in self.tasks.lock().expect("not poisoned").drain(..) {
            task.abort();
        }
    }
}

impl CredentialSecrets {
    /// No watches yet; they start on first use.
    pub fn new(client: Client) -> Self {
        CredentialSecrets {
            client,
            entries: Mutex::new(HashMap::new()),
            subscribers: Default::default(),
            tasks: Mutex::default(),
        }
    }

    /// A stream of the Secrets that changed (created, modified or deleted) after their watch
    /// first listed them.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<SecretKey> {
        let (tx, rx) = mpsc::unbounded();
        self.subscribers.lock().expect("not poisoned").push(tx);
        rx
    }

    /// The Secret `namespace/name` as last seen (`None`: it does not exist), starting its watch
    /// on first use and waiting until the watch has listed it once, so that a reconcile never
    /// mistakes "not yet seen" for "missing".
    pub async fn get(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        let key = (namespace.to_owned(), name.to_owned());
        let mut state = {
            let mut entries = self.entries.lock().expect("not poisoned");
            entries
                .entry(key.clone())
                .or_insert_with(|| self.start(key))
                .clone()
        };
        match state.wait_for(Option::is_some).await {
            Ok(seen) => seen.clone().flatten(),
            // The watch task never ends while the receiver lives; treat the impossible as absent.
            Err(_) => None,
        }
    }

    fn start(&self, key: SecretKey) -> Seen {
        let (tx, rx) = watch::channel(None);
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &key.0);
        let config = watcher::Config::default().fields(&format!("metadata.name={}", key.1));
        let subscribers = self.subscribers.clone();
        let task = tokio::spawn(async move {
            let mut events = watcher(api, config).default_backoff().modify(slim).boxed();
            let mut listing: Option<Arc<Secret>> = None;
            while let Some(event) = events.next().await {
                let current = match event {
                    Ok(watcher::Event::Init) => {
                        listing = None;
                        continue;
                    }
                    Ok(watcher::Event::InitApply(secret)) => {
                        listing = Some(Arc::new(secret));
                        continue;
                    }
                    Ok(watcher::Event::InitDone) => listing.take(),
                    Ok(watcher::Event::Apply(secret)) => Some(Arc::new(secret)),
                    Ok(watcher::Event::Delete(_)) => None,
                    // The watcher retries with backoff; the last known state stays valid.
                    Err(error) => {
                        tracing::warn!(secret = %format!("{}/{}", key.0, key.1), %error, "credentials Secret watch failed; retrying");
                        continue;
                    }
                };
                let changed = tx
                    .borrow()
                    .as_ref()
                    .is_some_and(|old: &Option<Arc<Secret>>| {
                        old.as_ref().map(|s| &s.data) != current.as_ref().map(|s| &s.data)
                    });
                tx.send_replace(Some(current));
                if changed {
                    subscribers
                        .lock()
                        .expect("not poisoned")
                        .retain(|s| s.unbounded_send(key.clone()).is_ok());
                }
            }
        });
        self.tasks
            .lock()
            .expect("not poisoned")
            .push(task.abort_handle());
        rx
    }
}
