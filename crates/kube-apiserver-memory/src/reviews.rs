//! The requests that are not objects in the store: TokenReview and SubjectAccessReview (created
//! and answered, never stored) and the TokenRequest subresource of ServiceAccounts. See
//! [`super::authn`] and [`super::authz`].

use super::Shared;
use super::accounting::{Access, Verb};
use super::error::ApiError;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;

/// What a request is, if it is one of these.
enum Review<'a> {
    Token,
    SubjectAccess,
    TokenRequest { namespace: &'a str, name: &'a str },
}

fn route<'a>(method: &Method, path: &'a str) -> Option<Review<'a>> {
    if method != Method::POST {
        return None;
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["apis", "authentication.k8s.io", "v1", "tokenreviews"] => Some(Review::Token),
        ["apis", "authorization.k8s.io", "v1", "subjectaccessreviews"] => {
            Some(Review::SubjectAccess)
        }
        [
            "api",
            "v1",
            "namespaces",
            namespace,
            "serviceaccounts",
            name,
            "token",
        ] => Some(Review::TokenRequest { namespace, name }),
        _ => None,
    }
}

/// Answers `body` when `method` and `path` are one of these requests; gives the body back
/// otherwise.
pub async fn answer(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Body> {
    let Some(review) = route(method, path) else {
        return Err(body);
    };
    let (group, resource, namespace) = match &review {
        Review::Token => ("authentication.k8s.io", "tokenreviews", None),
        Review::SubjectAccess => ("authorization.k8s.io", "subjectaccessreviews", None),
        Review::TokenRequest { namespace, .. } => ("", "serviceaccounts/token", Some(*namespace)),
    };
    shared.accounting.count(Verb::Create, resource);
    shared.accounting.record(Access {
        user: headers
            .get("impersonate-user")
            .and_then(|u| u.to_str().ok())
            .map(str::to_owned),
        verb: Verb::Create,
        group: group.to_owned(),
        resource: resource.to_owned(),
        namespace: namespace.map(str::to_owned),
    });
    let bytes: Bytes = match axum::body::to_bytes(body, super::http::MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return Ok(super::http::error_response(&ApiError::bad_request(
                format!("reading the request body: {e}"),
            )));
        }
    };
    let parse = || -> Result<Value, ApiError> {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
    };
    let answered = match review {
        Review::Token => parse().map(|r| shared.tokens.review(&shared.state(), r)),
        Review::SubjectAccess => parse().map(|r| super::authz::review(&shared.state(), r)),
        Review::TokenRequest { namespace, name } => {
            // kubectl sends built-in types as protobuf.
            let protobuf = headers
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|c| c.to_str().ok())
                .is_some_and(|c| c.starts_with("application/vnd.kubernetes.protobuf"));
            let json = match protobuf {
                true => super::authn::token_request_from_protobuf(&bytes)
                    .map(|v| Bytes::from(v.to_string()))
                    .ok_or_else(|| {
                        ApiError::unsupported_media_type("application/vnd.kubernetes.protobuf")
                    }),
                false => Ok(bytes.clone()),
            };
            json.and_then(|json| {
                shared
                    .tokens
                    .request(&shared.state(), namespace, name, &json)
            })
        }
    };
    Ok(match answered {
        Ok(v) => super::http::json_response(201, v.to_string()),
        Err(e) => super::http::error_response(&e),
    })
}
