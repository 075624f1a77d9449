//! What kube-apiserver checks and fills in for built-in types beyond generic metadata: names,
//! Secrets (`stringData`, base64 `data`, immutable `type`) and Namespaces (phase, finalizer).

use super::error::{ApiError, Subject};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

const DNS1123_SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Checks `metadata.name`: an RFC 1123 label for namespaces, a subdomain for everything else.
pub(crate) fn validate_name(s: Subject<'_>, name: &str, label_only: bool) -> Result<(), ApiError> {
    let ok = if label_only {
        is_label(name)
    } else {
        name.len() <= 253 && name.split('.').all(is_label)
    };
    if ok {
        return Ok(());
    }
    let rule = if label_only {
        DNS1123_LABEL_MESSAGE
    } else {
        DNS1123_SUBDOMAIN_MESSAGE
    };
    Err(ApiError::invalid_field(
        s,
        name,
        "metadata.name",
        format!("Invalid value: \"{name}\": {rule}"),
    ))
}

const LABEL_VALUE_MESSAGE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QUALIFIED_NAME_MESSAGE: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, the shape of label values and key names.
fn is_qualified_part(s: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    s.chars().all(ok_char)
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// What is wrong with a label key (`[prefix/]name`), if anything.
fn label_key_error(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        if p.is_empty() || p.len() > 253 || !p.split('.').all(is_label) {
            return Some(format!("prefix part {DNS1123_SUBDOMAIN_MESSAGE}"));
        }
    }
    if name.is_empty() {
        return Some("name part must be non-empty".into());
    }
    if name.len() > 63 {
        return Some("name part must be no more than 63 characters".into());
    }
    (!is_qualified_part(name)).then(|| QUALIFIED_NAME_MESSAGE.to_owned())
}

/// Checks `metadata.labels`, as kube-apiserver does for every object.
pub(crate) fn validate_labels(s: Subject<'_>, object: &Value) -> Result<(), ApiError> {
    let Some(labels) = object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
    else {
        return Ok(());
    };
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let mut causes = Vec::new();
    let mut invalid = |value: &str, why: String| {
        causes.push(super::error::Cause {
            reason: "FieldValueInvalid".into(),
            message: format!("Invalid value: \"{value}\": {why}"),
            field: "metadata.labels".into(),
        })
    };
    for (key, value) in labels {
        if let Some(why) = label_key_error(key) {
            invalid(key, why);
        }
        let value = value.as_str().unwrap_or_default();
        if value.len() > 63 {
            invalid(value, "must be no more than 63 characters".into());
        } else if !value.is_empty() && !is_qualified_part(value) {
            invalid(value, LABEL_VALUE_MESSAGE.into());
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(s, name, &causes))
    }
}

/// Secret admission: merges `stringData` into `data`, checks that `data` is base64, defaults
/// `type` to `Opaque` and keeps it (and the data of an `immutable` Secret) unchanged on update.
pub(crate) fn admit_secret(
    s: Subject<'_>,
    new: &mut Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    let name = new["metadata"]["name"].as_str().unwrap_or("").to_owned();
    if let Some(Value::Object(string_data)) =
        new.as_object_mut().and_then(|o| o.remove("stringData"))
    {
        let data = new
            .as_object_mut()
            .expect("objects are maps")
            .entry("data")
            .or_insert_with(|| json!({}));
        if !data.is_object() {
            *data = json!({});
        }
        for (k, v) in string_data {
            let text = v.as_str().unwrap_or_default();
            data[k] = json!(STANDARD.encode(text));
        }
    }
    if let Some(Value::Object(data)) = new.get("data") {
        for v in data.values() {
            let text = v.as_str().ok_or_else(|| {
                ApiError::bad_request(
                    "Secret in version \"v1\" cannot be handled as a Secret: data values must be base64 strings",
                )
            })?;
            if let Err(e) = STANDARD.decode(text) {
                return Err(ApiError::bad_request(format!(
                    "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte {}",
                    match e {
                        base64::DecodeError::InvalidByte(at, _) => at,
                        base64::DecodeError::InvalidLastSymbol(at, _) => at,
                        _ => text.len(),
                    }
                )));
            }
        }
    }
    if new
        .get("type")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        new["type"] = json!("Opaque");
    }
    if let Some(old) = old {
        if old["type"] != new["type"] {
            return Err(ApiError::invalid_field(
                s,
                &name,
                "type",
                format!("Invalid value: {}: field is immutable", new["type"]),
            ));
        }
        if old["immutable"] == json!(true) && old.get("data") != new.get("data") {
            return Err(ApiError::invalid(
                s,
                &name,
                &[super::error::Cause {
                    reason: "FieldValueForbidden".into(),
                    message: "Forbidden: field is immutable when `immutable` is set".into(),
                    field: "data".into(),
                }],
            ));
        }
    }
    Ok(())
}

/// Namespace admission: the `kubernetes` finalizer and the `Active` phase.
pub(crate) fn admit_namespace(new: &mut Value, old: Option<&Value>) {
    match old {
        Some(old) => {
            new["spec"] = old["spec"].clone();
            new["status"] = old["status"].clone();
        }
        None => {
            new["spec"] = json!({"finalizers": ["kubernetes"]});
            new["status"] = json!({"phase": "Active"});
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: Subject<'static> = Subject {
        plural: "secrets",
        group: "",
        kind: "Secret",
    };

    #[test]
    fn string_data_merges_into_data() {
        let mut s =
            json!({"metadata": {"name": "s"}, "data": {"a": "YQ=="}, "stringData": {"b": "bee"}});
        admit_secret(SECRET, &mut s, None).unwrap();
        assert_eq!(s["data"], json!({"a": "YQ==", "b": "YmVl"}));
        assert!(s.get("stringData").is_none());
        assert_eq!(s["type"], "Opaque");
    }

    #[test]
    fn bad_base64_and_type_change_are_rejected() {
        let mut bad = json!({"metadata": {"name": "s"}, "data": {"a": "not base64!"}});
        assert_eq!(admit_secret(SECRET, &mut bad, None).unwrap_err().code, 400);
        let old = json!({"metadata": {"name": "s"}, "type": "Opaque"});
        let mut new = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls"});
        let err = admit_secret(SECRET, &mut new, Some(&old)).unwrap_err();
        assert_eq!(
            err.message,
            "Secret \"s\" is invalid: type: Invalid value: \"kubernetes.io/tls\": field is immutable"
        );
    }

    #[test]
    fn labels() {
        let ok = json!({"metadata": {"name": "s", "labels": {"app.kubernetes.io/name": "x_y.z", "e": ""}}});
        assert!(validate_labels(SECRET, &ok).is_ok());
        let long = json!({"metadata": {"name": "s", "labels": {"a": "x".repeat(64)}}});
        let err = validate_labels(SECRET, &long).unwrap_err();
        assert!(
            err.message.ends_with("must be no more than 63 characters"),
            "{}",
            err.message
        );
        let bad = json!({"metadata": {"name": "s", "labels": {"Bad/k": "-v"}}});
        let err = validate_labels(SECRET, &bad).unwrap_err();
        assert!(
            err.message.starts_with(
                "Secret \"s\" is invalid: [metadata.labels: Invalid value: \"Bad/k\": prefix part"
            ),
            "{}",
            err.message
        );
    }

    #[test]
    fn names() {
        assert!(validate_name(SECRET, "a.b-c", false).is_ok());
        assert!(validate_name(SECRET, "a.b", true).is_err());
        assert_eq!(validate_name(SECRET, "Bad", false).unwrap_err().code, 422);
    }
}
