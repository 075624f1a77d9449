//! The fields of an object its schema does not declare: what pruning drops, and what
//! kube-apiserver reports for `fieldValidation=Strict` (a 400) or `Warn` (a `Warning` header) as
//! `unknown field "spec.tll"`.

use super::compile::{Additional, Node};
use serde_json::Value;

/// The paths of the undeclared fields of `object` (a whole object), in kube-apiserver's form:
/// `spec.tll`, `spec.ports[0].extra`. `apiVersion`, `kind` and `metadata` at the root are
/// declared by every object.
pub(crate) fn fields(root: &Node, object: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Value::Object(map) = object {
        for (key, value) in map {
            if !matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                field(root, key, value, key.clone(), &mut out);
            }
        }
    }
    out
}

fn field(object: &Node, key: &str, value: &Value, path: String, out: &mut Vec<String>) {
    match object.property(key).or(object.additional_schema()) {
        Some(node) => walk(node, value, path, out),
        None if object.preserve_unknown
            || matches!(object.additional, Additional::Bool(true))
            || object.embedded_resource && matches!(key, "apiVersion" | "kind" | "metadata") => {}
        _ => out.push(path),
    }
}

fn walk(node: &Node, value: &Value, path: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                field(node, key, v, format!("{path}.{key}"), out);
            }
        }
        Value::Array(items) => {
            if let Some(item) = &node.items {
                for (i, v) in items.iter().enumerate() {
                    walk(item, v, format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}
