//! What kube-apiserver (k8s.io/apiextensions-apiserver) does with a custom resource against its
//! CRD's structural schema, in the order it does it:
//!
//! 1. **pruning**: fields the schema does not declare are dropped (not under
//!    `x-kubernetes-preserve-unknown-fields`; never `apiVersion`, `kind`, `metadata` at the root
//!    or in an embedded resource); unknown fields inside `metadata` are dropped as the round trip
//!    through `ObjectMeta` does; nulls in non-nullable fields without a default are dropped;
//! 2. **defaulting**: `default`s fill absent fields (and nulls in non-nullable fields), nested
//!    defaults apply inside defaulted and existing objects;
//! 3. **validation**: the OpenAPI value validations (type, required, enum, pattern, bounds,
//!    lengths, item counts, formats `date-time`/`date`/`byte`), then `x-kubernetes-list-type`
//!    set/map uniqueness, then — only when none of those errors is "blocking" (unsupported
//!    value, required, too long, too many, wrong type), as kube-apiserver does — the
//!    `x-kubernetes-validations` CEL rules, transition rules (`oldSelf`) only on update.
//!
//! On update (`old` given) kube-apiserver's validation ratcheting applies: an error at a value
//! equal to its correlated old value (same property, same map key, same list-type map key) is
//! dropped, as are failing CEL rules that do not use `oldSelf` on such values.
//!
//! Not reproduced (documented differences): the CEL cost budget and per-call limit; CEL type
//! checking at CRD creation (a rule that does not return a bool fails at admission instead);
//! set/map-list equality semantics in CEL (lists compare in order); `anyOf`/`oneOf`/`not`
//! (structural schemas only allow them for value validations; `allOf` is applied); the string
//! formats other than `date-time`, `date` and `byte` are accepted unchecked; `metadata` of nested
//! `x-kubernetes-embedded-resource` objects is not coerced; the CRD-creation checks of
//! structural schemas and of defaults (pruned, valid) are not made.
//!
//! Field errors carry kube-apiserver's field path, cause type and message, so that a 422
//! `Invalid` built from them reads as the real server's. Everything is compiled once per CRD
//! version ([`CompiledSchema::compile`]); [`CompiledSchema::admit`] edits the object in place and
//! allocates only for CEL rules and errors.

mod celrt;
mod compile;
pub(crate) mod gofmt;
#[cfg(test)]
mod tests;
mod typed;
mod unknown;

use crate::value_equality::values_equal;
use compile::{Additional, ListType, Node, Shape};
use kube_cel::cel::Value as CelValue;
use serde_json::{Map, Value};
use std::fmt;

/// A CRD version's `openAPIV3Schema`, compiled.
#[derive(Debug)]
pub struct CompiledSchema {
    root: Node,
}

/// One field error as kube-apiserver reports it in a 422 `Invalid` Status's `details.causes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Field path as kube-apiserver prints it: `spec.permissions[1]`,
    /// `spec.secretTemplate.labels[foo]` (CEL, list-type errors),
    /// `spec.secretTemplate.labels.foo` (OpenAPI errors under additionalProperties), `<nil>` for
    /// the object itself.
    pub(crate) field: String,
    /// The metav1 `CauseType`: `FieldValueInvalid`, `FieldValueRequired`, ...
    pub(crate) reason: String,
    /// The error body after `<field>: `, e.g. `Unsupported value: "foo": supported values: ...`.
    pub(crate) message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// The metav1 cause types kube-apiserver uses here.
mod reason {
    pub(crate) const INVALID: &str = "FieldValueInvalid";
    pub(crate) const TYPE_INVALID: &str = "FieldValueTypeInvalid";
    pub(crate) const REQUIRED: &str = "FieldValueRequired";
    pub(crate) const NOT_SUPPORTED: &str = "FieldValueNotSupported";
    pub(crate) const DUPLICATE: &str = "FieldValueDuplicate";
    pub(crate) const FORBIDDEN: &str = "FieldValueForbidden";
    pub(crate) const TOO_LONG: &str = "FieldValueTooLong";
    pub(crate) const TOO_MANY: &str = "FieldValueTooMany";
}

fn err(field: &str, reason: &str, message: String) -> FieldError {
    FieldError {
        field: if field.is_empty() {
            "<nil>".to_owned()
        } else {
            field.to_owned()
        },
        reason: reason.to_owned(),
        message,
    }
}

/// `field.Invalid(path, value, detail)`.
fn invalid(field: &str, value: &str, detail: &str) -> FieldError {
    err(
        field,
        reason::INVALID,
        format!("Invalid value: {value}: {detail}"),
    )
}

/// `ObjectMeta` fields: what survives kube-apiserver's round trip of `metadata` through
/// `metav1.ObjectMeta`.
const OBJECT_META_FIELDS: [&str; 15] = [
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

impl CompiledSchema {
    /// The paths (`spec.tll`) of the fields of `object` (a whole object, or a merge patch)
    /// that the schema does not declare: what pruning drops.
    pub(crate) fn unknown_fields(&self, object: &Value) -> Vec<String> {
        unknown::fields(&self.root, object)
    }

    /// Why server-side apply cannot convert `patch` (a whole applied object) to its typed
    /// form: a wrong type, duplicate `set`/`map` list entries, an undeclared field, as
    /// structured-merge-diff words it (see `typed`); `None` when it converts.
    pub(crate) fn typed_patch_error(&self, patch: &Value) -> Option<String> {
        let errs = typed::errors(&self.root, patch);
        (!errs.is_empty()).then(|| typed::join(&errs))
    }

    /// Compile a CRD version's `openAPIV3Schema` (as JSON) once, when the CRD is created.
    /// Errors (a CEL rule or pattern that does not compile, a malformed node) come back as a
    /// message the CRD create can reject with.
    pub fn compile(open_api_v3_schema: &Value) -> Result<CompiledSchema, String> {
        let mut root = compile::compile_node(open_api_v3_schema, "openAPIV3Schema", 0)
            .map_err(|e| format!("spec.validation.{e}"))?;
        // The resource root is always treated as an embedded resource (apiVersion, kind and
        // metadata are never pruned there).
        root.embedded_resource = true;
        Ok(CompiledSchema { root })
    }

    /// kube-apiserver's admission steps for a custom resource (the whole object): prune, default,
    /// validate. `old` is the stored object on update: it enables transition rules (`oldSelf`)
    /// and the list-type ratcheting kube-apiserver applies (set/map uniqueness is only enforced
    /// when the old object satisfied it).
    pub fn admit(&self, object: &mut Value, old: Option<&Value>) -> Result<(), Vec<FieldError>> {
        prune(object, Some(&self.root), true);
        if let Value::Object(map) = object {
            if let Some(Value::Object(meta)) = map.get_mut("metadata") {
                meta.retain(|k, _| OBJECT_META_FIELDS.contains(&k.as_str()));
            }
        }
        if self.root.has_defaults {
            default(object, &self.root);
        }
        self.validate(object, old)
    }

    /// Validation only (no pruning or defaulting), as kube-apiserver's strategy does it.
    pub(crate) fn validate(
        &self,
        object: &Value,
        old: Option<&Value>,
    ) -> Result<(), Vec<FieldError>> {
        let mut errs = Vec::new();
        let mut path = String::new();
        openapi(&self.root, object, old, &mut path, &mut errs);
        if self.root.has_list_types {
            let old_ok = old.is_none_or(|o| {
                let mut e = Vec::new();
                list_types(&self.root, o, &mut String::new(), &mut e);
                e.is_empty()
            });
            if old_ok {
                list_types(&self.root, object, &mut path, &mut errs);
            }
        }
        if self.root.has_rules {
            let blocking = errs.iter().any(|e| {
                matches!(
                    e.reason.as_str(),
                    reason::NOT_SUPPORTED
                        | reason::REQUIRED
                        | reason::TOO_LONG
                        | reason::TOO_MANY
                        | reason::TYPE_INVALID
                )
            });
            if blocking {
                errs.push(invalid(
                    "",
                    "null",
                    "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
                ));
            } else {
                celrt::with_base(|base| {
                    cel_walk(&self.root, object, old, &mut path, base, &mut errs);
                });
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

// ---------------------------------------------------------------------------------------------
// Pruning (pruning.Prune + defaulting.PruneNonNullableNullsWithoutDefaults)

fn prune(v: &mut Value, node: Option<&Node>, is_root: bool) {
    match v {
        Value::Object(map) => {
            let Some(node) = node else {
                map.clear();
                return;
            };
            let embedded = node.embedded_resource;
            map.retain(|k, child| {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    return true;
                }
                match node.field_schema(k) {
                    Some(s) => {
                        if child.is_null() && !s.nullable && s.default.is_none() {
                            return false;
                        }
                        prune(child, Some(s), false);
                        true
                    }
                    None => {
                        if node.preserve_unknown
                            || matches!(node.additional, Additional::Bool(true))
                        {
                            true
                        } else {
                            // metaFields at the root are kept even without embedded-resource
                            is_root && META_FIELDS.contains(&k.as_str())
                        }
                    }
                }
            });
        }
        Value::Array(items) => {
            let item_node = node.and_then(|n| n.items.as_deref());
            if node.is_some_and(|n| n.preserve_unknown) && item_node.is_none() {
                return;
            }
            for i in items {
                prune(i, item_node, false);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Defaulting (defaulting.Default)

fn is_non_nullable_null(v: &Value, s: &Node) -> bool {
    v.is_null() && !s.nullable
}

fn default(v: &mut Value, node: &Node) {
    match v {
        Value::Object(map) => {
            for (k, prop) in &node.properties {
                let Some(d) = &prop.default else { continue };
                match map.get_mut(k.as_str()) {
                    None => {
                        map.insert(k.clone(), d.clone());
                    }
                    Some(existing) if is_non_nullable_null(existing, prop) => *existing = d.clone(),
                    _ => {}
                }
            }
            for (k, child) in map.iter_mut() {
                if let Some(prop) = node.property(k) {
                    if prop.has_defaults {
                        default(child, prop);
                    }
                } else if let Some(add) = node.additional_schema() {
                    if is_non_nullable_null(child, add) {
                        *child = add.default.clone().unwrap_or(Value::Null);
                    }
                    if add.has_defaults {
                        default(child, add);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = node.items.as_deref() {
                for i in items.iter_mut() {
                    if is_non_nullable_null(i, item) {
                        *i = item.default.clone().unwrap_or(Value::Null);
                    }
                    if item.has_defaults {
                        default(i, item);
                    }
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// OpenAPI value validation (kube-openapi's SchemaValidator, converted to field errors by
// apiextensions-apiserver's kubeOpenAPIResultToFieldErrors)

/// `<path> in body <what>`; the path is the kube-openapi name (dots, `[i]`, `.key` for map keys).
fn body(path: &str, what: &str) -> String {
    format!("{path} in body {what}")
}

fn json_type_name(v: &Value) -> (&'static str, &'static str) {
    match v {
        Value::Null => ("null", ""),
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(n) if n.is_f64() => ("number", "double"),
        Value::Number(_) => ("integer", "int64"),
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
    }
}

fn push_seg(path: &mut String, seg: &str) -> usize {
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(seg);
    len
}

fn push_index(path: &mut String, i: usize) -> usize {
    let len = path.len();
    use std::fmt::Write;
    let _ = write!(path, "[{i}]");
    len
}

/// OpenAPI validation of `v` under `node`, with validation ratcheting as kube-apiserver does
/// it on update (CRDValidationRatcheting): errors found at a node whose value equals its
/// correlated old value (same property or map key, same list-type map key) are dropped. "Equals"
/// compares numbers by value ([`values_equal`]): kube-apiserver's old value was decoded from
/// etcd, where Go wrote a float64 99 as `99`, so a stored `99.0` and a sent `99` are unchanged.
fn openapi(
    node: &Node,
    v: &Value,
    old: Option<&Value>,
    path: &mut String,
    errs: &mut Vec<FieldError>,
) {
    let before = errs.len();
    openapi_node(node, v, old, path, errs);
    if errs.len() > before && old.is_some_and(|o| values_equal(o, v)) {
        errs.truncate(before);
    }
}

fn openapi_node(
    node: &Node,
    v: &Value,
    old: Option<&Value>,
    path: &mut String,
    errs: &mut Vec<FieldError>,
) {
    // type
    if v.is_null() {
        if node.shape != Shape::Any && !node.nullable {
            let t = node.shape.name();
            errs.push(err(
                path,
                reason::TYPE_INVALID,
                format!(
                    "Invalid value: \"null\": {}",
                    body(path, &format!("must be of type {t}: \"null\""))
                ),
            ));
        }
        enum_check(node, v, path, errs);
        return;
    }
    let (actual, actual_format) = json_type_name(v);
    if node.shape != Shape::Any && !node.int_or_string {
        let expected = node.shape.name();
        let float_int = actual == "number"
            && node.shape == Shape::Integer
            && v.as_f64().is_some_and(|f| f.fract() == 0.0);
        let int_float = actual == "integer" && node.shape == Shape::Number;
        let ok = actual == expected || float_int || int_float;
        let is_text = matches!(v, Value::String(_) | Value::Array(_));
        if !(is_text || node.format_name.is_empty() || ok || actual_format == node.format_name) {
            errs.push(type_invalid(
                path,
                actual_format,
                &format!(
                    "must be of type {}: {}",
                    node.format_name,
                    gofmt::quote(actual_format)
                ),
            ));
            return;
        }
        let string_with_format = !matches!(node.shape, Shape::Number | Shape::Integer)
            && !node.format_name.is_empty()
            && is_text;
        if !string_with_format && !ok {
            errs.push(type_invalid(
                path,
                actual,
                &format!("must be of type {expected}: {}", gofmt::quote(actual)),
            ));
            // kube-openapi still runs the validators that apply to the actual kind; with a type
            // mismatch they only add noise, and kube-apiserver's answer leads with this error.
            return;
        }
    } else if node.int_or_string && !matches!(v, Value::String(_) | Value::Number(_)) {
        // int-or-string has no `type`; the structural schema's anyOf reports it.
        errs.push(invalid(
            path,
            &gofmt::bad_value(v),
            &body(path, "must be of type integer or string"),
        ));
        return;
    }
    // allOf: value validations of each branch at the same path
    for b in &node.all_of {
        openapi_node(b, v, old, path, errs);
    }
    match v {
        Value::String(s) => {
            let chars = s.chars().count() as u64;
            if let Some(max) = node.max_length.filter(|m| chars > *m) {
                errs.push(err(
                    path,
                    reason::TOO_LONG,
                    format!(
                        "Too long: may not be more than {max} {}",
                        if max == 1 { "byte" } else { "bytes" }
                    ),
                ));
            }
            if let Some(min) = node.min_length.filter(|m| chars < *m) {
                errs.push(invalid(
                    path,
                    &gofmt::quote(s),
                    &body(path, &format!("should be at least {min} chars long")),
                ));
            }
            if let Some((p, re)) = &node.pattern {
                if !re.is_match(s) {
                    errs.push(invalid(
                        path,
                        &gofmt::quote(s),
                        &body(path, &format!("should match '{p}'")),
                    ));
                }
            }
            // formats kube-apiserver checks (strfmt.Default, the ones CRDs may use)
            let bad_format = match node.format_name.as_str() {
                "date-time" | "datetime" => chrono::DateTime::parse_from_rfc3339(s).is_err(),
                "date" => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err(),
                "byte" => {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.decode(s).is_err()
                }
                _ => false,
            };
            if bad_format {
                errs.push(type_invalid(
                    path,
                    &gofmt::quote(s),
                    &format!("must be of type {}: {}", node.format_name, gofmt::quote(s)),
                ));
            }
        }
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            let shown = gofmt::number(n);
            if let Some(m) = node.multiple_of {
                if m != 0.0 && ((f / m).fract().abs() > f64::EPSILON) {
                    errs.push(invalid(
                        path,
                        &shown,
                        &body(
                            path,
                            &format!("should be a multiple of {}", gofmt::float(m)),
                        ),
                    ));
                }
            }
            if let Some(b) = &node.maximum {
                if f > b.value || (b.exclusive && f >= b.value) {
                    let what = if b.exclusive {
                        "should be less than"
                    } else {
                        "should be less than or equal to"
                    };
                    errs.push(invalid(
                        path,
                        &shown,
                        &body(path, &format!("{what} {}", gofmt::float(b.value))),
                    ));
                }
            }
            if let Some(b) = &node.minimum {
                if f < b.value || (b.exclusive && f <= b.value) {
                    let what = if b.exclusive {
                        "should be greater than"
                    } else {
                        "should be greater than or equal to"
                    };
                    errs.push(invalid(
                        path,
                        &shown,
                        &body(path, &format!("{what} {}", gofmt::float(b.value))),
                    ));
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = node.items.as_deref() {
                for (i, x) in items.iter().enumerate() {
                    let len = push_index(path, i);
                    openapi(item, x, correlated_item(node, old, x), path, errs);
                    path.truncate(len);
                }
            }
            let size = items.len() as u64;
            if let Some(min) = node.min_items.filter(|m| size < *m) {
                errs.push(invalid(
                    path,
                    &size.to_string(),
                    &body(path, &format!("should have at least {min} items")),
                ));
            }
            if let Some(max) = node.max_items.filter(|m| size > *m) {
                errs.push(err(
                    path,
                    reason::TOO_MANY,
                    format!(
                        "Too many: {size}: must have at most {max} {}",
                        if max == 1 { "item" } else { "items" }
                    ),
                ));
            }
        }
        _ => {}
    }
    enum_check(node, v, path, errs);
    if let Value::Object(map) = v {
        let n = map.len() as u64;
        if let Some(min) = node.min_properties.filter(|m| n < *m) {
            errs.push(invalid(
                path,
                &n.to_string(),
                &body(path, &format!("should have at least {min} properties")),
            ));
        }
        if let Some(max) = node.max_properties.filter(|m| n > *m) {
            errs.push(err(
                path,
                reason::TOO_MANY,
                format!(
                    "Too many: {n}: must have at most {max} {}",
                    if max == 1 { "item" } else { "items" }
                ),
            ));
        }
        if let Additional::Schema(add) = &node.additional {
            for (k, x) in map {
                if node.property(k).is_none() {
                    let len = push_seg(path, k);
                    openapi(add, x, old.and_then(|o| o.get(k.as_str())), path, errs);
                    path.truncate(len);
                }
            }
        }
        for (k, prop) in &node.properties {
            if let Some(x) = map.get(k.as_str()) {
                let len = push_seg(path, k);
                let is_type_meta = path.is_empty() && (k == "apiVersion" || k == "kind");
                let old_x = old
                    .filter(|_| !is_type_meta)
                    .and_then(|o| o.get(k.as_str()));
                openapi(prop, x, old_x, path, errs);
                path.truncate(len);
            }
        }
        for k in &node.required {
            if !map.contains_key(k.as_str()) {
                let len = push_seg(path, k);
                errs.push(err(path, reason::REQUIRED, "Required value".to_owned()));
                path.truncate(len);
            }
        }
    }
}

fn type_invalid(path: &str, value: &str, what: &str) -> FieldError {
    let value = if value.starts_with('"') {
        value.to_owned()
    } else {
        gofmt::quote(value)
    };
    err(
        path,
        reason::TYPE_INVALID,
        format!("Invalid value: {value}: {}", body(path, what)),
    )
}

fn enum_check(node: &Node, v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let Some(values) = &node.enumeration else {
        return;
    };
    if values.is_empty() || (!v.is_null() && values.iter().any(|e| values_equal(e, v))) {
        return;
    }
    let supported: Vec<String> = values
        .iter()
        .map(|e| match e {
            Value::String(s) => gofmt::quote(s),
            other => gofmt::quote(&gofmt::go_json(other)),
        })
        .collect();
    errs.push(err(
        path,
        reason::NOT_SUPPORTED,
        format!(
            "Unsupported value: {}: supported values: {}",
            gofmt::bad_value(v),
            supported.join(", ")
        ),
    ));
}

// ---------------------------------------------------------------------------------------------
// x-kubernetes-list-type (listtype.ValidateListSetsAndMaps): field.Path style paths

fn push_key(path: &mut String, k: &str) -> usize {
    let len = path.len();
    path.push('[');
    path.push_str(k);
    path.push(']');
    len
}

fn list_types(node: &Node, v: &Value, path: &mut String, errs: &mut Vec<FieldError>) {
    if !node.has_list_types {
        return;
    }
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if let Some(prop) = node.property(k) {
                    let len = push_seg(path, k);
                    list_types(prop, x, path, errs);
                    path.truncate(len);
                } else if let Some(add) = node.additional_schema() {
                    let len = push_key(path, k);
                    list_types(add, x, path, errs);
                    path.truncate(len);
                }
            }
        }
        Value::Array(items) => {
            match &node.list_type {
                ListType::Set => {
                    for i in duplicates(items.iter().map(Some)) {
                        let len = push_index(path, i);
                        errs.push(err(
                            path,
                            reason::DUPLICATE,
                            format!("Duplicate value: {}", gofmt::bad_value(&items[i])),
                        ));
                        path.truncate(len);
                    }
                }
                ListType::Map(keys) => {
                    if let Some(i) = items.iter().position(|x| !x.is_null() && !x.is_object()) {
                        let len = push_index(path, i);
                        errs.push(invalid(
                            path,
                            &gofmt::bad_value(&items[i]),
                            "must be an object for an array of list-type map",
                        ));
                        path.truncate(len);
                    } else {
                        let key_of = |x: &Value| -> Value {
                            let mut k = Map::new();
                            for name in keys {
                                if let Some(kv) = x.get(name.as_str()) {
                                    k.insert(name.clone(), kv.clone());
                                }
                            }
                            Value::Object(k)
                        };
                        let ks: Vec<Value> = items.iter().map(key_of).collect();
                        for i in duplicates(ks.iter().map(Some)) {
                            let len = push_index(path, i);
                            errs.push(err(
                                path,
                                reason::DUPLICATE,
                                format!("Duplicate value: {}", gofmt::go_json(&ks[i])),
                            ));
                            path.truncate(len);
                        }
                    }
                }
                ListType::Atomic => {}
            }
            if let Some(item) = node.items.as_deref() {
                for (i, x) in items.iter().enumerate() {
                    let len = push_index(path, i);
                    list_types(item, x, path, errs);
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
}

/// Indices of the second occurrence of each repeated value (kube-apiserver reports each
/// duplicated value once).
fn duplicates<'a>(items: impl Iterator<Item = Option<&'a Value>>) -> Vec<usize> {
    let items: Vec<&Value> = items.flatten().collect();
    let mut out = Vec::new();
    for (i, x) in items.iter().enumerate() {
        let earlier = items[..i].iter().filter(|y| *y == x).count();
        if earlier == 1 {
            out.push(i);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// x-kubernetes-validations (apiextensions-apiserver schema/cel Validator)

fn cel_walk(
    node: &Node,
    v: &Value,
    old: Option<&Value>,
    path: &mut String,
    base: &kube_cel::cel::Context<'static>,
    errs: &mut Vec<FieldError>,
) {
    if !node.has_rules || v.is_null() {
        return;
    }
    let old = old.filter(|o| !o.is_null());
    if !node.rules.is_empty() {
        eval_rules(node, v, old, path, base, errs);
    }
    for b in &node.all_of {
        cel_walk(b, v, old, path, base, errs);
    }
    match v {
        Value::Array(items) => {
            let Some(item) = node.items.as_deref() else {
                return;
            };
            if !item.has_rules {
                return;
            }
            for (i, x) in items.iter().enumerate() {
                // only list-type map items correlate with the old list (by their keys)
                let old_item = correlated_item(node, old, x);
                let len = push_index(path, i);
                cel_walk(item, x, old_item, path, base, errs);
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            let correlatable =
                matches!(node.map_type.as_deref(), None | Some("granular" | "atomic"));
            let old_map = if correlatable {
                old.and_then(Value::as_object)
            } else {
                None
            };
            if let Some(add) = node.additional_schema().filter(|a| a.has_rules) {
                for (k, x) in map {
                    let len = push_key(path, k);
                    cel_walk(add, x, old_map.and_then(|o| o.get(k)), path, base, errs);
                    path.truncate(len);
                }
            }
            for (k, x) in map {
                if let Some(prop) = node.property(k).filter(|p| p.has_rules) {
                    let len = push_seg(path, k);
                    cel_walk(prop, x, old_map.and_then(|o| o.get(k)), path, base, errs);
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
}

/// The item of the old list that correlates with `x`: only list-type map items correlate, by
/// their map keys.
fn correlated_item<'a>(node: &Node, old: Option<&'a Value>, x: &Value) -> Option<&'a Value> {
    match (&node.list_type, old) {
        (ListType::Map(keys), Some(Value::Array(olds))) => olds
            .iter()
            .find(|o| keys.iter().all(|k| o.get(k.as_str()) == x.get(k.as_str()))),
        _ => None,
    }
}

fn eval_rules(
    node: &Node,
    v: &Value,
    old: Option<&Value>,
    path: &str,
    base: &kube_cel::cel::Context<'static>,
    errs: &mut Vec<FieldError>,
) {
    let mut self_val = celrt::to_cel(v, Some(node));
    if path.is_empty() {
        self_val = celrt::with_type_and_object_meta(self_val, v);
    }
    let old_val = old.map(|o| celrt::to_cel(o, Some(node)));
    let mut ctx = base.new_inner_scope();
    ctx.add_variable_from_value("self", self_val.clone());
    if let Some(o) = &old_val {
        ctx.add_variable_from_value("oldSelf", o.clone());
    }
    let type_name = if node.shape == Shape::Any {
        String::new()
    } else {
        gofmt::quote(node.shape.name())
    };
    for rule in &node.rules {
        if rule.uses_old_self && old.is_none() && !rule.optional_old_self {
            continue;
        }
        let opt_ctx;
        let rctx = if rule.optional_old_self {
            let mut c = base.new_inner_scope();
            c.add_variable_from_value("self", self_val.clone());
            let opt = match &old_val {
                Some(o) => kube_cel::cel::objects::OptionalValue::of(o.clone()),
                None => kube_cel::cel::objects::OptionalValue::none(),
            };
            c.add_variable_from_value("oldSelf", CelValue::Opaque(std::sync::Arc::new(opt)));
            opt_ctx = c;
            &opt_ctx
        } else {
            &ctx
        };
        let what = || {
            rule.message
                .clone()
                .unwrap_or_else(|| rule.rule.trim().to_owned())
        };
        match rule.program.execute(rctx) {
            Ok(CelValue::Bool(true)) => {}
            Ok(CelValue::Bool(false)) => {
                let mut field = path.to_owned();
                if let Some(fp) = &rule.field_path {
                    if !field.is_empty() && !fp.starts_with('[') {
                        field.push('.');
                    }
                    field.push_str(fp);
                }
                let detail = rule
                    .message_program
                    .as_ref()
                    .and_then(|p| match p.execute(rctx) {
                        Ok(CelValue::String(s)) => {
                            let t = s.trim();
                            (!t.is_empty() && !t.contains('\n') && t.len() <= 5 * 1024)
                                .then(|| t.to_owned())
                        }
                        _ => None,
                    })
                    .unwrap_or_else(|| {
                        rule.message
                            .clone()
                            .unwrap_or_else(|| format!("failed rule: {}", rule.rule.trim()))
                    });
                // ratcheting: a failing rule that does not use oldSelf on an unchanged value is
                // only a warning
                if !rule.uses_old_self && old.is_some_and(|o| values_equal(o, v)) {
                    continue;
                }
                // kube-apiserver reports the schema's type as the bad value, not the value
                // itself (`fieldErrorForReason(path, sts.Type, ...)` in its CEL validator):
                // `spec.ttl: Invalid value: "string": ...`, `Invalid value: "object": ...`.
                let value = gofmt::quote(node.shape.name());
                errs.push(match rule.reason.as_deref() {
                    Some(reason::FORBIDDEN) => {
                        err(&field, reason::FORBIDDEN, format!("Forbidden: {detail}"))
                    }
                    Some(reason::REQUIRED) => err(
                        &field,
                        reason::REQUIRED,
                        format!("Required value: {detail}"),
                    ),
                    Some(reason::DUPLICATE) => err(
                        &field,
                        reason::DUPLICATE,
                        format!("Duplicate value: {value}"),
                    ),
                    _ => invalid(&field, &value, &detail),
                });
            }
            Ok(other) => errs.push(invalid(
                path,
                &type_name,
                &format!(
                    "rule did not evaluate to a bool ({:?}) evaluating rule: {}",
                    other.type_of(),
                    what()
                ),
            )),
            Err(e) => {
                let msg = celrt::error_text(&e);
                let detail = if msg.starts_with("no such overload") {
                    format!(
                        "'{msg}': call arguments did not match a supported operator, function or macro signature for rule: {}",
                        what()
                    )
                } else {
                    format!("{msg} evaluating rule: {}", what())
                };
                errs.push(invalid(path, &type_name, &detail));
            }
        }
    }
}

// The server core shares compiled schemas across threads.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CompiledSchema>();
};
