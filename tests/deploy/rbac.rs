//! RBAC in one place, least privilege: the rules live in `deploy/helm/videosdk-token-operator/files/`,
//! which the kustomize base applies and the chart's templates read, and grant exactly the list
//! below; the aggregated ClusterRoles for people grant what the README's table says.

#[path = "../support/rbac.rs"]
mod rbac_files;

use super::chart::chart_templates;
use super::kustomize::{assembled_base, kubectl_kustomize};
use super::*;
use std::collections::BTreeSet;

/// Every (API group, resources, verbs, scope) the operator is granted, as the README's table
/// lists them: what it uses, per the code and the request-accounting test
/// (`tests/operator/rbac.rs`).
const GRANTED: &[(&str, &[&str], &[&str], &str)] = &[
    // Token requests: the caller's bearer token and its grant on the issuer.
    (
        "authentication.k8s.io",
        &["tokenreviews"],
        &["create"],
        "cluster",
    ),
    (
        "authorization.k8s.io",
        &["subjectaccessreviews"],
        &["create"],
        "cluster",
    ),
    (
        "videosdk.live",
        &[
            "videosdktokens",
            "videosdkissuers",
            "clustervideosdkissuers",
        ],
        &["list", "watch"],
        "cluster",
    ),
    (
        "videosdk.live",
        &[
            "videosdktokens/status",
            "videosdkissuers/status",
            "clustervideosdkissuers/status",
        ],
        &["patch"],
        "cluster",
    ),
    (
        "",
        &["secrets"],
        &["get", "list", "watch", "patch", "create"],
        "cluster",
    ),
    ("", &["namespaces"], &["get"], "cluster"),
    (
        "events.k8s.io",
        &["events"],
        &["create", "patch"],
        "cluster",
    ),
    (
        "coordination.k8s.io",
        &["leases"],
        &["get", "create", "patch"],
        NAMESPACE,
    ),
    (
        "apps",
        &["deployments", "statefulsets", "daemonsets"],
        &["get", "patch"],
        "cluster",
    ),
];

#[test]
fn rbac_rules_are_kept_in_one_place_and_grant_exactly_what_the_operator_uses() {
    // The files are complete RBAC objects, each rule preceded by the comment that says why.
    let roles = rbac_files::operator_roles();
    for role in &roles {
        let lines: Vec<&str> = role.text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.trim_start().starts_with("- apiGroups") {
                assert!(
                    i > 0 && lines[i - 1].trim_start().starts_with('#'),
                    "{}:{}: say why in a comment above each rule",
                    role.path,
                    i + 1
                );
            }
        }
    }

    // The kustomize base applies them as they are...
    let kustomization = read("deploy/kustomization.yaml");
    for role in &roles {
        let listed = format!("- helm/videosdk-token-operator/files/{}", role.file);
        assert!(
            kustomization.lines().any(|l| l.trim() == listed),
            "deploy/kustomization.yaml must list {listed}"
        );
    }
    let base = assembled_base();
    let mut rendered = vec![assembled_base()];
    rendered.extend(kubectl_kustomize());
    for docs in &rendered {
        for doc in roles.iter().map(|role| &role.object) {
            let found = find(docs, kind(doc), name(doc));
            assert_eq!(found["rules"], doc["rules"], "{} {}", kind(doc), name(doc));
        }
        // ... and no other role grants anything.
        let roles = docs
            .iter()
            .filter(|d| kind(d) == "ClusterRole" || kind(d) == "Role")
            .count();
        assert_eq!(
            roles,
            rbac_files::OPERATOR_FILES.len() + rbac_files::AGGREGATE_FILES.len(),
            "RBAC roles outside {CHART}/files/"
        );
    }

    // The chart renders only the rules of the same files: rules are never written in a template.
    let rbac_template = read(format!("{CHART}/templates/rbac.yaml"));
    for file in rbac_files::OPERATOR_FILES {
        let include = format!(
            "{{{{- include \"videosdk-token-operator.rulesFrom\" (list \"files/{file}\" .) | nindent 2 }}}}"
        );
        assert!(
            rbac_template.contains(&include),
            "{CHART}/templates/rbac.yaml must take the rules of {file} with {include}"
        );
    }
    let guarded = rbac_template
        .split("{{- if .Values.rolloutRestarts.enabled }}")
        .nth(1)
        .expect("the rollout-restart RBAC is behind rolloutRestarts.enabled");
    assert!(guarded.contains("files/clusterrole-rollout.yaml"));
    assert!(
        !rbac_template
            .split("{{- if .Values.rolloutRestarts.enabled }}")
            .next()
            .unwrap()
            .contains("clusterrole-rollout")
    );
    for template in chart_templates() {
        let text = read(&template);
        assert!(
            !text.contains("apiGroups"),
            "{}: RBAC rules belong in {CHART}/files/, not in a template",
            template.display()
        );
    }

    // Least privilege: exactly this list.
    let mut granted = BTreeSet::new();
    for role in &roles {
        // A Role's namespace is the one the base installs it in.
        let role_namespace = if role.kind() == "Role" {
            find(&base, "Role", role.name())["metadata"]["namespace"]
                .as_str()
                .unwrap()
        } else {
            ""
        };
        granted.extend(role.grants(role_namespace).into_iter().map(|g| {
            let scope = g.namespace.unwrap_or_else(|| "cluster".to_owned());
            (g.group, g.resource, g.verb, scope)
        }));
    }
    let expected: BTreeSet<(String, String, String, String)> = GRANTED
        .iter()
        .flat_map(|(g, resources, verbs, s)| {
            resources.iter().flat_map(move |r| {
                verbs
                    .iter()
                    .map(move |v| (g.to_string(), r.to_string(), v.to_string(), s.to_string()))
            })
        })
        .collect();
    assert_eq!(
        granted, expected,
        "the RBAC in {CHART}/files/ must grant exactly what the operator uses"
    );
}

/// The built-in ClusterRoles of kube-apiserver's bootstrap policy that aggregate others, with the
/// aggregation labels they carry themselves: `view` is aggregated into `edit`, `edit` into
/// `admin` (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go`).
const BUILT_IN: [(&str, &[&str]); 3] = [("view", &["edit"]), ("edit", &["admin"]), ("admin", &[])];

/// A row of the README's table of aggregated roles: (ClusterRole, aggregated into, grants as
/// (resource, verb)).
type AggregateRow = (String, BTreeSet<String>, BTreeSet<(String, String)>);

/// The rows of the README's table of aggregated roles.
fn readme_aggregate_table() -> Vec<AggregateRow> {
    let table = readme_between(
        "<!-- aggregated roles -->",
        "<!-- end of aggregated roles -->",
    )
    .expect("README.md has the table of aggregated roles between its markers");
    let words = |cell: &str| -> Vec<String> {
        cell.split(',')
            .map(|w| w.trim().trim_matches('`').to_owned())
            .filter(|w| !w.is_empty())
            .collect()
    };
    table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').collect();
            assert_eq!(cells.len(), 4, "README row {l}");
            let grants = words(cells[2])
                .into_iter()
                .flat_map(|r| words(cells[3]).into_iter().map(move |v| (r.clone(), v)))
                .collect();
            (
                words(cells[0]).remove(0),
                words(cells[1]).into_iter().collect(),
                grants,
            )
        })
        .collect()
}

#[test]
fn aggregated_cluster_roles_give_people_what_the_readme_says() {
    let table = readme_aggregate_table();
    assert_eq!(
        table.len(),
        rbac_files::AGGREGATE_FILES.len(),
        "one README row per role"
    );
    let mut roles = Vec::new();
    for file in rbac_files::AGGREGATE_FILES {
        let role = rbac_files::RoleFile::read(file);
        let (path, doc) = (&role.path, &role.object);
        assert_eq!(kind(doc), "ClusterRole", "{path}");
        let into: BTreeSet<String> = doc["metadata"]["labels"]
            .as_object()
            .expect("labels")
            .iter()
            .filter_map(|(k, v)| {
                let role = k.strip_prefix("rbac.authorization.k8s.io/aggregate-to-")?;
                assert_eq!(v, "true", "{path}: {k}");
                Some(role.to_owned())
            })
            .collect();
        let grants: BTreeSet<(String, String)> = role
            .grants("")
            .into_iter()
            .map(|g| {
                assert_eq!(
                    g.group, "videosdk.live",
                    "{path}: only the operator's kinds"
                );
                (g.resource, g.verb)
            })
            .collect();
        let row = table
            .iter()
            .find(|(n, _, _)| n == name(doc))
            .unwrap_or_else(|| panic!("README's table has no row for {}", name(doc)));
        assert_eq!(&row.1, &into, "{path}: aggregated into");
        assert_eq!(&row.2, &grants, "{path}: rules");
        roles.push((into, grants));
    }

    // What each built-in role ends up with, following Kubernetes' aggregation (including view
    // into edit into admin).
    let effective = |built_in: &str| -> BTreeSet<(String, String)> {
        let mut members = BTreeSet::from([built_in.to_owned()]);
        loop {
            let more: BTreeSet<String> = BUILT_IN
                .iter()
                .filter(|(b, into)| {
                    into.iter().any(|i| members.contains(*i)) && !members.contains(*b)
                })
                .map(|(b, _)| b.to_string())
                .collect();
            if more.is_empty() {
                break;
            }
            members.extend(more);
        }
        roles
            .iter()
            .filter(|(into, _)| into.iter().any(|i| members.contains(i)))
            .flat_map(|(_, grants)| grants.iter().cloned())
            .collect()
    };
    let can = |role: &str, resource: &str, verb: &str| {
        effective(role).contains(&(resource.to_owned(), verb.to_owned()))
    };
    for role in ["view", "edit", "admin"] {
        assert!(can(role, "videosdktokens", "list"), "{role} lists tokens");
        assert!(can(role, "videosdkissuers", "get"), "{role} reads issuers");
        for verb in ["get", "list", "create", "patch"] {
            assert!(
                !can(role, "clustervideosdkissuers", verb),
                "{role} must not {verb} cluster issuers"
            );
        }
        assert!(
            effective(role).iter().all(|(r, _)| !r.contains("status")),
            "{role} must not write status (the operator's)"
        );
    }
    assert!(!can("view", "videosdktokens", "create"), "view only reads");
    assert!(
        can("edit", "videosdktokens", "create"),
        "edit creates tokens"
    );
    assert!(can("edit", "videosdktokens", "patch"), "edit renews tokens");
    assert!(
        !can("edit", "videosdkissuers", "create") && !can("edit", "videosdkissuers", "patch"),
        "edit must not write issuers (their policy)"
    );
    assert!(
        can("admin", "videosdkissuers", "create"),
        "admin writes issuers"
    );
    assert!(
        can("admin", "videosdktokens", "delete"),
        "admin includes edit"
    );

    // Both installs ship them; neither binds them to anyone.
    let kustomization = read("deploy/kustomization.yaml");
    let mut rendered = vec![assembled_base()];
    rendered.extend(kubectl_kustomize());
    for file in rbac_files::AGGREGATE_FILES {
        let listed = format!("- helm/videosdk-token-operator/files/{file}");
        assert!(
            kustomization.lines().any(|l| l.trim() == listed),
            "deploy/kustomization.yaml must list {listed}"
        );
        let doc = rbac_files::RoleFile::read(file).object;
        for docs in &rendered {
            assert_eq!(find(docs, "ClusterRole", name(&doc))["rules"], doc["rules"]);
            assert!(
                !docs.iter().any(|d| d["roleRef"]["name"] == name(&doc)),
                "{} must not be bound: it is aggregated",
                name(&doc)
            );
        }
    }
    let template = read(format!("{CHART}/templates/rbac-aggregate.yaml"));
    assert!(
        template.contains("{{- if .Values.rbac.aggregateClusterRoles }}")
            && template.contains(r#"{{- range $role := list "view" "edit" "admin" }}"#)
            && template.contains(r#"printf "files/clusterrole-aggregate-%s.yaml" $role"#)
            && template.contains(r#"include "videosdk-token-operator.rulesFrom" (list $file $)"#),
        "the chart renders the aggregated roles from {CHART}/files/, behind rbac.aggregateClusterRoles"
    );
}
