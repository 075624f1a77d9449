//! Deployment (apps/v1), what `kubectl create deployment` sends.
//!
//! The PodSpec and Container messages are large, and kubectl's generator fills few of their
//! fields, so the copy is partial by choice: the Deployment's own fields, the pod template's
//! metadata, the PodSpec's scalar, string, map and reference fields and its containers and init
//! containers (name, image, command, args, workingDir, ports, env values, resources,
//! imagePullPolicy, restartPolicy, termination message, stdin/tty). A field that is not copied
//! (volumes, probes, security contexts, affinity, tolerations, `env[].valueFrom`, `envFrom`,
//! volume mounts, lifecycle, …, and fields newer than the Kubernetes version of
//! `k8s-openapi`'s types) must be unset or empty: otherwise the request is refused with a 415
//! naming the field (`spec.template.spec.containers[0].livenessProbe`), never stored without it.
//! Such a Deployment can be sent as JSON (`kubectl apply -f`), which is read whole.
//!
//! Go writes non-pointer fields even when they hold their zero value; where its JSON leaves them
//! out (`omitempty` on a `bool`, `int32` or `string`), so does the copy: `flag`, `count`, `text`.

use super::{
    label_selector, list, local_object_reference, map, none, not_read, object_meta, text, time,
    unset,
};
use crate::error::ApiError;
use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_pb::api::apps::v1 as pb;
use k8s_pb::api::core::v1 as pb_core;
use std::collections::BTreeMap;

/// A Go `bool` with `omitempty`: `false` is left out.
fn flag(b: Option<bool>) -> Option<bool> {
    b.filter(|b| *b)
}

/// A Go `int32` or `int64` with `omitempty`: `0` is left out.
fn count<T: Default + PartialEq>(n: Option<T>) -> Option<T> {
    n.filter(|n| *n != T::default())
}

pub(super) fn deployment(d: pb::Deployment) -> Result<apps::Deployment, ApiError> {
    let pb::Deployment {
        metadata,
        spec,
        status,
    } = d;
    Ok(apps::Deployment {
        metadata: object_meta(metadata.unwrap_or_default()),
        spec: spec.map(deployment_spec).transpose()?,
        status: status.map(deployment_status),
    })
}

fn deployment_spec(s: pb::DeploymentSpec) -> Result<apps::DeploymentSpec, ApiError> {
    let pb::DeploymentSpec {
        replicas,
        selector,
        template,
        strategy,
        min_ready_seconds,
        revision_history_limit,
        paused,
        progress_deadline_seconds,
    } = s;
    Ok(apps::DeploymentSpec {
        replicas,
        selector: label_selector(selector.unwrap_or_default()),
        template: pod_template(template.unwrap_or_default(), "spec.template")?,
        strategy: strategy.map(|s| {
            let pb::DeploymentStrategy {
                r#type,
                rolling_update,
            } = s;
            apps::DeploymentStrategy {
                type_: text(r#type),
                rolling_update: rolling_update.map(|r| {
                    let pb::RollingUpdateDeployment {
                        max_unavailable,
                        max_surge,
                    } = r;
                    apps::RollingUpdateDeployment {
                        max_unavailable: max_unavailable.map(int_or_string),
                        max_surge: max_surge.map(int_or_string),
                    }
                }),
            }
        }),
        min_ready_seconds: count(min_ready_seconds),
        revision_history_limit,
        paused: flag(paused),
        progress_deadline_seconds,
    })
}

fn deployment_status(s: pb::DeploymentStatus) -> apps::DeploymentStatus {
    let pb::DeploymentStatus {
        observed_generation,
        replicas,
        updated_replicas,
        ready_replicas,
        available_replicas,
        unavailable_replicas,
        terminating_replicas,
        conditions,
        collision_count,
    } = s;
    apps::DeploymentStatus {
        observed_generation: count(observed_generation),
        replicas: count(replicas),
        updated_replicas: count(updated_replicas),
        ready_replicas: count(ready_replicas),
        available_replicas: count(available_replicas),
        unavailable_replicas: count(unavailable_replicas),
        terminating_replicas,
        conditions: list(
            conditions
                .into_iter()
                .map(|c| {
                    let pb::DeploymentCondition {
                        r#type,
                        status,
                        last_update_time,
                        last_transition_time,
                        reason,
                        message,
                    } = c;
                    apps::DeploymentCondition {
                        type_: r#type.unwrap_or_default(),
                        status: status.unwrap_or_default(),
                        last_update_time: last_update_time.and_then(time),
                        last_transition_time: last_transition_time.and_then(time),
                        reason: text(reason),
                        message: text(message),
                    }
                })
                .collect(),
        ),
        collision_count,
    }
}

fn int_or_string(v: k8s_pb::apimachinery::pkg::util::intstr::IntOrString) -> IntOrString {
    let k8s_pb::apimachinery::pkg::util::intstr::IntOrString {
        r#type,
        int_val,
        str_val,
    } = v;
    // intstr.Type: 0 an int, 1 a string.
    match r#type {
        Some(1) => IntOrString::String(str_val.unwrap_or_default()),
        _ => IntOrString::Int(int_val.unwrap_or_default()),
    }
}

fn quantities(
    m: BTreeMap<String, k8s_pb::apimachinery::pkg::api::resource::Quantity>,
) -> Option<BTreeMap<String, Quantity>> {
    map(m
        .into_iter()
        .map(|(k, q)| {
            let k8s_pb::apimachinery::pkg::api::resource::Quantity { string } = q;
            (k, Quantity(string.unwrap_or_default()))
        })
        .collect())
}

fn pod_template(
    t: pb_core::PodTemplateSpec,
    path: &str,
) -> Result<core::PodTemplateSpec, ApiError> {
    let pb_core::PodTemplateSpec { metadata, spec } = t;
    Ok(core::PodTemplateSpec {
        metadata: metadata.map(object_meta),
        spec: spec
            .map(|s| pod_spec(s, &format!("{path}.spec")))
            .transpose()?,
    })
}

fn pod_spec(s: pb_core::PodSpec, path: &str) -> Result<core::PodSpec, ApiError> {
    let pb_core::PodSpec {
        volumes,
        init_containers,
        containers,
        ephemeral_containers,
        restart_policy,
        termination_grace_period_seconds,
        active_deadline_seconds,
        dns_policy,
        node_selector,
        service_account_name,
        service_account,
        automount_service_account_token,
        node_name,
        host_network,
        host_pid,
        host_ipc,
        share_process_namespace,
        security_context,
        image_pull_secrets,
        hostname,
        subdomain,
        affinity,
        scheduler_name,
        tolerations,
        host_aliases,
        priority_class_name,
        priority,
        dns_config,
        readiness_gates,
        runtime_class_name,
        enable_service_links,
        preemption_policy,
        overhead,
        topology_spread_constraints,
        set_hostname_as_fqdn,
        os,
        host_users,
        scheduling_gates,
        resource_claims,
        resources,
        hostname_override,
        workload_ref,
    } = s;
    let at = |field: &str| format!("{path}.{field}");
    none(&volumes, &at("volumes"))?;
    none(&ephemeral_containers, &at("ephemeralContainers"))?;
    unset(&security_context, &at("securityContext"))?;
    unset(&affinity, &at("affinity"))?;
    none(&tolerations, &at("tolerations"))?;
    none(&host_aliases, &at("hostAliases"))?;
    unset(&dns_config, &at("dnsConfig"))?;
    none(&readiness_gates, &at("readinessGates"))?;
    none(
        &topology_spread_constraints,
        &at("topologySpreadConstraints"),
    )?;
    unset(&os, &at("os"))?;
    none(&scheduling_gates, &at("schedulingGates"))?;
    none(&resource_claims, &at("resourceClaims"))?;
    // Newer than the Kubernetes version of k8s-openapi's types (1.33).
    if text(hostname_override).is_some() {
        return Err(not_read(&at("hostnameOverride")));
    }
    unset(&workload_ref, &at("workloadRef"))?;
    let containers_at = |list: Vec<pb_core::Container>, field: &str| {
        list.into_iter()
            .enumerate()
            .map(|(i, c)| container(c, &format!("{path}.{field}[{i}]")))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(core::PodSpec {
        volumes: None,
        init_containers: list(containers_at(init_containers, "initContainers")?),
        containers: containers_at(containers, "containers")?,
        ephemeral_containers: None,
        restart_policy: text(restart_policy),
        termination_grace_period_seconds,
        active_deadline_seconds,
        dns_policy: text(dns_policy),
        node_selector: map(node_selector),
        service_account_name: text(service_account_name),
        service_account: text(service_account),
        automount_service_account_token,
        node_name: text(node_name),
        host_network: flag(host_network),
        host_pid: flag(host_pid),
        host_ipc: flag(host_ipc),
        share_process_namespace,
        security_context: None,
        image_pull_secrets: list(
            image_pull_secrets
                .into_iter()
                .map(local_object_reference)
                .collect(),
        ),
        hostname: text(hostname),
        subdomain: text(subdomain),
        affinity: None,
        scheduler_name: text(scheduler_name),
        tolerations: None,
        host_aliases: None,
        priority_class_name: text(priority_class_name),
        priority,
        dns_config: None,
        readiness_gates: None,
        runtime_class_name: text(runtime_class_name),
        enable_service_links,
        preemption_policy: text(preemption_policy),
        overhead: quantities(overhead),
        topology_spread_constraints: None,
        set_hostname_as_fqdn,
        os: None,
        host_users,
        scheduling_gates: None,
        resource_claims: None,
        resources: resources.map(resource_requirements),
    })
}

fn resource_requirements(r: pb_core::ResourceRequirements) -> core::ResourceRequirements {
    let pb_core::ResourceRequirements {
        limits,
        requests,
        claims,
    } = r;
    core::ResourceRequirements {
        limits: quantities(limits),
        requests: quantities(requests),
        claims: list(
            claims
                .into_iter()
                .map(|c| {
                    let pb_core::ResourceClaim { name, request } = c;
                    core::ResourceClaim {
                        name: name.unwrap_or_default(),
                        request: text(request),
                    }
                })
                .collect(),
        ),
    }
}

fn container(c: pb_core::Container, path: &str) -> Result<core::Container, ApiError> {
    let pb_core::Container {
        name,
        image,
        command,
        args,
        working_dir,
        ports,
        env_from,
        env,
        resources,
        resize_policy,
        restart_policy,
        restart_policy_rules,
        volume_mounts,
        volume_devices,
        liveness_probe,
        readiness_probe,
        startup_probe,
        lifecycle,
        termination_message_path,
        termination_message_policy,
        image_pull_policy,
        security_context,
        stdin,
        stdin_once,
        tty,
    } = c;
    let at = |field: &str| format!("{path}.{field}");
    none(&env_from, &at("envFrom"))?;
    none(&resize_policy, &at("resizePolicy"))?;
    none(&restart_policy_rules, &at("restartPolicyRules"))?;
    none(&volume_mounts, &at("volumeMounts"))?;
    none(&volume_devices, &at("volumeDevices"))?;
    unset(&liveness_probe, &at("livenessProbe"))?;
    unset(&readiness_probe, &at("readinessProbe"))?;
    unset(&startup_probe, &at("startupProbe"))?;
    unset(&lifecycle, &at("lifecycle"))?;
    unset(&security_context, &at("securityContext"))?;
    let env = env
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let pb_core::EnvVar {
                name,
                value,
                value_from,
            } = e;
            unset(&value_from, &at(&format!("env[{i}].valueFrom")))?;
            Ok(core::EnvVar {
                name: name.unwrap_or_default(),
                value: text(value),
                value_from: None,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(core::Container {
        name: name.unwrap_or_default(),
        image: text(image),
        command: list(command),
        args: list(args),
        working_dir: text(working_dir),
        ports: list(
            ports
                .into_iter()
                .map(|p| {
                    let pb_core::ContainerPort {
                        name,
                        host_port,
                        container_port,
                        protocol,
                        host_ip,
                    } = p;
                    core::ContainerPort {
                        name: text(name),
                        host_port: count(host_port),
                        container_port: container_port.unwrap_or_default(),
                        protocol: text(protocol),
                        host_ip: text(host_ip),
                    }
                })
                .collect(),
        ),
        env_from: None,
        env: list(env),
        resources: resources.map(resource_requirements),
        resize_policy: None,
        restart_policy: text(restart_policy),
        volume_mounts: None,
        volume_devices: None,
        liveness_probe: None,
        readiness_probe: None,
        startup_probe: None,
        lifecycle: None,
        termination_message_path: text(termination_message_path),
        termination_message_policy: text(termination_message_policy),
        image_pull_policy: text(image_pull_policy),
        security_context: None,
        stdin: flag(stdin),
        stdin_once: flag(stdin_once),
        tty: flag(tty),
    })
}
