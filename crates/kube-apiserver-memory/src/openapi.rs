//! The OpenAPI documents kubectl reads: v3 (`/openapi/v3` and one document per group version,
//! which `kubectl explain` and `kubectl apply`'s validation use) and v2 (`/openapi/v2`, one
//! document, as JSON, or as protobuf by [`super::openapi_protobuf`]).
//!
//! Each describes the kinds served: a built-in kind by the schema k8s-openapi generates for its
//! type (with schemars), under the name kube-apiserver gives it (`io.k8s.api.core.v1.Secret`,
//! with every definition it references); a custom resource by its CRD version's
//! `openAPIV3Schema` as written, descriptions included, under kube-apiserver's name for it (the
//! group reversed: `live.videosdk.v1alpha1.VideoSdkToken`), with `apiVersion`, `kind` and
//! `metadata` added as kube-apiserver adds them. Every kind's schema carries
//! `x-kubernetes-group-version-kind`, by which kubectl finds it. Paths list only each
//! resource's PATCH with its `fieldValidation` parameter: kubectl checks it to leave validation
//! to the server.
use super::resources::{Registry, ResourceDef};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Event as CoreEvent, Namespace, Secret, ServiceAccount,
};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// Where OpenAPI v3 keeps schemas, and v2.
const V3_REFS: &str = "#/components/schemas/";
const V2_REFS: &str = "#/definitions/";

/// The `description`s kube-apiserver gives the fields it adds to a custom resource's schema.
const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DESCRIPTION: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// The schemas of `defs` (one group version, or all for v2) and everything they reference,
/// keyed by name, with references into `#/components/schemas/`.
fn schemas<'a>(defs: impl Iterator<Item = &'a ResourceDef>) -> Map<String, Value> {
    let mut generator = SchemaGenerator::new(SchemaSettings::openapi3());
    let mut kinds: Vec<(String, &ResourceDef, Option<Value>)> = Vec::new();
    for d in defs {
        if let Some(schema) = &d.openapi_schema {
            let object_meta = name_of::<ObjectMeta>(&mut generator);
            kinds.push((custom_name(d), d, Some(custom_schema(schema, &object_meta))));
        } else if let Some(name) = builtin(&mut generator, d) {
            kinds.push((name, d, None));
        }
    }
    let mut all = generator.take_definitions(true);
    for (name, d, schema) in kinds {
        if let Some(schema) = schema {
            all.insert(name.clone(), schema);
        }
        if let Some(Value::Object(schema)) = all.get_mut(&name) {
            schema.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([{"group": d.group, "version": d.version, "kind": d.kind}]),
            );
        }
    }
    all
}

/// Registers `T`'s schema (and what it references) and returns its name.
fn name_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

/// The k8s-openapi type of a built-in kind this server serves.
fn builtin(generator: &mut SchemaGenerator, d: &ResourceDef) -> Option<String> {
    Some(
        match (d.group.as_str(), d.version.as_str(), d.kind.as_str()) {
            ("", "v1", "Namespace") => name_of::<Namespace>(generator),
            ("", "v1", "Secret") => name_of::<Secret>(generator),
            ("", "v1", "ConfigMap") => name_of::<ConfigMap>(generator),
            ("", "v1", "ServiceAccount") => name_of::<ServiceAccount>(generator),
            ("rbac.authorization.k8s.io", "v1", "Role") => name_of::<Role>(generator),
            ("rbac.authorization.k8s.io", "v1", "ClusterRole") => name_of::<ClusterRole>(generator),
            ("rbac.authorization.k8s.io", "v1", "RoleBinding") => name_of::<RoleBinding>(generator),
            ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding") => {
                name_of::<ClusterRoleBinding>(generator)
            }
            ("", "v1", "Event") => name_of::<CoreEvent>(generator),
            ("events.k8s.io", "v1", "Event") => name_of::<Event>(generator),
            ("coordination.k8s.io", "v1", "Lease") => name_of::<Lease>(generator),
            ("apps", "v1", "Deployment") => name_of::<Deployment>(generator),
            ("apps", "v1", "StatefulSet") => name_of::<StatefulSet>(generator),
            ("apps", "v1", "DaemonSet") => name_of::<DaemonSet>(generator),
            ("apiextensions.k8s.io", "v1", "CustomResourceDefinition") => {
                name_of::<CustomResourceDefinition>(generator)
            }
            _ => return None,
        },
    )
}

/// kube-apiserver's name for a custom resource's schema: the group's labels reversed, the
/// version and the kind (`live.videosdk.v1alpha1.VideoSdkToken`).
fn custom_name(d: &ResourceDef) -> String {
    let group: Vec<&str> = d.group.split('.').rev().collect();
    format!("{}.{}.{}", group.join("."), d.version, d.kind)
}

/// A CRD version's schema with `apiVersion`, `kind` and `metadata` as kube-apiserver publishes
/// them (a CRD's schema may leave them out, and `metadata` is always the standard ObjectMeta).
fn custom_schema(schema: &Value, object_meta: &str) -> Value {
    let mut schema = schema.clone();
    if let Some(obj) = schema.as_object_mut() {
        let properties = obj
            .entry("properties")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        if let Some(properties) = properties {
            properties.insert(
                "apiVersion".into(),
                json!({"description": API_VERSION_DESCRIPTION, "type": "string"}),
            );
            properties.insert(
                "kind".into(),
                json!({"description": KIND_DESCRIPTION, "type": "string"}),
            );
            properties.insert(
                "metadata".into(),
                json!({"description": METADATA_DESCRIPTION,
                    "allOf": [{"$ref": format!("{V3_REFS}{object_meta}")}]}),
            );
        }
    }
    schema
}

/// `api/v1` or `apis/{group}/{version}`: how OpenAPI v3 names a group version.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The `/openapi/v3` index of group-version documents.
pub(crate) fn index(registry: &Registry, hash: u64) -> Value {
    let gvs: BTreeSet<String> = registry
        .all()
        .map(|d| gv_path(&d.group, &d.version))
        .collect();
    let paths: Map<String, Value> = gvs
        .into_iter()
        .map(|gv| {
            let url = format!("/openapi/v3/{gv}?hash={hash:016X}");
            (gv, json!({"serverRelativeURL": url}))
        })
        .collect();
    json!({"paths": paths})
}

fn patch_operation(d: &ResourceDef) -> Value {
    let query = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string"}});
    json!({"patch": {
        "operationId": format!("patch{}", d.kind),
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {"group": d.group, "version": d.version, "kind": d.kind},
        "parameters": [query("dryRun"), query("fieldManager"), query("fieldValidation"), query("force")],
        "responses": {"200": {"description": "OK"}}
    }})
}

/// The document of one group version (`api/v1`, `apis/apps/v1`), or `None` if not served;
/// `info.version` names `release`, the Kubernetes release the server reports at `/version`.
pub(crate) fn group_version(registry: &Registry, gv: &str, release: (u32, u32)) -> Option<Value> {
    let served: Vec<&ResourceDef> = registry
        .all()
        .map(|d| d.as_ref())
        .filter(|d| gv_path(&d.group, &d.version) == gv)
        .collect();
    let mut paths = Map::new();
    for d in &served {
        let base = format!("/{gv}");
        let path = if d.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", d.plural)
        } else {
            format!("{base}/{}/{{name}}", d.plural)
        };
        paths.insert(path, patch_operation(d));
    }
    (!paths.is_empty()).then(|| {
        json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": super::discovery::git_version(release)},
            "paths": paths,
            "components": {"schemas": schemas(served.into_iter())}
        })
    })
}

/// The OpenAPI v2 (Swagger 2.0) document of every kind served, as JSON. Its schemas are those
/// of v3 with references into `#/definitions/`; it has no paths (kubectl 1.27 and later read
/// paths from v3). `info.version` names `release`, as [`group_version`]'s does.
pub(crate) fn v2(registry: &Registry, release: (u32, u32)) -> Value {
    let definitions = schemas(registry.all().map(|d| d.as_ref()));
    let text = serde_json::to_string(&definitions)
        .expect("JSON values serialise")
        .replace(&format!("\"{V3_REFS}"), &format!("\"{V2_REFS}"));
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": super::discovery::git_version(release)},
        "paths": {},
        "definitions": serde_json::from_str::<Value>(&text).expect("still JSON"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_version_is_indexed_and_patchable() {
        let r = Registry::with_builtins();
        let idx = index(&r, 7);
        assert!(
            idx["paths"]["api/v1"]["serverRelativeURL"]
                .as_str()
                .unwrap()
                .starts_with("/openapi/v3/api/v1?hash=")
        );
        let doc = group_version(&r, "apis/apps/v1", (1, 34)).unwrap();
        let op = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(group_version(&r, "apis/nope/v1", (1, 34)).is_none());
    }

    #[test]
    fn built_in_kinds_have_their_schemas_found_by_group_version_kind() {
        let r = Registry::with_builtins();
        let doc = group_version(&r, "api/v1", (1, 34)).unwrap();
        let schemas = &doc["components"]["schemas"];
        let secret = &schemas["io.k8s.api.core.v1.Secret"];
        assert_eq!(
            secret["x-kubernetes-group-version-kind"],
            json!([{"group": "", "version": "v1", "kind": "Secret"}])
        );
        assert_eq!(secret["properties"]["data"]["type"], "object");
        // Every reference resolves within the document.
        let text = doc.to_string();
        for part in text.split("\"#/components/schemas/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(schemas.get(name).is_some(), "unresolved {name}");
        }
    }

    #[test]
    fn a_custom_resource_is_its_crd_schema_with_the_standard_fields() {
        let mut def = Registry::with_builtins()
            .get("", "v1", "secrets")
            .unwrap()
            .as_ref()
            .clone();
        (def.group, def.version, def.kind) = (
            "videosdk.live".into(),
            "v1alpha1".into(),
            "VideoSdkToken".into(),
        );
        def.openapi_schema = Some(std::sync::Arc::new(json!({"type": "object",
            "description": "A token.", "properties": {"spec": {"type": "object"}}})));
        let all = schemas(std::iter::once(&def));
        let token = &all["live.videosdk.v1alpha1.VideoSdkToken"];
        assert_eq!(token["description"], "A token.");
        assert_eq!(
            token["properties"]["metadata"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        assert!(all.contains_key("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
        assert_eq!(
            token["x-kubernetes-group-version-kind"][0]["kind"],
            "VideoSdkToken"
        );
    }

    #[test]
    fn v2_refers_to_definitions() {
        let doc = v2(&Registry::with_builtins(), (1, 34));
        assert_eq!(doc["swagger"], "2.0");
        assert_eq!(doc["info"]["version"], "v1.34.0-videosdk-inmemory");
        let text = doc.to_string();
        assert!(!text.contains("#/components/schemas/"));
        assert!(text.contains("\"#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta\""));
        assert!(
            doc["definitions"]["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"]
                .is_array()
        );
    }
}
