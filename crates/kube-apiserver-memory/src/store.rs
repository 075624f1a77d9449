//! The object store: every object as parsed JSON plus its serialised bytes, one global
//! `resourceVersion` counter, a bounded watch history per resource and a broadcast channel per
//! resource that watches subscribe to.
//!
//! All of it sits behind one lock held for the length of one write, so the order of
//! `resourceVersion`s, history and broadcast is the same for every observer.

use super::error::ApiError;
use super::resources::{Registry, StoreKey};
use super::selector::Selectors;
use super::stored::{Stored, Summary};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as watches see it.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) rv: u64,
    pub(crate) kind: EventType,
    pub(crate) object: Stored,
    /// The object before a modification, so that a selecting watch can tell an object that
    /// stopped matching (sent as DELETED) from one that started matching (ADDED).
    pub(crate) old: Option<Stored>,
    /// The serialised watch event line.
    pub(crate) line: Bytes,
}

/// A watch event line (`{"type":…,"object":…}\n`) around already serialised object bytes.
pub(crate) fn event_line(kind: &str, object: &[u8]) -> Bytes {
    let mut line = Vec::with_capacity(object.len() + 32);
    line.extend_from_slice(b"{\"type\":\"");
    line.extend_from_slice(kind.as_bytes());
    line.extend_from_slice(b"\",\"object\":");
    line.extend_from_slice(object);
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

/// Serialises `object` straight into a watch event line; the stored bytes are a slice of that
/// line, so the object is kept in memory once for both.
fn serialise_event(kind: &str, object: &Value) -> (Bytes, Bytes) {
    let mut line = Vec::with_capacity(1024);
    line.extend_from_slice(b"{\"type\":\"");
    line.extend_from_slice(kind.as_bytes());
    line.extend_from_slice(b"\",\"object\":");
    let start = line.len();
    serde_json::to_writer(&mut line, object).expect("JSON values serialise");
    let end = line.len();
    line.extend_from_slice(b"}\n");
    // Bytes keeps the Vec's whole allocation alive; do not keep its spare capacity too.
    line.shrink_to_fit();
    let line = Bytes::from(line);
    (line.slice(start..end), line)
}

/// Names one object anywhere in the store.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(crate) struct ObjRef {
    pub(crate) key: StoreKey,
    pub(crate) namespace: String,
    pub(crate) name: String,
}

struct Collection {
    objects: BTreeMap<(String, String), Stored>,
    history: VecDeque<Arc<Event>>,
    /// The newest `resourceVersion` dropped from `history`: watching from before it is 410 Gone.
    compacted: u64,
    tx: broadcast::Sender<Arc<Event>>,
}

impl Collection {
    fn new() -> Self {
        Collection {
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            compacted: 0,
            tx: broadcast::channel(BROADCAST_CAPACITY).0,
        }
    }
}

/// Events a watch may fall behind by before it is closed (the client then resumes from history).
const BROADCAST_CAPACITY: usize = 16 * 1024;

/// A page of a list.
pub(crate) struct Page {
    pub(crate) items: Vec<Stored>,
    pub(crate) resource_version: u64,
    pub(crate) continue_token: Option<String>,
    pub(crate) remaining: Option<u64>,
}

/// What a new watch starts with and listens to.
pub(crate) struct Subscription {
    pub(crate) backlog: Vec<Arc<Event>>,
    pub(crate) rx: broadcast::Receiver<Arc<Event>>,
}

pub(crate) struct State {
    pub(crate) rv: u64,
    pub(crate) registry: Registry,
    collections: HashMap<StoreKey, Collection>,
    uids: HashMap<String, ObjRef>,
    /// Owner UID to the objects whose `ownerReferences` name it.
    dependents: HashMap<String, HashSet<ObjRef>>,
    history_limit: usize,
    /// Set for the length of a `dryRun=All` request: writes are computed and answered but
    /// [`State::commit`] stores nothing and tells no watch.
    pub(crate) dry_run: bool,
}

impl State {
    pub(crate) fn new(history_limit: usize) -> Self {
        State {
            rv: 1,
            registry: Registry::with_builtins(),
            collections: HashMap::new(),
            uids: HashMap::new(),
            dependents: HashMap::new(),
            history_limit: history_limit.max(1),
            dry_run: false,
        }
    }

    fn collection(&mut self, key: &StoreKey) -> &mut Collection {
        self.collections
            .entry(key.clone())
            .or_insert_with(Collection::new)
    }

    pub(crate) fn get(&self, key: &StoreKey, namespace: &str, name: &str) -> Option<&Stored> {
        self.collections
            .get(key)?
            .objects
            .get(&(namespace.to_owned(), name.to_owned()))
    }

    pub(crate) fn get_ref(&self, r: &ObjRef) -> Option<&Stored> {
        self.get(&r.key, &r.namespace, &r.name)
    }

    /// The object of a UID, if it exists.
    pub(crate) fn by_uid(&self, uid: &str) -> Option<&ObjRef> {
        self.uids.get(uid)
    }

    /// Objects whose `ownerReferences` name `uid`, in a stable order.
    pub(crate) fn dependents_of(&self, uid: &str) -> Vec<ObjRef> {
        let mut deps: Vec<ObjRef> = self
            .dependents
            .get(uid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        deps.sort_by(|a, b| (&a.key, &a.namespace, &a.name).cmp(&(&b.key, &b.namespace, &b.name)));
        deps
    }

    /// Every namespaced object in `namespace`, across resources.
    pub(crate) fn in_namespace(&self, namespace: &str) -> Vec<ObjRef> {
        let mut out = Vec::new();
        for (key, c) in &self.collections {
            let start = (namespace.to_owned(), String::new());
            for ((ns, name), _) in c.objects.range(start..) {
                if ns != namespace {
                    break;
                }
                out.push(ObjRef {
                    key: key.clone(),
                    namespace: ns.clone(),
                    name: name.clone(),
                });
            }
        }
        out
    }

    /// Stores `object` (or removes it, for [`EventType::Deleted`]) under the next
    /// `resourceVersion`, records the event and tells the watches.
    pub(crate) fn commit(&mut self, key: &StoreKey, mut object: Value, kind: EventType) -> Stored {
        if self.dry_run {
            return Stored::from_value(&object);
        }
        self.rv += 1;
        let rv = self.rv;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let summary = Arc::new(Summary::of(&object));
        let (json, line) = serialise_event(kind.as_str(), &object);
        let stored = Stored { json, summary };
        let this = ObjRef {
            key: key.clone(),
            namespace: stored.summary.namespace.clone(),
            name: stored.summary.name.clone(),
        };
        let history_limit = self.history_limit;
        let collection = self.collection(key);
        let slot = (this.namespace.clone(), this.name.clone());
        let old = if kind == EventType::Deleted {
            collection.objects.remove(&slot)
        } else {
            collection.objects.insert(slot, stored.clone())
        };
        let event = Arc::new(Event {
            rv,
            kind,
            line,
            object: stored.clone(),
            old: old.clone(),
        });
        collection.history.push_back(event.clone());
        while collection.history.len() > history_limit {
            let dropped = collection
                .history
                .pop_front()
                .expect("history is not empty");
            collection.compacted = dropped.rv;
        }
        // No receivers is fine: nobody is watching.
        let _ = collection.tx.send(event);
        self.index(
            old.as_ref().map(|o| &*o.summary),
            &stored.summary,
            kind,
            this,
        );
        stored
    }

    fn index(&mut self, old: Option<&Summary>, new: &Summary, kind: EventType, this: ObjRef) {
        if let Some(old) = old {
            for uid in &old.owner_uids {
                if let Some(set) = self.dependents.get_mut(uid) {
                    set.remove(&this);
                    if set.is_empty() {
                        self.dependents.remove(uid);
                    }
                }
            }
        }
        if kind == EventType::Deleted {
            self.uids.remove(&new.uid);
        } else {
            for uid in &new.owner_uids {
                self.dependents
                    .entry(uid.clone())
                    .or_default()
                    .insert(this.clone());
            }
            self.uids.insert(new.uid.clone(), this);
        }
    }

    /// Forgets a whole resource (its CRD is gone); its watches end.
    pub(crate) fn drop_collection(&mut self, key: &StoreKey) {
        self.collections.remove(key);
    }

    /// One page of the objects of a resource, in namespace and name order.
    pub(crate) fn list(
        &self,
        key: &StoreKey,
        namespace: Option<&str>,
        selectors: &Selectors,
        limit: Option<usize>,
        continue_token: Option<&str>,
    ) -> Result<Page, ApiError> {
        let (start, rv) = match continue_token {
            Some(t) => decode_continue(t)?,
            None => (None, self.rv),
        };
        let mut items = Vec::new();
        let mut remaining = 0u64;
        if let Some(c) = self.collections.get(key) {
            let iter: Box<dyn Iterator<Item = (&(String, String), &Stored)>> =
                match (&start, namespace) {
                    (Some(after), _) => Box::new(c.objects.range::<(String, String), _>((
                        std::ops::Bound::Excluded(after.clone()),
                        std::ops::Bound::Unbounded,
                    ))),
                    (None, Some(ns)) => Box::new(c.objects.range((ns.to_owned(), String::new())..)),
                    (None, None) => Box::new(c.objects.iter()),
                };
            for ((ns, _), stored) in iter {
                if namespace.is_some_and(|want| want != ns) {
                    if namespace.is_some_and(|want| ns.as_str() > want) {
                        break;
                    }
                    continue;
                }
                if !selectors.matches(stored) {
                    continue;
                }
                if limit.is_some_and(|l| items.len() >= l) {
                    remaining += 1;
                    continue;
                }
                items.push(stored.clone());
            }
        }
        let mut next = None;
        if remaining > 0 {
            let last = &items.last().expect("a limited page has items").summary;
            let (ns, name) = (&last.namespace, &last.name);
            next = Some(encode_continue(ns, name, rv));
        }
        Ok(Page {
            items,
            resource_version: rv,
            continue_token: next,
            // kube-apiserver counts what is left only without a selector: it knows how many
            // keys follow, not how many of them match (etcd3 store's GetList, `pred.Empty()`).
            remaining: (remaining > 0 && selectors.is_empty()).then_some(remaining),
        })
    }

    /// Starts a watch of a resource: from `since` (replaying history after it, or 410 Gone when
    /// it is older than the history kept), or, without `since`, from synthetic ADDED events for
    /// every current object.
    pub(crate) fn subscribe(
        &mut self,
        key: &StoreKey,
        namespace: Option<&str>,
        since: Option<u64>,
    ) -> Result<Subscription, ApiError> {
        let collection = self.collection(key);
        let rx = collection.tx.subscribe();
        let backlog = match since {
            Some(rv) => {
                if rv < collection.compacted {
                    return Err(ApiError::gone(format!(
                        "too old resource version: {rv} ({})",
                        collection.compacted
                    )));
                }
                collection
                    .history
                    .iter()
                    .filter(|e| e.rv > rv)
                    .cloned()
                    .collect()
            }
            None => collection
                .objects
                .iter()
                .filter(|((ns, _), _)| namespace.is_none_or(|want| want == ns))
                .map(|(_, s)| {
                    Arc::new(Event {
                        rv: s.resource_version(),
                        kind: EventType::Added,
                        line: event_line("ADDED", &s.json),
                        object: s.clone(),
                        old: None,
                    })
                })
                .collect(),
        };
        Ok(Subscription { backlog, rx })
    }
}

fn encode_continue(namespace: &str, name: &str, rv: u64) -> String {
    URL_SAFE_NO_PAD
        .encode(json!({"v": "meta.k8s.io/v1", "rv": rv, "start": [namespace, name]}).to_string())
}

fn decode_continue(token: &str) -> Result<(Option<(String, String)>, u64), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let ns = v["start"][0].as_str().ok_or_else(bad)?;
    let name = v["start"][1].as_str().ok_or_else(bad)?;
    let rv = v["rv"].as_u64().ok_or_else(bad)?;
    Ok((Some((ns.to_owned(), name.to_owned())), rv))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> StoreKey {
        (String::new(), "secrets".to_owned())
    }

    fn obj(ns: &str, name: &str) -> Value {
        json!({"metadata": {"namespace": ns, "name": name, "uid": format!("{ns}-{name}")}})
    }

    #[test]
    fn commits_advance_one_global_resource_version() {
        let mut s = State::new(10);
        let a = s.commit(&key(), obj("a", "x"), EventType::Added);
        let b = s.commit(
            &(String::new(), "configmaps".into()),
            obj("a", "y"),
            EventType::Added,
        );
        assert!(b.resource_version() > a.resource_version());
        assert_eq!(s.rv, b.resource_version());
    }

    #[test]
    fn list_pages_with_continue() {
        let mut s = State::new(10);
        for n in ["a", "b", "c"] {
            s.commit(&key(), obj("ns", n), EventType::Added);
        }
        s.commit(&key(), obj("other", "z"), EventType::Added);
        let sel = Selectors::default();
        let p1 = s.list(&key(), Some("ns"), &sel, Some(2), None).unwrap();
        assert_eq!(p1.items.len(), 2);
        assert_eq!(p1.remaining, Some(1));
        let p2 = s
            .list(
                &key(),
                Some("ns"),
                &sel,
                Some(2),
                p1.continue_token.as_deref(),
            )
            .unwrap();
        assert_eq!(p2.items.len(), 1);
        assert_eq!(p2.items[0].summary.name, "c");
        assert!(p2.continue_token.is_none());
        assert_eq!(p2.resource_version, p1.resource_version);
    }

    #[test]
    fn watch_from_compacted_version_is_gone() {
        let mut s = State::new(2);
        for n in ["a", "b", "c", "d"] {
            s.commit(&key(), obj("ns", n), EventType::Added);
        }
        assert_eq!(
            s.subscribe(&key(), None, Some(2)).err().map(|e| e.code),
            Some(410)
        );
        let sub = s.subscribe(&key(), None, Some(4)).unwrap();
        assert_eq!(sub.backlog.len(), 1);
    }

    #[test]
    fn owner_index_follows_owner_references() {
        let mut s = State::new(10);
        let mut dep = obj("ns", "d");
        dep["metadata"]["ownerReferences"] = json!([{"uid": "owner-1"}]);
        s.commit(&key(), dep.clone(), EventType::Added);
        assert_eq!(s.dependents_of("owner-1").len(), 1);
        s.commit(&key(), dep, EventType::Deleted);
        assert!(s.dependents_of("owner-1").is_empty());
    }
}
