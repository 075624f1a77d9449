//! The write verbs (create, update, patch, apply) as kube-apiserver runs them: server-set
//! metadata, status-subresource scoping, type admission, schema admission, `generation`,
//! `managedFields`, optimistic concurrency, and the end of a deletion once finalizers are gone.

use super::builtin;
use super::crd;
use super::crd_schema;
use super::error::ApiError;
use super::gc;
use super::managed::{self, Scope, Writer};
use super::namespace_defaults;
use super::patch::{self, PatchKind};
use super::resources::{ResourceDef, Special, namespaces_key};
use super::store::{EventType, State};
use super::stored::Stored;
use super::value_equality::{go_round_trip, values_equal};
use serde_json::{Map, Value, json};

/// Who is writing, and when.
pub(crate) struct WriteCtx {
    /// `fieldManager` of the request, or the name derived from its `User-Agent`.
    pub(crate) manager: String,
    /// Whether the request named a `fieldManager` (apply requires one).
    pub(crate) manager_given: bool,
    pub(crate) force: bool,
    pub(crate) now: String,
}

fn meta(v: &mut Value) -> &mut Map<String, Value> {
    if !v["metadata"].is_object() {
        v["metadata"] = json!({});
    }
    v["metadata"].as_object_mut().expect("metadata is a map")
}

fn main_scope(def: &ResourceDef) -> Scope {
    if def.status_subresource {
        Scope::Main
    } else {
        Scope::Whole
    }
}

fn writer<'a>(api_version: &'a str, ctx: &'a WriteCtx) -> Writer<'a> {
    Writer {
        manager: &ctx.manager,
        api_version,
        now: &ctx.now,
    }
}

/// Random suffix of `generateName`, from the alphabet kube-apiserver uses.
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4().as_bytes()[..5]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// Checks that a namespaced object's namespace exists and is not terminating.
fn check_namespace(
    st: &State,
    def: &ResourceDef,
    namespace: &str,
    name: &str,
) -> Result<(), ApiError> {
    if !def.namespaced {
        return Ok(());
    }
    let ns_subject = super::error::Subject {
        plural: "namespaces",
        group: "",
        kind: "Namespace",
    };
    let ns = st
        .get(&namespaces_key(), "", namespace)
        .ok_or_else(|| ApiError::not_found(ns_subject, namespace))?;
    if ns.summary.terminating {
        let subject = def.subject();
        let what = if subject.group.is_empty() {
            subject.plural.to_owned()
        } else {
            format!("{}.{}", subject.plural, subject.group)
        };
        let mut e = ApiError::forbidden(format!(
            "{what} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated"
        ));
        e.details = Some(json!({"name": name, "kind": def.plural}));
        return Err(e);
    }
    Ok(())
}

/// Type admission shared by create and update: built-in rules, then the CRD schema.
fn admit(
    def: &ResourceDef,
    new: &mut Value,
    old: Option<&Value>,
    now: &str,
) -> Result<(), ApiError> {
    builtin::validate_labels(def.subject(), new)?;
    if let Some(old) = old.filter(|o| o.pointer("/metadata/deletionTimestamp").is_some()) {
        let before = super::gc::finalizers(old);
        let added: Vec<String> = super::gc::finalizers(new)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        if !added.is_empty() {
            let name = new["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let quoted: Vec<String> = added.iter().map(|f| format!("{f:?}")).collect();
            return Err(ApiError::invalid(
                def.subject(),
                &name,
                &[super::error::Cause {
                    reason: "FieldValueForbidden".into(),
                    message: format!(
                        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                        quoted.join(", ")
                    ),
                    field: "metadata.finalizers".into(),
                }],
            ));
        }
    }
    match def.special {
        Special::Secret => builtin::admit_secret(def.subject(), new, old)?,
        Special::Namespace => builtin::admit_namespace(new, old),
        Special::CustomResourceDefinition => {
            crd::resources(def.subject(), new)?;
            new["status"] = crd::established_status(new, now);
        }
        Special::EventsV1 => {
            if let Some(old) = old {
                super::events::validate_update(def.subject(), new, old)?
            }
        }
        Special::None => {}
    }
    if let Some(schema) = &def.schema {
        if let Err(errors) = schema.admit(new, old) {
            let name = new["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let causes = crd_schema::causes(errors);
            return Err(ApiError::invalid(def.subject(), &name, &causes));
        }
    }
    Ok(())
}

/// Serves the resources of a CRD that was just stored.
fn register_crd(st: &mut State, def: &ResourceDef, crd_object: &Value) -> Result<(), ApiError> {
    let defs = crd::resources(def.subject(), crd_object)?;
    if st.dry_run {
        return Ok(());
    }
    if let Some(first) = defs.first() {
        st.registry.remove(&first.group, &first.plural);
    }
    for d in defs {
        st.registry.insert(d);
    }
    Ok(())
}

/// How `managedFields` of a write are produced.
pub(crate) enum Managed {
    /// Record the writer as an `Update` manager of what it changed.
    Record,
    /// Already computed (server-side apply).
    Computed,
}

/// POST: creates an object in `namespace` (`""` for cluster-scoped resources).
pub(crate) fn create(
    st: &mut State,
    def: &ResourceDef,
    namespace: &str,
    mut obj: Value,
    ctx: &WriteCtx,
    managed: Managed,
) -> Result<Stored, ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    let api_version = def.api_version();
    let m = meta(&mut obj);
    if def.namespaced {
        match m.get("namespace").and_then(Value::as_str) {
            Some(ns) if !ns.is_empty() && ns != namespace => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {
                m.insert("namespace".into(), json!(namespace));
            }
        }
    } else {
        m.remove("namespace");
    }
    let name = match (
        m.get("name").and_then(Value::as_str),
        m.get("generateName").and_then(Value::as_str),
    ) {
        (Some(n), _) if !n.is_empty() => n.to_owned(),
        (_, Some(prefix)) if !prefix.is_empty() => {
            let n = format!("{prefix}{}", random_suffix());
            m.insert("name".into(), json!(n));
            n
        }
        _ => {
            return Err(ApiError::invalid(
                def.subject(),
                "",
                &[super::error::Cause {
                    reason: "FieldValueRequired".into(),
                    message: "Required value: name or generateName is required".into(),
                    field: "metadata.name".into(),
                }],
            ));
        }
    };
    builtin::validate_name(def.subject(), &name, def.special == Special::Namespace)?;
    // kube-apiserver's storage refuses a create (POST) that carries a resourceVersion (one
    // that parses as a number other than 0) with a 500, after validation and not on a dry run
    // (which never reaches storage); an apply that creates goes through the registry's update
    // path instead, which drops it (kubernetes/kubernetes#106745).
    let refused_by_storage = matches!(managed, Managed::Record)
        && m.get("resourceVersion")
            .and_then(Value::as_str)
            .and_then(|rv| rv.parse::<u64>().ok())
            .is_some_and(|rv| rv != 0);
    for k in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        m.remove(k);
    }
    m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    m.insert("creationTimestamp".into(), json!(ctx.now));
    if def.generation {
        m.insert("generation".into(), json!(1));
    } else {
        m.remove("generation");
    }
    if matches!(managed, Managed::Record) {
        m.remove("managedFields");
    }
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(def.kind);
    if def.status_subresource && def.is_custom() {
        obj.as_object_mut()
            .expect("objects are maps")
            .remove("status");
    }
    check_namespace(st, def, namespace, &name)?;
    admit(def, &mut obj, None, &ctx.now)?;
    // etcd3's Create checks the resourceVersion before it finds the key taken.
    if refused_by_storage && !st.dry_run {
        return Err(ApiError::untranslated_storage(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    if st.get(&def.store_key(), namespace, &name).is_some() {
        return Err(ApiError::already_exists(def.subject(), &name));
    }
    if matches!(managed, Managed::Record) {
        managed::record_update(None, &mut obj, main_scope(def), &writer(&api_version, ctx));
    }
    if def.special == Special::CustomResourceDefinition {
        register_crd(st, def, &obj)?;
    }
    if def.is_custom() {
        go_round_trip(&mut obj);
    }
    let stored = st.commit(&def.store_key(), obj, EventType::Added);
    gc::collect_if_ownerless(st, def, &stored, &ctx.now);
    if def.special == Special::Namespace {
        create_namespace_defaults(st, &name, &ctx.now);
    }
    Ok(stored)
}

/// Creates what a cluster's controllers put into a new `namespace`, which was just stored
/// ([`namespace_defaults`]), at time `now`. Nothing for a dry run (the namespace is not stored).
///
/// The namespace's creation does not depend on them, as on a cluster, where the controllers
/// write them afterwards: an object that cannot be created (one of that name already exists)
/// is left as it is.
fn create_namespace_defaults(st: &mut State, namespace: &str, now: &str) {
    if st.dry_run {
        return;
    }
    let ctx = WriteCtx {
        manager: namespace_defaults::MANAGER.into(),
        manager_given: true,
        force: false,
        now: now.to_owned(),
    };
    for (plural, object) in namespace_defaults::objects() {
        if let Some(def) = st.registry.get("", "v1", plural) {
            let _ = create(st, &def, namespace, object, &ctx, Managed::Record);
        }
    }
}

/// Builds the object a write of `scope` leaves: the main resource keeps the old status, a
/// status write keeps everything but status.
fn scoped(def: &ResourceDef, old: &Value, mut new: Value, scope: Scope) -> Value {
    match scope {
        Scope::Status => {
            let mut out = old.clone();
            match new.as_object_mut().and_then(|o| o.remove("status")) {
                Some(s) => out["status"] = s,
                None => {
                    out.as_object_mut()
                        .expect("objects are maps")
                        .remove("status");
                }
            }
            let managed = new.pointer("/metadata/managedFields").cloned();
            let m = meta(&mut out);
            match managed {
                Some(mf) => m.insert("managedFields".into(), mf),
                None => m.remove("managedFields"),
            };
            // A status write may not change the resourceVersion precondition's meaning.
            if let Some(rv) = new.pointer("/metadata/resourceVersion") {
                m.insert("resourceVersion".into(), rv.clone());
            }
            out
        }
        Scope::Main if def.status_subresource => {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(o) = new.as_object_mut() {
                        o.remove("status");
                    }
                }
            }
            new
        }
        _ => new,
    }
}

/// Whether two versions of an object differ in anything `generation` tracks. Numbers compare by
/// value ([`values_equal`]): kube-apiserver compares the decoded objects, in which a stored `99`
/// and a sent `99.0` are the same.
fn spec_changed(def: &ResourceDef, old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("metadata");
            if def.status_subresource {
                o.remove("status");
            }
        }
        v
    };
    if def.is_custom() {
        // Unstructured in kube-apiserver: `reflect.DeepEqual` tells an int64 from a float64, so
        // a stored `99` (see `go_round_trip`) sent back as `99.0` is a change.
        strip(old) != strip(new)
    } else {
        !values_equal(&strip(old), &strip(new))
    }
}

/// The common end of update, patch and apply: `new` is the whole proposed object, `old` the
/// stored one (with its parsed value).
pub(crate) fn write_over(
    st: &mut State,
    def: &ResourceDef,
    (old, oldv): (&Stored, &Value),
    new: Value,
    scope: Scope,
    ctx: &WriteCtx,
    managed: Managed,
) -> Result<Stored, ApiError> {
    if !new.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    let name = oldv["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut new = scoped(def, oldv, new, scope);
    let m = meta(&mut new);
    match m.get("name").and_then(Value::as_str) {
        Some(n) if n != name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        _ => {}
    }
    if let Some(rv) = m.get("resourceVersion").and_then(Value::as_str) {
        if !rv.is_empty() && rv != old.resource_version().to_string() {
            return Err(ApiError::stale(def.subject(), &name));
        }
    }
    for k in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "resourceVersion",
    ] {
        match oldv["metadata"].get(k) {
            Some(v) => m.insert(k.into(), v.clone()),
            None => m.remove(k),
        };
    }
    if matches!(managed, Managed::Record) {
        match oldv.pointer("/metadata/managedFields") {
            Some(v) => m.insert("managedFields".into(), v.clone()),
            None => m.remove("managedFields"),
        };
    }
    new["apiVersion"] = oldv["apiVersion"].clone();
    new["kind"] = oldv["kind"].clone();
    admit(def, &mut new, Some(oldv), &ctx.now)?;
    if def.special == Special::CustomResourceDefinition {
        // CRD status is the server's to set.
        new["status"] = oldv["status"].clone();
    }
    if def.generation && spec_changed(def, oldv, &new) {
        let g = oldv["metadata"]["generation"].as_i64().unwrap_or(0);
        new["metadata"]["generation"] = json!(g + 1);
    }
    if matches!(managed, Managed::Record) {
        let api_version = def.api_version();
        managed::record_update(Some(oldv), &mut new, scope, &writer(&api_version, ctx));
    }
    if def.is_custom() {
        go_round_trip(&mut new);
    }
    // A write that changes nothing keeps the object and its resourceVersion, as kube-apiserver's
    // storage skips writing bytes equal to the stored ones; Go encodes a float64 99 and an int64
    // 99 alike, so numbers compare by value here.
    if values_equal(&new, oldv) {
        return Ok(old.clone());
    }
    let finalizers_empty = new
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if oldv.pointer("/metadata/deletionTimestamp").is_some() && finalizers_empty {
        return Ok(gc::remove(st, &def.store_key(), new));
    }
    if def.special == Special::CustomResourceDefinition {
        register_crd(st, def, &new)?;
    }
    let stored = st.commit(&def.store_key(), new, EventType::Modified);
    gc::collect_if_ownerless(st, def, &stored, &ctx.now);
    Ok(stored)
}

fn scope_of(def: &ResourceDef, subresource: Option<&str>) -> Result<Scope, ApiError> {
    match subresource {
        None => Ok(main_scope(def)),
        Some("status") if def.status_subresource => Ok(Scope::Status),
        Some(_) => Err(ApiError::no_route()),
    }
}

fn existing(
    st: &State,
    def: &ResourceDef,
    namespace: &str,
    name: &str,
) -> Result<Stored, ApiError> {
    st.get(&def.store_key(), namespace, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(def.subject(), name))
}

/// PUT: replaces an object (or its status).
pub(crate) fn update(
    st: &mut State,
    def: &ResourceDef,
    namespace: &str,
    name: &str,
    subresource: Option<&str>,
    new: Value,
    ctx: &WriteCtx,
) -> Result<Stored, ApiError> {
    let scope = scope_of(def, subresource)?;
    let old = existing(st, def, namespace, name)?;
    let rv_missing = new
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty);
    if def.is_custom() && rv_missing {
        return Err(ApiError::invalid_field(
            def.subject(),
            name,
            "metadata.resourceVersion",
            "Invalid value: 0x0: must be specified for an update".into(),
        ));
    }
    write_over(
        st,
        def,
        (&old, &old.value()),
        new,
        scope,
        ctx,
        Managed::Record,
    )
}

/// Which object (and subresource) a request addresses.
pub(crate) struct Target<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) name: &'a str,
    pub(crate) subresource: Option<&'a str>,
}

/// PATCH: JSON, merge and strategic merge patches, and server-side apply.
pub(crate) fn patch(
    st: &mut State,
    def: &ResourceDef,
    target: Target<'_>,
    kind: PatchKind,
    body: &[u8],
    ctx: &WriteCtx,
) -> Result<Stored, ApiError> {
    let Target {
        namespace,
        name,
        subresource,
    } = target;
    let scope = scope_of(def, subresource)?;
    let mut body = patch::parse_body(kind, body)?;
    if kind != PatchKind::Apply {
        let old = existing(st, def, namespace, name)?;
        let oldv = old.value();
        let new = patch::apply_patch(kind, &oldv, &body)?;
        return write_over(st, def, (&old, &oldv), new, scope, ctx, Managed::Record);
    }
    if !ctx.manager_given {
        return Err(ApiError::invalid_field(
            def.subject(),
            name,
            "metadata.managedFields.fieldManager",
            "Required value: is required for apply patch".into(),
        ));
    }
    if body["apiVersion"].as_str() != Some(def.api_version().as_str())
        || body["kind"].as_str() != Some(def.kind.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({}) does not match the expected API version ({}) or the kind ({}) does not match {}",
            body["apiVersion"].as_str().unwrap_or(""),
            def.api_version(),
            body["kind"].as_str().unwrap_or(""),
            def.kind
        )));
    }
    // The applied configuration must convert to its typed form before anything else (a 500
    // with structured-merge-diff's message, naming the object as the body does).
    if let Some(error) = def.schema.as_ref().and_then(|s| s.typed_patch_error(&body)) {
        let meta = |key: &str| body["metadata"][key].as_str().unwrap_or_default();
        return Err(ApiError::unknown(
            500,
            format!(
                "failed to create typed patch object ({}/{}; {}, Kind={}): {error}",
                meta("namespace"),
                meta("name"),
                def.api_version(),
                def.kind
            ),
        ));
    }
    // kube-apiserver takes the name from the URL when the applied configuration has none (as
    // kube-lease-manager's applies do) and refuses only a different one.
    match body.pointer("/metadata/name").and_then(Value::as_str) {
        Some(n) if n != name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        Some(_) => {}
        None => {
            if !body["metadata"].is_object() {
                body["metadata"] = json!({});
            }
            body["metadata"]["name"] = json!(name);
        }
    }
    let api_version = def.api_version();
    let w = writer(&api_version, ctx);
    // Only what this scope may change is applied (and owned).
    let mut applied = body;
    match scope {
        Scope::Main => {
            if let Some(o) = applied.as_object_mut() {
                o.remove("status");
            }
        }
        Scope::Status => {
            let status = applied.get("status").cloned();
            applied = json!({"metadata": {}});
            if let Some(s) = status {
                applied["status"] = s;
            }
        }
        Scope::Whole => {}
    }
    let conflict = |c: Vec<(String, String)>| ApiError::apply_conflict(def.subject(), name, &c);
    match st.get(&def.store_key(), namespace, name).cloned() {
        Some(old) => {
            let oldv = old.value();
            let precondition = applied.pointer("/metadata/resourceVersion").cloned();
            let mut new =
                managed::apply(&oldv, &applied, scope, &w, ctx.force).map_err(conflict)?;
            if let Some(rv) = precondition {
                new["metadata"]["resourceVersion"] = rv;
            } else {
                new["metadata"]["resourceVersion"] = json!(old.resource_version().to_string());
            }
            write_over(st, def, (&old, &oldv), new, scope, ctx, Managed::Computed)
        }
        None if scope == Scope::Status => Err(ApiError::not_found(def.subject(), name)),
        None => {
            let mut empty = json!({"metadata": {"name": name}});
            if def.namespaced {
                empty["metadata"]["namespace"] = json!(namespace);
            }
            let new = managed::apply(&empty, &applied, scope, &w, ctx.force).map_err(conflict)?;
            create(st, def, namespace, new, ctx, Managed::Computed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd_schema::{FieldError, SchemaAdmit};
    use std::sync::Arc;

    /// A schema that rejects every object with two field errors.
    struct Rejecting;

    impl SchemaAdmit for Rejecting {
        fn admit(&self, _: &mut Value, _: Option<&Value>) -> Result<(), Vec<FieldError>> {
            Err(vec![
                FieldError {
                    field: "spec.permissions[0]".into(),
                    reason: "FieldValueNotSupported".into(),
                    message: "Unsupported value: \"foo\": supported values: \"allow_join\", \"ask_join\", \"allow_mod\"".into(),
                },
                FieldError {
                    field: "spec.issuerRef".into(),
                    reason: "FieldValueRequired".into(),
                    message: "Required value".into(),
                },
            ])
        }

        fn typed_patch_error(&self, _: &Value) -> Option<String> {
            None
        }

        fn unknown_fields(&self, _: &Value) -> Vec<String> {
            Vec::new()
        }
    }

    fn ctx() -> WriteCtx {
        WriteCtx {
            manager: "test".into(),
            manager_given: true,
            force: false,
            now: crate::clock::now(),
        }
    }

    #[test]
    fn schema_errors_are_rendered_as_kube_apiserver_renders_them() {
        let mut st = State::new(10);
        let ns = st.registry.get("", "v1", "namespaces").unwrap();
        create(
            &mut st,
            &ns,
            "",
            json!({"metadata": {"name": "default"}}),
            &ctx(),
            Managed::Record,
        )
        .unwrap();
        let crd = serde_json::to_value(e2e_support::operator_crds::crds().remove(0).1).unwrap();
        let crd_def = st
            .registry
            .get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            .unwrap();
        let mut def = crd::resources(crd_def.subject(), &crd).unwrap().remove(0);
        def.schema = Some(Arc::new(Rejecting));
        let token = json!({"apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkToken", "metadata": {"name": "t"}, "spec": {}});
        let err = create(&mut st, &def, "default", token, &ctx(), Managed::Record).unwrap_err();
        assert_eq!((err.code, err.reason), (422, "Invalid"));
        assert_eq!(
            err.message,
            "VideoSdkToken.videosdk.live \"t\" is invalid: [spec.permissions[0]: Unsupported value: \"foo\": supported values: \"allow_join\", \"ask_join\", \"allow_mod\", spec.issuerRef: Required value]"
        );
        let status = err.status();
        assert_eq!(status["details"]["group"], "videosdk.live");
        assert_eq!(status["details"]["kind"], "VideoSdkToken");
        assert_eq!(status["details"]["name"], "t");
        assert_eq!(
            status["details"]["causes"][0]["reason"],
            "FieldValueNotSupported"
        );
        assert_eq!(status["details"]["causes"][1]["field"], "spec.issuerRef");
    }
}
