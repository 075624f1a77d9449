//! The resourceVersion of every Secret the operator manages, as its label-selected metadata
//! watch last saw it: together with what the per-token memory verified
//! ([`super::Verified`]), it tells whether a Secret changed since the operator last
//! wrote or checked it, so that a reconcile reads the Secret only then. A Secret edited by anyone
//! else gets a new resourceVersion, its watch event updates this map, and the next reconcile
//! reads and checks it. Only the watch writes here: it sees each Secret's versions in order,
//! where a LIST answered a moment earlier (the start-up check's) could bring an older one back
//! and make an edit made meanwhile look verified.
//!
//! resourceVersions are opaque strings to clients (Kubernetes API conventions); this map only
//! compares them for equality with one the operator saw itself, after parsing them as the
//! integers kube-apiserver (and the in-memory server) use. One that does not parse is never
//! equal to anything, so the Secret is read every time, as before.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

/// Secret (namespace, name) → its last seen resourceVersion, and the relist it was seen in;
/// and whether the watch has listed them all once.
pub(super) struct SecretVersions {
    state: Mutex<State>,
    /// Whether the watch has listed every managed Secret once: from then on a Secret missing
    /// here is not one of the operator's (or was created since, and its event is on the way).
    listed: tokio::sync::watch::Sender<bool>,
}

impl Default for SecretVersions {
    fn default() -> Self {
        SecretVersions {
            state: Mutex::default(),
            listed: tokio::sync::watch::Sender::new(false),
        }
    }
}

#[derive(Default)]
struct State {
    /// Hash of (namespace, name) → (resourceVersion, relist epoch). 24 bytes per Secret.
    seen: HashMap<u64, (u64, u32)>,
    /// Incremented when the watch starts a relist; entries older than the last completed
    /// relist belong to Secrets deleted while the watch was down.
    epoch: u32,
}

fn key(namespace: &str, name: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    (namespace, name).hash(&mut hasher);
    hasher.finish()
}

/// The resourceVersion of `meta` as a number, if it is one.
pub(crate) fn resource_version(meta: &ObjectMeta) -> Option<u64> {
    meta.resource_version.as_deref()?.parse().ok()
}

impl SecretVersions {
    /// A Secret was seen (added, modified, or listed).
    pub(super) fn saw(&self, meta: &ObjectMeta) {
        let (Some(namespace), Some(name)) = (&meta.namespace, &meta.name) else {
            return;
        };
        let mut state = self.state.lock().expect("not poisoned");
        let epoch = state.epoch;
        match resource_version(meta) {
            Some(rv) => state.seen.insert(key(namespace, name), (rv, epoch)),
            None => state.seen.remove(&key(namespace, name)),
        };
    }

    /// A Secret was deleted, or left the operator's label selection.
    pub(super) fn gone(&self, meta: &ObjectMeta) {
        if let (Some(namespace), Some(name)) = (&meta.namespace, &meta.name) {
            let mut state = self.state.lock().expect("not poisoned");
            state.seen.remove(&key(namespace, name));
        }
    }

    /// The watch starts listing every Secret again (after a `410 Gone`).
    pub(super) fn relist_started(&self) {
        let mut state = self.state.lock().expect("not poisoned");
        state.epoch = state.epoch.wrapping_add(1);
    }

    /// The relist is complete: a Secret it did not list was deleted meanwhile (a relist sends
    /// no deletion events). Returns how many such Secrets were forgotten.
    pub(super) fn relist_done(&self) -> usize {
        let mut state = self.state.lock().expect("not poisoned");
        let epoch = state.epoch;
        let before = state.seen.len();
        state.seen.retain(|_, (_, seen)| *seen == epoch);
        self.listed.send_replace(true);
        before - state.seen.len()
    }

    /// Whether the watch has listed the managed Secrets once.
    pub(super) fn listed(&self) -> bool {
        *self.listed.borrow()
    }

    /// Until the watch has listed the managed Secrets once.
    pub(super) async fn wait_listed(&self) {
        let _ = self.listed.subscribe().wait_for(|listed| *listed).await;
    }

    /// The last seen resourceVersion of Secret `namespace/name`; `None` when it is not known
    /// to exist.
    pub(super) fn current(&self, namespace: &str, name: &str) -> Option<u64> {
        let state = self.state.lock().expect("not poisoned");
        state.seen.get(&key(namespace, name)).map(|(rv, _)| *rv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, rv: &str) -> ObjectMeta {
        ObjectMeta {
            namespace: Some("ns".into()),
            name: Some(name.into()),
            resource_version: Some(rv.into()),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn the_last_seen_version_wins_and_deletes_forget() {
        let versions = SecretVersions::default();
        versions.saw(&meta("a", "5"));
        versions.saw(&meta("a", "9"));
        assert_eq!(versions.current("ns", "a"), Some(9));
        assert_eq!(versions.current("other", "a"), None);
        versions.gone(&meta("a", "10"));
        assert_eq!(versions.current("ns", "a"), None);
        // An opaque version is never taken for equal to anything.
        versions.saw(&meta("b", "7"));
        versions.saw(&meta("b", "not-a-number"));
        assert_eq!(versions.current("ns", "b"), None);
    }

    #[test]
    fn a_relist_forgets_what_it_did_not_list() {
        let versions = SecretVersions::default();
        assert!(!versions.listed());
        versions.saw(&meta("kept", "1"));
        versions.saw(&meta("deleted-while-down", "2"));
        versions.relist_started();
        versions.saw(&meta("kept", "3"));
        assert_eq!(versions.relist_done(), 1, "one forgotten");
        assert!(versions.listed());
        assert_eq!(versions.current("ns", "kept"), Some(3));
        assert_eq!(versions.current("ns", "deleted-while-down"), None);
    }
}
