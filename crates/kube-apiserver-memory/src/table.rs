//! `Table` answers (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`), which `kubectl get`
//! asks for: the columns kube-apiserver prints for Secrets and Namespaces, a CRD's
//! `additionalPrinterColumns` for custom resources (dates shown as ages, as the server does),
//! and Name and Age for everything else. A watch asked for a Table sends each event's object as a
//! one-row Table, the column definitions with the first event only, as kube-apiserver's
//! `watchEmbeddedEncoder` does (k8s.io/apiserver `endpoints/handlers/response.go`); kubectl
//! prints later rows under the first event's columns.

use super::resources::ResourceDef;
use serde_json::{Value, json};

/// One printed column: header, OpenAPI type and how to compute it.
struct Column {
    name: String,
    kind: String,
    path: Cell,
    /// 0: shown by `kubectl get`; above 0: only with `-o wide` (a printer column's `priority`).
    priority: i64,
}

enum Cell {
    Name,
    Age,
    Path(String),
    SecretDataCount,
    /// An Event's last time seen: `series.lastObservedTime`, `lastTimestamp` or `eventTime`.
    EventLastSeen,
    /// An Event's object, `kind/name`.
    EventObject,
}

/// What each row's `object` holds: `TableOptions.includeObject` (k8s.io/apiserver
/// `endpoints/handlers/response.go`, `asTable`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IncludeObject {
    /// No object (`null`).
    None,
    /// The object's `PartialObjectMetadata`; the default.
    Metadata,
    /// The whole object (`kubectl get --sort-by` asks for it).
    Object,
}

impl IncludeObject {
    /// A request's `includeObject`; another value is refused with kube-apiserver's message
    /// (`ValidateTableOptions`, k8s.io/apimachinery `meta/v1/validation`).
    fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.unwrap_or("") {
            "" | "Metadata" => Ok(IncludeObject::Metadata),
            "Object" => Ok(IncludeObject::Object),
            "None" => Ok(IncludeObject::None),
            other => Err(format!(
                "Unable to convert to Table as requested: includeObject: Invalid value: \"{other}\": must be 'Metadata', 'Object', 'None', or empty"
            )),
        }
    }
}

/// How a request asked for Tables of a resource: its columns and what each row carries.
pub(crate) struct TableForm {
    columns: Vec<Column>,
    include: IncludeObject,
}

impl TableForm {
    /// The Tables of `def` with the request's `includeObject`; the message of a 400 for a value
    /// kube-apiserver refuses.
    pub(crate) fn new(def: &ResourceDef, include_object: Option<&str>) -> Result<Self, String> {
        Ok(TableForm {
            columns: columns(def, def.printer_columns.as_ref()),
            include: IncludeObject::parse(include_object)?,
        })
    }

    /// The Table of `objects` (one for a get, all items for a list).
    pub(crate) fn render(&self, objects: &[Value], resource_version: u64) -> Value {
        self.table(objects, resource_version.to_string(), true)
    }

    /// A watch event's object: a Table of the one `object` at its own resourceVersion, with the
    /// column definitions only when `headers` (the watch's first event).
    pub(crate) fn watch_event(&self, object: &Value, headers: bool) -> Value {
        let rv = object["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        self.table(std::slice::from_ref(object), rv, headers)
    }

    fn table(&self, objects: &[Value], resource_version: String, headers: bool) -> Value {
        let now = k8s_openapi::jiff::Timestamp::now().as_second();
        let rows: Vec<Value> = objects
            .iter()
            .map(|o| {
                let object = match self.include {
                    IncludeObject::None => Value::Null,
                    IncludeObject::Metadata => {
                        json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]})
                    }
                    IncludeObject::Object => o.clone(),
                };
                json!({
                    "cells": self.columns.iter().map(|c| cell(c, o, now)).collect::<Vec<_>>(),
                    "object": object,
                })
            })
            .collect();
        let mut table = json!({
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": resource_version},
            "rows": rows,
        });
        if headers {
            table["columnDefinitions"] = column_definitions(&self.columns);
        }
        table
    }
}

/// The columns of a resource; `printer_columns` are a CRD version's `additionalPrinterColumns`.
fn columns(def: &ResourceDef, printer_columns: Option<&Value>) -> Vec<Column> {
    let col = |name: &str, kind: &str, path: Cell| Column {
        name: name.into(),
        kind: kind.into(),
        path,
        priority: 0,
    };
    let mut cols = vec![col("Name", "string", Cell::Name)];
    match (def.group.as_str(), def.plural.as_str(), printer_columns) {
        ("", "secrets", _) => {
            cols.push(col("Type", "string", Cell::Path(".type".into())));
            cols.push(col("Data", "string", Cell::SecretDataCount));
            cols.push(col("Age", "string", Cell::Age));
        }
        ("", "events", _) => {
            cols.insert(0, col("Last Seen", "string", Cell::EventLastSeen));
            cols.push(col("Type", "string", Cell::Path(".type".into())));
            cols.push(col("Reason", "string", Cell::Path(".reason".into())));
            cols.push(col("Object", "string", Cell::EventObject));
            cols.push(col("Message", "string", Cell::Path(".message".into())));
        }
        ("", "namespaces", _) => {
            cols.push(col("Status", "string", Cell::Path(".status.phase".into())));
            cols.push(col("Age", "string", Cell::Age));
        }
        (_, _, Some(Value::Array(pcs))) if !pcs.is_empty() => {
            for pc in pcs {
                cols.push(Column {
                    priority: pc["priority"].as_i64().unwrap_or(0),
                    ..col(
                        pc["name"].as_str().unwrap_or(""),
                        pc["type"].as_str().unwrap_or("string"),
                        Cell::Path(pc["jsonPath"].as_str().unwrap_or("").into()),
                    )
                });
            }
        }
        _ => cols.push(col("Age", "string", Cell::Age)),
    }
    cols
}

/// Evaluates the JSONPath subset printer columns use: `.a.b`, `.a[0]`, `.a[?(@.k=="v")].b`.
fn eval<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    let mut rest = path.trim().trim_start_matches('$');
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            cur = cur.get(&r[..end])?;
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            rest = &r[end + 1..];
            if let Some(filter) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (key, want) = filter.split_once("==")?;
                let want = want.trim().trim_matches(['"', '\'']);
                cur = cur
                    .as_array()?
                    .iter()
                    .find(|e| e.get(key.trim()).and_then(Value::as_str) == Some(want))?;
            } else {
                cur = cur.get(inner.parse::<usize>().ok()?)?;
            }
        } else {
            return None;
        }
    }
    Some(cur)
}

/// A duration as kube-apiserver prints ages (`HumanDuration`); future times are `<invalid>`.
fn human(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    let s = seconds.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    match s {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 => match s % 60 {
            0 => format!("{m}m"),
            r => format!("{m}m{r}s"),
        },
        _ if h < 3 => format!("{m}m"),
        _ if h < 8 => match m % 60 {
            0 => format!("{h}h"),
            r => format!("{h}h{r}m"),
        },
        _ if h < 48 => format!("{h}h"),
        _ if d < 8 => match h % 24 {
            0 => format!("{d}d"),
            r => format!("{d}d{r}h"),
        },
        _ if d < 365 * 2 => format!("{d}d"),
        _ => format!("{}y", d / 365),
    }
}

fn age(timestamp: Option<&Value>, now: i64) -> Value {
    let parsed = timestamp
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok());
    match parsed {
        Some(t) => json!(human(now - t.as_second())),
        None => json!("<unknown>"),
    }
}

fn cell(c: &Column, object: &Value, now: i64) -> Value {
    match &c.path {
        Cell::Name => object["metadata"]["name"].clone(),
        Cell::Age => age(object.pointer("/metadata/creationTimestamp"), now),
        Cell::SecretDataCount => json!(object["data"].as_object().map_or(0, |d| d.len())),
        Cell::EventLastSeen => {
            let seen = [
                "/series/lastObservedTime",
                "/lastTimestamp",
                "/eventTime",
                "/metadata/creationTimestamp",
            ]
            .iter()
            .find_map(|p| object.pointer(p).filter(|v| v.is_string()));
            age(seen, now)
        }
        Cell::EventObject => json!(format!(
            "{}/{}",
            object["involvedObject"]["kind"]
                .as_str()
                .unwrap_or("")
                .to_lowercase(),
            object["involvedObject"]["name"].as_str().unwrap_or("")
        )),
        Cell::Path(p) => match eval(object, p) {
            None => Value::Null,
            Some(v) if c.kind == "date" => age(Some(v), now),
            Some(v) => v.clone(),
        },
    }
}

/// A Table's `columnDefinitions`; the first column is the object's name.
fn column_definitions(columns: &[Column]) -> Value {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let format = if i == 0 { "name" } else { "" };
            json!({"name": c.name, "type": c.kind, "format": format, "description": "", "priority": c.priority})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_path_subset() {
        let v = json!({"status": {"conditions": [{"type": "A", "status": "x"}, {"type": "Ready", "status": "True"}]}, "l": [5]});
        assert_eq!(
            eval(&v, ".status.conditions[?(@.type==\"Ready\")].status"),
            Some(&json!("True"))
        );
        assert_eq!(eval(&v, ".l[0]"), Some(&json!(5)));
        assert_eq!(eval(&v, ".missing.x"), None);
    }

    fn secrets(include_object: Option<&str>) -> TableForm {
        let registry = crate::resources::Registry::with_builtins();
        let def = registry.get("", "v1", "secrets").unwrap();
        TableForm::new(&def, include_object).unwrap()
    }

    const SECRET: &str = r#"{"apiVersion":"v1","kind":"Secret","type":"Opaque","data":{"a":"YQ=="},
        "metadata":{"name":"s","resourceVersion":"7","creationTimestamp":"2026-01-01T00:00:00Z"}}"#;

    #[test]
    fn watch_events_carry_the_column_definitions_once() {
        let form = secrets(None);
        let secret: Value = serde_json::from_str(SECRET).unwrap();
        let first = form.watch_event(&secret, true);
        assert_eq!(first["kind"], "Table");
        assert_eq!(first["metadata"]["resourceVersion"], "7");
        assert_eq!(first["columnDefinitions"][1]["name"], "Type");
        assert_eq!(
            first["rows"][0]["cells"].as_array().unwrap()[..3],
            [json!("s"), json!("Opaque"), json!(1)]
        );
        let later = form.watch_event(&secret, false);
        assert!(later.get("columnDefinitions").is_none(), "{later}");
        assert_eq!(later["rows"], first["rows"]);
    }

    #[test]
    fn rows_carry_the_object_include_object_asks_for() {
        let secret: Value = serde_json::from_str(SECRET).unwrap();
        let object = |include| {
            secrets(include).render(std::slice::from_ref(&secret), 9)["rows"][0]["object"].clone()
        };
        let metadata = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": secret["metadata"]});
        assert_eq!(object(None), metadata);
        assert_eq!(object(Some("Metadata")), metadata);
        assert_eq!(object(Some("Object")), secret);
        assert_eq!(object(Some("None")), Value::Null);
        let registry = crate::resources::Registry::with_builtins();
        let def = registry.get("", "v1", "secrets").unwrap();
        assert_eq!(
            TableForm::new(&def, Some("object")).err().unwrap(),
            "Unable to convert to Table as requested: includeObject: Invalid value: \"object\": must be 'Metadata', 'Object', 'None', or empty"
        );
    }

    #[test]
    fn ages_print_like_kube_apiserver() {
        assert_eq!(human(5), "5s");
        assert_eq!(human(150), "2m30s");
        assert_eq!(human(3600 * 5 + 60), "5h1m");
        assert_eq!(human(86400 * 3), "3d");
        assert_eq!(human(-100), "<invalid>");
    }
}
