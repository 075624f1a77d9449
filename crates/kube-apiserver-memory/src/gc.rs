//! Deletion: finalizers, `propagationPolicy`, garbage collection of dependents through
//! `ownerReferences` (as kube-controller-manager's garbage collector does it, but at once), the
//! namespace lifecycle and the removal of a CRD's objects.

use super::error::ApiError;
use super::resources::namespaces_key;
use super::resources::{ResourceDef, Special, StoreKey};
use super::store::{EventType, ObjRef, State};
use super::stored::Stored;
use serde_json::{Value, json};

const FOREGROUND: &str = "foregroundDeletion";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Propagation {
    Background,
    Foreground,
    Orphan,
}

impl Propagation {
    pub(crate) fn parse(s: &str) -> Result<Self, ApiError> {
        match s {
            "Background" => Ok(Propagation::Background),
            "Foreground" => Ok(Propagation::Foreground),
            "Orphan" => Ok(Propagation::Orphan),
            other => Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
            ))),
        }
    }
}

/// `DeleteOptions` this server acts on.
#[derive(Clone, Debug, Default)]
pub(crate) struct DeleteOptions {
    pub(crate) propagation: Option<Propagation>,
    pub(crate) precondition_uid: Option<String>,
    pub(crate) precondition_rv: Option<String>,
}

impl DeleteOptions {
    /// Reads a `DeleteOptions` body (may be empty), JSON or Kubernetes protobuf as
    /// `content_type` says, and the `propagationPolicy` query parameter.
    pub(crate) fn parse(
        body: &[u8],
        content_type: &str,
        query_propagation: Option<&str>,
    ) -> Result<Self, ApiError> {
        let mut o = DeleteOptions::default();
        if !body.iter().all(u8::is_ascii_whitespace) {
            let v = body_json(body, content_type)?;
            if let Some(p) = v["propagationPolicy"].as_str() {
                o.propagation = Some(Propagation::parse(p)?);
            } else if v["orphanDependents"] == json!(true) {
                o.propagation = Some(Propagation::Orphan);
            }
            o.precondition_uid = v["preconditions"]["uid"].as_str().map(str::to_owned);
            o.precondition_rv = v["preconditions"]["resourceVersion"]
                .as_str()
                .map(str::to_owned);
        }
        if let Some(p) = query_propagation {
            o.propagation = Some(Propagation::parse(p)?);
        }
        Ok(o)
    }
}

/// A `DeleteOptions` body as JSON, decoded from protobuf when `content_type` says so.
pub(crate) fn body_json(body: &[u8], content_type: &str) -> Result<Value, ApiError> {
    if super::protobuf::is_protobuf(content_type) {
        return super::protobuf::delete_options(body);
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))
}

/// What a DELETE did.
pub(crate) enum Deleted {
    /// The object is still there, terminating (finalizers, foreground dependents, namespace).
    Pending(Stored),
    /// The object is gone; this was its last state.
    Gone(Stored),
}

/// The object's finalizers.
pub(super) fn finalizers(v: &Value) -> Vec<String> {
    v.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn generation_bumped(st: &State, key: &StoreKey, v: &mut Value) {
    let tracks = st.registry.any_version(key).is_some_and(|d| d.generation);
    if tracks {
        let g = v["metadata"]["generation"].as_i64().unwrap_or(0);
        v["metadata"]["generation"] = json!(g + 1);
    }
}

/// DELETE of one object.
pub(crate) fn delete(
    st: &mut State,
    def: &ResourceDef,
    namespace: &str,
    name: &str,
    options: &DeleteOptions,
    now: &str,
) -> Result<Deleted, ApiError> {
    let key = def.store_key();
    let old = st
        .get(&key, namespace, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(def.subject(), name))?;
    if let Some(uid) = &options.precondition_uid {
        let actual = &old.summary.uid;
        if uid != actual {
            return Err(ApiError::conflict(
                def.subject(),
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
                ),
            ));
        }
    }
    if let Some(rv) = &options.precondition_rv {
        let actual = old.resource_version().to_string();
        if *rv != actual {
            return Err(ApiError::conflict(
                def.subject(),
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"
                ),
            ));
        }
    }
    if old.summary.terminating {
        return Ok(Deleted::Pending(old));
    }
    let uid = old.summary.uid.clone();
    let oldv = old.value();
    match options.propagation.unwrap_or(Propagation::Background) {
        Propagation::Orphan => orphan(st, &uid),
        Propagation::Foreground => {
            for dep in st.dependents_of(&uid) {
                delete_dependent(st, &dep, &uid, now);
            }
        }
        Propagation::Background => {}
    }
    let mut pending = finalizers(&oldv);
    if options.propagation == Some(Propagation::Foreground) && !st.dependents_of(&uid).is_empty() {
        pending.push(FOREGROUND.to_owned());
    }
    if def.special == Special::Namespace {
        return Ok(delete_namespace(st, old, now));
    }
    if pending.is_empty() {
        return Ok(Deleted::Gone(remove(st, &key, oldv)));
    }
    let mut v = oldv;
    v["metadata"]["deletionTimestamp"] = json!(now);
    v["metadata"]["deletionGracePeriodSeconds"] = json!(0);
    v["metadata"]["finalizers"] = json!(pending);
    generation_bumped(st, &key, &mut v);
    Ok(Deleted::Pending(st.commit(&key, v, EventType::Modified)))
}

/// The garbage collector's answer to an object whose owners are all absent (it was written
/// with `ownerReferences` to UIDs that do not exist, or no longer do): it is deleted.
pub(crate) fn collect_if_ownerless(st: &mut State, def: &ResourceDef, stored: &Stored, now: &str) {
    let owners = &stored.summary.owner_uids;
    if st.dry_run || owners.is_empty() || owners.iter().any(|u| st.by_uid(u).is_some()) {
        return;
    }
    let (namespace, name) = (
        stored.summary.namespace.clone(),
        stored.summary.name.clone(),
    );
    let _ = delete(st, def, &namespace, &name, &DeleteOptions::default(), now);
}

/// Removes the owner reference to `owner_uid` from each dependent.
fn orphan(st: &mut State, owner_uid: &str) {
    for dep in st.dependents_of(owner_uid) {
        let Some(stored) = st.get_ref(&dep) else {
            continue;
        };
        let mut v = stored.value();
        if let Some(refs) = v["metadata"]["ownerReferences"].as_array_mut() {
            refs.retain(|r| r["uid"] != owner_uid);
        }
        st.commit(&dep.key, v, EventType::Modified);
    }
}

/// The garbage collector's step for one dependent of a deleted owner: drop the reference if
/// other owners remain, else delete the dependent (in the background).
fn delete_dependent(st: &mut State, dep: &ObjRef, owner_uid: &str, now: &str) {
    let Some(stored) = st.get_ref(dep).cloned() else {
        return;
    };
    let others_alive = stored
        .summary
        .owner_uids
        .iter()
        .any(|u| u != owner_uid && st.by_uid(u).is_some());
    if others_alive {
        let mut v = stored.value();
        if let Some(refs) = v["metadata"]["ownerReferences"].as_array_mut() {
            refs.retain(|r| r["uid"] != owner_uid);
        }
        st.commit(&dep.key, v, EventType::Modified);
        return;
    }
    let Some(def) = st.registry.any_version(&dep.key) else {
        return;
    };
    // A dependent that is already terminating keeps waiting for its finalizers.
    let _ = delete(
        st,
        &def,
        &dep.namespace,
        &dep.name,
        &DeleteOptions::default(),
        now,
    );
}

/// Removes an object for good (its last state is `last`), then does what follows from that:
/// dependents are collected, a CRD's resources stop being served, a terminating namespace or
/// a foreground-deleting owner whose last dependent this was is finished.
pub(crate) fn remove(st: &mut State, key: &StoreKey, last: Value) -> Stored {
    if st.dry_run {
        return st.commit(key, last, EventType::Deleted);
    }
    let is_crd = key.0 == "apiextensions.k8s.io" && key.1 == "customresourcedefinitions";
    if is_crd {
        remove_crd_objects(st, &last);
    }
    let gone = st.commit(key, last, EventType::Deleted);
    let uid = gone.summary.uid.clone();
    let namespace = gone.summary.namespace.clone();
    let owners = gone.summary.owner_uids.clone();
    let now = super::clock::now();
    for dep in st.dependents_of(&uid) {
        delete_dependent(st, &dep, &uid, &now);
    }
    for owner in owners {
        finish_foreground(st, &owner);
    }
    if !namespace.is_empty() {
        finish_namespace(st, &namespace);
    }
    gone
}

/// Deletes every object of a removed CRD's resource and stops serving it.
fn remove_crd_objects(st: &mut State, crd: &Value) {
    let group = crd["spec"]["group"].as_str().unwrap_or_default().to_owned();
    let plural = crd["spec"]["names"]["plural"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let key = (group.clone(), plural.clone());
    let page = st.list(&key, None, &Default::default(), None, None);
    for item in page.map(|p| p.items).unwrap_or_default() {
        remove(st, &key, item.value());
    }
    st.registry.remove(&group, &plural);
    st.drop_collection(&key);
}

fn finish_foreground(st: &mut State, owner_uid: &str) {
    let Some(r) = st.by_uid(owner_uid).cloned() else {
        return;
    };
    let Some(owner) = st.get_ref(&r).cloned() else {
        return;
    };
    let mut v = owner.value();
    let waiting = owner.summary.terminating && finalizers(&v).iter().any(|f| f == FOREGROUND);
    if !waiting || !st.dependents_of(owner_uid).is_empty() {
        return;
    }
    let rest: Vec<String> = finalizers(&v)
        .into_iter()
        .filter(|f| f != FOREGROUND)
        .collect();
    if rest.is_empty() {
        remove(st, &r.key, v);
    } else {
        v["metadata"]["finalizers"] = json!(rest);
        st.commit(&r.key, v, EventType::Modified);
    }
}

/// Namespace deletion: it turns `Terminating`, its objects are deleted, and it goes away once
/// they all have.
fn delete_namespace(st: &mut State, ns: Stored, now: &str) -> Deleted {
    let name = ns.summary.name.clone();
    let mut v = ns.value();
    v["metadata"]["deletionTimestamp"] = json!(now);
    v["metadata"]["deletionGracePeriodSeconds"] = json!(0);
    v["status"]["phase"] = json!("Terminating");
    let terminating = st.commit(&namespaces_key(), v, EventType::Modified);
    if st.dry_run {
        return Deleted::Pending(terminating);
    }
    for r in st.in_namespace(&name) {
        if let Some(def) = st.registry.any_version(&r.key) {
            let _ = delete(
                st,
                &def,
                &r.namespace,
                &r.name,
                &DeleteOptions::default(),
                now,
            );
        }
    }
    finish_namespace(st, &name);
    match st.get(&namespaces_key(), "", &name) {
        Some(_) => Deleted::Pending(terminating),
        None => Deleted::Gone(terminating),
    }
}

fn finish_namespace(st: &mut State, namespace: &str) {
    let Some(ns) = st.get(&namespaces_key(), "", namespace).cloned() else {
        return;
    };
    if !ns.summary.terminating || !st.in_namespace(namespace).is_empty() {
        return;
    }
    let mut v = ns.value();
    v["spec"]["finalizers"] = json!([]);
    remove(st, &namespaces_key(), v);
}
