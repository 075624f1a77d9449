//! Writes whose answer nothing reads: a status, and an Event. Their answers are asked for as
//! `PartialObjectMetadata` and not decoded (the watches bring the objects back), so that
//! kube-apiserver encodes only the metadata rather than the whole object
//! (`transformResponseObject`, k8s.io/apiserver endpoints/handlers), on the path of every
//! issuance.

use crate::api::{IssuerStatus, VideoSdkTokenStatus};
use crate::rules::labels::FIELD_MANAGER;
use kube::api::{Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use schemars::JsonSchema;
use serde::Serialize;
use std::sync::LazyLock;

/// What kube-apiserver answers a write with when asked for metadata only.
const METADATA_ONLY: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/// Asks for the answer to `request` as metadata only.
pub(crate) fn answer_metadata_only(request: &mut http::Request<Vec<u8>>) {
    request.headers_mut().insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static(METADATA_ONLY),
    );
}

/// A status the operator writes, and every key its JSON can hold.
pub(crate) trait StatusFields: Serialize {
    /// Every property of the type's schema, in its JSON spelling; computed once.
    fn keys() -> &'static [String];
}

impl StatusFields for VideoSdkTokenStatus {
    fn keys() -> &'static [String] {
        static KEYS: LazyLock<Vec<String>> = LazyLock::new(schema_keys::<VideoSdkTokenStatus>);
        &KEYS
    }
}

impl StatusFields for IssuerStatus {
    fn keys() -> &'static [String] {
        static KEYS: LazyLock<Vec<String>> = LazyLock::new(schema_keys::<IssuerStatus>);
        &KEYS
    }
}

/// The properties of `T`'s JSON schema: the keys its JSON can hold.
fn schema_keys<T: JsonSchema>() -> Vec<String> {
    schemars::schema_for!(T)
        .get("properties")
        .and_then(serde_json::Value::as_object)
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

/// The JSON merge patch (RFC 7386) that makes `status` the whole status: every key of `S` is
/// named, `null` where `status` has no value, since a merge patch keeps what it does not name,
/// and what the stored status holds may be newer than the operator's cache says.
///
/// Errors: `status` does not serialize to a JSON object.
fn status_merge_patch<S: StatusFields>(status: &S) -> Result<serde_json::Value, kube::Error> {
    let serde_json::Value::Object(mut fields) =
        serde_json::to_value(status).map_err(kube::Error::SerdeError)?
    else {
        return Err(kube::Error::SerdeError(serde::ser::Error::custom(
            "a status serializes to a JSON object",
        )));
    };
    for key in S::keys() {
        fields
            .entry(key.as_str())
            .or_insert(serde_json::Value::Null);
    }
    Ok(serde_json::json!({ "status": fields }))
}

/// Makes `status` the status of `object`: a JSON merge patch of its `/status` subresource, as
/// field manager [`FIELD_MANAGER`].
///
/// A merge patch rather than server-side apply: the operator alone writes its kinds' status,
/// so apply's field ownership buys nothing there, and kube-apiserver parses an apply body as
/// YAML. On kube-apiserver v1.33, a token's second status write (a renewal's) cost it and etcd
/// 0.92× the CPU as a merge patch as it did as an apply; the first, 0.97–0.99× (2,000 tokens,
/// rounds alternating; `docs/src/development/benchmarks.md`, "The status write").
///
/// Errors: the request failed or the API server refused it.
pub(crate) async fn patch_status<K, S>(
    client: &Client,
    object: &K,
    status: &S,
) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()>,
    S: StatusFields,
{
    let name = object.name_any();
    let namespace = object.namespace();
    let patch = status_merge_patch(status)?;
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    let url = K::url_path(&(), namespace.as_deref());
    let mut request = kube::core::Request::new(url)
        .patch_subresource("status", &name, &params, &Patch::Merge(&patch))
        .map_err(kube::Error::BuildRequest)?;
    answer_metadata_only(&mut request);
    client.request_text(request).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{VideoSdkIssuer, VideoSdkToken};
    use kube::CustomResourceExt;

    /// The properties of the `status` schema the CRD serves.
    fn served_status_keys<K: CustomResourceExt>() -> Vec<String> {
        let crd = serde_json::to_value(K::crd()).unwrap();
        let properties = crd
            .pointer("/spec/versions/0/schema/openAPIV3Schema/properties/status/properties")
            .and_then(serde_json::Value::as_object)
            .expect("a status schema with properties");
        let mut keys: Vec<String> = properties.keys().cloned().collect();
        keys.sort();
        keys
    }

    #[test]
    fn a_status_patch_names_every_key_the_crd_serves() {
        for (keys, served) in [
            (
                VideoSdkTokenStatus::keys(),
                served_status_keys::<VideoSdkToken>(),
            ),
            (IssuerStatus::keys(), served_status_keys::<VideoSdkIssuer>()),
        ] {
            let mut keys = keys.to_vec();
            keys.sort();
            assert_eq!(keys, served);
        }
    }

    #[test]
    fn an_unset_field_is_patched_to_null_and_a_set_one_to_its_value() {
        let status = VideoSdkTokenStatus {
            observed_generation: 3,
            token_id: Some("a".into()),
            ..VideoSdkTokenStatus::default()
        };
        let patch = status_merge_patch(&status).unwrap();
        let fields = patch["status"].as_object().unwrap();
        assert_eq!(fields["observedGeneration"], 3);
        assert_eq!(fields["tokenId"], "a");
        assert!(fields["failedIssuanceAttempts"].is_null());
        assert!(fields["lastFailureTime"].is_null());
        assert_eq!(fields.len(), VideoSdkTokenStatus::keys().len());
        assert_eq!(patch.as_object().unwrap().len(), 1, "only the status");
    }
}
