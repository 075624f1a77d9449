//! Label and field selectors of list and watch requests, parsed once per request, matched
//! against an object's [`Summary`] (no JSON parsing per object unless a field selector names a
//! field other than `metadata.name` and `metadata.namespace`).

use super::error::ApiError;
use super::resources::ResourceDef;
use super::stored::{Stored, Summary};
use serde_json::Value;
use std::collections::HashMap;

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed `labelSelector`: all requirements must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LabelSelector(Vec<Requirement>);

/// Splits on commas that are not inside parentheses (`a in (x,y),b`).
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn parse_set(rest: &str) -> Option<Vec<String>> {
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

impl LabelSelector {
    /// Parses the selector syntax of `kubectl -l` and `labelSelector=`.
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let bad = || format!("unable to parse requirement: {part:?}");
            let req = if let Some(key) = part.strip_prefix('!') {
                Requirement::NotExists(key.trim().to_owned())
            } else if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEquals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==") {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once('=') {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                Requirement::NotIn(k.trim().into(), parse_set(rest).ok_or_else(bad)?)
            } else if let Some((k, rest)) = part.split_once(" in ") {
                Requirement::In(k.trim().into(), parse_set(rest).ok_or_else(bad)?)
            } else if part.contains(|c: char| c.is_whitespace() || "()<>".contains(c)) {
                return Err(bad());
            } else {
                Requirement::Exists(part.to_owned())
            };
            reqs.push(req);
        }
        Ok(LabelSelector(reqs))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the object's `metadata.labels` satisfy every requirement.
    pub(crate) fn matches(&self, object: &Summary) -> bool {
        let get = |k: &str| object.label(k);
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v),
            Requirement::NotEquals(k, v) => get(k) != Some(v),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        })
    }
}

/// A parsed `fieldSelector`: `metadata.name` and `metadata.namespace`, which every resource
/// supports, and the field labels a resource adds (see [`field_labels`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FieldSelector(Vec<(Field, bool, String)>);

#[derive(Clone, Debug, PartialEq)]
enum Field {
    Name,
    Namespace,
    /// A path into the object, e.g. `involvedObject.name`.
    Path(Vec<String>),
}

/// The field labels beyond `metadata.*` kube-apiserver supports for a resource, each with
/// the path it reads (`source` of an Event is `source.component`).
pub(crate) fn field_labels(group: &str, plural: &str) -> &'static [(&'static str, &'static str)] {
    match (group, plural) {
        ("", "secrets") => &[("type", "type")],
        ("", "namespaces") => &[("status.phase", "status.phase")],
        ("", "events") => &[
            ("involvedObject.kind", "involvedObject.kind"),
            ("involvedObject.namespace", "involvedObject.namespace"),
            ("involvedObject.name", "involvedObject.name"),
            ("involvedObject.uid", "involvedObject.uid"),
            ("involvedObject.apiVersion", "involvedObject.apiVersion"),
            (
                "involvedObject.resourceVersion",
                "involvedObject.resourceVersion",
            ),
            ("involvedObject.fieldPath", "involvedObject.fieldPath"),
            ("reason", "reason"),
            ("reportingComponent", "reportingComponent"),
            ("source", "source.component"),
            ("type", "type"),
        ],
        _ => &[],
    }
}

impl FieldSelector {
    /// Parses a selector; `labels` are the resource's own field labels (see [`field_labels`]).
    pub(crate) fn parse(s: &str, labels: &[(&str, &str)]) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            let field = match field.trim() {
                "metadata.name" => Field::Name,
                "metadata.namespace" => Field::Namespace,
                other => match labels.iter().find(|(label, _)| *label == other) {
                    Some((_, path)) => Field::Path(path.split('.').map(str::to_owned).collect()),
                    None => return Err(format!("field label not supported: {other}")),
                },
            };
            reqs.push((field, equal, value.trim().to_owned()));
        }
        Ok(FieldSelector(reqs))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn matches(&self, object: &Stored) -> bool {
        let mut parsed: Option<Value> = None;
        self.0.iter().all(|(field, equal, value)| {
            let actual = match field {
                Field::Name => object.summary.name.as_str(),
                Field::Namespace => object.summary.namespace.as_str(),
                Field::Path(path) => {
                    let v = parsed.get_or_insert_with(|| object.value());
                    path.iter()
                        .try_fold(&*v, |node, key| node.get(key))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                }
            };
            (actual == value) == *equal
        })
    }
}

/// Both selectors of one request.
#[derive(Clone, Debug, Default)]
pub(crate) struct Selectors {
    pub(crate) labels: LabelSelector,
    pub(crate) fields: FieldSelector,
}

impl Selectors {
    /// The `labelSelector` and `fieldSelector` of a request's query `q` to `def`; a 400 for
    /// one that does not parse.
    pub(crate) fn from_query(
        q: &HashMap<String, String>,
        def: &ResourceDef,
    ) -> Result<Selectors, ApiError> {
        let param = |key: &str| q.get(key).map(String::as_str).unwrap_or("");
        Ok(Selectors {
            labels: LabelSelector::parse(param("labelSelector")).map_err(ApiError::bad_request)?,
            fields: FieldSelector::parse(
                param("fieldSelector"),
                field_labels(&def.group, &def.plural),
            )
            .map_err(ApiError::bad_request)?,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub(crate) fn matches(&self, object: &Stored) -> bool {
        self.labels.matches(&object.summary) && self.fields.matches(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn obj(labels: Value) -> Summary {
        Summary::of(&json!({"metadata": {"name": "a", "namespace": "ns", "labels": labels}}))
    }

    #[test]
    fn label_selector_operators() {
        let o = obj(json!({"app": "web", "tier": "front"}));
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&o);
        assert!(m("app=web"));
        assert!(m("app==web,tier=front"));
        assert!(!m("app!=web"));
        assert!(m("app in (web, api)"));
        assert!(!m("app notin (web,api)"));
        assert!(m("missing notin (x)"));
        assert!(m("tier"));
        assert!(!m("!tier"));
        assert!(m("!missing"));
        assert!(!m("missing in (x)"));
        assert!(m(""));
    }

    #[test]
    fn label_selector_rejects_garbage() {
        assert!(LabelSelector::parse("a in x").is_err());
        assert!(LabelSelector::parse("a b").is_err());
    }

    #[test]
    fn field_selectors() {
        let e = Stored::from_value(&json!({"metadata": {"name": "a", "namespace": "ns"},
            "involvedObject": {"name": "t", "kind": "VideoSdkToken"}, "source": {"component": "op"}}));
        let labels = field_labels("", "events");
        let m = |s: &str| FieldSelector::parse(s, labels).unwrap().matches(&e);
        assert!(m("metadata.name=a"));
        assert!(!m("metadata.namespace!=ns"));
        assert!(m("involvedObject.name=t,involvedObject.kind=VideoSdkToken"));
        assert!(m("source=op"));
        assert!(m("reason="));
        assert_eq!(
            FieldSelector::parse("spec.x=1", labels).unwrap_err(),
            "field label not supported: spec.x"
        );
        assert!(FieldSelector::parse("involvedObject.name=t", &[]).is_err());
    }
}
