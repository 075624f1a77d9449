//! RBAC in one place, least privilege, following the configuration: the rules live in
//! `deploy/helm/videosdk-token-operator/files/`, one file per group of rights below, which the
//! kustomize base applies and the chart's templates read; each install mode (the chart rendered
//! with Helm v4's engine for each configuration, the kustomize base, its rollout-restarts
//! component) binds exactly the groups that mode uses, where it uses them (the operator's own
//! test, `tests/operator/rbac.rs`, checks the same renderings against the requests the operator
//! makes); the aggregated ClusterRoles for people grant what the book's table says (docs/src/install/rbac.md).

use super::chart::chart_templates;
use super::kustomize::{assembled_base, ci, kubectl_kustomize, kustomize};
use super::*;
use rbac_files::Grant;
use serde_json::json;
use std::collections::BTreeSet;

/// (API group, resources, verbs): one rule.
type Rule = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

/// In the namespaces the operator watches (`clusterrole.yaml`): tokens and issuers, their
/// status, Secrets (tokens' and credentials'), Events.
const WATCHED: &[Rule] = &[
    (
        "videosdk.live",
        &["videosdktokens", "videosdkissuers"],
        &["list", "watch"],
    ),
    (
        "videosdk.live",
        &["videosdktokens/status", "videosdkissuers/status"],
        &["patch"],
    ),
    (
        "",
        &["secrets"],
        &["get", "list", "watch", "patch", "create"],
    ),
    ("events.k8s.io", &["events"], &["create", "patch"]),
];
/// Cluster-scoped kinds, in every mode (`clusterrole-cluster-scoped.yaml`).
const CLUSTER_SCOPED: &[Rule] = &[
    (
        "videosdk.live",
        &["clustervideosdkissuers"],
        &["list", "watch"],
    ),
    (
        "videosdk.live",
        &["clustervideosdkissuers/status"],
        &["patch"],
    ),
    ("", &["namespaces"], &["get"]),
];
/// A scoped install's cluster issuers' credentials, in the cluster resource namespace
/// (`clusterrole-credentials.yaml`).
const CREDENTIALS: &[Rule] = &[("", &["secrets"], &["list", "watch"])];
/// A scoped install's Events about cluster issuers, in `default`
/// (`clusterrole-cluster-issuer-events.yaml`).
const CLUSTER_ISSUER_EVENTS: &[Rule] = &[("events.k8s.io", &["events"], &["create", "patch"])];
/// Token requests (`clusterrole-token-requests.yaml`).
const REVIEWS: &[Rule] = &[
    ("authentication.k8s.io", &["tokenreviews"], &["create"]),
    (
        "authorization.k8s.io",
        &["subjectaccessreviews"],
        &["create"],
    ),
];
/// Rollout restarts (`clusterrole-rollout.yaml`).
const ROLLOUT: &[Rule] = &[(
    "apps",
    &["deployments", "statefulsets", "daemonsets"],
    &["get", "patch"],
)];
/// Leader election, in the operator's namespace (`role-leader-election.yaml`).
const LEASES: &[Rule] = &[(
    "coordination.k8s.io",
    &["leases"],
    &["get", "create", "patch"],
)];

/// Which group of rights each file of `files/` holds.
const FILES: [(&str, &[Rule]); 7] = [
    ("clusterrole.yaml", WATCHED),
    ("clusterrole-cluster-scoped.yaml", CLUSTER_SCOPED),
    ("clusterrole-credentials.yaml", CREDENTIALS),
    (
        "clusterrole-cluster-issuer-events.yaml",
        CLUSTER_ISSUER_EVENTS,
    ),
    ("clusterrole-token-requests.yaml", REVIEWS),
    ("clusterrole-rollout.yaml", ROLLOUT),
    ("role-leader-election.yaml", LEASES),
];

/// `rules` granted in `namespace` (`None`: cluster-wide).
fn granted(rules: &[Rule], namespace: Option<&str>) -> BTreeSet<Grant> {
    rules
        .iter()
        .flat_map(|(group, resources, verbs)| {
            resources.iter().flat_map(move |resource| {
                verbs.iter().map(move |verb| Grant {
                    verb: verb.to_string(),
                    group: group.to_string(),
                    resource: resource.to_string(),
                    namespace: namespace.map(str::to_owned),
                })
            })
        })
        .collect()
}

/// The union of `groups`, each granted in its namespace (`None`: cluster-wide).
fn expected(groups: &[(&[Rule], Option<&str>)]) -> BTreeSet<Grant> {
    groups
        .iter()
        .flat_map(|(rules, namespace)| granted(rules, *namespace))
        .collect()
}

/// An install mode: its name, the chart's values, and what it must bind to the operator.
struct Mode {
    name: &'static str,
    values: serde_json::Value,
    binds: BTreeSet<Grant>,
}

/// Every Helm configuration that changes the operator's rights, with the release
/// `videosdk-token-operator` in `videosdk-system`.
fn helm_modes() -> Vec<Mode> {
    let all = (WATCHED, None);
    let cluster = (CLUSTER_SCOPED, None);
    let leases = (LEASES, Some(NAMESPACE));
    let token_requests = json!({"enabled": true, "tls": {"secretName": "tls"}});
    vec![
        Mode {
            name: "default: all namespaces, no token requests, no rollout restarts",
            values: json!({}),
            binds: expected(&[all, cluster, leases]),
        },
        Mode {
            name: "token requests and rollout restarts on, all namespaces",
            values: json!({"tokenRequests": token_requests, "rolloutRestarts": {"enabled": true}}),
            binds: expected(&[all, cluster, leases, (REVIEWS, None), (ROLLOUT, None)]),
        },
        Mode {
            name: "rollout restarts in two namespaces",
            values: json!({"rolloutRestarts": {"enabled": true, "namespaces": ["team-a", "team-b"]}}),
            binds: expected(&[
                all,
                cluster,
                leases,
                (ROLLOUT, Some("team-a")),
                (ROLLOUT, Some("team-b")),
            ]),
        },
        Mode {
            name: "scoped to namespace apps, rollout restarts on",
            values: json!({"watchNamespace": "apps", "rolloutRestarts": {"enabled": true}}),
            binds: expected(&[
                (WATCHED, Some("apps")),
                cluster,
                leases,
                (CREDENTIALS, Some(NAMESPACE)),
                (CLUSTER_ISSUER_EVENTS, Some("default")),
                (ROLLOUT, Some("apps")),
            ]),
        },
        Mode {
            name: "scoped to the release namespace, cluster resource namespace elsewhere, token requests on",
            values: json!({"watchNamespace": NAMESPACE, "clusterResourceNamespace": "shared",
                           "tokenRequests": token_requests}),
            binds: expected(&[
                (WATCHED, Some(NAMESPACE)),
                cluster,
                leases,
                (CREDENTIALS, Some("shared")),
                (CLUSTER_ISSUER_EVENTS, Some("default")),
                (REVIEWS, None),
            ]),
        },
        Mode {
            name: "scoped to namespace apps, cluster resource namespace shared, token requests on",
            values: json!({"watchNamespace": "apps", "clusterResourceNamespace": "shared",
                           "tokenRequests": token_requests}),
            binds: expected(&[
                (WATCHED, Some("apps")),
                cluster,
                leases,
                (CREDENTIALS, Some("shared")),
                (CLUSTER_ISSUER_EVENTS, Some("default")),
                (REVIEWS, None),
                // The TLS Secret, in the release namespace.
                (CREDENTIALS, Some(NAMESPACE)),
            ]),
        },
        Mode {
            name: "scoped to the cluster resource namespace, which is default",
            values: json!({"watchNamespace": "default", "clusterResourceNamespace": "default"}),
            binds: expected(&[(WATCHED, Some("default")), cluster, leases]),
        },
    ]
}

/// The namespace the component `components/watch-namespace` scopes the base to.
const KUSTOMIZE_WATCHED: &str = "my-app";

/// What the kustomize base binds with `components`: what the chart's default binds; with
/// `rollout-restarts`, the rollout restarts cluster-wide too; with `token-requests`, the reviews; with `watch-namespace`, what the
/// chart binds with `watchNamespace` (the cluster resource namespace being the base's), and the
/// rollout restarts in the watched namespace only, as the chart's `rolloutRestarts.enabled` with
/// `watchNamespace`.
fn kustomize_binds(components: &[&str]) -> BTreeSet<Grant> {
    let mut groups = vec![(CLUSTER_SCOPED, None), (LEASES, Some(NAMESPACE))];
    if components.contains(&"watch-namespace") {
        groups.extend([
            (WATCHED, Some(KUSTOMIZE_WATCHED)),
            (CREDENTIALS, Some(NAMESPACE)),
            (CLUSTER_ISSUER_EVENTS, Some("default")),
        ]);
    } else {
        groups.push((WATCHED, None));
    }
    if components.contains(&"rollout-restarts") {
        let scope = components
            .contains(&"watch-namespace")
            .then_some(KUSTOMIZE_WATCHED);
        groups.push((ROLLOUT, scope));
    }
    if components.contains(&"token-requests") {
        // Cluster-scoped reviews; the TLS Secret is in the cluster resource namespace, where the
        // watched rights (or watch-namespace's credentials binding) already read Secrets.
        groups.push((REVIEWS, None));
    }
    expected(&groups)
}

/// `kubectl kustomize` of an overlay of the base with `components` (of `deploy/components/`),
/// or None where kubectl is not installed outside CI.
fn kustomize_overlay(components: &[&str]) -> Option<Vec<serde_json::Value>> {
    kustomize(&overlay(components), "kubectl", ci())
}

/// A directory with an overlay of the base with `components`, in this order. Written whole and
/// renamed into place, since tests running at once may ask for the same overlay.
pub(crate) fn overlay(components: &[&str]) -> std::path::PathBuf {
    let dir = root().join(format!("target/kustomize-overlay-{}", components.join("-")));
    std::fs::create_dir_all(&dir).unwrap();
    let listed: Vec<String> = components
        .iter()
        .map(|c| format!("../../deploy/components/{c}"))
        .collect();
    let partial = dir.join(format!(
        "kustomization.yaml.{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(
        &partial,
        format!(
            "resources: [../../deploy]\ncomponents: [{}]\n",
            listed.join(", ")
        ),
    )
    .unwrap();
    std::fs::rename(&partial, dir.join("kustomization.yaml")).unwrap();
    dir
}

/// Components apply in order, so `watch-namespace` can scope only a binding that
/// `rollout-restarts` added before it: the other order must not build (rather than leave the
/// restart rights cluster-wide), and say which order works.
#[test]
fn rollout_restarts_after_watch_namespace_do_not_build() {
    let dir = overlay(&["watch-namespace", "rollout-restarts"]);
    let out = match std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(&dir)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            assert!(!ci(), "CI must run kubectl kustomize: {e}");
            eprintln!("SKIPPED: kubectl is not runnable: {e}");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "built: the rollout binding stays cluster-wide"
    );
    assert!(
        stderr.contains("list-components/rollout-restarts-before-components/watch-namespace"),
        "{stderr}"
    );
}

/// Each side of a difference between two sets of grants, for a message.
fn difference(got: &BTreeSet<Grant>, want: &BTreeSet<Grant>) -> String {
    let extra: Vec<&Grant> = got.difference(want).collect();
    let missing: Vec<&Grant> = want.difference(got).collect();
    format!("bound but not expected: {extra:#?}\nexpected but not bound: {missing:#?}")
}

#[test]
fn rbac_rules_are_kept_in_one_place_one_file_per_group_of_rights() {
    // The files are complete RBAC objects, each rule preceded by the comment that says why, and
    // each holds one group of rights.
    let roles = rbac_files::operator_roles();
    assert_eq!(
        roles.iter().map(|r| r.file).collect::<Vec<_>>(),
        FILES.map(|(file, _)| file),
        "one entry of FILES per file of {CHART}/files/"
    );
    for (role, (_, rules)) in roles.iter().zip(FILES) {
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
        assert_eq!(
            role.grants(""),
            granted(rules, (role.kind() == "Role").then_some("")),
            "{}",
            role.path
        );
    }

    // The chart renders only the rules of the same files: rules are never written in a template.
    let rbac_template = read(format!("{CHART}/templates/rbac.yaml"));
    for file in rbac_files::OPERATOR_FILES {
        assert!(
            rbac_template.contains(&format!("\"files/{file}\"")),
            "{CHART}/templates/rbac.yaml must take the rules of {file}"
        );
    }
    for template in chart_templates() {
        let text = read(&template);
        assert!(
            !text.contains("apiGroups"),
            "{}: RBAC rules belong in {CHART}/files/, not in a template",
            template.display()
        );
    }

    // The kustomize base applies its files as they are, and no other role grants anything.
    let base = assembled_base();
    let mut rendered = vec![base.clone()];
    rendered.extend(kubectl_kustomize());
    for docs in &rendered {
        let mut listed = 0;
        for role in &roles {
            if let Some(found) = docs
                .iter()
                .find(|d| kind(d) == role.kind() && name(d) == role.name())
            {
                assert_eq!(found["rules"], role.object["rules"], "{}", role.path);
                listed += 1;
            }
        }
        let count = docs
            .iter()
            .filter(|d| kind(d) == "ClusterRole" || kind(d) == "Role")
            .count();
        assert_eq!(
            count,
            listed + rbac_files::AGGREGATE_FILES.len(),
            "RBAC roles outside {CHART}/files/"
        );
    }
}

#[test]
fn each_install_mode_binds_exactly_the_rights_it_uses() {
    // The kustomize base: all namespaces, no token requests, no rollout restarts; with its
    // components.
    let mut rendered = vec![(
        "the kustomize base's files".to_owned(),
        assembled_base(),
        vec![],
    )];
    if let Some(docs) = kubectl_kustomize() {
        rendered.push(("kubectl kustomize deploy/".to_owned(), docs, vec![]));
    }
    for components in [
        vec!["rollout-restarts"],
        vec!["watch-namespace"],
        vec!["rollout-restarts", "watch-namespace"],
        vec!["token-requests"],
        vec!["watch-namespace", "token-requests"],
        vec!["token-requests", "rollout-restarts", "watch-namespace"],
    ] {
        if let Some(docs) = kustomize_overlay(&components) {
            rendered.push((format!("the base with {components:?}"), docs, components));
        }
    }
    for (what, docs, components) in &rendered {
        let got = rbac_files::bound_grants(docs, NAMESPACE, NAME);
        let want = kustomize_binds(components);
        assert!(got == want, "{what}: {}", difference(&got, &want));
        // The operator watches the namespace its rights are for.
        let args =
            &find(docs, "Deployment", NAME)["spec"]["template"]["spec"]["containers"][0]["args"];
        let scoped = components.contains(&"watch-namespace");
        assert_eq!(
            args.as_array()
                .unwrap()
                .windows(2)
                .any(|w| w[0] == "--namespace" && w[1] == KUSTOMIZE_WATCHED),
            scoped,
            "{what}: {args}"
        );
        check_token_requests(docs, components.contains(&"token-requests"), what);
    }
    // The chart, rendered by Helm's engine in each mode.
    for mode in helm_modes() {
        let Some(docs) = rbac_files::helm_template(NAME, NAMESPACE, &mode.values) else {
            return;
        };
        let got = rbac_files::bound_grants(&docs, NAMESPACE, NAME);
        assert!(
            got == mode.binds,
            "Helm, {} ({}): {}",
            mode.name,
            mode.values,
            difference(&got, &mode.binds)
        );
        // The Deployment runs with the flags that mode's rights are for.
        let deployment = find(&docs, "Deployment", NAME);
        let args: Vec<&str> = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        let flag = |name: &str| args.iter().position(|a| *a == name).map(|i| args[i + 1]);
        assert_eq!(
            flag("--namespace"),
            mode.values["watchNamespace"].as_str(),
            "{}",
            mode.name
        );
        assert_eq!(
            flag("--token-requests-address").is_some(),
            mode.values["tokenRequests"]["enabled"] == true,
            "{}",
            mode.name
        );
        // The TLS Secret is in the release namespace (values.yaml, the Certificate): the flag
        // names it there, since a bare NAME is read from the cluster resource namespace.
        if let Some(secret) = flag("--token-requests-tls-secret") {
            assert_eq!(secret, format!("{NAMESPACE}/tls"), "{}", mode.name);
        }
    }
}

/// The kustomize base serves token requests exactly when `on` (its component
/// components/token-requests), as the chart's `tokenRequests.enabled` does: the flags with a TLS
/// Secret, the container port, and the Service in front of it.
fn check_token_requests(docs: &[serde_json::Value], on: bool, what: &str) {
    let deployment = find(docs, "Deployment", NAME);
    let c = &deployment["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    let flag = |name: &str| args.iter().position(|a| *a == name).map(|i| args[i + 1]);
    let service = docs
        .iter()
        .find(|d| kind(d) == "Service" && name(d) == "videosdk-token-operator-token-requests");
    if !on {
        assert_eq!(flag("--token-requests-address"), None, "{what}");
        assert!(service.is_none(), "{what}");
        return;
    }
    assert_eq!(
        flag("--token-requests-address"),
        Some("0.0.0.0:8443"),
        "{what}"
    );
    assert_eq!(
        flag("--token-requests-tls-secret"),
        Some("videosdk-token-operator-token-requests-tls"),
        "{what}: HTTPS, with a Secret in the cluster resource namespace (the operator's)"
    );
    assert!(
        c["ports"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "token-requests", "containerPort": 8443, "protocol": "TCP"})),
        "{what}: {}",
        c["ports"]
    );
    let service = service.unwrap_or_else(|| panic!("{what}: no token requests Service"));
    assert_eq!(service["metadata"]["namespace"], NAMESPACE, "{what}");
    assert_eq!(
        service["spec"]["ports"],
        json!([{"name": "https", "port": 8443, "targetPort": "token-requests", "protocol": "TCP"}]),
        "{what}"
    );
    let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    for (k, v) in service["spec"]["selector"].as_object().unwrap() {
        assert_eq!(
            &pod_labels[k], v,
            "{what}: the Service selects the operator's pods"
        );
    }
}

/// The built-in ClusterRoles of kube-apiserver's bootstrap policy that aggregate others, with the
/// aggregation labels they carry themselves: `view` is aggregated into `edit`, `edit` into
/// `admin` (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go`).
const BUILT_IN: [(&str, &[&str]); 3] = [("view", &["edit"]), ("edit", &["admin"]), ("admin", &[])];

/// A row of the book's table of aggregated roles: (ClusterRole, aggregated into, grants as
/// (resource, verb)).
type AggregateRow = (String, BTreeSet<String>, BTreeSet<(String, String)>);

/// The rows of the book's table of aggregated roles.
fn readme_aggregate_table() -> Vec<AggregateRow> {
    let table = page_between(
        "install/rbac.md",
        "<!-- aggregated roles -->",
        "<!-- end of aggregated roles -->",
    )
    .expect("docs/src/install/rbac.md has the table of aggregated roles between its markers");
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
            assert_eq!(cells.len(), 4, "docs/src/install/rbac.md row {l}");
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
        "one row per role in docs/src/install/rbac.md"
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
            .unwrap_or_else(|| {
                panic!(
                    "docs/src/install/rbac.md's table has no row for {}",
                    name(doc)
                )
            });
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
