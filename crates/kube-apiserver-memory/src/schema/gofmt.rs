//! How Go's `fmt` and `encoding/json` print the values that kube-apiserver puts into its field
//! errors, so that messages read byte for byte as the real server's do.

use serde_json::Value;
use std::fmt::Write;

/// Go's `strconv.Quote` (what `%q` prints for a string).
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() || c == '\u{feff}' => {
                if (c as u32) < 0x10000 {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%v` for a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest representation,
/// with an exponent (`1e+06`) when the decimal exponent is < -4 or >= 21 for integers printed
/// from JSON, and >= 6 otherwise, as Go does.
pub(crate) fn float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-tripping digits: "1.5e6", "-2e-7".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("exponent is an integer");
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// A JSON number as Go prints the int64 or float64 that `encoding/json` decoding gave it.
pub(crate) fn number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        n.to_string()
    } else {
        float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// The bad value of a `field.Error` as `ErrorBody` prints it: `%v` for numbers and booleans,
/// `%q` for strings, JSON for anything else (`null`, objects, arrays).
pub(crate) fn bad_value(v: &Value) -> String {
    match v {
        Value::String(s) => quote(s),
        Value::Number(n) => number(n),
        Value::Bool(b) => b.to_string(),
        other => go_json(other),
    }
}

/// Go's `%v` of a value decoded into `interface{}` (numbers as float64, as the YAML decoding
/// of an apply patch gives them): `allow_join`, `3600`, `1e+06`, `[a b]`, `map[k:v]`, `<nil>`.
pub(crate) fn go_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => float(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(go_v).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_v(&map[k])))
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

/// Go's `%#v` of a value decoded into `interface{}`: `"x"`, `3600`,
/// `[]interface {}{"a", 1}`, `map[string]interface {}{"k":true}`, `interface {}(nil)`.
pub(crate) fn go_sharp_v(v: &Value) -> String {
    match v {
        Value::Null => "interface {}(nil)".into(),
        Value::String(s) => quote(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(go_sharp_v).collect();
            format!("[]interface {{}}{{{}}}", items.join(", "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", quote(k), go_sharp_v(&map[k])))
                .collect();
            format!("map[string]interface {{}}{{{}}}", items.join(", "))
        }
        scalar => go_v(scalar),
    }
}

/// Go's `%T` of a value decoded into `interface{}`.
pub(crate) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `json.Marshal` of a decoded JSON value: object keys sorted, `<`, `>`, `&` escaped.
pub(crate) fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(v, &mut out);
    out
}

fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_f64() {
                let f = n.as_f64().unwrap_or(0.0);
                // encoding/json: 'f' format unless the exponent is < -6 or >= 21.
                let abs = f.abs();
                if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
                    let sci = format!("{f:e}");
                    let (m, e) = sci.split_once('e').unwrap_or((&sci, "0"));
                    let e: i32 = e.parse().unwrap_or(0);
                    let sign = if e < 0 { '-' } else { '+' };
                    let _ = write!(out, "{m}e{sign}{:02}", e.abs());
                } else {
                    let _ = write!(out, "{f}");
                }
            } else {
                let _ = write!(out, "{n}");
            }
        }
        Value::String(s) => {
            let json = serde_json::to_string(s).unwrap_or_default();
            out.push_str(
                &json
                    .replace('<', "\\u003c")
                    .replace('>', "\\u003e")
                    .replace('&', "\\u0026"),
            );
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(&Value::String(k.clone()), out);
                out.push(':');
                write_json(&map[k], out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_as_go_does() {
        assert_eq!(quote("a\"b\n"), r#""a\"b\n""#);
        assert_eq!(quote("µs"), "\"µs\"");
        assert_eq!(float(1.0), "1");
        assert_eq!(float(99.0), "99");
        assert_eq!(float(1.5), "1.5");
        assert_eq!(float(1e6), "1e+06");
        assert_eq!(float(0.0001), "0.0001");
        assert_eq!(float(0.00001), "1e-05");
        assert_eq!(bad_value(&json!(0)), "0");
        assert_eq!(
            go_v(&json!({"rtc": true, "a": [1, "x"]})),
            "map[a:[1 x] rtc:true]"
        );
        assert_eq!(go_v(&json!(1234567)), "1.234567e+06");
        assert_eq!(
            go_sharp_v(&json!({"b": [1, "x"], "a": null})),
            r#"map[string]interface {}{"a":interface {}(nil), "b":[]interface {}{1, "x"}}"#
        );
        assert_eq!(go_type(&json!("x")), "string");
        assert_eq!(bad_value(&json!(null)), "null");
        assert_eq!(
            bad_value(&json!({"type": "Ready", "a": "<"})),
            r#"{"a":"\u003c","type":"Ready"}"#
        );
    }
}
