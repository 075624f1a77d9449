//! The RBAC kinds kubectl's `create role`, `create clusterrole`, `create rolebinding` and
//! `create clusterrolebinding` send (rbac.authorization.k8s.io/v1), copied whole.

use super::{label_selector, list, object_meta, text};
use k8s_openapi::api::rbac::v1 as rbac;
use k8s_pb::api::rbac::v1 as pb;

pub(super) fn role(r: pb::Role) -> rbac::Role {
    let pb::Role { metadata, rules } = r;
    rbac::Role {
        metadata: object_meta(metadata.unwrap_or_default()),
        rules: list(rules.into_iter().map(policy_rule).collect()),
    }
}

pub(super) fn cluster_role(r: pb::ClusterRole) -> rbac::ClusterRole {
    let pb::ClusterRole {
        metadata,
        rules,
        aggregation_rule,
    } = r;
    rbac::ClusterRole {
        metadata: object_meta(metadata.unwrap_or_default()),
        rules: list(rules.into_iter().map(policy_rule).collect()),
        aggregation_rule: aggregation_rule.map(|a| {
            let pb::AggregationRule {
                cluster_role_selectors,
            } = a;
            rbac::AggregationRule {
                cluster_role_selectors: list(
                    cluster_role_selectors
                        .into_iter()
                        .map(label_selector)
                        .collect(),
                ),
            }
        }),
    }
}

pub(super) fn role_binding(b: pb::RoleBinding) -> rbac::RoleBinding {
    let pb::RoleBinding {
        metadata,
        subjects,
        role_ref,
    } = b;
    rbac::RoleBinding {
        metadata: object_meta(metadata.unwrap_or_default()),
        subjects: list(subjects.into_iter().map(subject).collect()),
        role_ref: role_ref_of(role_ref.unwrap_or_default()),
    }
}

pub(super) fn cluster_role_binding(b: pb::ClusterRoleBinding) -> rbac::ClusterRoleBinding {
    let pb::ClusterRoleBinding {
        metadata,
        subjects,
        role_ref,
    } = b;
    rbac::ClusterRoleBinding {
        metadata: object_meta(metadata.unwrap_or_default()),
        subjects: list(subjects.into_iter().map(subject).collect()),
        role_ref: role_ref_of(role_ref.unwrap_or_default()),
    }
}

fn policy_rule(r: pb::PolicyRule) -> rbac::PolicyRule {
    let pb::PolicyRule {
        verbs,
        api_groups,
        resources,
        resource_names,
        non_resource_ur_ls,
    } = r;
    // apiGroups may hold "" (the core group): the list is kept as sent, only an empty one
    // left out.
    rbac::PolicyRule {
        verbs,
        api_groups: list(api_groups),
        resources: list(resources),
        resource_names: list(resource_names),
        non_resource_urls: list(non_resource_ur_ls),
    }
}

fn subject(s: pb::Subject) -> rbac::Subject {
    let pb::Subject {
        kind,
        api_group,
        name,
        namespace,
    } = s;
    rbac::Subject {
        kind: kind.unwrap_or_default(),
        api_group: text(api_group),
        name: name.unwrap_or_default(),
        namespace: text(namespace),
    }
}

fn role_ref_of(r: pb::RoleRef) -> rbac::RoleRef {
    let pb::RoleRef {
        api_group,
        kind,
        name,
    } = r;
    rbac::RoleRef {
        api_group: api_group.unwrap_or_default(),
        kind: kind.unwrap_or_default(),
        name: name.unwrap_or_default(),
    }
}
