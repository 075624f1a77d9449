//! The token a managed Secret holds, as the operator wrote it: the JWT and the annotations that
//! record what it was signed for.

use super::labels::{
    CREDENTIALS_HASH_ANNOTATION, EXPIRES_AT_ANNOTATION, ISSUED_AT_ANNOTATION,
    RENEW_NOW_HANDLED_ANNOTATION, SPEC_HASH_ANNOTATION, TOKEN_ID_ANNOTATION, TOKEN_KEY,
    TOKEN_UID_ANNOTATION,
};
use crate::token::Claims;
use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;

/// What the operator keeps in a Secret: everything it needs to rebuild the Secret exactly, and
/// to decide without re-signing whether the token is still right.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredToken {
    /// The JWT; `None` when the `token` key is missing or not UTF-8.
    pub jwt: Option<String>,
    /// The `jti` the operator recorded when it stored the token.
    pub token_id: Option<String>,
    /// The UID of the token the annotations were written for.
    pub token_uid: Option<String>,
    /// Fingerprint of the claims-relevant spec it was signed for.
    pub spec_hash: Option<String>,
    /// Fingerprint of the credentials that signed it.
    pub credentials_hash: Option<String>,
    /// The renew-now value it answered.
    pub renew_now_handled: Option<String>,
}

impl StoredToken {
    /// Reads a Secret the operator manages.
    pub(crate) fn from_secret(secret: &Secret) -> Self {
        let annotations = secret.metadata.annotations.as_ref();
        let annotation = |key: &str| annotations.and_then(|a| a.get(key)).cloned();
        StoredToken {
            jwt: secret
                .data
                .as_ref()
                .and_then(|data| data.get(TOKEN_KEY))
                .and_then(|bytes| String::from_utf8(bytes.0.clone()).ok()),
            token_id: annotation(TOKEN_ID_ANNOTATION),
            token_uid: annotation(TOKEN_UID_ANNOTATION),
            spec_hash: annotation(SPEC_HASH_ANNOTATION),
            credentials_hash: annotation(CREDENTIALS_HASH_ANNOTATION),
            renew_now_handled: annotation(RENEW_NOW_HANDLED_ANNOTATION),
        }
    }

    /// The annotations that describe this token on its Secret, given its claims.
    pub fn annotations(&self, claims: &Claims) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let rfc3339 = |secs: u64| crate::time::rfc3339(secs);
        if let Some(jti) = &claims.jti {
            out.insert(TOKEN_ID_ANNOTATION.to_owned(), jti.clone());
        }
        out.insert(ISSUED_AT_ANNOTATION.to_owned(), rfc3339(claims.iat));
        out.insert(EXPIRES_AT_ANNOTATION.to_owned(), rfc3339(claims.exp));
        for (key, value) in [
            (SPEC_HASH_ANNOTATION, &self.spec_hash),
            (CREDENTIALS_HASH_ANNOTATION, &self.credentials_hash),
            (RENEW_NOW_HANDLED_ANNOTATION, &self.renew_now_handled),
        ] {
            if let Some(value) = value {
                out.insert(key.to_owned(), value.clone());
            }
        }
        out
    }
}
