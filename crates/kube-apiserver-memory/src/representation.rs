//! The forms a read can ask for in its `Accept` header: the objects themselves, only their
//! metadata (`as=PartialObjectMetadata[List]`, what kube's `metadata_watcher` and
//! `Api::list_metadata` ask for, so that a client can watch Secrets without their data), or a
//! `Table` (what `kubectl get` asks for).

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Representation {
    Object,
    Metadata,
    Table,
}

impl Representation {
    /// The form asked for first in an `Accept` header.
    pub(crate) fn from_accept(accept: &str) -> Self {
        let first = accept.split(',').next().unwrap_or("");
        if first.contains("as=Table") {
            Representation::Table
        } else if first.contains("as=PartialObjectMetadata") {
            Representation::Metadata
        } else {
            Representation::Object
        }
    }
}

#[derive(Deserialize)]
struct OnlyMetadata {
    #[serde(default)]
    metadata: Value,
}

/// The `PartialObjectMetadata` of a serialised object.
pub(crate) fn partial(object: &[u8]) -> Value {
    let m: OnlyMetadata = serde_json::from_slice(object).expect("stored objects are valid JSON");
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": m.metadata})
}

/// [`partial`], serialised.
pub(crate) fn partial_bytes(object: &[u8]) -> Bytes {
    Bytes::from(serde_json::to_vec(&partial(object)).expect("JSON values serialise"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers() {
        assert_eq!(
            Representation::from_accept(
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
            ),
            Representation::Metadata
        );
        assert_eq!(
            Representation::from_accept(
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
            ),
            Representation::Table
        );
        assert_eq!(
            Representation::from_accept("application/json, */*"),
            Representation::Object
        );
    }

    #[test]
    fn partial_keeps_only_metadata() {
        let p = partial(
            br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"a":"YQ=="}}"#,
        );
        assert_eq!(
            p,
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": {"name": "s"}})
        );
    }
}
