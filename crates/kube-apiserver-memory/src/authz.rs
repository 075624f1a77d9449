//! SubjectAccessReview (authorization.k8s.io/v1) answered by RBAC over the Roles, ClusterRoles,
//! RoleBindings and ClusterRoleBindings in the store, as kube-apiserver's RBAC authorizer does
//! for resource requests: a request is allowed when a ClusterRoleBinding, or a RoleBinding of
//! the request's namespace, binds a subject the user matches (User by name, Group by one of its
//! groups, ServiceAccount by `system:serviceaccount:NS:NAME`) to a role with a rule matching
//! verb, API group, resource (`res/sub` for a subresource) and, when the rule lists any,
//! resourceNames. `*` matches anything; members of `system:masters` are allowed everything.
//!
//! Differences from kube-apiserver: no ClusterRole aggregation (an aggregated role has only the
//! rules written in it), no nonResourceURLs rules (a non-resource review is denied), and no
//! other authorizer (Node, webhooks).

use super::store::State;
use serde_json::{Value, json};

/// The RBAC objects' store keys.
const ROLES: (&str, &str) = ("rbac.authorization.k8s.io", "roles");
const CLUSTER_ROLES: (&str, &str) = ("rbac.authorization.k8s.io", "clusterroles");
const ROLE_BINDINGS: (&str, &str) = ("rbac.authorization.k8s.io", "rolebindings");
const CLUSTER_ROLE_BINDINGS: (&str, &str) = ("rbac.authorization.k8s.io", "clusterrolebindings");

/// Who asks, and for what: the parts of a SubjectAccessReview's spec RBAC reads.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    pub user: String,
    pub groups: Vec<String>,
    /// `""` for a cluster-scoped request.
    pub namespace: String,
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
}

impl Attributes {
    /// The attributes of a SubjectAccessReview `spec`; `None` for a non-resource review.
    pub fn from_spec(spec: &Value) -> Option<Attributes> {
        let attrs = spec.get("resourceAttributes")?;
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        Some(Attributes {
            user: text(spec, "user"),
            groups: strings(spec, "groups"),
            namespace: text(attrs, "namespace"),
            verb: text(attrs, "verb"),
            group: text(attrs, "group"),
            resource: text(attrs, "resource"),
            subresource: text(attrs, "subresource"),
            name: text(attrs, "name"),
        })
    }
}

/// The strings of the list `key` of `v` (empty when absent).
pub(super) fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether one PolicyRule allows `a`.
pub fn rule_allows(rule: &Value, a: &Attributes) -> bool {
    let has = |key: &str, want: &str| strings(rule, key).iter().any(|v| v == "*" || v == want);
    let resource = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let names = strings(rule, "resourceNames");
    has("verbs", &a.verb)
        && has("apiGroups", &a.group)
        && has("resources", &resource)
        && (names.is_empty() || names.contains(&a.name))
}

/// Whether a binding's subject is the user of `a`; `binding_namespace` is the default
/// namespace of a ServiceAccount subject.
fn subject_matches(subject: &Value, binding_namespace: &str, a: &Attributes) -> bool {
    let name = subject.get("name").and_then(Value::as_str).unwrap_or("");
    match subject.get("kind").and_then(Value::as_str) {
        Some("User") => name == a.user,
        Some("Group") => a.groups.iter().any(|g| g == name),
        Some("ServiceAccount") => {
            let namespace = subject
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_namespace);
            a.user == format!("system:serviceaccount:{namespace}:{name}")
        }
        _ => false,
    }
}

/// The rules of the role a binding in `namespace` refers to (empty when it does not exist).
fn rules_of(state: &State, binding: &Value, namespace: &str) -> Vec<Value> {
    let kind = binding.pointer("/roleRef/kind").and_then(Value::as_str);
    let name = binding
        .pointer("/roleRef/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (key, ns) = match kind {
        Some("ClusterRole") => (CLUSTER_ROLES, ""),
        Some("Role") => (ROLES, namespace),
        _ => return Vec::new(),
    };
    state
        .get(&(key.0.to_owned(), key.1.to_owned()), ns, name)
        .and_then(|s| s.value().get("rules").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

fn objects(state: &State, key: (&str, &str), namespace: Option<&str>) -> Vec<Value> {
    state
        .list(
            &(key.0.to_owned(), key.1.to_owned()),
            namespace,
            &Default::default(),
            None,
            None,
        )
        .map(|page| page.items.iter().map(|s| s.value()).collect())
        .unwrap_or_default()
}

/// The RBAC decision for `a`: `Some(reason)` naming the binding that allows it, `None` to deny.
pub fn authorize(state: &State, a: &Attributes) -> Option<String> {
    if a.groups.iter().any(|g| g == "system:masters") {
        return Some("member of system:masters".to_owned());
    }
    let bound = |binding: &Value, namespace: &str| {
        binding
            .get("subjects")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|s| subject_matches(s, namespace, a)))
            && rules_of(state, binding, namespace)
                .iter()
                .any(|r| rule_allows(r, a))
    };
    let name_of = |b: &Value| {
        b.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    if let Some(b) = objects(state, CLUSTER_ROLE_BINDINGS, None)
        .iter()
        .find(|b| bound(b, ""))
    {
        return Some(format!(
            "RBAC: allowed by ClusterRoleBinding \"{}\"",
            name_of(b)
        ));
    }
    if a.namespace.is_empty() {
        return None;
    }
    objects(state, ROLE_BINDINGS, Some(&a.namespace))
        .iter()
        .find(|b| bound(b, &a.namespace))
        .map(|b| {
            format!(
                "RBAC: allowed by RoleBinding \"{}/{}\"",
                name_of(b),
                a.namespace
            )
        })
}

/// The answer to a SubjectAccessReview `review`: the review with its `status`.
pub fn review(state: &State, mut review: Value) -> Value {
    let spec = review.get("spec").cloned().unwrap_or(Value::Null);
    let status = match Attributes::from_spec(&spec) {
        None => {
            json!({"allowed": false, "reason": "no RBAC policy matched: this server answers resourceAttributes only"})
        }
        Some(a) => match authorize(state, &a) {
            Some(reason) => json!({"allowed": true, "reason": reason}),
            None => json!({"allowed": false, "reason": ""}),
        },
    };
    review["status"] = status;
    review
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(verb: &str, name: &str) -> Attributes {
        Attributes {
            user: "system:serviceaccount:media:backend".into(),
            groups: vec!["system:serviceaccounts".into()],
            namespace: "media".into(),
            verb: verb.into(),
            group: "videosdk.live".into(),
            resource: "videosdkissuers".into(),
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn rules_match_verb_group_resource_and_names() {
        let rule = json!({"apiGroups": ["videosdk.live"], "resources": ["videosdkissuers"], "verbs": ["request"], "resourceNames": ["videosdk"]});
        assert!(rule_allows(&rule, &attrs("request", "videosdk")));
        assert!(!rule_allows(&rule, &attrs("request", "other")));
        assert!(!rule_allows(&rule, &attrs("get", "videosdk")));
        let any = json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]});
        assert!(rule_allows(&any, &attrs("request", "other")));
        let sub =
            json!({"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]});
        let mut a = attrs("create", "sa");
        a.group = String::new();
        a.resource = "serviceaccounts".into();
        assert!(!rule_allows(&sub, &a));
        a.subresource = "token".into();
        assert!(rule_allows(&sub, &a));
    }

    #[test]
    fn subjects_match_users_groups_and_service_accounts() {
        let a = attrs("request", "x");
        assert!(subject_matches(
            &json!({"kind": "ServiceAccount", "name": "backend"}),
            "media",
            &a
        ));
        assert!(!subject_matches(
            &json!({"kind": "ServiceAccount", "name": "backend"}),
            "other",
            &a
        ));
        assert!(subject_matches(
            &json!({"kind": "ServiceAccount", "name": "backend", "namespace": "media"}),
            "",
            &a
        ));
        assert!(subject_matches(
            &json!({"kind": "Group", "name": "system:serviceaccounts"}),
            "",
            &a
        ));
        assert!(!subject_matches(
            &json!({"kind": "User", "name": "alice"}),
            "",
            &a
        ));
    }
}
