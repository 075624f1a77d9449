//! The CEL side of `x-kubernetes-validations`: the `cel` crate (as re-exported by kube-cel) with
//! the Kubernetes CEL library that kube-cel registers, Go's duration syntax for `duration()`, and
//! the conversion of a JSON value to the CEL value kube-apiserver binds to `self`.

use super::compile::{Format, Node, Shape};
use kube_cel::KubeCelExt;
use kube_cel::cel::objects::{Key, Map};
use kube_cel::cel::{Context, ExecutionError, Value as CelValue};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

thread_local! {
    /// The root CEL context (functions only), built once per thread: building it registers a few
    /// hundred functions, far too slow to do per object.
    static BASE: Context<'static> = base_context();
}

fn base_context() -> Context<'static> {
    let mut ctx = Context::default();
    ctx.register_all();
    // cel-go's `duration()` is Go's `time.ParseDuration`; the `cel` crate's parser ignores
    // trailing garbage and does not know `µs`. Replace it.
    ctx.add_function("duration", duration);
    ctx
}

/// Runs `f` with this thread's root CEL context.
pub(crate) fn with_base<R>(f: impl FnOnce(&Context<'static>) -> R) -> R {
    BASE.with(f)
}

fn duration(value: Arc<String>) -> Result<CelValue, ExecutionError> {
    parse_go_duration(&value)
        .map(|nanos| CelValue::Duration(chrono::Duration::nanoseconds(nanos)))
        .ok_or_else(|| {
            ExecutionError::function_error("duration", format!("invalid duration {value:?}"))
        })
}

/// Go's `time.ParseDuration` (the token module's parser, the one the operator itself uses), in
/// nanoseconds; `None` when invalid or out of the int64 range.
pub(crate) fn parse_go_duration(s: &str) -> Option<i64> {
    s.parse::<go_duration::GoDuration>()
        .ok()
        .map(go_duration::GoDuration::as_nanos)
}

/// kube-apiserver's escaping of a property name for CEL (`k8s.io/apiserver/pkg/cel` `Escape`):
/// reserved words become `__word__`; `__`, `.`, `-`, `/` become `__underscores__`, `__dot__`,
/// `__dash__`, `__slash__`; names with other characters, or starting with a digit, are not
/// accessible (None).
pub(crate) fn escape(ident: &str) -> Option<String> {
    const RESERVED: &[&str] = &[
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    ];
    let first = ident.as_bytes().first()?;
    if first.is_ascii_digit() {
        return None;
    }
    if RESERVED.contains(&ident) {
        return Some(format!("__{ident}__"));
    }
    if ident
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !ident.contains("__")
    {
        return Some(ident.to_owned());
    }
    let mut out = String::with_capacity(ident.len() + 8);
    let mut chars = ident.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '_' if chars.peek() == Some(&'_') => {
                chars.next();
                out.push_str("__underscores__");
            }
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c if c.is_ascii_alphanumeric() || c == '_' => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

fn key(s: String) -> Key {
    Key::String(Arc::new(s))
}

/// The CEL value kube-apiserver binds for a JSON value under `node` (`UnstructuredToVal`):
/// object properties by escaped name with null-valued properties left out (they read as
/// absent: `has()` is false), maps (additionalProperties) by their raw keys, `date-time`/`date`
/// strings as timestamps, `duration` strings as durations, `byte` strings as bytes, `number`
/// fields as doubles.
pub(crate) fn to_cel(v: &Value, node: Option<&Node>) -> CelValue {
    match v {
        Value::Null => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Number(n) => {
            if node.is_some_and(|n| n.shape == Shape::Number) {
                return CelValue::Float(n.as_f64().unwrap_or(f64::NAN));
            }
            if let Some(i) = n.as_i64() {
                CelValue::Int(i)
            } else if let Some(u) = n.as_u64() {
                CelValue::UInt(u)
            } else {
                CelValue::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => match node.map(|n| n.format) {
            Some(Format::DateTime) => chrono::DateTime::parse_from_rfc3339(s)
                .map(CelValue::Timestamp)
                .unwrap_or_else(|_| CelValue::String(Arc::new(s.clone()))),
            Some(Format::Date) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|dt| CelValue::Timestamp(dt.and_utc().fixed_offset()))
                .unwrap_or_else(|| CelValue::String(Arc::new(s.clone()))),
            Some(Format::Duration) => parse_go_duration(s)
                .map(|n| CelValue::Duration(chrono::Duration::nanoseconds(n)))
                .unwrap_or_else(|| CelValue::String(Arc::new(s.clone()))),
            Some(Format::Byte) => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map(|b| CelValue::Bytes(Arc::new(b)))
                    .unwrap_or_else(|_| CelValue::String(Arc::new(s.clone())))
            }
            _ => CelValue::String(Arc::new(s.clone())),
        },
        Value::Array(items) => {
            let item_node = node.and_then(|n| n.items.as_deref());
            CelValue::List(Arc::new(
                items.iter().map(|i| to_cel(i, item_node)).collect(),
            ))
        }
        Value::Object(map) => {
            let mut out = HashMap::with_capacity(map.len());
            match node {
                Some(n) if !n.properties.is_empty() => {
                    for (k, v) in map {
                        if v.is_null() {
                            continue;
                        }
                        let child = n.property(k);
                        if child.is_none() && !n.preserve_unknown {
                            continue;
                        }
                        if let Some(name) = escape(k) {
                            out.insert(key(name), to_cel(v, child));
                        }
                    }
                }
                Some(n) => {
                    let child = n.additional_schema();
                    for (k, v) in map {
                        out.insert(key(k.clone()), to_cel(v, child));
                    }
                }
                None => {
                    for (k, v) in map {
                        out.insert(key(k.clone()), to_cel(v, None));
                    }
                }
            }
            CelValue::Map(Map { map: Arc::new(out) })
        }
    }
}

/// A CEL runtime error as cel-go words it, where the two differ (kube-apiserver puts it into the
/// field error's message).
pub(crate) fn error_text(e: &ExecutionError) -> String {
    match e {
        ExecutionError::FunctionError { function, .. } if function == "duration" => {
            "type conversion error from 'string' to 'google.protobuf.Duration'".to_owned()
        }
        ExecutionError::FunctionError { function, .. } if function == "timestamp" => {
            "type conversion error from 'string' to 'google.protobuf.Timestamp'".to_owned()
        }
        ExecutionError::NoSuchKey(k) => format!("no such key: {k}"),
        ExecutionError::NoSuchOverload => "no such overload".to_owned(),
        ExecutionError::DivisionByZero(_) => "division by zero".to_owned(),
        ExecutionError::RemainderByZero(_) => "modulus by zero".to_owned(),
        ExecutionError::Overflow(..) => "integer overflow".to_owned(),
        other => other.to_string(),
    }
}

/// At the resource root kube-apiserver's CEL `self` also has `apiVersion`, `kind` and
/// `metadata.name`/`metadata.generateName` (`model.WithTypeAndObjectMeta`).
pub(crate) fn with_type_and_object_meta(self_val: CelValue, object: &Value) -> CelValue {
    let CelValue::Map(m) = self_val else {
        return self_val;
    };
    let mut map: HashMap<Key, CelValue> = (*m.map).clone();
    for k in ["apiVersion", "kind"] {
        if let Some(Value::String(s)) = object.get(k) {
            map.insert(key(k.to_owned()), CelValue::String(Arc::new(s.clone())));
        }
    }
    if let Some(Value::Object(meta)) = object.get("metadata") {
        let mut md = HashMap::new();
        for k in ["name", "generateName"] {
            if let Some(Value::String(s)) = meta.get(k) {
                md.insert(key(k.to_owned()), CelValue::String(Arc::new(s.clone())));
            }
        }
        map.insert(
            key("metadata".to_owned()),
            CelValue::Map(Map { map: Arc::new(md) }),
        );
    }
    CelValue::Map(Map { map: Arc::new(map) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        const M: i64 = 60_000_000_000;
        assert_eq!(parse_go_duration("24h"), Some(24 * 60 * M));
        assert_eq!(parse_go_duration("90m"), Some(90 * M));
        assert_eq!(parse_go_duration("1h30m"), Some(90 * M));
        assert_eq!(parse_go_duration("1.5h"), Some(90 * M));
        assert_eq!(parse_go_duration(".5m"), Some(30_000_000_000));
        assert_eq!(parse_go_duration("1.m"), Some(M));
        assert_eq!(parse_go_duration("10µs"), Some(10_000));
        assert_eq!(parse_go_duration("10μs"), Some(10_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("-1s"), Some(-1_000_000_000));
        assert_eq!(parse_go_duration("1"), None);
        assert_eq!(parse_go_duration("1hx"), None);
        assert_eq!(parse_go_duration("."), None);
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(parse_go_duration("1d"), None);
        assert_eq!(parse_go_duration("9999999999h"), None);
    }

    #[test]
    fn escaping_matches_kube_apiserver() {
        assert_eq!(escape("ttl").as_deref(), Some("ttl"));
        assert_eq!(escape("namespace").as_deref(), Some("__namespace__"));
        assert_eq!(
            escape("a.b-c/d").as_deref(),
            Some("a__dot__b__dash__c__slash__d")
        );
        assert_eq!(escape("a__b").as_deref(), Some("a__underscores__b"));
        assert_eq!(escape("my_field").as_deref(), Some("my_field"));
        assert_eq!(escape("1abc"), None);
        assert_eq!(escape("a b"), None);
    }
}
