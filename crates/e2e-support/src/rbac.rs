//! The operator's RBAC as it is kept: the ClusterRole and Role files of
//! `deploy/helm/videosdk-token-operator/files/`, which the kustomize base applies as they are and
//! the Helm chart's templates take their rules from; and what an install binds to the operator's
//! ServiceAccount, from the rendered objects (the chart rendered with Helm v4's engine, the
//! `helm-python-sdk` package). Read and flattened into grants in one place for the deploy test
//! (what each install mode binds) and the operator's least-privilege test (what the operator
//! uses in that mode).

use serde_json::Value;
use std::collections::BTreeSet;

/// Where the RBAC files are, relative to the repository (inside the chart, whose `.Files` can
/// only read files below it).
pub const DIR: &str = "deploy/helm/videosdk-token-operator/files";
/// The operator's own roles: what it may do, each bound or not according to the install mode.
pub const OPERATOR_FILES: [&str; 7] = [
    "clusterrole.yaml",
    "clusterrole-cluster-scoped.yaml",
    "clusterrole-credentials.yaml",
    "clusterrole-cluster-issuer-events.yaml",
    "clusterrole-token-requests.yaml",
    "clusterrole-rollout.yaml",
    "role-leader-election.yaml",
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
        let full = std::path::Path::new(crate::WORKSPACE).join(&path);
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
        rule_grants(&self.object["rules"], namespace, &self.path)
    }
}

/// What `rules` grant, in `namespace` (`None`: cluster-wide). Panics, naming `origin`, on what a
/// least-privilege role must not hold: a wildcard, `resourceNames`, `nonResourceURLs`.
pub fn rule_grants(rules: &Value, namespace: Option<String>, origin: &str) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for rule in rules
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

fn kind(doc: &Value) -> &str {
    doc["kind"].as_str().unwrap_or_default()
}

fn meta<'a>(doc: &'a Value, key: &str) -> &'a str {
    doc["metadata"][key].as_str().unwrap_or_default()
}

/// What the rendered objects `docs` of an install bind to the ServiceAccount
/// `namespace/name`: the rules of each Role or ClusterRole a RoleBinding (in its namespace) or a
/// ClusterRoleBinding (cluster-wide) names for it, as Kubernetes' RBAC authorizer adds them up.
/// Panics when a binding names a role the install does not hold.
pub fn bound_grants(docs: &[Value], namespace: &str, name: &str) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for binding in docs {
        let in_namespace = match kind(binding) {
            "ClusterRoleBinding" => None,
            "RoleBinding" => Some(meta(binding, "namespace").to_owned()),
            _ => continue,
        };
        let for_operator = binding["subjects"].as_array().is_some_and(|subjects| {
            subjects.iter().any(|s| {
                s["kind"] == "ServiceAccount" && s["name"] == name && s["namespace"] == namespace
            })
        });
        if !for_operator {
            continue;
        }
        let role_kind = binding["roleRef"]["kind"].as_str().unwrap_or_default();
        let role_name = binding["roleRef"]["name"].as_str().unwrap_or_default();
        let role = docs
            .iter()
            .find(|d| {
                kind(d) == role_kind
                    && meta(d, "name") == role_name
                    && (role_kind == "ClusterRole"
                        || Some(meta(d, "namespace")) == in_namespace.as_deref())
            })
            .unwrap_or_else(|| {
                panic!(
                    "{} {} binds {role_kind} {role_name}, which the install does not hold",
                    kind(binding),
                    meta(binding, "name")
                )
            });
        let origin = format!("{role_kind} {role_name}");
        out.extend(rule_grants(&role["rules"], in_namespace, &origin));
    }
    out
}

/// The Python program that renders the chart with Helm v4's engine (`helm template`, offline):
/// arguments chart directory, release name, namespace, values as JSON; prints the manifests as
/// JSON (template path to text). Exits 3 when the package is not installed.
const RENDER: &str = r#"
import json, sys
try:
    import helm_python
except ImportError as e:
    print(e, file=sys.stderr)
    sys.exit(3)
chart, name, namespace, values = sys.argv[1:5]
with helm_python.Chart.load(chart) as c:
    print(json.dumps(c.render(json.loads(values), name=name, namespace=namespace, is_install=True)))
"#;

/// Where the pinned `helm-python-sdk` is listed, which `.ci/run` installs.
pub const HELM_REQUIREMENTS: &str = "tests/deploy/requirements.txt";

/// The chart rendered as `helm template NAME --namespace NAMESPACE` with `values` would render
/// it, as objects; `None` (with a visible SKIPPED) when Helm's engine, the Python package
/// `helm-python-sdk`, is not installed, except under `CI=true`, where that fails the test.
/// Panics with Helm's message when the chart does not render.
pub fn helm_template(name: &str, namespace: &str, values: &Value) -> Option<Vec<Value>> {
    helm_template_or_error(name, namespace, values).map(|rendered| {
        rendered.unwrap_or_else(|e| panic!("the chart does not render with values {values}: {e}"))
    })
}

/// As [`helm_template`], with Helm's message (a template's `fail`, the schema's refusal) as the
/// error when the chart does not render.
pub fn helm_template_or_error(
    name: &str,
    namespace: &str,
    values: &Value,
) -> Option<Result<Vec<Value>, String>> {
    let manifests = match helm_rendered_files(name, namespace, values)? {
        Ok(manifests) => manifests,
        Err(e) => return Some(Err(e)),
    };
    let mut docs = Vec::new();
    for (path, text) in manifests {
        if !path.ends_with(".yaml") {
            continue;
        }
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let doc = <Value as serde::Deserialize>::deserialize(doc)
                .unwrap_or_else(|e| panic!("{path} as rendered is not YAML: {e}"));
            if !doc.is_null() {
                docs.push(doc);
            }
        }
    }
    Some(Ok(docs))
}

/// Every file the chart renders (template path to text, `NOTES.txt` too), or Helm's message;
/// `None` as for [`helm_template`].
pub fn helm_rendered_files(
    name: &str,
    namespace: &str,
    values: &Value,
) -> Option<Result<std::collections::BTreeMap<String, String>, String>> {
    let root = std::path::Path::new(crate::WORKSPACE);
    let chart = root.join("deploy/helm/videosdk-token-operator");
    let out = std::process::Command::new("python3")
        .args(["-c", RENDER])
        .arg(&chart)
        .args([name, namespace, &values.to_string()])
        .output();
    let missing = match &out {
        Err(e) => Some(format!("python3 is not runnable: {e}")),
        Ok(out) if out.status.code() == Some(3) => Some(format!(
            "the Python package helm-python-sdk is not installed ({}); pip install -r {HELM_REQUIREMENTS}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(_) => None,
    };
    if let Some(missing) = missing {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must render the Helm chart: {missing}"
        );
        eprintln!("SKIPPED: rendering the Helm chart with values {values}: {missing}");
        return None;
    }
    let out = out.expect("checked above");
    if !out.status.success() {
        return Some(Err(String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    Some(Ok(
        serde_json::from_slice(&out.stdout).expect("the renderer prints JSON")
    ))
}

/// The operator's roles ([`OPERATOR_FILES`]).
pub fn operator_roles() -> Vec<RoleFile> {
    OPERATOR_FILES.into_iter().map(RoleFile::read).collect()
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
