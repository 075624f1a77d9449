//! ServiceAccount tokens: issued through the TokenRequest subresource
//! (`POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`, authentication.k8s.io/v1
//! TokenRequest with `audiences` and `expirationSeconds`) and checked by TokenReview
//! (`POST /apis/authentication.k8s.io/v1/tokenreviews`), as kube-apiserver does for bound
//! ServiceAccount tokens: a token is valid until it expires, while its ServiceAccount (the same
//! UID) exists, and only for its audiences.
//!
//! Tokens are JWT-shaped (`header.claims.signature`, the claims kube-apiserver writes: `aud`,
//! `exp`, `iat`, `iss`, `sub`, `kubernetes.io`) with a random signature, and valid because this
//! server remembers issuing them, not because of a key. Differences from kube-apiserver:
//! `expirationSeconds` may be as short as 1 (kube-apiserver's minimum is 600), so that tests can
//! see a token expire; tokens are not bound to pods or Secrets (`boundObjectRef` is ignored).

use super::error::{ApiError, Subject};
use super::store::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// The audience of a token whose TokenRequest names none, and of a TokenReview that names none:
/// the API server's own, as on a kubeadm cluster.
pub const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";

/// The default lifetime of a requested token: one hour, as kube-apiserver's.
const DEFAULT_EXPIRATION_SECONDS: u64 = 3600;

/// A token this server issued.
#[derive(Clone, Debug)]
struct Issued {
    namespace: String,
    name: String,
    uid: String,
    audiences: Vec<String>,
    /// Unix seconds.
    expires: u64,
}

/// The tokens issued so far.
#[derive(Default)]
pub struct Tokens(Mutex<HashMap<String, Issued>>);

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The `audiences` of a TokenRequest's or TokenReview's `spec`: the API server's own when none.
fn audiences(spec: &Value) -> Vec<String> {
    let given = super::authz::strings(spec, "audiences");
    if given.is_empty() {
        vec![API_AUDIENCE.to_owned()]
    } else {
        given
    }
}

const SERVICE_ACCOUNT: Subject<'static> = Subject {
    plural: "serviceaccounts",
    group: "",
    kind: "ServiceAccount",
};

const TOKEN_REQUEST: Subject<'static> = Subject {
    plural: "serviceaccounts",
    group: "authentication.k8s.io",
    kind: "TokenRequest",
};

impl Tokens {
    /// Answers a TokenRequest for ServiceAccount `namespace/name`: the request with its
    /// `status.token` and `status.expirationTimestamp`. Errors: 404 when the ServiceAccount does
    /// not exist, 422 for a bad `expirationSeconds` or `audiences`.
    pub fn request(
        &self,
        state: &State,
        namespace: &str,
        name: &str,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        let sa = state
            .get(
                &(String::new(), "serviceaccounts".to_owned()),
                namespace,
                name,
            )
            .ok_or_else(|| ApiError::not_found(SERVICE_ACCOUNT, name))?
            .value();
        let mut request: Value = if body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_request(format!("the TokenRequest is not valid JSON: {e}"))
            })?
        };
        let spec = request.get("spec").cloned().unwrap_or(json!({}));
        let seconds = match spec.get("expirationSeconds") {
            None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
            Some(v) => v
                .as_u64()
                .filter(|s| (1..=1 << 32).contains(s))
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        TOKEN_REQUEST,
                        name,
                        "spec.expirationSeconds",
                        format!("Invalid value: {v}: must be between 1 second and 2^32 seconds"),
                    )
                })?,
        };
        let audiences = audiences(&spec);
        let uid = sa
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let iat = unix_now();
        let issued = Issued {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            uid: uid.clone(),
            audiences: audiences.clone(),
            expires: iat + seconds,
        };
        let claims = json!({
            "aud": audiences, "exp": issued.expires, "iat": iat, "nbf": iat,
            "iss": API_AUDIENCE,
            "sub": format!("system:serviceaccount:{namespace}:{name}"),
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}},
        });
        let mut signature = [0u8; 32];
        aws_lc_rs::rand::fill(&mut signature)
            .map_err(|_| ApiError::internal("the random number generator failed"))?;
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"videosdk-dev"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            URL_SAFE_NO_PAD.encode(signature)
        );
        {
            let mut tokens = self.0.lock().unwrap_or_else(|p| p.into_inner());
            tokens.retain(|_, t| t.expires > iat);
            tokens.insert(token.clone(), issued.clone());
        }
        request["apiVersion"] = json!("authentication.k8s.io/v1");
        request["kind"] = json!("TokenRequest");
        request["metadata"] = json!({"name": name, "namespace": namespace,
            "creationTimestamp": crate::verbs::rfc3339(iat)});
        request["spec"]["audiences"] = json!(audiences);
        request["spec"]["expirationSeconds"] = json!(seconds);
        request["status"] = json!({"token": token,
            "expirationTimestamp": crate::verbs::rfc3339(issued.expires)});
        Ok(request)
    }

    /// Answers a TokenReview: the review with its `status`.
    pub fn review(&self, state: &State, mut review: Value) -> Value {
        let token = review
            .pointer("/spec/token")
            .and_then(Value::as_str)
            .unwrap_or("");
        let wanted = audiences(review.get("spec").unwrap_or(&Value::Null));
        let issued = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned();
        let status = match issued {
            None => Err("invalid bearer token".to_owned()),
            Some(t) if t.expires <= unix_now() => Err("token has expired".to_owned()),
            Some(t) => {
                let sa_uid = state
                    .get(
                        &(String::new(), "serviceaccounts".to_owned()),
                        &t.namespace,
                        &t.name,
                    )
                    .and_then(|s| {
                        s.value()
                            .pointer("/metadata/uid")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    });
                let common: Vec<&String> =
                    wanted.iter().filter(|a| t.audiences.contains(a)).collect();
                if sa_uid.as_deref() != Some(t.uid.as_str()) {
                    Err(format!(
                        "service account {}/{} has been deleted",
                        t.namespace, t.name
                    ))
                } else if common.is_empty() {
                    Err(format!(
                        "token audiences {:?} is invalid for the target audiences {:?}",
                        t.audiences, wanted
                    ))
                } else {
                    Ok(json!({
                        "authenticated": true,
                        "audiences": common,
                        "user": {
                            "username": format!("system:serviceaccount:{}:{}", t.namespace, t.name),
                            "uid": t.uid,
                            "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{}", t.namespace), "system:authenticated"],
                        },
                    }))
                }
            }
        };
        review["status"] = status.unwrap_or_else(|error| json!({"user": {}, "error": error}));
        review
    }
}

/// The `spec` of a TokenRequest sent as protobuf (`application/vnd.kubernetes.protobuf`, what
/// `kubectl create token` sends), as the JSON [`Tokens::request`] reads: the `k8s\0` envelope
/// (runtime.Unknown, its `raw` in field 2), then TokenRequest field 2, the spec: `audiences`
/// (field 1, repeated string) and `expirationSeconds` (field 4, varint). `None` when the bytes
/// are not that.
pub fn token_request_from_protobuf(body: &[u8]) -> Option<Value> {
    let unknown = body.strip_prefix(b"k8s\0")?;
    let raw = fields(unknown)?
        .into_iter()
        .find(|(n, _)| *n == 2)?
        .1
        .bytes()?;
    let spec = fields(raw)?.into_iter().find(|(n, _)| *n == 2)?.1.bytes()?;
    let mut audiences = Vec::new();
    let mut seconds = None;
    for (number, value) in fields(spec)? {
        match (number, value) {
            (1, Field::Bytes(b)) => audiences.push(String::from_utf8(b.to_vec()).ok()?),
            (4, Field::Varint(v)) => seconds = Some(v),
            _ => {}
        }
    }
    Some(json!({"spec": {"audiences": audiences, "expirationSeconds": seconds}}))
}

/// A protobuf field's value: a varint or length-delimited bytes (the only wire types here).
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

impl<'a> Field<'a> {
    fn bytes(self) -> Option<&'a [u8]> {
        match self {
            Field::Bytes(b) => Some(b),
            Field::Varint(_) => None,
        }
    }
}

fn varint(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The fields of one protobuf message, in order; `None` for a malformed or unsupported one.
fn fields(mut input: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let key = varint(&mut input)?;
        let value = match key & 7 {
            0 => Field::Varint(varint(&mut input)?),
            2 => {
                let len = usize::try_from(varint(&mut input)?).ok()?;
                let (bytes, rest) = (input.get(..len)?, input.get(len..)?);
                input = rest;
                Field::Bytes(bytes)
            }
            _ => return None,
        };
        out.push((key >> 3, value));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_protobuf_token_request_is_read() {
        // TokenRequestSpec: audiences ["aud"], expirationSeconds 600.
        let spec = [&[0x0a, 3][..], b"aud", &[0x20, 0xd8, 0x04]].concat();
        let request = [&[0x12, spec.len() as u8][..], &spec].concat();
        let unknown = [&[0x12, request.len() as u8][..], &request].concat();
        let body = [&b"k8s\0"[..], &unknown].concat();
        assert_eq!(
            token_request_from_protobuf(&body),
            Some(json!({"spec": {"audiences": ["aud"], "expirationSeconds": 600}}))
        );
        assert_eq!(token_request_from_protobuf(b"{}"), None);
    }
}
