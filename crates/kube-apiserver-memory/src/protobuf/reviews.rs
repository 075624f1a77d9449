//! The reviews kubectl's `auth can-i` (SelfSubjectAccessReview, SelfSubjectRulesReview) and
//! `auth whoami` (SelfSubjectReview) send, and the TokenRequest of `kubectl create token`. Their
//! `status` is the server's answer, which replaces whatever the request carries (as
//! kube-apiserver does), so it is not read.

use super::{label_requirement, list, object_meta, text};
use k8s_openapi::api::authentication::v1 as authn;
use k8s_openapi::api::authorization::v1 as authz;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::api::authentication::v1 as pb_authn;
use k8s_pb::api::authorization::v1 as pb_authz;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as pb_meta;

pub(super) fn self_subject_access_review(
    r: pb_authz::SelfSubjectAccessReview,
) -> authz::SelfSubjectAccessReview {
    let pb_authz::SelfSubjectAccessReview {
        metadata,
        spec,
        status: _,
    } = r;
    let pb_authz::SelfSubjectAccessReviewSpec {
        resource_attributes,
        non_resource_attributes,
    } = spec.unwrap_or_default();
    authz::SelfSubjectAccessReview {
        metadata: object_meta(metadata.unwrap_or_default()),
        spec: authz::SelfSubjectAccessReviewSpec {
            resource_attributes: resource_attributes.map(resource_attributes_of),
            non_resource_attributes: non_resource_attributes.map(|a| {
                let pb_authz::NonResourceAttributes { path, verb } = a;
                authz::NonResourceAttributes {
                    path: text(path),
                    verb: text(verb),
                }
            }),
        },
        status: None,
    }
}

pub(super) fn resource_attributes_of(a: pb_authz::ResourceAttributes) -> authz::ResourceAttributes {
    let pb_authz::ResourceAttributes {
        namespace,
        verb,
        group,
        version,
        resource,
        subresource,
        name,
        field_selector,
        label_selector,
    } = a;
    authz::ResourceAttributes {
        namespace: text(namespace),
        verb: text(verb),
        group: text(group),
        version: text(version),
        resource: text(resource),
        subresource: text(subresource),
        name: text(name),
        field_selector: field_selector.map(|f| {
            let pb_authz::FieldSelectorAttributes {
                raw_selector,
                requirements,
            } = f;
            authz::FieldSelectorAttributes {
                raw_selector: text(raw_selector),
                requirements: list(
                    requirements
                        .into_iter()
                        .map(|r| {
                            let pb_meta::FieldSelectorRequirement {
                                key,
                                operator,
                                values,
                            } = r;
                            meta::FieldSelectorRequirement {
                                key: key.unwrap_or_default(),
                                operator: operator.unwrap_or_default(),
                                values: list(values),
                            }
                        })
                        .collect(),
                ),
            }
        }),
        label_selector: label_selector.map(|l| {
            let pb_authz::LabelSelectorAttributes {
                raw_selector,
                requirements,
            } = l;
            authz::LabelSelectorAttributes {
                raw_selector: text(raw_selector),
                requirements: list(requirements.into_iter().map(label_requirement).collect()),
            }
        }),
    }
}

pub(super) fn self_subject_rules_review(
    r: pb_authz::SelfSubjectRulesReview,
) -> authz::SelfSubjectRulesReview {
    let pb_authz::SelfSubjectRulesReview {
        metadata,
        spec,
        status: _,
    } = r;
    let pb_authz::SelfSubjectRulesReviewSpec { namespace } = spec.unwrap_or_default();
    authz::SelfSubjectRulesReview {
        metadata: object_meta(metadata.unwrap_or_default()),
        spec: authz::SelfSubjectRulesReviewSpec {
            namespace: text(namespace),
        },
        status: None,
    }
}

pub(super) fn self_subject_review(r: pb_authn::SelfSubjectReview) -> authn::SelfSubjectReview {
    let pb_authn::SelfSubjectReview {
        metadata,
        status: _,
    } = r;
    authn::SelfSubjectReview {
        metadata: object_meta(metadata.unwrap_or_default()),
        status: None,
    }
}

pub(super) fn token_request(r: pb_authn::TokenRequest) -> authn::TokenRequest {
    let pb_authn::TokenRequest {
        metadata,
        spec,
        status: _,
    } = r;
    let pb_authn::TokenRequestSpec {
        audiences,
        expiration_seconds,
        bound_object_ref,
    } = spec.unwrap_or_default();
    authn::TokenRequest {
        metadata: object_meta(metadata.unwrap_or_default()),
        spec: authn::TokenRequestSpec {
            audiences,
            expiration_seconds,
            bound_object_ref: bound_object_ref.map(|b| {
                let pb_authn::BoundObjectReference {
                    kind,
                    api_version,
                    name,
                    u_id,
                } = b;
                authn::BoundObjectReference {
                    kind: text(kind),
                    api_version: text(api_version),
                    name: text(name),
                    uid: text(u_id),
                }
            }),
        },
        status: None,
    }
}
