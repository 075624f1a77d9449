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

use super::clock::{rfc3339, unix_now};
use super::error::{ApiError, Subject};
use super::identity::{SERVICE_ACCOUNT_PREFIX, UserInfo};
use super::store::State;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

/// The audience of a token whose TokenRequest names none, and of a TokenReview that names none:
/// the API server's own, as on a kubeadm cluster.
pub(crate) const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";

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
pub(crate) struct Tokens(Mutex<HashMap<String, Issued>>);

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
    pub(crate) fn request(
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
            "sub": format!("{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"),
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
            "creationTimestamp": rfc3339(iat)});
        request["spec"]["audiences"] = json!(audiences);
        request["spec"]["expirationSeconds"] = json!(seconds);
        request["status"] = json!({"token": token,
            "expirationTimestamp": rfc3339(issued.expires)});
        Ok(request)
    }

    /// The ServiceAccount user of `token` when this server issued it for one of `wanted` (the
    /// audiences both share), as kube-apiserver's bound-token authenticator; otherwise why not
    /// (the message a TokenReview's `status.error` gives).
    pub(crate) fn authenticate(
        &self,
        state: &State,
        token: &str,
        wanted: &[String],
    ) -> Result<(UserInfo, Vec<String>), String> {
        let issued = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned();
        let t = match issued {
            None => return Err("invalid bearer token".to_owned()),
            Some(t) if t.expires <= unix_now() => return Err("token has expired".to_owned()),
            Some(t) => t,
        };
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
        let common: Vec<String> = wanted
            .iter()
            .filter(|a| t.audiences.contains(a))
            .cloned()
            .collect();
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
            let mut user = UserInfo::service_account(&t.namespace, &t.name);
            user.uid = t.uid;
            Ok((user, common))
        }
    }

    /// Answers a TokenReview: the review with its `status`.
    pub(crate) fn review(&self, state: &State, mut review: Value) -> Value {
        let token = review
            .pointer("/spec/token")
            .and_then(Value::as_str)
            .unwrap_or("");
        let wanted = audiences(review.get("spec").unwrap_or(&Value::Null));
        review["status"] = match self.authenticate(state, token, &wanted) {
            Ok((user, audiences)) => json!({
                "authenticated": true,
                "audiences": audiences,
                "user": user.to_json(),
            }),
            Err(error) => json!({"user": {}, "error": error}),
        };
        review
    }

    /// The user a request is made as, before impersonation: the ServiceAccount of an
    /// `Authorization: Bearer` token this server issued for its own audience, else (no
    /// credentials) the administrator [`UserInfo::admin`].
    ///
    /// Errors: 401 `Unauthorized` for a bearer token this server did not issue, or that expired
    /// or outlived its ServiceAccount, as kube-apiserver answers a failed authentication.
    pub(crate) fn requester(
        &self,
        state: &State,
        headers: &HeaderMap,
    ) -> Result<UserInfo, ApiError> {
        let Some(value) = headers.get(AUTHORIZATION) else {
            return Ok(UserInfo::admin());
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(ApiError::unauthorized)?;
        self.authenticate(state, token, &[API_AUDIENCE.to_owned()])
            .map(|(user, _)| user)
            .map_err(|_| ApiError::unauthorized())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_without_credentials_are_the_administrator_and_bad_tokens_are_refused() {
        let (tokens, state) = (Tokens::default(), State::new(10));
        assert_eq!(
            tokens.requester(&state, &HeaderMap::new()).unwrap(),
            UserInfo::admin()
        );
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, "Bearer not-issued".parse().unwrap());
        let err = tokens.requester(&state, &headers).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (401, "Unauthorized"));
    }
}
