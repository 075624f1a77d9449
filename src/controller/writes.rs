//! Writes whose answer nothing reads: a status, and an Event. Their answers are asked for as
//! `PartialObjectMetadata` and not decoded (the watches bring the objects back), so that
//! kube-apiserver encodes only the metadata rather than the whole object
//! (`transformResponseObject`, k8s.io/apiserver endpoints/handlers), on the path of every
//! issuance.

use crate::rules::labels::FIELD_MANAGER;
use kube::api::{Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;

/// What kube-apiserver answers a write with when asked for metadata only.
const METADATA_ONLY: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/// Asks for the answer to `request` as metadata only.
pub(crate) fn answer_metadata_only(request: &mut http::Request<Vec<u8>>) {
    request.headers_mut().insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static(METADATA_ONLY),
    );
}

/// Applies `status` as the status of `object`: server-side apply on its `/status` subresource,
/// as field manager [`FIELD_MANAGER`], forced (the operator owns its kinds' status).
///
/// Errors: the request failed or the API server refused it.
pub(crate) async fn apply_status<K, S>(
    client: &Client,
    object: &K,
    status: &S,
) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()>,
    S: Serialize,
{
    let name = object.name_any();
    let namespace = object.namespace();
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": {"name": name, "namespace": namespace},
        "status": status,
    });
    let url = K::url_path(&(), namespace.as_deref());
    let mut request = kube::core::Request::new(url)
        .patch_subresource(
            "status",
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .map_err(kube::Error::BuildRequest)?;
    answer_metadata_only(&mut request);
    client.request_text(request).await?;
    Ok(())
}
