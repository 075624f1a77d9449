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

use super::error::{ApiError, Subject};
use super::identity::{self, UserInfo};
use super::store::State;
use serde_json::{Value, json};

/// The RBAC objects' store keys.
const ROLES: (&str, &str) = ("rbac.authorization.k8s.io", "roles");
const CLUSTER_ROLES: (&str, &str) = ("rbac.authorization.k8s.io", "clusterroles");
const ROLE_BINDINGS: (&str, &str) = ("rbac.authorization.k8s.io", "rolebindings");
const CLUSTER_ROLE_BINDINGS: (&str, &str) = ("rbac.authorization.k8s.io", "clusterrolebindings");

/// Who asks, and for what: the parts of a SubjectAccessReview's spec RBAC reads.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Attributes {
    pub(crate) user: String,
    pub(crate) groups: Vec<String>,
    /// `""` for a cluster-scoped request.
    pub(crate) namespace: String,
    pub(crate) verb: String,
    pub(crate) group: String,
    pub(crate) resource: String,
    pub(crate) subresource: String,
    pub(crate) name: String,
}

impl Attributes {
    /// The `resourceAttributes` of a review's spec, asked about `user` in `groups`.
    fn of(user: &str, groups: &[String], attrs: &Value) -> Attributes {
        let text = |k: &str| {
            attrs
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        Attributes {
            user: user.to_owned(),
            groups: groups.to_vec(),
            namespace: text("namespace"),
            verb: text("verb"),
            group: text("group"),
            resource: text("resource"),
            subresource: text("subresource"),
            name: text("name"),
        }
    }
}

/// The 403 of a request RBAC denies, worded as kube-apiserver's
/// (k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go `forbiddenMessage`):
/// `users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group ""
/// at the cluster scope`.
pub(crate) fn forbidden(a: &Attributes) -> ApiError {
    let resource = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_owned()
    } else {
        format!("in the namespace {:?}", a.namespace)
    };
    let qualified = if a.group.is_empty() {
        a.resource.clone()
    } else {
        format!("{}.{}", a.resource, a.group)
    };
    let mut details = json!({"name": a.name, "kind": a.resource});
    if !a.group.is_empty() {
        details["group"] = json!(a.group);
    }
    ApiError {
        details: Some(details),
        ..ApiError::forbidden(format!(
            "{qualified} {:?} is forbidden: User {:?} cannot {} resource {resource:?} in API group {:?} {scope}",
            a.name, a.user, a.verb, a.group
        ))
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
pub(crate) fn rule_allows(rule: &Value, a: &Attributes) -> bool {
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

/// Whether a binding's subject is `user` or one of its `groups`; `binding_namespace` is the
/// default namespace of a ServiceAccount subject.
fn subject_matches(
    subject: &Value,
    binding_namespace: &str,
    user: &str,
    groups: &[String],
) -> bool {
    let name = subject.get("name").and_then(Value::as_str).unwrap_or("");
    match subject.get("kind").and_then(Value::as_str) {
        Some("User") => name == user,
        Some("Group") => groups.iter().any(|g| g == name),
        Some("ServiceAccount") => {
            let namespace = subject
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_namespace);
            identity::split_service_account(user) == Some((namespace, name))
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

/// The group whose members RBAC allows everything (bootstrap ClusterRoleBinding `cluster-admin`).
const MASTERS: &str = "system:masters";

/// The rules that apply to `user` in `groups` in `namespace` (`""`: cluster-wide only), as
/// kube-apiserver's RBAC resolver visits them (plugin/pkg/auth/authorizer/rbac/rbac.go):
/// each ClusterRoleBinding, then each RoleBinding of the namespace, that binds the user, with
/// what it is (`ClusterRoleBinding "name"`) and its role's rules.
fn bound_rules(
    state: &State,
    user: &str,
    groups: &[String],
    namespace: &str,
) -> Vec<(String, Vec<Value>)> {
    let binds = |binding: &Value, namespace: &str| {
        binding
            .get("subjects")
            .and_then(Value::as_array)
            .is_some_and(|s| {
                s.iter()
                    .any(|s| subject_matches(s, namespace, user, groups))
            })
    };
    let name_of = |b: &Value| {
        b.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let cluster = objects(state, CLUSTER_ROLE_BINDINGS, None)
        .into_iter()
        .filter(|b| binds(b, ""))
        .map(|b| {
            (
                format!("ClusterRoleBinding \"{}\"", name_of(&b)),
                rules_of(state, &b, ""),
            )
        });
    let namespaced = match namespace {
        "" => Vec::new(),
        ns => objects(state, ROLE_BINDINGS, Some(ns)),
    }
    .into_iter()
    .filter(|b| binds(b, namespace))
    .map(|b| {
        (
            format!("RoleBinding \"{}/{namespace}\"", name_of(&b)),
            rules_of(state, &b, namespace),
        )
    });
    cluster.chain(namespaced).collect()
}

/// The RBAC decision for `a`: `Some(reason)` naming the binding that allows it, `None` to deny.
pub(crate) fn authorize(state: &State, a: &Attributes) -> Option<String> {
    if a.groups.iter().any(|g| g == MASTERS) {
        return Some(format!("member of {MASTERS}"));
    }
    bound_rules(state, &a.user, &a.groups, &a.namespace)
        .into_iter()
        .find(|(_, rules)| rules.iter().any(|r| rule_allows(r, a)))
        .map(|(binding, _)| format!("RBAC: allowed by {binding}"))
}

/// The `status` of an access review of `spec` (its `resourceAttributes` or
/// `nonResourceAttributes`) asked about `user` in `groups`.
fn decide(state: &State, user: &str, groups: &[String], spec: &Value) -> Value {
    let decision = match spec.get("resourceAttributes") {
        Some(attrs) => authorize(state, &Attributes::of(user, groups, attrs)),
        None if groups.iter().any(|g| g == MASTERS) => Some(format!("member of {MASTERS}")),
        None => {
            return json!({"allowed": false, "reason": "no RBAC policy matched: this server answers resourceAttributes only"});
        }
    };
    match decision {
        Some(reason) => json!({"allowed": true, "reason": reason}),
        None => json!({"allowed": false, "reason": ""}),
    }
}

/// The answer to a SubjectAccessReview `review` (about its `spec.user` and `spec.groups`): the
/// review with its `status`.
pub(crate) fn review(state: &State, mut review: Value) -> Value {
    let spec = review.get("spec").cloned().unwrap_or(Value::Null);
    let user = spec.get("user").and_then(Value::as_str).unwrap_or("");
    review["status"] = decide(state, user, &strings(&spec, "groups"), &spec);
    review
}

const SELF_SUBJECT_ACCESS_REVIEW: Subject<'static> = Subject {
    plural: "selfsubjectaccessreviews",
    group: "authorization.k8s.io",
    kind: "SelfSubjectAccessReview",
};

/// The answer to a SelfSubjectAccessReview `review` made by `user` (what `kubectl auth can-i`
/// asks): the review with its `status`, decided as a SubjectAccessReview about that user.
///
/// Errors: 422 unless the spec has exactly one of `resourceAttributes` and
/// `nonResourceAttributes`, as kube-apiserver's validation
/// (pkg/apis/authorization/validation/validation.go).
pub(crate) fn self_review(
    state: &State,
    user: &UserInfo,
    mut review: Value,
) -> Result<Value, ApiError> {
    let spec = review.get("spec").cloned().unwrap_or(Value::Null);
    let given = |k: &str| spec.get(k).is_some_and(|v| !v.is_null());
    match (given("resourceAttributes"), given("nonResourceAttributes")) {
        (true, true) => Err(ApiError::invalid_field(
            SELF_SUBJECT_ACCESS_REVIEW,
            "",
            "spec.nonResourceAttributes",
            "Invalid value: cannot be specified in combination with resourceAttributes".into(),
        )),
        (false, false) => Err(ApiError::invalid_field(
            SELF_SUBJECT_ACCESS_REVIEW,
            "",
            "spec.resourceAttributes",
            "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified".into(),
        )),
        _ => {
            review["status"] = decide(state, &user.username, &user.groups, &spec);
            Ok(review)
        }
    }
}

/// The answer to a SelfSubjectRulesReview `review` made by `user` (what
/// `kubectl auth can-i --list` asks): the review with `status.resourceRules` and
/// `status.nonResourceRules` of every role bound to the user cluster-wide or in
/// `spec.namespace`, as kube-apiserver's RBAC `RulesFor`. Members of `system:masters` get the
/// rules of the bootstrap ClusterRole `cluster-admin` (everything).
pub(crate) fn rules_review(state: &State, user: &UserInfo, mut review: Value) -> Value {
    let namespace = review
        .pointer("/spec/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let rules: Vec<Value> = if user.groups.iter().any(|g| g == MASTERS) {
        vec![
            json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}),
            json!({"nonResourceURLs": ["*"], "verbs": ["*"]}),
        ]
    } else {
        bound_rules(state, &user.username, &user.groups, &namespace)
            .into_iter()
            .flat_map(|(_, rules)| rules)
            .collect()
    };
    let pick = |rule: &Value, keys: &[&str]| {
        let mut picked = json!({"verbs": strings(rule, "verbs")});
        for key in keys {
            if let Some(v) = rule.get(*key).filter(|v| !v.is_null()) {
                picked[*key] = v.clone();
            }
        }
        picked
    };
    let has = |rule: &Value, key: &str| !strings(rule, key).is_empty();
    review["status"] = json!({
        "resourceRules": rules.iter().filter(|r| has(r, "resources"))
            .map(|r| pick(r, &["apiGroups", "resources", "resourceNames"])).collect::<Vec<_>>(),
        "nonResourceRules": rules.iter().filter(|r| has(r, "nonResourceURLs"))
            .map(|r| pick(r, &["nonResourceURLs"])).collect::<Vec<_>>(),
        "incomplete": false,
    });
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
        let cases = [
            (
                json!({"kind": "ServiceAccount", "name": "backend"}),
                "media",
                true,
            ),
            (
                json!({"kind": "ServiceAccount", "name": "backend"}),
                "other",
                false,
            ),
            (
                json!({"kind": "ServiceAccount", "name": "backend", "namespace": "media"}),
                "",
                true,
            ),
            (
                json!({"kind": "Group", "name": "system:serviceaccounts"}),
                "",
                true,
            ),
            (json!({"kind": "User", "name": "alice"}), "", false),
        ];
        for (subject, namespace, matches) in cases {
            assert_eq!(
                subject_matches(&subject, namespace, &a.user, &a.groups),
                matches,
                "{subject} in {namespace:?}"
            );
        }
    }
}
