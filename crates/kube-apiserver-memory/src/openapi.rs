//! A minimal OpenAPI v3 description: just enough for kubectl to see that every resource's
//! PATCH accepts `fieldValidation`, so that it leaves validation to the server instead of
//! downloading schemas to validate on its own. No object schemas are published.

use super::resources::{Registry, ResourceDef};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// `api/v1` or `apis/{group}/{version}`: how OpenAPI v3 names a group version.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The `/openapi/v3` index of group-version documents.
pub fn index(registry: &Registry, hash: u64) -> Value {
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

/// The document of one group version (`api/v1`, `apis/apps/v1`), or `None` if not served.
pub fn group_version(registry: &Registry, gv: &str) -> Option<Value> {
    let mut paths = Map::new();
    for d in registry
        .all()
        .filter(|d| gv_path(&d.group, &d.version) == gv)
    {
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
            "info": {"title": "Kubernetes", "version": "v1.33.0"},
            "paths": paths,
            "components": {"schemas": {}}
        })
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
        let doc = group_version(&r, "apis/apps/v1").unwrap();
        let op = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(group_version(&r, "apis/nope/v1").is_none());
    }
}
