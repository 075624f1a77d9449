//! The requests that are not objects in the store: the reviews (created and answered, never
//! stored) and the TokenRequest subresource of ServiceAccounts. See [`super::authn`],
//! [`super::authz`] and [`super::impersonation`].
//!
//! Reviews served, each create-only and cluster-scoped in its group's `v1`, and listed by
//! discovery as kube-apiserver lists them (`kubectl api-resources`): TokenReview and
//! SelfSubjectReview (`kubectl auth whoami`) in `authentication.k8s.io`; SubjectAccessReview,
//! SelfSubjectAccessReview (`kubectl auth can-i`) and SelfSubjectRulesReview
//! (`kubectl auth can-i --list`) in `authorization.k8s.io`. A self review is about the user the
//! request acts as (its bearer token's, or the impersonated one). LocalSubjectAccessReview is
//! not served. Bodies are JSON, or protobuf for the self reviews (what kubectl sends).

use super::Shared;
use super::accounting::{Access, Verb};
use super::error::ApiError;
use super::identity::{self, UserInfo};
use super::request::MAX_BODY;
use super::responses::{error_response, json_response};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use std::sync::Arc;

/// One kind of review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Token,
    SelfSubject,
    SubjectAccess,
    SelfSubjectAccess,
    SelfSubjectRules,
}

/// A review resource: its group (version `v1`), plural and kind, and what answers it.
#[derive(Debug)]
pub(crate) struct ReviewResource {
    pub(crate) group: &'static str,
    pub(crate) plural: &'static str,
    pub(crate) kind_name: &'static str,
    kind: Kind,
}

/// The review resources served, as discovery lists them.
pub(crate) const REVIEWS: [ReviewResource; 5] = [
    ReviewResource {
        group: "authentication.k8s.io",
        plural: "selfsubjectreviews",
        kind_name: "SelfSubjectReview",
        kind: Kind::SelfSubject,
    },
    ReviewResource {
        group: "authentication.k8s.io",
        plural: "tokenreviews",
        kind_name: "TokenReview",
        kind: Kind::Token,
    },
    ReviewResource {
        group: "authorization.k8s.io",
        plural: "selfsubjectaccessreviews",
        kind_name: "SelfSubjectAccessReview",
        kind: Kind::SelfSubjectAccess,
    },
    ReviewResource {
        group: "authorization.k8s.io",
        plural: "selfsubjectrulesreviews",
        kind_name: "SelfSubjectRulesReview",
        kind: Kind::SelfSubjectRules,
    },
    ReviewResource {
        group: "authorization.k8s.io",
        plural: "subjectaccessreviews",
        kind_name: "SubjectAccessReview",
        kind: Kind::SubjectAccess,
    },
];

/// The version every review resource is served in.
pub(crate) const VERSION: &str = "v1";

/// What a request is, if it is one of these.
enum Review<'a> {
    Cluster(&'static ReviewResource),
    TokenRequest { namespace: &'a str, name: &'a str },
}

/// The review `path` names, if any (whatever the method).
fn route(path: &str) -> Option<Review<'_>> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["apis", group, VERSION, plural] => REVIEWS
            .iter()
            .find(|r| r.group == *group && r.plural == *plural)
            .map(Review::Cluster),
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
pub(crate) async fn answer(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    user: &UserInfo,
    body: Body,
) -> Result<Response, Body> {
    let Some(review) = route(path) else {
        return Err(body);
    };
    if method != Method::POST {
        return Ok(error_response(&ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        )));
    }
    let (group, resource, namespace) = match &review {
        Review::Cluster(r) => (r.group, r.plural, None),
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
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return Ok(error_response(&ApiError::bad_request(format!(
                "reading the request body: {e}"
            ))));
        }
    };
    // kubectl sends built-in types as protobuf.
    let protobuf = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(super::protobuf::is_protobuf);
    let answered = match review {
        Review::Cluster(r) => {
            let parsed = if protobuf {
                super::protobuf::decode(&format!("{}/{VERSION}", r.group), r.kind_name, &bytes)
            } else {
                serde_json::from_slice(&bytes).map_err(|e| {
                    ApiError::bad_request(format!("the request body is not valid JSON: {e}"))
                })
            };
            parsed.and_then(|review| {
                let state = shared.state();
                match r.kind {
                    Kind::Token => Ok(shared.tokens.review(&state, review)),
                    Kind::SelfSubject => Ok(identity::self_review(user, review)),
                    Kind::SubjectAccess => Ok(super::authz::review(&state, review)),
                    Kind::SelfSubjectAccess => super::authz::self_review(&state, user, review),
                    Kind::SelfSubjectRules => Ok(super::authz::rules_review(&state, user, review)),
                }
            })
        }
        Review::TokenRequest { namespace, name } => {
            let json = match protobuf {
                true => super::protobuf::decode("authentication.k8s.io/v1", "TokenRequest", &bytes)
                    .map(|v| Bytes::from(v.to_string())),
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
        Ok(v) => json_response(201, v.to_string()),
        Err(e) => error_response(&e),
    })
}
