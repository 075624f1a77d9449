//! `crd`: prints the CustomResourceDefinitions, or writes them into `crds/`.

use crate::api;
use clap::Args;
use std::path::{Path, PathBuf};

/// Print the operator's CustomResourceDefinitions as one multi-document YAML stream.
///
/// Example: `videosdk-token-operator crd | kubectl apply --server-side -f -`
///
/// With `--output-dir crds` it writes one file per CRD instead, which is how the repository's
/// `crds/` directory is regenerated after a change to `src/api/`. With `--json-schema DIR` it
/// writes a JSON Schema per kind, for editors and kubeconform.
#[derive(Args, Debug)]
pub struct CrdArgs {
    /// Write one `<plural>.yaml` file per CRD into this directory instead of printing.
    #[arg(long, value_name = "DIR", conflicts_with = "json_schema")]
    pub(crate) output_dir: Option<PathBuf>,
    /// Write a JSON Schema of each kind into this directory instead, for editors (YAML language
    /// server) and kubeconform: `videosdktoken_v1alpha1.json`, `videosdkissuer_v1alpha1.json`,
    /// `clustervideosdkissuer_v1alpha1.json` (kubeconform's `{{.ResourceKind}}_{{.ResourceAPIVersion}}`).
    #[arg(long, value_name = "DIR")]
    pub(crate) json_schema: Option<PathBuf>,
}

/// The JSON Schema (draft-07) of one version of a CRD, as kubeconform's openapi2jsonschema
/// `--strict` makes them: the CRD's `openAPIV3Schema`, with `apiVersion` and `kind` fixed to
/// the kind's, and `additionalProperties: false` on every object whose fields the schema lists
/// (the API server silently prunes an unknown field; an editor should flag it). Returns the file
/// name (`<kind>_<version>.json`, lower case) and the schema.
pub(crate) fn json_schema(
    crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> Vec<(String, serde_json::Value)> {
    let kind = &crd.spec.names.kind;
    crd.spec
        .versions
        .iter()
        .filter_map(|version| {
            let schema = version.schema.as_ref()?.open_api_v3_schema.as_ref()?;
            let mut schema = serde_json::to_value(schema).expect("a schema serialises");
            // The API server validates metadata itself; the CRD's schema leaves it out.
            schema["properties"]["metadata"] = serde_json::json!({"type": "object"});
            close_objects(&mut schema);
            schema["$schema"] = "http://json-schema.org/draft-07/schema#".into();
            schema["title"] = format!("{kind} ({}/{})", crd.spec.group, version.name).into();
            schema["properties"]["apiVersion"] = serde_json::json!({
                "type": "string", "enum": [format!("{}/{}", crd.spec.group, version.name)]
            });
            schema["properties"]["kind"] = serde_json::json!({"type": "string", "enum": [kind]});
            schema["required"] = serde_json::json!(["apiVersion", "kind", "metadata", "spec"]);
            let file = format!("{}_{}.json", kind.to_lowercase(), version.name);
            Some((file, schema))
        })
        .collect()
}

/// Sets `additionalProperties: false` on every object schema that lists its `properties` and
/// does not preserve unknown fields.
fn close_objects(schema: &mut serde_json::Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if object.contains_key("properties")
        && !object.contains_key("additionalProperties")
        && object.get("x-kubernetes-preserve-unknown-fields") != Some(&true.into())
    {
        object.insert("additionalProperties".into(), false.into());
    }
    for (key, value) in object.iter_mut() {
        match key.as_str() {
            "properties" => value
                .as_object_mut()
                .into_iter()
                .flat_map(|p| p.values_mut())
                .for_each(close_objects),
            "items" | "additionalProperties" => close_objects(value),
            "allOf" | "anyOf" | "oneOf" => value
                .as_array_mut()
                .into_iter()
                .flatten()
                .for_each(close_objects),
            _ => {}
        }
    }
}

/// Writes the JSON Schema of every kind into `dir`, creating it if needed.
pub(crate) fn write_json_schemas(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (_, crd) in api::crds() {
        for (file, schema) in json_schema(&crd) {
            let text = serde_json::to_string_pretty(&schema).expect("JSON serialises");
            std::fs::write(dir.join(file), text + "\n")?;
        }
    }
    Ok(())
}

/// Writes every CRD into `dir`, one file each, creating the directory if needed.
pub(crate) fn write_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (file, crd) in api::crds() {
        std::fs::write(dir.join(file), api::crd_yaml(&crd))?;
    }
    Ok(())
}

/// Why `crd` could not write its files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--json-schema DIR`: the directory or a schema file could not be created or written.
    #[error("cannot write JSON Schemas into {}: {source}", dir.display())]
    JsonSchemas {
        /// The directory given.
        dir: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// `--output-dir DIR`: the directory or a CRD file could not be created or written.
    #[error("cannot write CRDs into {}: {source}", dir.display())]
    Crds {
        /// The directory given.
        dir: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// Runs the command.
pub fn run(args: &CrdArgs) -> Result<(), Error> {
    if let Some(dir) = &args.json_schema {
        return write_json_schemas(dir).map_err(|source| Error::JsonSchemas {
            dir: dir.clone(),
            source,
        });
    }
    match &args.output_dir {
        Some(dir) => write_dir(dir).map_err(|source| Error::Crds {
            dir: dir.clone(),
            source,
        }),
        None => {
            print!("{}", api::crds_yaml());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_that_cannot_be_made_is_named() {
        // A directory below a file cannot be created.
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml/crds"));
        for (args, start) in [
            (
                CrdArgs {
                    output_dir: Some(dir.clone()),
                    json_schema: None,
                },
                "cannot write CRDs into ",
            ),
            (
                CrdArgs {
                    output_dir: None,
                    json_schema: Some(dir.clone()),
                },
                "cannot write JSON Schemas into ",
            ),
        ] {
            let error = run(&args).unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("{start}{}: ", dir.display())),
                "{error}"
            );
        }
    }
}
