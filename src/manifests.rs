//! Applying YAML manifests (the `dev` command's `-f`, the tests' fixtures) with server-side
//! apply, as `kubectl apply --server-side -f` does: every document, in order, with its kind
//! resolved through the API server's discovery.

use crate::api;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, ResourceExt};
use serde::Deserialize;
use std::path::Path;

/// Field manager of what `dev` applies on the user's behalf.
pub const FIELD_MANAGER: &str = "videosdk-dev";

/// Why a manifest could not be applied; names the source and the document.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A document is not a Kubernetes object.
    #[error("{source_name}, document {index}: {problem}")]
    Invalid {
        /// Where it came from.
        source_name: String,
        /// 1-based document number.
        index: usize,
        /// What is wrong.
        #[source]
        problem: InvalidDocument,
    },
    /// The API server refused it (or its kind is not served, or the server is unreachable).
    #[error("{source_name}, document {index} ({kind} {name}): {error}")]
    Rejected {
        /// Where it came from.
        source_name: String,
        /// 1-based document number.
        index: usize,
        /// Its kind.
        kind: String,
        /// Its name.
        name: String,
        /// The API error (boxed: it is large, and this enum travels in `Result`s).
        #[source]
        error: Box<kube::Error>,
    },
}

/// Why a YAML document is not a Kubernetes object.
#[derive(Debug, thiserror::Error)]
pub enum InvalidDocument {
    /// It is not YAML, or not an object with string `apiVersion`, `kind` and metadata.
    #[error(transparent)]
    Yaml(#[from] serde_yaml::Error),
    /// It has no `apiVersion` and `kind`.
    #[error("no apiVersion and kind")]
    NoType,
    /// Its `apiVersion` is not `GROUP/VERSION` or `VERSION`.
    #[error(transparent)]
    ApiVersion(#[from] kube::core::gvk::ParseGroupVersionError),
}

/// The YAML files named by `paths`: files as given, directories' `*.yaml`/`*.yml` sorted by name.
pub fn read_paths(paths: &[impl AsRef<Path>]) -> Result<Vec<(String, String)>, ManifestError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.display().to_string(),
            source,
        })
    };
    let mut out = Vec::new();
    for path in paths {
        let path = path.as_ref();
        if path.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(path)
                .map_err(|source| ManifestError::Read {
                    path: path.display().to_string(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            files.sort();
            for file in files {
                out.push((file.display().to_string(), read(&file)?));
            }
        } else {
            out.push((path.display().to_string(), read(path)?));
        }
    }
    Ok(out)
}

/// Applies every document of `text` (multi-document YAML); returns "kind/name" of each.
pub async fn apply(
    client: &Client,
    default_namespace: &str,
    source_name: &str,
    text: &str,
) -> Result<Vec<String>, ManifestError> {
    let mut applied = Vec::new();
    for (i, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let index = i + 1;
        let invalid = |problem: InvalidDocument| ManifestError::Invalid {
            source_name: source_name.to_owned(),
            index,
            problem,
        };
        let value = serde_yaml::Value::deserialize(document).map_err(|e| invalid(e.into()))?;
        if value.is_null() {
            continue;
        }
        let object: DynamicObject = serde_yaml::from_value(value).map_err(|e| invalid(e.into()))?;
        let types = object
            .types
            .clone()
            .ok_or_else(|| invalid(InvalidDocument::NoType))?;
        let gvk = GroupVersionKind::try_from(&types).map_err(|e| invalid(e.into()))?;
        let name = object.name_any();
        let rejected = |error: kube::Error| ManifestError::Rejected {
            source_name: source_name.to_owned(),
            index,
            kind: types.kind.clone(),
            name: name.clone(),
            error: Box::new(error),
        };
        let (resource, capabilities) = discovery::pinned_kind(client, &gvk)
            .await
            .map_err(rejected)?;
        let api: Api<DynamicObject> = match capabilities.scope {
            Scope::Namespaced => {
                let namespace = object
                    .namespace()
                    .unwrap_or_else(|| default_namespace.to_owned());
                Api::namespaced_with(client.clone(), &namespace, &resource)
            }
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        api.patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&object),
        )
        .await
        .map_err(rejected)?;
        applied.push(format!("{}/{name}", types.kind));
    }
    Ok(applied)
}

/// Installs (or updates) the operator's CRDs and waits until the API server serves them, as
/// `kubectl apply --server-side -f crds/` followed by `kubectl wait --for=condition=Established`.
pub async fn install_crds(client: &Client) -> Result<(), kube::Error> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for (_, crd) in api::crds() {
        let name = crd.name_any();
        crds.patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&crd),
        )
        .await?;
        // Waiting ends with the condition, or never when the API server never establishes it:
        // only then would the caller's own timeout matter.
        let _ = await_condition(crds.clone(), &name, conditions::is_crd_established()).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_document_that_is_not_an_object_is_named_before_any_request() {
        // Nothing listens there: these documents fail before a request is made. An empty
        // document is skipped but counted.
        let client = Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap()))
            .expect("a client");
        let error = |text: &'static str| {
            let client = client.clone();
            async move {
                apply(&client, "default", "test.yaml", text)
                    .await
                    .unwrap_err()
                    .to_string()
            }
        };
        assert_eq!(
            error("~\n---\nmetadata: {name: x}\n").await,
            "test.yaml, document 2: no apiVersion and kind"
        );
        assert!(error("a: [\n").await.starts_with("test.yaml, document 1: "),);
    }
}
