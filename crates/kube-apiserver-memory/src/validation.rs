//! `fieldValidation` (kube-apiserver 1.27+): what a create, update or merge patch whose body
//! has fields the schema does not declare, or a field twice, gets. `Strict` (what kubectl asks
//! for) refuses it with a 400 naming every such field; `Warn` (the default when the request
//! does not say) accepts it with one `Warning` header per field; `Ignore` accepts it silently.
//! Unknown fields are then dropped by pruning, and of a duplicate the last value wins, either way.
//!
//! Only custom resources are checked for unknown fields (built-in types are not typed here);
//! duplicates are found in every JSON body.

use super::error::ApiError;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The `fieldValidation` query parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldValidation {
    Strict,
    Warn,
    Ignore,
}

impl FieldValidation {
    /// Parses the parameter; absent means `Warn`, as kube-apiserver defaults it.
    pub(crate) fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {other:?}"
            ))),
        }
    }

    /// What to do with `problems` (`unknown field "spec.tll"`, `duplicate field "spec.ttl"`)
    /// of a body of `kind` in `version`: the 400 of `Strict`, else the `Warning` headers to
    /// send (none for `Ignore`).
    pub(crate) fn judge(
        self,
        kind: &str,
        version: &str,
        problems: Vec<String>,
    ) -> Result<Vec<String>, ApiError> {
        if problems.is_empty() || self == FieldValidation::Ignore {
            return Ok(Vec::new());
        }
        if self == FieldValidation::Strict {
            return Err(ApiError::bad_request(format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
                problems.join(", ")
            )));
        }
        Ok(problems)
    }
}

/// `unknown field "PATH"` for each path.
pub(crate) fn unknown(paths: Vec<String>) -> Vec<String> {
    paths
        .into_iter()
        .map(|p| format!("unknown field \"{p}\""))
        .collect()
}

/// `duplicate field "PATH"` for each key that appears twice in one object of the JSON `body`
/// (which serde_json would otherwise read silently, the last value winning); empty for a body
/// that is not JSON (its parse error is reported elsewhere).
pub(crate) fn duplicates(body: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    let _ = Walk {
        path: String::new(),
        found: &mut found,
    }
    .deserialize(&mut de);
    found
        .into_iter()
        .map(|p| format!("duplicate field \"{p}\""))
        .collect()
}

/// Walks a JSON value, recording the paths of duplicate keys.
struct Walk<'a> {
    path: String,
    found: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if keys.contains(&key) {
                self.found.push(path.clone());
            } else {
                keys.push(key);
            }
            map.next_value_seed(Walk {
                path,
                found: self.found,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(Walk {
                path: format!("{}[{i}]", self.path),
                found: self.found,
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_named_by_path() {
        let body =
            br#"{"spec": {"ttl": "1h", "ttl": "2h", "list": [{"a": 1, "a": 2}]}, "kind": "X"}"#;
        assert_eq!(
            duplicates(body),
            [
                r#"duplicate field "spec.ttl""#,
                r#"duplicate field "spec.list[0].a""#
            ]
        );
        assert!(duplicates(br#"{"a": {"b": 1}, "c": {"b": 2}}"#).is_empty());
    }

    #[test]
    fn strict_refuses_warn_warns_ignore_ignores() {
        let problems = || vec![r#"unknown field "spec.tll""#.to_owned()];
        let e = FieldValidation::Strict
            .judge("VideoSdkToken", "v1alpha1", problems())
            .unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(
            e.message,
            r#"VideoSdkToken in version "v1alpha1" cannot be handled as a VideoSdkToken: strict decoding error: unknown field "spec.tll""#
        );
        assert_eq!(
            FieldValidation::Warn.judge("K", "v1", problems()).unwrap(),
            problems()
        );
        assert!(
            FieldValidation::Ignore
                .judge("K", "v1", problems())
                .unwrap()
                .is_empty()
        );
        assert_eq!(FieldValidation::parse(None).unwrap(), FieldValidation::Warn);
        assert_eq!(FieldValidation::parse(Some("Bogus")).unwrap_err().code, 400);
    }
}
