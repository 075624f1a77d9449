//! Field ownership (`metadata.managedFields`) and server-side apply.
//!
//! A field set is the set of leaf paths a manager owns. Leaves are scalars, lists and empty
//! maps: every list is treated as atomic (owned and replaced as a whole), which is what
//! kube-apiserver does for lists without `x-kubernetes-list-type: map`; associative lists are
//! not merged by key here. Sets are stored in the `FieldsV1` form (`{"f:spec":{"f:ttl":{}}}`).

use super::value_equality::values_equal;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) type Path = Vec<String>;
pub(crate) type FieldSet = BTreeSet<Path>;

/// Which part of an object a write addresses: the main resource or its `/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The whole object (a resource without a status subresource).
    Whole,
    /// Everything but `status` (main resource of a type with a status subresource).
    Main,
    /// Only `status`.
    Status,
}

impl Scope {
    fn subresource(self) -> Option<&'static str> {
        (self == Scope::Status).then_some("status")
    }

    /// Whether a top-level key (and for `metadata`, the second-level key) is tracked in this scope.
    fn tracks(self, top: &str, second: Option<&str>) -> bool {
        match top {
            "apiVersion" | "kind" => false,
            "metadata" => {
                self != Scope::Status
                    && second.is_none_or(|k| {
                        matches!(
                            k,
                            "labels" | "annotations" | "finalizers" | "ownerReferences"
                        )
                    })
            }
            "status" => self != Scope::Main,
            _ => self != Scope::Status,
        }
    }
}

/// Leaf paths of `v` and the values there, restricted to `scope`.
pub(crate) fn leaves(v: &Value, scope: Scope) -> BTreeMap<Path, &Value> {
    fn walk<'a>(v: &'a Value, path: &mut Path, scope: Scope, out: &mut BTreeMap<Path, &'a Value>) {
        match v {
            Value::Object(m) if !m.is_empty() || path.is_empty() => {
                for (k, child) in m {
                    let top = path.first().map(String::as_str).unwrap_or(k);
                    let second = match path.len() {
                        0 => None,
                        1 => Some(k.as_str()),
                        _ => Some(path[1].as_str()),
                    };
                    if !scope.tracks(top, second) {
                        continue;
                    }
                    if path.is_empty() && top == "metadata" {
                        // metadata itself is never a leaf: only its tracked children are.
                        if let Value::Object(meta) = child {
                            for (mk, mv) in meta {
                                if scope.tracks("metadata", Some(mk)) {
                                    path.extend(["metadata".to_owned(), mk.clone()]);
                                    walk(mv, path, scope, out);
                                    path.truncate(0);
                                }
                            }
                        }
                        continue;
                    }
                    path.push(k.clone());
                    walk(child, path, scope, out);
                    path.pop();
                }
            }
            Value::Null if path.is_empty() => {}
            _ => {
                out.insert(path.clone(), v);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(v, &mut Vec::new(), scope, &mut out);
    out
}

pub(crate) fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for key in path {
            node = node
                .entry(format!("f:{key}"))
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("fieldsV1 nodes are objects");
        }
    }
    Value::Object(root)
}

pub(crate) fn from_fields_v1(v: &Value) -> FieldSet {
    fn walk(v: &Value, path: &mut Path, out: &mut FieldSet) {
        let Value::Object(m) = v else { return };
        if (m.is_empty() || m.contains_key(".")) && !path.is_empty() {
            out.insert(path.clone());
        }
        for (k, child) in m {
            if let Some(key) = k.strip_prefix("f:") {
                path.push(key.to_owned());
                walk(child, path, out);
                path.pop();
            }
        }
    }
    let mut out = FieldSet::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

/// One `managedFields` entry, parsed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    pub(crate) manager: String,
    pub(crate) operation: String,
    pub(crate) api_version: String,
    pub(crate) time: String,
    pub(crate) subresource: Option<String>,
    pub(crate) fields: FieldSet,
}

impl Entry {
    fn same_owner(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }

    /// The manager as kube-apiserver names it in apply conflicts.
    fn describe(&self) -> String {
        let mut d = format!("{:?}", self.manager);
        if let Some(s) = &self.subresource {
            d = format!("{d} with subresource {s:?}");
        }
        if self.operation == "Update" {
            d = format!("{d} using {} at {}", self.api_version, self.time);
        }
        d
    }

    fn to_json(&self) -> Value {
        let mut e = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(&self.fields),
        });
        if let Some(s) = &self.subresource {
            e["subresource"] = json!(s);
        }
        e
    }
}

pub(crate) fn read_entries(object: &Value) -> Vec<Entry> {
    let Some(list) = object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .map(|e| Entry {
            manager: e["manager"].as_str().unwrap_or_default().to_owned(),
            operation: e["operation"].as_str().unwrap_or("Update").to_owned(),
            api_version: e["apiVersion"].as_str().unwrap_or_default().to_owned(),
            time: e["time"].as_str().unwrap_or_default().to_owned(),
            subresource: e["subresource"].as_str().map(str::to_owned),
            fields: from_fields_v1(&e["fieldsV1"]),
        })
        .collect()
}

/// Writes entries into `object`, dropping empty ones; entries whose fields did not change keep
/// their old `time` so that a no-op write stays a no-op.
///
/// Entries are sorted as kube-apiserver sorts them (`sortEncodedManagedFields` in
/// k8s.io/apiserver's managedfields): by operation (`Apply` before `Update`), time, manager, API
/// version and subresource. The order therefore does not depend on who wrote last, and
/// re-applying an unchanged configuration leaves the object (and its resourceVersion) as it was.
pub(crate) fn write_entries(object: &mut Value, mut entries: Vec<Entry>, previous: &[Entry]) {
    entries.retain(|e| !e.fields.is_empty());
    for e in &mut entries {
        if let Some(p) = previous.iter().find(|p| {
            p.same_owner(&e.manager, &e.operation, e.subresource.as_deref())
                && p.fields == e.fields
                && p.api_version == e.api_version
        }) {
            e.time = p.time.clone();
        }
    }
    // Times are this server's RFC 3339 UTC timestamps, all in one format: their text sorts as
    // the times do.
    entries.sort_by(|a, b| {
        (
            &a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                &b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    let meta = object["metadata"]
        .as_object_mut()
        .expect("objects have metadata");
    if entries.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert(
            "managedFields".into(),
            Value::Array(entries.iter().map(Entry::to_json).collect()),
        );
    }
}

/// Who writes: the field manager, the API version it writes in and the time.
pub(crate) struct Writer<'a> {
    pub(crate) manager: &'a str,
    pub(crate) api_version: &'a str,
    pub(crate) now: &'a str,
}

/// Records a non-apply write (create, update, patch): the writer takes ownership of every leaf
/// it added or changed, and removed leaves leave every owner. A leaf whose value is the same
/// number spelled differently (`99` for `99.0`) is unchanged ([`values_equal`]), as
/// structured-merge-diff compares it.
pub(crate) fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    scope: Scope,
    writer: &Writer<'_>,
) {
    let previous = old.map(read_entries).unwrap_or_default();
    let new_leaves = leaves(new, scope);
    let old_leaves = old.map(|o| leaves(o, scope)).unwrap_or_default();
    let changed: FieldSet = new_leaves
        .iter()
        .filter(|(p, v)| !old_leaves.get(*p).is_some_and(|old| values_equal(old, v)))
        .map(|(p, _)| p.clone())
        .collect();
    let removed: FieldSet = old_leaves
        .keys()
        .filter(|p| !new_leaves.contains_key(*p))
        .cloned()
        .collect();
    let sub = scope.subresource();
    let mut entries = previous.clone();
    for e in &mut entries {
        if !e.same_owner(writer.manager, "Update", sub) {
            e.fields
                .retain(|p| !changed.contains(p) && !removed.contains(p));
        } else {
            e.fields.retain(|p| !removed.contains(p));
        }
    }
    match entries
        .iter_mut()
        .find(|e| e.same_owner(writer.manager, "Update", sub))
    {
        Some(e) => {
            e.fields.extend(changed);
            e.api_version = writer.api_version.to_owned();
            e.time = writer.now.to_owned();
        }
        None if !changed.is_empty() => entries.push(Entry {
            manager: writer.manager.to_owned(),
            operation: "Update".into(),
            api_version: writer.api_version.to_owned(),
            time: writer.now.to_owned(),
            subresource: sub.map(str::to_owned),
            fields: changed,
        }),
        None => {}
    }
    write_entries(new, entries, &previous);
}

fn path_string(p: &Path) -> String {
    p.iter().map(|k| format!(".{k}")).collect()
}

fn remove_path(v: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = v;
    for k in parents {
        match node.get_mut(k) {
            Some(child) => node = child,
            None => return,
        }
    }
    if let Value::Object(m) = node {
        m.remove(last);
    }
}

/// Deep-merges `applied` into `live`: maps merge key by key, everything else is replaced.
fn merge(live: &mut Value, applied: &Value) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, av) in a {
                match l.get_mut(k) {
                    Some(lv) if lv.is_object() && av.is_object() => merge(lv, av),
                    _ => {
                        l.insert(k.clone(), av.clone());
                    }
                }
            }
        }
        (l, a) => *l = a.clone(),
    }
}

/// Server-side apply of `applied` (already restricted to what `scope` may change) onto `live`.
///
/// Returns the new object with `managedFields` updated, or the conflicts
/// `(manager, .field.path)` when another manager owns a field whose value this apply changes
/// and `force` is false. With `force`, such fields move to this manager. Values are compared
/// with [`values_equal`]: applying `99` over another manager's `99.0` changes nothing, so it is
/// no conflict and both managers own the field, as on kube-apiserver.
pub(crate) fn apply(
    live: &Value,
    applied: &Value,
    scope: Scope,
    writer: &Writer<'_>,
    force: bool,
) -> Result<Value, Vec<(String, String)>> {
    let previous = read_entries(live);
    let sub = scope.subresource();
    let applied_leaves = leaves(applied, scope);
    let live_leaves = leaves(live, scope);
    let mut entries = previous.clone();
    let mut conflicts = Vec::new();
    for e in &mut entries {
        if e.same_owner(writer.manager, "Apply", sub) {
            continue;
        }
        let contested: Vec<Path> = e
            .fields
            .iter()
            .filter(|p| {
                applied_leaves
                    .get(*p)
                    .is_some_and(|v| !live_leaves.get(*p).is_some_and(|l| values_equal(l, v)))
            })
            .cloned()
            .collect();
        if force {
            e.fields.retain(|p| !contested.contains(p));
        } else {
            conflicts.extend(contested.iter().map(|p| (e.describe(), path_string(p))));
        }
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    let mine: FieldSet = applied_leaves.keys().cloned().collect();
    let mut new = live.clone();
    if let Some(before) = previous
        .iter()
        .find(|e| e.same_owner(writer.manager, "Apply", sub))
    {
        for dropped in before.fields.difference(&mine) {
            let owned_elsewhere = entries
                .iter()
                .any(|e| !e.same_owner(writer.manager, "Apply", sub) && e.fields.contains(dropped));
            if !owned_elsewhere {
                remove_path(&mut new, dropped);
            }
        }
    }
    merge(&mut new, applied);
    // Leaves this manager now owns leave any Update entry of the same manager.
    for e in &mut entries {
        if e.manager == writer.manager && e.operation == "Update" && e.subresource.as_deref() == sub
        {
            e.fields.retain(|p| !mine.contains(p));
        }
    }
    entries.retain(|e| !e.same_owner(writer.manager, "Apply", sub));
    entries.push(Entry {
        manager: writer.manager.to_owned(),
        operation: "Apply".into(),
        api_version: writer.api_version.to_owned(),
        time: writer.now.to_owned(),
        subresource: sub.map(str::to_owned),
        fields: mine,
    });
    write_entries(&mut new, entries, &previous);
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-01-01T00:00:00Z";

    fn w(manager: &str) -> Writer<'_> {
        Writer {
            manager,
            api_version: "v1",
            now: NOW,
        }
    }

    fn owned(o: &Value, manager: &str) -> Vec<String> {
        read_entries(o)
            .into_iter()
            .filter(|e| e.manager == manager)
            .flat_map(|e| e.fields.into_iter().map(|p| path_string(&p)))
            .collect()
    }

    #[test]
    fn fields_v1_round_trips() {
        let set: FieldSet = [
            vec!["spec".to_owned(), "a".to_owned()],
            vec!["metadata".to_owned(), "labels".to_owned(), "x".to_owned()],
        ]
        .into();
        let v = to_fields_v1(&set);
        assert_eq!(
            v,
            json!({"f:spec": {"f:a": {}}, "f:metadata": {"f:labels": {"f:x": {}}}})
        );
        assert_eq!(from_fields_v1(&v), set);
    }

    #[test]
    fn leaves_skip_identity_and_respect_scope() {
        let o = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "n", "labels": {"a": "1"}},
                       "spec": {"l": [1, 2], "m": {}}, "status": {"s": 1}});
        let main: Vec<String> = leaves(&o, Scope::Main).keys().map(path_string).collect();
        assert_eq!(main, [".metadata.labels.a", ".spec.l", ".spec.m"]);
        let status: Vec<String> = leaves(&o, Scope::Status).keys().map(path_string).collect();
        assert_eq!(status, [".status.s"]);
    }

    #[test]
    fn apply_conflicts_with_other_owner_unless_forced() {
        let live = json!({"metadata": {"name": "n"}, "spec": {"a": 1}});
        let live = apply(
            &live,
            &json!({"spec": {"a": 1}}),
            Scope::Whole,
            &w("one"),
            false,
        )
        .unwrap();
        // Same value: no conflict, shared ownership.
        let shared = apply(
            &live,
            &json!({"spec": {"a": 1}}),
            Scope::Whole,
            &w("two"),
            false,
        )
        .unwrap();
        assert_eq!(owned(&shared, "two"), [".spec.a"]);
        let err = apply(
            &live,
            &json!({"spec": {"a": 2}}),
            Scope::Whole,
            &w("two"),
            false,
        )
        .unwrap_err();
        assert_eq!(err, [("\"one\"".to_owned(), ".spec.a".to_owned())]);
        let forced = apply(
            &live,
            &json!({"spec": {"a": 2}}),
            Scope::Whole,
            &w("two"),
            true,
        )
        .unwrap();
        assert_eq!(forced["spec"]["a"], 2);
        assert!(owned(&forced, "one").is_empty());
        assert_eq!(owned(&forced, "two"), [".spec.a"]);
    }

    #[test]
    fn apply_removes_fields_the_manager_stopped_applying() {
        let live = json!({"metadata": {"name": "n"}});
        let a = apply(
            &live,
            &json!({"spec": {"a": 1, "b": 2}}),
            Scope::Whole,
            &w("m"),
            false,
        )
        .unwrap();
        let b = apply(&a, &json!({"spec": {"a": 1}}), Scope::Whole, &w("m"), false).unwrap();
        assert_eq!(b["spec"], json!({"a": 1}));
    }

    #[test]
    fn update_takes_ownership_of_changed_fields() {
        let live = json!({"metadata": {"name": "n"}});
        let a = apply(
            &live,
            &json!({"spec": {"a": 1}}),
            Scope::Whole,
            &w("ssa"),
            false,
        )
        .unwrap();
        let mut b = a.clone();
        b["spec"]["a"] = json!(5);
        record_update(Some(&a), &mut b, Scope::Whole, &w("kubectl-edit"));
        assert!(owned(&b, "ssa").is_empty());
        assert_eq!(owned(&b, "kubectl-edit"), [".spec.a"]);
        let err = apply(
            &b,
            &json!({"spec": {"a": 1}}),
            Scope::Whole,
            &w("ssa"),
            false,
        )
        .unwrap_err();
        assert_eq!(err[0].0, format!("\"kubectl-edit\" using v1 at {NOW}"));
    }

    #[test]
    fn reapplying_an_unchanged_configuration_changes_nothing() {
        let live = json!({"metadata": {"name": "n"}});
        let spec = json!({"spec": {"a": 1}});
        let one = apply(&live, &spec, Scope::Whole, &w("one"), false).unwrap();
        let both = apply(&one, &spec, Scope::Whole, &w("two"), false).unwrap();
        let again = apply(&both, &spec, Scope::Whole, &w("one"), false).unwrap();
        assert_eq!(again, both, "the entries keep their order");
    }

    #[test]
    fn numbers_are_the_same_whatever_their_spelling() {
        let live = json!({"metadata": {"name": "n"}});
        let float = apply(
            &live,
            &json!({"spec": {"max": 99.0, "l": [1.0]}}),
            Scope::Whole,
            &w("kube-rs"),
            false,
        )
        .unwrap();
        let int = json!({"spec": {"max": 99, "l": [1]}});
        let shared = apply(&float, &int, Scope::Whole, &w("kubectl"), false)
            .expect("99 over 99.0 is no conflict");
        assert_eq!(owned(&shared, "kube-rs"), [".spec.l", ".spec.max"]);
        assert_eq!(owned(&shared, "kubectl"), [".spec.l", ".spec.max"]);
        let mut updated = float.clone();
        updated["spec"]["max"] = json!(99);
        updated["spec"]["other"] = json!(1);
        record_update(Some(&float), &mut updated, Scope::Whole, &w("edit"));
        assert_eq!(owned(&updated, "edit"), [".spec.other"]);
        assert_eq!(owned(&updated, "kube-rs"), [".spec.l", ".spec.max"]);
    }
}
