//! Which token a managed Secret's watch event triggers: the mapping from a Secret's metadata to
//! its `VideoSdkToken`, by its controller ownerReference or its token-name label.

use crate::api::VideoSdkToken;
use crate::controller::cached::CachedToken;
use crate::rules::labels::TOKEN_NAME_LABEL;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use kube::runtime::reflector::ObjectRef;

/// The token a managed Secret (its metadata) belongs to: the `VideoSdkToken` named by its
/// controller ownerReference, else by its [`TOKEN_NAME_LABEL`], in the Secret's namespace; so
/// that a Secret a tool stripped of one mark still brings its token's reconcile, which restores
/// the mark. `None` for a Secret with neither.
pub(crate) fn token_of(meta: &ObjectMeta) -> Option<ObjectRef<CachedToken>> {
    let namespace = meta.namespace.as_deref()?;
    let name = match controller_token(meta) {
        Some(owner) => &owner.name,
        None => meta.labels.as_ref()?.get(TOKEN_NAME_LABEL)?,
    };
    Some(ObjectRef::new(name).within(namespace))
}

/// The controller ownerReference of a Secret to a `VideoSdkToken`, if it has one.
pub(super) fn controller_token(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references.iter().flatten().find(|r| {
        r.controller == Some(true)
            && r.kind == VideoSdkToken::kind(&())
            && r.api_version == VideoSdkToken::api_version(&())
    })
}
