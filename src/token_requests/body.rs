//! The JSON of a token request and of its answer, and turning a request body into a validated
//! [`TokenRequest`]: pure, no I/O.
//!
//! Request (`POST /apis/videosdk.live/v1alpha1/namespaces/{namespace}/tokenrequests`):
//!
//! ```json
//! {"issuer": {"name": "videosdk", "kind": "VideoSdkIssuer"},
//!  "permissions": ["allow_join"], "roles": ["rtc"],
//!  "roomId": "abc-defg-hij", "participantId": "user-42", "ttl": "10m"}
//! ```
//!
//! `issuer.kind` defaults to `VideoSdkIssuer`, `roles`, `roomId` and `participantId` are
//! optional, `ttl` (a Go duration, at least 1m) defaults to [`DEFAULT_TTL`]. Answer:
//! `{"token": "<JWT>", "id": "<jti>", "iat": <Unix seconds>, "exp": <Unix seconds>}`.

use super::refusal::Refusal;
use crate::api::{
    DURATION_MAX_LENGTH, IssuerKind, IssuerRef, Permission, Role, is_dns1123_subdomain,
};
use crate::token::{self, RequestError, TokenRequest};
use serde::Serialize;
use serde::de::{DeserializeOwned, DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::fmt;
use std::time::Duration;

/// The lifetime of a token whose request gives no `ttl`: VideoSDK's own sample token server
/// hands out 10-minute tokens to participants.
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(600);

/// The fields a request may have; any other is refused, so that a misspelt `roomID` is not
/// silently dropped from the token.
const FIELDS: [&str; 6] = [
    "issuer",
    "permissions",
    "roles",
    "roomId",
    "participantId",
    "ttl",
];

/// A parsed request: which issuer, and what to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// The issuer named.
    pub(crate) issuer: IssuerRef,
    /// The claims asked for, validated as a `VideoSdkToken`'s are.
    pub(crate) request: TokenRequest,
}

/// The answer to a granted request.
#[derive(Serialize)]
pub(crate) struct Granted<'a> {
    /// The compact JWT.
    pub(crate) token: &'a str,
    /// Its `jti`.
    pub(crate) id: &'a str,
    /// Issued at, Unix seconds.
    pub(crate) iat: u64,
    /// Expires at, Unix seconds.
    pub(crate) exp: u64,
}

/// Parses a request body. Errors: 400 when the body is not a JSON object, 422 naming the field
/// for a missing, unknown, repeated or invalid field. The claims are held to the rules a
/// `VideoSdkToken` is held to at admission ([`TokenRequest::validate`]).
pub(crate) fn parse(body: &[u8]) -> Result<Parsed, Refusal> {
    let value = without_duplicate_keys(body)?;
    let Value::Object(mut object) = value else {
        return Err(Refusal::bad_request(
            "the request body must be a JSON object".to_owned(),
        ));
    };
    if let Some(unknown) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(Refusal::invalid(
            unknown,
            format!(
                "unknown field {unknown:?}: the fields are {}",
                FIELDS.join(", ")
            ),
        ));
    }
    let issuer = issuer(&mut object)?;
    let permissions: Vec<Permission> =
        field(&mut object, "permissions", PERMISSIONS)?.ok_or_else(|| {
            Refusal::invalid(
                "permissions",
                "permissions is required: give at least one of allow_join, ask_join, allow_mod"
                    .to_owned(),
            )
        })?;
    let roles: Vec<Role> = field(&mut object, "roles", ROLES)?.unwrap_or_default();
    let room_id: Option<String> = field(&mut object, "roomId", "a string")?;
    let participant_id: Option<String> = field(&mut object, "participantId", "a string")?;
    let ttl = match field::<String>(&mut object, "ttl", "a duration string such as 10m or 1h30m")? {
        None => DEFAULT_TTL,
        Some(ttl) if ttl.len() > DURATION_MAX_LENGTH as usize => {
            return Err(Refusal::invalid(
                "ttl",
                format!(
                    "ttl is longer than {DURATION_MAX_LENGTH} characters, the CRD's limit: write it as 10m, 1h30m"
                ),
            ));
        }
        Some(ttl) => {
            token::parse_positive(&ttl).map_err(|e| Refusal::invalid("ttl", format!("ttl: {e}")))?
        }
    };
    let request = TokenRequest {
        permissions,
        roles,
        room_id,
        participant_id,
        ttl,
    };
    request.validate().map_err(|e| {
        // The shared rules word their messages for a VideoSdkToken's `spec.`; here the fields
        // are at the top level.
        Refusal::invalid(request_field(&e), e.to_string().replace("spec.", ""))
    })?;
    Ok(Parsed { issuer, request })
}

/// The request field a [`RequestError`] is about.
fn request_field(error: &RequestError) -> &'static str {
    match error {
        RequestError::NoPermissions | RequestError::DuplicatePermission(_) => "permissions",
        RequestError::DuplicateRole(_) => "roles",
        RequestError::EmptyRoomId => "roomId",
        RequestError::EmptyParticipantId => "participantId",
        RequestError::ControlCharacter { field, .. } | RequestError::TooLong { field, .. } => {
            field.strip_prefix("spec.").unwrap_or(field)
        }
        RequestError::Ttl(_)
        | RequestError::TtlTooShort { .. }
        | RequestError::TtlTooLong { .. } => "ttl",
    }
}

fn issuer(object: &mut Map<String, Value>) -> Result<IssuerRef, Refusal> {
    let missing = || {
        Refusal::invalid(
            "issuer",
            "issuer is required: {\"name\": NAME, \"kind\": \"VideoSdkIssuer\" or \"ClusterVideoSdkIssuer\"}"
                .to_owned(),
        )
    };
    let Some(Value::Object(mut issuer)) = object.remove("issuer") else {
        return Err(missing());
    };
    if let Some(unknown) = issuer
        .keys()
        .find(|k| !["name", "kind"].contains(&k.as_str()))
    {
        return Err(Refusal::invalid(
            &format!("issuer.{unknown}"),
            format!("unknown field issuer.{unknown}: the fields are name, kind"),
        ));
    }
    let name: String = field(&mut issuer, "name", "a string")
        .map_err(|r| r.prefixed("issuer."))?
        .filter(|n: &String| !n.is_empty())
        .ok_or_else(|| Refusal::invalid("issuer.name", "issuer.name is required".to_owned()))?;
    if !is_dns1123_subdomain(&name) {
        return Err(Refusal::invalid(
            "issuer.name",
            "issuer.name is not an issuer's name: a DNS-1123 subdomain (at most 253 lowercase letters, digits, '-' and '.')".to_owned(),
        ));
    }
    let kind: IssuerKind = field(
        &mut issuer,
        "kind",
        "\"VideoSdkIssuer\" or \"ClusterVideoSdkIssuer\"",
    )
    .map_err(|r| r.prefixed("issuer."))?
    .unwrap_or_default();
    Ok(IssuerRef { name, kind })
}

/// What `permissions` must be, in a refusal.
const PERMISSIONS: &str = "a list of allow_join, ask_join, allow_mod";
/// What `roles` must be, in a refusal.
const ROLES: &str = "a list of rtc, crawler";

/// Takes `name` out of `object` as a `T` (`None` when absent or null); a value of the wrong
/// shape is a 422 naming the field and saying what it must be (`expected`), in fixed words:
/// serde_json's text would echo the client's value and the Rust type's wording.
fn field<T: DeserializeOwned>(
    object: &mut Map<String, Value>,
    name: &str,
    expected: &str,
) -> Result<Option<T>, Refusal> {
    match object.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value)
            .map(Some)
            .map_err(|_| Refusal::invalid(name, format!("{name} must be {expected}"))),
    }
}

/// `body` as JSON, refusing a key given twice in one object (RFC 8259 §4 leaves duplicate
/// names to the reader; serde_json keeps the last one silently, so `{"roomId": "a", "roomId":
/// "b"}` would sign whichever came last). Errors: 422 naming the key (`issuer.name` inside
/// `issuer`), 400 for text that is not JSON.
fn without_duplicate_keys(body: &[u8]) -> Result<Value, Refusal> {
    let duplicate = RefCell::new(None);
    let mut reader = serde_json::Deserializer::from_slice(body);
    let value = Unique {
        path: String::new(),
        duplicate: &duplicate,
    }
    .deserialize(&mut reader)
    .and_then(|value| reader.end().map(|()| value));
    match (value, duplicate.into_inner()) {
        (_, Some(key)) => Err(Refusal::invalid(
            &key,
            format!("{key} is given more than once: give each field once"),
        )),
        (Ok(value), None) => Ok(value),
        // Where, not serde_json's text, which may quote the client's input.
        (Err(e), None) => Err(Refusal::bad_request(format!(
            "the request body is not valid JSON (line {}, column {}): send a JSON object such as {{\"issuer\": {{\"name\": NAME}}, \"permissions\": [\"allow_join\"]}}",
            e.line(),
            e.column()
        ))),
    }
}

/// Reads a JSON value at `path` (`""` for the top, `issuer.` inside `issuer`) as
/// `serde_json::Value` does, but stops at the first key repeated in an object, noting its path
/// in `duplicate`. serde_json's recursion limit (128 levels) still applies.
struct Unique<'a> {
    path: String,
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Unique<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, reader: D) -> Result<Value, D::Error> {
        reader.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Value, A::Error> {
        let mut all = Vec::new();
        while let Some(item) = items.next_element_seed(Unique {
            path: format!("{}[{}].", self.path.trim_end_matches('.'), all.len()),
            duplicate: self.duplicate,
        })? {
            all.push(item);
        }
        Ok(Value::Array(all))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = entries.next_key::<String>()? {
            let path = format!("{}{key}", self.path);
            if object.contains_key(&key) {
                *self.duplicate.borrow_mut() = Some(path);
                return Err(A::Error::custom("a duplicate key"));
            }
            let value = entries.next_value_seed(Unique {
                path: format!("{path}."),
                duplicate: self.duplicate,
            })?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn refused(body: &str) -> Refusal {
        parse(body.as_bytes()).expect_err(body)
    }

    #[test]
    fn a_full_request_is_read_with_defaults_for_what_is_left_out() {
        let parsed = parse(
            br#"{"issuer": {"name": "videosdk"}, "permissions": ["allow_join"], "roles": ["rtc"],
                "roomId": "r1", "participantId": "p1"}"#,
        )
        .unwrap();
        assert_eq!(parsed.issuer.name, "videosdk");
        assert_eq!(parsed.issuer.kind, IssuerKind::VideoSdkIssuer);
        assert_eq!(parsed.request.ttl, DEFAULT_TTL);
        assert_eq!(parsed.request.roles, [Role::Rtc]);
        assert_eq!(parsed.request.room_id.as_deref(), Some("r1"));
        let cluster = parse(
            br#"{"issuer": {"name": "c", "kind": "ClusterVideoSdkIssuer"}, "permissions": ["ask_join"], "ttl": "90s"}"#,
        )
        .unwrap();
        assert_eq!(cluster.issuer.kind, IssuerKind::ClusterVideoSdkIssuer);
        assert_eq!(cluster.request.ttl, Duration::from_secs(90));
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (r#"{"permissions": ["allow_join"]}"#, "issuer"),
            (
                r#"{"issuer": {"name": ""}, "permissions": ["allow_join"]}"#,
                "issuer.name",
            ),
            (
                r#"{"issuer": {"name": "i", "kind": "Issuer"}, "permissions": ["allow_join"]}"#,
                "issuer.kind",
            ),
            (
                r#"{"issuer": {"name": "i", "namespace": "x"}, "permissions": ["allow_join"]}"#,
                "issuer.namespace",
            ),
            (r#"{"issuer": {"name": "i"}}"#, "permissions"),
            (
                r#"{"issuer": {"name": "i"}, "permissions": []}"#,
                "permissions",
            ),
            (
                r#"{"issuer": {"name": "i"}, "permissions": ["join"]}"#,
                "permissions",
            ),
            (
                r#"{"issuer": {"name": "i"}, "permissions": ["allow_join"], "roles": ["rtc", "rtc"]}"#,
                "roles",
            ),
            (
                r#"{"issuer": {"name": "i"}, "permissions": ["allow_join"], "roomId": ""}"#,
                "roomId",
            ),
            (
                r#"{"issuer": {"name": "i"}, "permissions": ["allow_join"], "participantId": "a\nb"}"#,
                "participantId",
            ),
            (
                r#"{"issuer": {"name": "i"}, "permissions": ["allow_join"], "ttl": "10 minutes"}"#,
                "ttl",
            ),
            (
                r#"{"issuer": {"name": "i"}, "permissions": ["allow_join"], "ttl": "30s"}"#,
                "ttl",
            ),
            (
                r#"{"issuer": {"name": "i"}, "permissions": ["allow_join"], "roomID": "r"}"#,
                "roomID",
            ),
        ];
        for (body, field) in cases {
            let r = refused(body);
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert!(r.message.contains(field), "{body}: {}", r.message);
            assert_eq!(r.field.as_deref(), Some(field), "{body}: {}", r.message);
            assert!(!r.message.contains("spec."), "{}", r.message);
        }
    }

    #[test]
    fn a_key_given_twice_is_named_at_any_depth() {
        for (body, key) in [
            (
                r#"{"issuer": {"name": "i"}, "permissions": ["allow_join"], "roomId": "a", "roomId": "b"}"#,
                "roomId",
            ),
            (
                r#"{"issuer": {"name": "i", "name": "j"}, "permissions": ["allow_join"]}"#,
                "issuer.name",
            ),
            (
                r#"{"issuer": {"name": "i"}, "issuer": {"name": "j"}, "permissions": ["allow_join"]}"#,
                "issuer",
            ),
            (r#"{"ttl": "1m", "ttl": "1m"}"#, "ttl"),
        ] {
            let r = refused(body);
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(r.field.as_deref(), Some(key), "{body}");
            assert!(r.message.contains("more than once"), "{}", r.message);
        }
        assert_eq!(
            without_duplicate_keys(br#"{"a": [{"b": 1}, {"b": 2.5}], "c": null, "d": true}"#)
                .unwrap(),
            serde_json::json!({"a": [{"b": 1}, {"b": 2.5}], "c": null, "d": true}),
            "the same value serde_json reads, when no key repeats"
        );
        let deep = "[".repeat(10_000);
        assert_eq!(
            refused(&deep).status,
            StatusCode::BAD_REQUEST,
            "the recursion limit holds"
        );
    }

    #[test]
    fn the_crd_limits_hold_for_requests_too() {
        let ask = |extra: &str| {
            format!(r#"{{"issuer": {{"name": "i"}}, "permissions": ["allow_join"]{extra}}}"#)
        };
        let long = "x".repeat(16_000);
        for (body, field) in [
            (ask(&format!(r#", "roomId": "{long}""#)), "roomId"),
            (
                ask(&format!(r#", "participantId": "{long}""#)),
                "participantId",
            ),
        ] {
            let r = refused(&body);
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(r.field.as_deref(), Some(field));
            assert_eq!(
                r.message,
                format!("{field} is 16000 characters long: at most 256 are allowed")
            );
        }
        assert!(parse(ask(&format!(r#", "roomId": "{}""#, "r".repeat(256))).as_bytes()).is_ok());
        let r = refused(&ask(&format!(r#", "ttl": "{}m""#, "1".repeat(64))));
        assert_eq!(r.field.as_deref(), Some("ttl"));
        assert!(r.message.contains("longer than 64"), "{}", r.message);
        for name in ["Videosdk", "a/b", "..", "a b", "x\u{7f}", &"a".repeat(254)] {
            let body = serde_json::json!({"issuer": {"name": name}, "permissions": ["allow_join"]});
            let r = refused(&body.to_string());
            assert_eq!(r.field.as_deref(), Some("issuer.name"), "{name}");
        }
    }

    #[test]
    fn a_value_of_the_wrong_shape_is_named_with_what_is_expected_and_not_echoed() {
        for (body, message) in [
            (
                r#"{"issuer": {"name": "i"}, "permissions": ["secret-join"]}"#,
                "permissions must be a list of allow_join, ask_join, allow_mod",
            ),
            (
                r#"{"issuer": {"name": "i"}, "permissions": ["allow_join"], "roles": "secret-role"}"#,
                "roles must be a list of rtc, crawler",
            ),
            (
                r#"{"issuer": {"name": "i"}, "permissions": ["allow_join"], "roomId": ["secret"]}"#,
                "roomId must be a string",
            ),
            (
                r#"{"issuer": {"name": "i", "kind": "secret-kind"}, "permissions": ["allow_join"]}"#,
                r#"issuer.kind must be "VideoSdkIssuer" or "ClusterVideoSdkIssuer""#,
            ),
        ] {
            let r = refused(body);
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(r.message, message, "{body}");
        }
        let r = refused(r#"{"roomId": "secret-value"#);
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            r.message
                .starts_with("the request body is not valid JSON (line 1, column "),
            "{}",
            r.message
        );
        assert!(!r.message.contains("secret"), "{}", r.message);
    }

    #[test]
    fn a_body_that_is_not_an_object_is_a_bad_request() {
        for body in ["", "nope", "[]", "\"x\""] {
            assert_eq!(refused(body).status, StatusCode::BAD_REQUEST, "{body}");
        }
    }
}
