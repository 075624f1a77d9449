//! Why a token request is refused, as an HTTP status and a JSON body a caller can act on:
//! `{"code": 403, "reason": "Forbidden", "message": "...", "field": "...", "check": "..."}`.
//!
//! `reason` is one of a fixed set (also the `result` label of the request metric):
//! `BadRequest` (400), `Unauthorized` (401), `Forbidden` (403, `check` says which:
//! `RBAC`, `NamespaceSelector` or `Policy`), `NotFound` (404), `PayloadTooLarge` (413),
//! `Invalid` (422, `field` names the field), `TooManyRequests` (429, with `Retry-After`: the
//! caller's rate, or the endpoint's TokenReview or SubjectAccessReview budget),
//! `InternalError` (500), `ServiceUnavailable` (503). Messages never hold a token or a bearer
//! credential, nor a client library's error text (the detail of a failed API call is logged;
//! the answer says what failed in plain words).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::time::Duration;

/// Which check refused a 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum Check {
    /// The SubjectAccessReview: the caller has no RBAC grant on the issuer.
    #[serde(rename = "RBAC")]
    Rbac,
    /// A ClusterVideoSdkIssuer's namespaceSelector does not admit the request's namespace.
    NamespaceSelector,
    /// The issuer's allowedPermissions, allowedRoles or maxTtl.
    Policy,
}

impl Check {
    /// Its name, as the answer's `check` field and the audit log give it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Check::Rbac => "RBAC",
            Check::NamespaceSelector => "NamespaceSelector",
            Check::Policy => "Policy",
        }
    }
}

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Refusal {
    /// The HTTP status.
    #[serde(rename = "code", serialize_with = "as_u16")]
    pub(crate) status: StatusCode,
    /// A word from the fixed set in the module's doc.
    pub(crate) reason: &'static str,
    /// What is wrong and what to do.
    pub(crate) message: String,
    /// The request field at fault (422 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) field: Option<String>,
    /// Which check refused (403 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) check: Option<Check>,
    /// When to try again (429, and 503 when busy), sent as `Retry-After` in whole seconds.
    #[serde(skip)]
    pub(crate) retry_after: Option<Duration>,
}

fn as_u16<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

impl Refusal {
    fn new(status: StatusCode, reason: &'static str, message: String) -> Self {
        Refusal {
            status,
            reason,
            message,
            field: None,
            check: None,
            retry_after: None,
        }
    }

    /// 400: the body is not a JSON object.
    pub(crate) fn bad_request(message: String) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// 422: `field` is missing, unknown or invalid.
    pub(crate) fn invalid(field: &str, message: String) -> Self {
        Refusal {
            field: Some(field.to_owned()),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message)
        }
    }

    /// The same refusal about `prefix` + its field (`issuer.` + `kind`), in its field and in a
    /// message that starts with the field's name.
    pub(crate) fn prefixed(mut self, prefix: &str) -> Self {
        if let Some(field) = &self.field
            && self.message.starts_with(field.as_str())
        {
            self.message = format!("{prefix}{}", self.message);
        }
        self.field = self.field.map(|f| format!("{prefix}{f}"));
        self
    }

    /// 401: no valid credentials.
    pub(crate) fn unauthorized(message: String) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
    }

    /// 403: `check` says no.
    pub(crate) fn forbidden(check: Check, message: String) -> Self {
        Refusal {
            check: Some(check),
            ..Self::new(StatusCode::FORBIDDEN, "Forbidden", message)
        }
    }

    /// 404: the issuer does not exist.
    pub(crate) fn not_found(message: String) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    /// 413: the body is over the size cap.
    pub(crate) fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// 429: the caller is over its rate limit; try again after `wait`.
    pub(crate) fn too_many(caller: &str, wait: Duration) -> Self {
        let seconds = retry_seconds(wait);
        Refusal {
            retry_after: Some(wait),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                format!(
                    "{caller} is over its rate limit of token requests: try again in {seconds}s"
                ),
            )
        }
    }

    /// 429: the endpoint's budget of `review`s (`per_second`, all callers together) is spent
    /// for now; try again after `wait`.
    pub(crate) fn reviews_spent(
        review: super::budget::Review,
        per_second: u32,
        wait: Duration,
    ) -> Self {
        let seconds = retry_seconds(wait);
        Refusal {
            retry_after: Some(wait),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                format!(
                    "the operator asks at most {per_second} {} per second ({}) and has asked them: try again in {seconds}s",
                    review.plural(),
                    review.rate_flag()
                ),
            )
        }
    }

    /// 503 with `Retry-After: 1`: the operator is busy for a moment.
    pub(crate) fn busy(message: String) -> Self {
        Refusal {
            retry_after: Some(Duration::from_secs(1)),
            ..Self::unavailable(message)
        }
    }

    /// 500: the operator could not do its part (an API call failed, signing failed).
    pub(crate) fn internal(message: String) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
    }

    /// 503: the issuer is not Ready, or the operator's caches have not listed yet.
    pub(crate) fn unavailable(message: String) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            message,
        )
    }
}

/// `Retry-After` in whole seconds, rounded up, at least 1.
fn retry_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.is_zero()))
}

/// `value` as a JSON response with `status`.
pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> Response {
    let body = serde_json::to_vec(value).expect("the answers serialize to JSON");
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = json(self.status, &self);
        if let Some(wait) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_seconds(wait)));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_seconds(Duration::ZERO), 1);
        assert_eq!(retry_seconds(Duration::from_millis(10)), 1);
        assert_eq!(retry_seconds(Duration::from_secs(2)), 2);
        assert_eq!(retry_seconds(Duration::from_millis(2001)), 3);
    }

    #[test]
    fn the_body_names_the_field_or_the_check() {
        let v = serde_json::to_value(Refusal::invalid("ttl", "ttl: bad".into())).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"code": 422, "reason": "Invalid", "message": "ttl: bad", "field": "ttl"})
        );
        for check in [Check::Rbac, Check::NamespaceSelector, Check::Policy] {
            assert_eq!(
                serde_json::to_value(check).unwrap(),
                check.as_str(),
                "the answer and the audit log name {check:?} alike"
            );
        }
        let v = serde_json::to_value(Refusal::forbidden(Check::Rbac, "no".into())).unwrap();
        assert_eq!(v["check"], "RBAC");
        assert_eq!(v["code"], 403);
    }
}
