//! The Secret a token is kept in: built whole for server-side apply, and compared with what is
//! there so that nothing is written while nothing changed.

use super::labels::{
    FIELD_MANAGER, MANAGED_BY_LABEL, MANAGED_BY_VALUE, TOKEN_KEY, TOKEN_NAME_LABEL,
};
use crate::api::VideoSdkToken;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};
use std::collections::{BTreeMap, BTreeSet};

/// The Secret's name: `spec.secretName`, else the token's name.
pub fn secret_name(token: &VideoSdkToken) -> String {
    token
        .spec
        .secret_name
        .clone()
        .unwrap_or_else(|| token.name_any())
}

/// Whether `secret` is controlled by `token` (an ownerReference to its UID): the only Secrets
/// the operator ever writes.
pub fn is_owned_by(secret: &Secret, token: &VideoSdkToken) -> bool {
    let uid = token.uid();
    secret
        .owner_references()
        .iter()
        .any(|r| Some(&r.uid) == uid.as_ref() && r.controller == Some(true))
}

/// The complete Secret for server-side apply: type `Opaque`, the JWT under `token`, the
/// operator's labels and `annotations`, the token's `secretTemplate`, and a controller
/// ownerReference so that deleting the token deletes the Secret.
///
/// The operator's own labels and annotations win over `secretTemplate` entries of the same key.
pub fn desired(token: &VideoSdkToken, jwt: &str, annotations: BTreeMap<String, String>) -> Secret {
    let template = token.spec.secret_template.clone().unwrap_or_default();
    let mut labels = template.labels;
    labels.insert(MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned());
    labels.insert(TOKEN_NAME_LABEL.to_owned(), token.name_any());
    let mut all_annotations = template.annotations;
    all_annotations.extend(annotations);
    Secret {
        metadata: ObjectMeta {
            name: Some(secret_name(token)),
            namespace: token.namespace(),
            labels: Some(labels),
            annotations: Some(all_annotations),
            owner_references: Some(vec![owner_reference(token)]),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([(
            TOKEN_KEY.to_owned(),
            ByteString(jwt.as_bytes().to_vec()),
        )])),
        ..Secret::default()
    }
}

fn owner_reference(token: &VideoSdkToken) -> OwnerReference {
    token
        .controller_owner_ref(&())
        .expect("a token read from the API server has a name and UID")
}

/// Whether applying `desired` would change `existing`: a differing token, type, owner, label or
/// annotation, or a label or annotation the operator applied before and no longer wants (a key
/// removed from `secretTemplate`), as the field manager's entry in `managedFields` records.
///
/// Labels and annotations that others added are left alone and do not count, so that another
/// tool decorating the Secret never makes the operator write in a loop.
pub fn needs_apply(existing: &Secret, desired: &Secret) -> bool {
    let token = |s: &Secret| s.data.as_ref().and_then(|d| d.get(TOKEN_KEY)).cloned();
    let covers = |have: Option<&BTreeMap<String, String>>,
                  want: Option<&BTreeMap<String, String>>| {
        want.into_iter()
            .flatten()
            .all(|(k, v)| have.and_then(|h| h.get(k)) == Some(v))
    };
    let stale = |field: &str, want: Option<&BTreeMap<String, String>>| {
        owned_keys(existing, field)
            .iter()
            .any(|key| !want.is_some_and(|w| w.contains_key(key)))
    };
    let owner = &desired.owner_references()[0];
    token(existing) != token(desired)
        || existing.type_ != desired.type_
        || !existing
            .owner_references()
            .iter()
            .any(|r| r.uid == owner.uid)
        || !covers(
            existing.metadata.labels.as_ref(),
            desired.metadata.labels.as_ref(),
        )
        || !covers(
            existing.metadata.annotations.as_ref(),
            desired.metadata.annotations.as_ref(),
        )
        || stale("f:labels", desired.metadata.labels.as_ref())
        || stale("f:annotations", desired.metadata.annotations.as_ref())
}

/// The keys under `metadata.<field>` that the operator's field manager owns, from the
/// server-side apply record in `managedFields`.
fn owned_keys(secret: &Secret, field: &str) -> BTreeSet<String> {
    secret
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|m| m.manager.as_deref() == Some(FIELD_MANAGER))
        .filter_map(|m| m.fields_v1.as_ref())
        .filter_map(|f| f.0.get("f:metadata")?.get(field)?.as_object())
        .flat_map(|keys| {
            keys.keys()
                .filter_map(|k| k.strip_prefix("f:"))
                .map(str::to_owned)
        })
        .collect()
}
