//! One stored object: its serialised bytes and the [`Summary`] the server reads without
//! parsing them. Selectors match against it and the store keeps it; it depends on neither.

use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;

/// What the server needs to know of an object without parsing it: identity, labels (for
/// selectors), owners (for garbage collection) and whether it is being deleted.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Summary {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) uid: String,
    pub(crate) resource_version: u64,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) owner_uids: Vec<String>,
    pub(crate) terminating: bool,
}

impl Summary {
    pub(crate) fn of(v: &Value) -> Summary {
        let meta = &v["metadata"];
        let text = |k: &str| meta[k].as_str().unwrap_or("").to_owned();
        Summary {
            namespace: text("namespace"),
            name: text("name"),
            uid: text("uid"),
            resource_version: resource_version(v),
            labels: meta["labels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default(),
            owner_uids: owner_uids(v).map(str::to_owned).collect(),
            terminating: meta.get("deletionTimestamp").is_some_and(|t| !t.is_null()),
        }
    }

    pub(crate) fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One stored object: its serialised bytes (what is sent) and its [`Summary`]. The parsed
/// form is made on demand, by writes: keeping parsed JSON for every object would cost several
/// times the memory.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    pub(crate) json: Bytes,
    pub(crate) summary: Arc<Summary>,
}

impl Stored {
    /// Serialises an object that is not stored (dry runs, tests).
    pub(crate) fn from_value(object: &Value) -> Self {
        Stored {
            json: Bytes::from(serde_json::to_vec(object).expect("JSON values serialise")),
            summary: Arc::new(Summary::of(object)),
        }
    }

    /// The object, parsed.
    pub(crate) fn value(&self) -> Value {
        serde_json::from_slice(&self.json).expect("stored objects are valid JSON")
    }

    pub(crate) fn resource_version(&self) -> u64 {
        self.summary.resource_version
    }
}

pub(crate) fn resource_version(v: &Value) -> u64 {
    v.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn owner_uids(v: &Value) -> impl Iterator<Item = &str> {
    v.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r["uid"].as_str())
}
