//! The Secret a token is kept in: its name, whether it is the token's, the whole Secret built for
//! server-side apply, and whether what is there differs, so that nothing is written while nothing
//! changed. The controller writes it; `status` reads it with the same rules.

use super::labels::{
    FIELD_MANAGER, MANAGED_BY_LABEL, MANAGED_BY_VALUE, OPERATOR_PREFIX, TOKEN_KEY,
    TOKEN_NAME_LABEL, TOKEN_UID_ANNOTATION,
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

/// Whether `secret` was created for `token`, and so is the operator's to write.
///
/// Known by either mark that names the token by UID: a controller ownerReference to it, or the
/// [`TOKEN_UID_ANNOTATION`] the operator writes beside it, so that a tool stripping one of them
/// (an uninstall script that removes ownerReferences, a restore that drops annotations) does not
/// turn the operator's own Secret into a foreign one; the next apply restores the missing mark.
/// Never by labels alone (they name the token only by name and are copied with manifests), and
/// never when another object is the Secret's controller: the API server allows one, and that
/// Secret is someone else's.
pub(crate) fn is_owned_by(secret: &Secret, token: &VideoSdkToken) -> bool {
    let Some(uid) = token.uid() else {
        return false;
    };
    let controllers: Vec<&OwnerReference> = secret
        .owner_references()
        .iter()
        .filter(|r| r.controller == Some(true))
        .collect();
    let annotated = secret.annotations().get(TOKEN_UID_ANNOTATION) == Some(&uid);
    match controllers[..] {
        [] => annotated,
        [only] => only.uid == uid,
        _ => false,
    }
}

/// Whether a label (`label`: true) or annotation key is the operator's own: under
/// [`OPERATOR_PREFIX`], or the managed-by label its Secret watch selects on.
fn is_operator_key(key: &str, label: bool) -> bool {
    key.starts_with(OPERATOR_PREFIX) || (label && key == MANAGED_BY_LABEL)
}

/// The `secretTemplate` entries the operator leaves out of the Secret because their keys are
/// its own (`labels[KEY]`, `annotations[KEY]`), in key order. The CRD refuses them at
/// admission; a spec that bypassed it (an older CRD) must still not preset what the operator
/// reads back: `videosdk.live/renew-now-handled` would answer a renew-now request never
/// answered, the managed-by label would be changed.
pub(crate) fn operator_owned_template_keys(token: &VideoSdkToken) -> Vec<String> {
    let Some(template) = &token.spec.secret_template else {
        return Vec::new();
    };
    let labels = template.labels.keys().filter(|k| is_operator_key(k, true));
    let annotations = template
        .annotations
        .keys()
        .filter(|k| is_operator_key(k, false));
    labels
        .map(|k| format!("labels[{k}]"))
        .chain(annotations.map(|k| format!("annotations[{k}]")))
        .collect()
}

/// The complete Secret for server-side apply: type `Opaque`, the JWT under `token`, the
/// operator's labels and `annotations` (plus [`TOKEN_UID_ANNOTATION`]), the token's
/// `secretTemplate`, and a controller ownerReference so that deleting the token deletes the
/// Secret.
///
/// `secretTemplate` entries whose keys are the operator's own are left out
/// ([`operator_owned_template_keys`]), even when the operator writes no such key itself.
pub fn desired(token: &VideoSdkToken, jwt: &str, annotations: BTreeMap<String, String>) -> Secret {
    let template = token.spec.secret_template.clone().unwrap_or_default();
    let mut labels = template.labels;
    labels.retain(|k, _| !is_operator_key(k, true));
    labels.insert(MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned());
    labels.insert(TOKEN_NAME_LABEL.to_owned(), token.name_any());
    let mut all_annotations = template.annotations;
    all_annotations.retain(|k, _| !is_operator_key(k, false));
    all_annotations.extend(annotations);
    all_annotations.insert(
        TOKEN_UID_ANNOTATION.to_owned(),
        token.uid().unwrap_or_default(),
    );
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
pub(crate) fn needs_apply(existing: &Secret, desired: &Secret) -> bool {
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
        || !existing.owner_references().contains(owner)
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
