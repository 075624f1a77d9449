//! Discovery documents (`/version`, `/api`, `/api/v1`, `/apis`, `/apis/{g}`, `/apis/{g}/{v}`),
//! built from the registry on each request, so that a newly established CRD shows up at once,
//! and the create-only review resources ([`REVIEWS`]).
//!
//! Only the plain (unaggregated) form is served: kubectl and client-go ask for aggregated
//! discovery first in their `Accept` header but fall back to this form when the answer's
//! `Content-Type` is plain `application/json`.

use super::resources::{Registry, ResourceDef};
use super::reviews::{self, REVIEWS};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The `gitVersion` of the release `(major, minor)` this server claims to be, which `/version`
/// and the OpenAPI documents' `info.version` give: `v1.34.0-videosdk-inmemory`.
pub(crate) fn git_version((major, minor): (u32, u32)) -> String {
    format!("v{major}.{minor}.0-videosdk-inmemory")
}

/// The Kubernetes version this server claims to be: `(major, minor)`, e.g. `(1, 34)`.
pub(crate) fn version((major, minor): (u32, u32)) -> Value {
    json!({
        "major": major.to_string(),
        "minor": minor.to_string(),
        "gitVersion": git_version((major, minor)),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

pub(crate) fn core_versions(address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]
    })
}

/// Versions of each non-core group; the first registered (alphabetical) version is preferred.
fn groups(registry: &Registry) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let served = registry
        .all()
        .filter(|d| !d.group.is_empty())
        .map(|d| (d.group.as_str(), d.version.as_str()))
        .chain(REVIEWS.iter().map(|r| (r.group, reviews::VERSION)));
    for (group, version) in served {
        let versions = groups.entry(group.to_owned()).or_default();
        if !versions.iter().any(|v| v == version) {
            versions.push(version.to_owned());
        }
    }
    groups
}

fn group_doc(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"name": name, "versions": vs, "preferredVersion": vs[0].clone()})
}

pub(crate) fn group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = groups(registry)
        .iter()
        .map(|(name, versions)| group_doc(name, versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub(crate) fn group(registry: &Registry, name: &str) -> Option<Value> {
    let groups = groups(registry);
    let versions = groups.get(name)?;
    let mut doc = group_doc(name, versions);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn resource_entries(d: &ResourceDef) -> Vec<Value> {
    let mut main = json!({
        "name": d.plural,
        "singularName": d.singular,
        "namespaced": d.namespaced,
        "kind": d.kind,
        "verbs": VERBS,
    });
    if !d.short_names.is_empty() {
        main["shortNames"] = json!(d.short_names);
    }
    if !d.categories.is_empty() {
        main["categories"] = json!(d.categories);
    }
    let mut entries = vec![main];
    if d.status_subresource {
        entries.push(json!({
            "name": format!("{}/status", d.plural),
            "singularName": "",
            "namespaced": d.namespaced,
            "kind": d.kind,
            "verbs": ["get", "patch", "update"],
        }));
    }
    entries
}

/// The `APIResourceList` of one group version, or `None` when nothing is served there.
pub(crate) fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let resources: Vec<Value> = registry
        .all()
        .filter(|d| d.group == group && d.version == version)
        .flat_map(|d| resource_entries(d))
        .chain(
            REVIEWS
                .iter()
                .filter(|r| r.group == group && version == reviews::VERSION)
                .map(|r| {
                    json!({
                        "name": r.plural,
                        "singularName": r.kind_name.to_lowercase(),
                        "namespaced": false,
                        "kind": r.kind_name,
                        "verbs": ["create"],
                    })
                }),
        )
        .collect();
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_discoverable() {
        let r = Registry::with_builtins();
        let core = resource_list(&r, "", "v1").unwrap();
        let names: Vec<&str> = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"secrets") && names.contains(&"namespaces/status"));
        let groups = group_list(&r);
        assert!(
            groups["groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["name"] == "coordination.k8s.io")
        );
        assert_eq!(
            group(&r, "apps").unwrap()["preferredVersion"]["groupVersion"],
            "apps/v1"
        );
        assert!(resource_list(&r, "nope", "v1").is_none());
        // The reviews kubectl auth can-i and whoami create, as kube-apiserver lists them.
        let authz = resource_list(&r, "authorization.k8s.io", "v1").unwrap();
        let ssar = authz["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "selfsubjectaccessreviews")
            .unwrap();
        assert_eq!(
            ssar,
            &json!({"name": "selfsubjectaccessreviews", "singularName": "selfsubjectaccessreview",
                "namespaced": false, "kind": "SelfSubjectAccessReview", "verbs": ["create"]})
        );
        assert!(group(&r, "authentication.k8s.io").is_some());
    }
}
