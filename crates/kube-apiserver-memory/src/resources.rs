//! The resources this server serves: the built-in types it knows, and those that established
//! CRDs add. A [`ResourceDef`] says how a resource is named, addressed and stored.

use super::crd_schema::SchemaAdmit;
use super::error::Subject;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Built-in types whose writes need more than generic object handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Special {
    None,
    Namespace,
    Secret,
    CustomResourceDefinition,
    /// `events.k8s.io/v1` Events: stored as, and shared with, core `v1` Events. A request
    /// through `events.k8s.io` runs on the core resource with this mark, so that its updates
    /// are validated as kube-apiserver validates them (core `v1` updates are not).
    EventsV1,
}

/// Where the objects of a resource live: one store per group and plural, shared by its versions.
pub(crate) type StoreKey = (String, String);

/// One served resource in one group version.
#[derive(Clone)]
pub(crate) struct ResourceDef {
    /// `""` for the core group.
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) plural: String,
    pub(crate) singular: String,
    pub(crate) kind: String,
    pub(crate) namespaced: bool,
    pub(crate) short_names: Vec<String>,
    pub(crate) categories: Vec<String>,
    /// Whether `/status` is a subresource (writes to the main resource then leave status alone).
    pub(crate) status_subresource: bool,
    /// Whether `metadata.generation` is kept (custom resources and workload types).
    pub(crate) generation: bool,
    pub(crate) special: Special,
    /// Schema admission of a custom resource version.
    pub(crate) schema: Option<Arc<dyn SchemaAdmit>>,
    /// A CRD version's `additionalPrinterColumns`, for `kubectl get`.
    pub(crate) printer_columns: Option<serde_json::Value>,
    /// A CRD version's `openAPIV3Schema` as written, for the OpenAPI documents.
    pub(crate) openapi_schema: Option<Arc<serde_json::Value>>,
}

impl ResourceDef {
    fn builtin(
        group: &str,
        version: &str,
        plural: &str,
        kind: &str,
        namespaced: bool,
        short_names: &[&str],
    ) -> Self {
        ResourceDef {
            group: group.into(),
            version: version.into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            kind: kind.into(),
            namespaced,
            short_names: short_names.iter().map(|s| s.to_string()).collect(),
            categories: Vec::new(),
            status_subresource: false,
            generation: false,
            special: Special::None,
            schema: None,
            printer_columns: None,
            openapi_schema: None,
        }
    }

    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub(crate) fn store_key(&self) -> StoreKey {
        (self.group.clone(), self.plural.clone())
    }

    pub(crate) fn subject(&self) -> Subject<'_> {
        Subject {
            plural: &self.plural,
            group: &self.group,
            kind: &self.kind,
        }
    }

    /// Whether this is a custom resource (served because of a CRD).
    pub(crate) fn is_custom(&self) -> bool {
        self.schema.is_some()
    }
}

/// The store key of Namespaces.
pub(crate) fn namespaces_key() -> StoreKey {
    (String::new(), "namespaces".to_owned())
}

/// The built-in resources served from the start.
pub(crate) fn builtins() -> Vec<ResourceDef> {
    let mut namespaces = ResourceDef::builtin("", "v1", "namespaces", "Namespace", false, &["ns"]);
    namespaces.special = Special::Namespace;
    namespaces.status_subresource = true;
    let mut secrets = ResourceDef::builtin("", "v1", "secrets", "Secret", true, &[]);
    secrets.special = Special::Secret;
    let workload = |plural: &str, kind: &str, short: &[&str]| {
        let mut d = ResourceDef::builtin("apps", "v1", plural, kind, true, short);
        d.status_subresource = true;
        d.generation = true;
        d.categories = vec!["all".into()];
        d
    };
    let rbac = |plural: &str, kind: &str, namespaced: bool| {
        ResourceDef::builtin(
            "rbac.authorization.k8s.io",
            "v1",
            plural,
            kind,
            namespaced,
            &[],
        )
    };
    let mut crds = ResourceDef::builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        &["crd", "crds"],
    );
    crds.special = Special::CustomResourceDefinition;
    let mut events_v1 =
        ResourceDef::builtin("events.k8s.io", "v1", "events", "Event", true, &["ev"]);
    events_v1.special = Special::EventsV1;
    crds.status_subresource = true;
    crds.generation = true;
    // What a Helm chart or kustomize base of an operator holds besides RBAC and workloads
    // (`helm install` maps every rendered kind through discovery first, and refuses a release
    // with a kind the server does not serve).
    let mut services = ResourceDef::builtin("", "v1", "services", "Service", true, &["svc"]);
    services.status_subresource = true;
    services.categories = vec!["all".into()];
    let mut pdbs = ResourceDef::builtin(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
        &["pdb"],
    );
    pdbs.status_subresource = true;
    pdbs.generation = true;
    let network_policies = ResourceDef::builtin(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        true,
        &["netpol"],
    );
    vec![
        namespaces,
        secrets,
        ResourceDef::builtin("", "v1", "configmaps", "ConfigMap", true, &["cm"]),
        ResourceDef::builtin("", "v1", "events", "Event", true, &["ev"]),
        events_v1,
        ResourceDef::builtin("coordination.k8s.io", "v1", "leases", "Lease", true, &[]),
        ResourceDef::builtin("", "v1", "serviceaccounts", "ServiceAccount", true, &["sa"]),
        rbac("roles", "Role", true),
        rbac("rolebindings", "RoleBinding", true),
        rbac("clusterroles", "ClusterRole", false),
        rbac("clusterrolebindings", "ClusterRoleBinding", false),
        workload("deployments", "Deployment", &["deploy"]),
        workload("statefulsets", "StatefulSet", &["sts"]),
        workload("daemonsets", "DaemonSet", &["ds"]),
        services,
        pdbs,
        network_policies,
        crds,
    ]
}

/// Every served resource, by group, version and plural.
#[derive(Clone, Default)]
pub(crate) struct Registry {
    defs: BTreeMap<(String, String, String), Arc<ResourceDef>>,
}

impl Registry {
    pub(crate) fn with_builtins() -> Self {
        let mut r = Registry::default();
        for d in builtins() {
            r.insert(d);
        }
        r
    }

    pub(crate) fn insert(&mut self, def: ResourceDef) {
        let key = (def.group.clone(), def.version.clone(), def.plural.clone());
        self.defs.insert(key, Arc::new(def));
    }

    /// Stops serving every version of a group's plural.
    pub(crate) fn remove(&mut self, group: &str, plural: &str) {
        self.defs
            .retain(|(g, _, p), _| !(g == group && p == plural));
    }

    pub(crate) fn get(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceDef>> {
        self.defs
            .get(&(group.to_owned(), version.to_owned(), plural.to_owned()))
            .cloned()
    }

    /// Any served version of a store (for garbage collection and namespace cleanup).
    pub(crate) fn any_version(&self, key: &StoreKey) -> Option<Arc<ResourceDef>> {
        self.defs
            .iter()
            .find(|((g, _, p), _)| *g == key.0 && *p == key.1)
            .map(|(_, d)| d.clone())
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &Arc<ResourceDef>> {
        self.defs.values()
    }
}
