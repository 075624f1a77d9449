//! The operator's RBAC as it is kept: the ClusterRole and Role files of
//! `deploy/helm/videosdk-token-operator/files/`, which the kustomize base applies as they are and
//! the Helm chart's templates take their rules from. Read and flattened into grants in one place
//! for the deploy test (what the files say) and the operator's least-privilege test (what the
//! operator uses). Shared with `#[path]`.

#![allow(dead_code)] // each test binary uses its part

use serde_json::Value;
use std::collections::BTreeSet;

/// Where the RBAC files are, relative to the repository (inside the chart, whose `.Files` can
/// only read files below it).
pub const DIR: &str = "deploy/helm/videosdk-token-operator/files";
/// The operator's own roles: what it may do.
pub const OPERATOR_FILES: [&str; 3] = [
    "clusterrole.yaml",
    "role-leader-election.yaml",
    "clusterrole-rollout.yaml",
];
/// The ClusterRoles for people, aggregated into the built-in `view`, `edit` and `admin`.
pub const AGGREGATE_FILES: [&str; 3] = [
    "clusterrole-aggregate-view.yaml",
    "clusterrole-aggregate-edit.yaml",
    "clusterrole-aggregate-admin.yaml",
];

/// One RBAC file: a ClusterRole or Role.
pub struct RoleFile {
    /// Its name in [`DIR`], e.g. `clusterrole.yaml`.
    pub file: &'static str,
    /// Its path relative to the repository, for messages.
    pub path: String,
    /// The file as written (with the comments that say why each rule is there).
    pub text: String,
    /// The object, as JSON.
    pub object: Value,
}

impl RoleFile {
    /// Reads `file` of [`DIR`]; panics naming the file when it is missing or not one object.
    pub fn read(file: &'static str) -> RoleFile {
        let path = format!("{DIR}/{file}");
        let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(&path);
        let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{path}: {e}"));
        let object: Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path} is not one object: {e}"));
        let kind = object["kind"].as_str().unwrap_or_default();
        assert!(
            kind == "ClusterRole" || kind == "Role",
            "{path}: a ClusterRole or Role, not {kind:?}"
        );
        RoleFile {
            file,
            path,
            text,
            object,
        }
    }

    /// `ClusterRole` or `Role`.
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or_default()
    }

    /// What the rules grant: cluster-wide for a ClusterRole, in `role_namespace` for a Role
    /// (where it is installed, which the file does not decide: the kustomize base and the chart
    /// set it). Panics on what a least-privilege role must not hold: a wildcard, `resourceNames`,
    /// `nonResourceURLs`.
    pub fn grants(&self, role_namespace: &str) -> BTreeSet<Grant> {
        let namespace = (self.kind() == "Role").then(|| role_namespace.to_owned());
        let origin = &self.path;
        let mut out = BTreeSet::new();
        for rule in self.object["rules"]
            .as_array()
            .unwrap_or_else(|| panic!("{origin}: rules"))
        {
            assert!(
                rule["nonResourceURLs"].is_null() && rule["resourceNames"].is_null(),
                "{origin}: {rule}"
            );
            let list = |key: &str| -> Vec<String> {
                rule[key]
                    .as_array()
                    .unwrap_or_else(|| panic!("{origin}: {key} in {rule}"))
                    .iter()
                    .map(|v| v.as_str().expect("a string").to_owned())
                    .collect()
            };
            for group in list("apiGroups") {
                for resource in list("resources") {
                    for verb in list("verbs") {
                        assert!(
                            !group.contains('*') && !resource.contains('*') && verb != "*",
                            "{origin}: wildcard in {rule}"
                        );
                        out.insert(Grant {
                            verb,
                            group: group.clone(),
                            resource: resource.clone(),
                            namespace: namespace.clone(),
                        });
                    }
                }
            }
        }
        out
    }
}

/// The operator's roles ([`OPERATOR_FILES`]).
pub fn operator_roles() -> Vec<RoleFile> {
    OPERATOR_FILES.into_iter().map(RoleFile::read).collect()
}

/// Everything the operator's roles grant, the Role's in `role_namespace`.
pub fn operator_grants(role_namespace: &str) -> BTreeSet<Grant> {
    operator_roles()
        .iter()
        .flat_map(|role| role.grants(role_namespace))
        .collect()
}

/// One grant: a verb on a group's resource (`secrets`, `videosdktokens/status`), cluster-wide
/// (`namespace: None`) or in one namespace (a Role's).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub verb: String,
    /// `""` for the core group.
    pub group: String,
    pub resource: String,
    pub namespace: Option<String>,
}
