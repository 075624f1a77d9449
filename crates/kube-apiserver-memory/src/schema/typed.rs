//! What server-side apply checks before anything else: kube-apiserver converts the applied
//! configuration to its typed form (structured-merge-diff's `ObjectToTyped`, against the CRD's
//! schema) and refuses it when that fails, with a **500** (not a 422: the error is not a
//! `field.ErrorList`) and the message `failed to create typed patch object (NAMESPACE/NAME;
//! GROUP/VERSION, Kind=KIND): .spec.permissions: expected list, got &{allow_join}`.
//!
//! The conversion fails on a value of the wrong type, on duplicate entries of a `set` or `map`
//! list, and on a field the schema does not declare (whatever `fieldValidation` asks: apply
//! never prunes). Values are printed as structured-merge-diff prints its Go values (`%v` of
//! its value wrapper: `&{allow_join}`, `&{map[rtc:true]}`; `%#v` for a wrong scalar:
//! `&value.valueUnstructured{Value:3600}`). `apiVersion`, `kind` and `metadata` are not
//! checked here (`metadata` is typed as `ObjectMeta` by kube-apiserver; this server does not
//! check its fields). Map keys are visited in sorted order (Go's map order is random, so
//! which of several errors comes first differs from run to run there).

use super::compile::{Additional, ListType, Node, Shape};
use super::gofmt;
use serde_json::Value;

/// The errors of converting `patch` (a whole applied object) to its typed form, each as
/// `.path: message`; empty when it converts.
pub(crate) fn errors(root: &Node, patch: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    if let Value::Object(map) = patch {
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort();
        for key in keys {
            if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            if !field(root, key, &map[key], &format!(".{key}"), &mut errs) {
                break;
            }
        }
    }
    errs
}

/// structured-merge-diff's `ValidationErrors.Error()`: one error alone, several under
/// `errors:`.
pub(crate) fn join(errs: &[String]) -> String {
    match errs {
        [one] => one.clone(),
        many => {
            let mut out = String::from("errors:");
            for e in many {
                out.push_str("\n  ");
                out.push_str(e);
            }
            out
        }
    }
}

/// One field of an object node; false when the field is not declared, which ends the walk of
/// that object (as structured-merge-diff stops iterating the map at that error).
fn field(object: &Node, key: &str, v: &Value, path: &str, errs: &mut Vec<String>) -> bool {
    if let Some(node) = object.property(key) {
        walk(node, v, path, errs);
    } else if let Additional::Schema(node) = &object.additional {
        walk(node, v, path, errs);
    } else if !(object.preserve_unknown
        || matches!(object.additional, Additional::Bool(true))
        || object.embedded_resource && matches!(key, "apiVersion" | "kind" | "metadata"))
    {
        errs.push(format!("{path}: field not declared in schema"));
        return false;
    }
    true
}

fn walk(node: &Node, v: &Value, path: &str, errs: &mut Vec<String>) {
    // null is a valid value of every type; untyped nodes take anything.
    if v.is_null() || node.int_or_string || node.shape == Shape::Any {
        return;
    }
    match node.shape {
        Shape::Any => {}
        Shape::String => {
            if !v.is_string() {
                errs.push(format!(
                    "{path}: expected string, got &value.valueUnstructured{{Value:{}}}",
                    gofmt::go_sharp_v(v)
                ));
            }
        }
        Shape::Integer | Shape::Number => {
            if !v.is_number() {
                errs.push(format!(
                    "{path}: expected numeric (int or float), got {}",
                    gofmt::go_type(v)
                ));
            }
        }
        Shape::Boolean => {
            if !v.is_boolean() {
                errs.push(format!(
                    "{path}: expected boolean, got &{{{}}}",
                    gofmt::go_v(v)
                ));
            }
        }
        Shape::Object => match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                for key in keys {
                    if !field(node, key, &map[key], &format!("{path}.{key}"), errs) {
                        break;
                    }
                }
            }
            other => errs.push(format!(
                "{path}: expected map, got &{{{}}}",
                gofmt::go_v(other)
            )),
        },
        Shape::Array => match v {
            Value::Array(items) => list(node, items, path, errs),
            other => errs.push(format!(
                "{path}: expected list, got &{{{}}}",
                gofmt::go_v(other)
            )),
        },
    }
}

fn list(node: &Node, items: &[Value], path: &str, errs: &mut Vec<String>) {
    let mut seen: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let element = match &node.list_type {
            ListType::Atomic => format!("[{i}]"),
            ListType::Set => format!("[={}]", gofmt::go_json(item)),
            ListType::Map(keys) => {
                let Value::Object(map) = item else {
                    errs.push(format!(
                        "{path}: element {i}: associative list with keys has an element that is not a map type"
                    ));
                    return;
                };
                let mut fields = Vec::with_capacity(keys.len());
                let mut sorted: Vec<&String> = keys.iter().collect();
                sorted.sort();
                for key in sorted {
                    match map.get(key.as_str()) {
                        Some(value) => fields.push(format!("{key}={}", gofmt::go_json(value))),
                        None => {
                            errs.push(format!(
                                "{path}: element {i}: associative list with keys has an element that omits key field {} (and doesn't have default value)",
                                gofmt::quote(key)
                            ));
                            return;
                        }
                    }
                }
                format!("[{}]", fields.join(","))
            }
        };
        if !matches!(node.list_type, ListType::Atomic) {
            if seen.contains(&element) {
                errs.push(format!("{path}: duplicate entries for key {element}"));
            }
            seen.push(element.clone());
        }
        if let Some(items_node) = &node.items {
            walk(items_node, item, &format!("{path}{element}"), errs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::CompiledSchema;
    use super::*;
    use serde_json::json;

    fn schema() -> CompiledSchema {
        CompiledSchema::compile(&json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "permissions": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                        "ttl": {"type": "string"},
                        "percentage": {"type": "integer"},
                        "enabled": {"type": "boolean"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                                  "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
                        "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "either": {"x-kubernetes-int-or-string": true}
                    }
                }
            }
        }))
        .expect("the schema compiles")
    }

    fn errs(spec: Value) -> Vec<String> {
        errors(
            &schema().root,
            &json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a", "anything": 1}, "spec": spec}),
        )
    }

    #[test]
    fn a_valid_patch_converts() {
        assert!(
            errs(
                json!({"permissions": ["a", "b"], "ttl": "1h", "percentage": 3, "enabled": true,
            "labels": {"k": "v"}, "ports": [{"name": "a", "port": 1}, {"name": "b"}],
            "open": {"x": [1]}, "either": 3, "ttl2": null})
            )
            .len()
                == 1,
            "only the undeclared ttl2"
        );
        assert!(errs(json!({"ttl": null, "permissions": null})).is_empty());
    }

    /// The messages a kube-apiserver 1.32 gave (/work/shared/real-cluster/matrix-k8s-1.32.txt).
    #[test]
    fn wrong_types_print_as_kube_apiserver_does() {
        assert_eq!(
            errs(json!({"permissions": "allow_join"})),
            [".spec.permissions: expected list, got &{allow_join}"]
        );
        assert_eq!(
            errs(json!({"ttl": 3600})),
            [".spec.ttl: expected string, got &value.valueUnstructured{Value:3600}"]
        );
        assert_eq!(
            errs(json!({"permissions": {"rtc": true}})),
            [".spec.permissions: expected list, got &{map[rtc:true]}"]
        );
        assert_eq!(
            errs(json!({"labels": {"tier": 1}})),
            [".spec.labels.tier: expected string, got &value.valueUnstructured{Value:1}"]
        );
        assert_eq!(
            errs(json!({"labels": ["team"]})),
            [".spec.labels: expected map, got &{[team]}"]
        );
        assert_eq!(
            errs(json!({"percentage": "20%"})),
            [".spec.percentage: expected numeric (int or float), got string"]
        );
        assert_eq!(
            errs(json!({"enabled": "yes"})),
            [".spec.enabled: expected boolean, got &{yes}"]
        );
    }

    #[test]
    fn duplicates_and_undeclared_fields() {
        assert_eq!(
            errs(json!({"permissions": ["allow_join", "allow_join"]})),
            [r#".spec.permissions: duplicate entries for key [="allow_join"]"#]
        );
        assert_eq!(
            errs(json!({"ports": [{"name": "a"}, {"name": "a", "port": 2}]})),
            [r#".spec.ports: duplicate entries for key [name="a"]"#]
        );
        assert_eq!(
            errs(json!({"permission": ["allow_join"]})),
            [".spec.permission: field not declared in schema"]
        );
        assert_eq!(
            errs(json!({"ports": [{"name": "a", "extra": 1}]})),
            [r#".spec.ports[name="a"].extra: field not declared in schema"#]
        );
        let two = errs(json!({"ttl": 1, "percentage": "x"}));
        assert_eq!(
            join(&two),
            "errors:\n  .spec.percentage: expected numeric (int or float), got string\n  .spec.ttl: expected string, got &value.valueUnstructured{Value:1}"
        );
    }
}
