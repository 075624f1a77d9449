//! Least privilege, proven: the operator runs every flow against the in-memory API server as an
//! impersonated ServiceAccount; every (verb, group, resource, namespace) it used must be granted
//! by the RBAC in `deploy/helm/videosdk-token-operator/files/` (which both the kustomize base and
//! the Helm chart install), and every rule granted must have been used. Needs the server's
//! access accounting, so it runs in memory only.

#[path = "../support/rbac.rs"]
mod files;

use super::token_requests;
use super::*;
use files::Grant;
use k8s_openapi::api::core::v1::Namespace;
use kube_apiserver_memory::{Access, Verb};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use videosdk_token_operator::operator::{self, Health, LeaderElection};

const SECRET: &str = "e2e-secret-rbac-0123456789abcdef";
const OPERATOR: &str = "system:serviceaccount:videosdk-system:videosdk-token-operator";

fn granted(grants: &BTreeSet<Grant>, access: &Access) -> Option<Grant> {
    grants
        .iter()
        .find(|g| {
            g.verb == access.verb.as_str()
                && g.group == access.group
                && g.resource == access.resource
                && (g.namespace.is_none() || g.namespace == access.namespace)
        })
        .cloned()
}

/// The operator's client: the test server's, impersonating the operator's ServiceAccount.
async fn operator_client(env: &Env) -> kube::Client {
    let server = env.t.server().expect("in memory");
    let kubeconfig: kube::config::Kubeconfig =
        serde_yaml::from_str(&server.kubeconfig()).expect("kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    config.auth_info.impersonate = Some(OPERATOR.to_owned());
    kube::Client::try_from(config).expect("client")
}

#[tokio::test]
async fn rbac_grants_exactly_what_the_operator_uses() {
    if skipped_on_a_real_cluster("needs the in-memory API server's access accounting") {
        return;
    }
    let Some(mut env) = Env::start("rbac").await else {
        return;
    };
    env.stop_operator().await;
    let ns = env.namespace().to_owned();
    let client = operator_client(&env).await;
    videosdk_token_operator::cli::run::check_crds(&client, None)
        .await
        .expect("CRDs installed");

    let (metrics, health) = (Arc::new(Metrics::default()), Arc::new(Health::default()));
    let election = LeaderElection {
        namespace: ns.clone(),
        identity: "rbac".into(),
        lease_duration_seconds: 3,
        renew_grace_seconds: 1,
    };
    // All namespaces, as the default install watches them.
    let settings = Settings {
        rollout_debounce: Duration::from_millis(200),
        ..Settings::new(ns.clone())
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(operator::run(
        client.clone(),
        settings,
        Some(election),
        metrics.clone(),
        health.clone(),
        async {
            let _ = stopped.await;
        },
    ));

    // Every flow: a namespaced issuer, a cluster issuer with a namespaceSelector, issuance,
    // renew-now with a rollout restart, a repeated Event (patched as a series).
    env.credentials("creds", SECRET).await;
    env.issuer("videosdk", "creds", json!({})).await;
    let labels = json!({"metadata": {"labels": {"videosdk": "allowed"}}});
    Api::<Namespace>::all(env.t.client.clone())
        .patch(&ns, &PatchParams::default(), &Patch::Merge(&labels))
        .await
        .unwrap();
    let cluster_issuer = format!("rbac-{ns}");
    let selector = json!({"namespaceSelector": {"matchLabels": {"videosdk": "allowed"}}});
    env.apply(objects::cluster_issuer(
        &cluster_issuer,
        objects::merged(objects::issuer_spec("creds"), selector),
    ))
    .await;
    for kind in ["Deployment", "StatefulSet", "DaemonSet"] {
        env.apply(json!({"apiVersion": "apps/v1", "kind": kind,
                         "metadata": {"name": "web", "annotations": {"videosdk.live/restart-on-renewal": "t"}},
                         "spec": {"selector": {"matchLabels": {"app": "web"}}, "serviceName": "web",
                                  "template": {"metadata": {"labels": {"app": "web"}},
                                               "spec": {"containers": [{"name": "app", "image": "example/app:1"}]}}}}))
            .await;
    }
    env.token("t", json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"],
                          "rolloutRestartTargets": [{"kind": "Deployment", "name": "web"}, {"kind": "StatefulSet", "name": "web"},
                                                    {"kind": "DaemonSet", "name": "web"}]}))
        .await;
    env.token("c", json!({"issuerRef": {"name": cluster_issuer, "kind": "ClusterVideoSdkIssuer"}, "permissions": ["allow_join"]})).await;
    let first = env.wait_ready("t").await.status.unwrap().token_id.unwrap();
    env.wait_ready("c").await;
    env.annotate_token("t", "videosdk.live/renew-now", "1")
        .await;
    env.wait_token("t", "re-signed", move |t| {
        t.status
            .as_ref()
            .and_then(|s| s.token_id.as_ref())
            .is_some_and(|id| *id != first)
    })
    .await;
    env.wait_event("t", "RolloutRestarted").await;
    // The same failure twice (missing issuer, found, missing again): the second Event is a
    // series patch of the first.
    env.token(
        "u",
        json!({"issuerRef": {"name": "flip"}, "permissions": ["allow_join"]}),
    )
    .await;
    env.wait_not_ready("u", "IssuerNotFound").await;
    env.issuer("flip", "creds", json!({})).await;
    env.wait_ready("u").await;
    Api::<videosdk_token_operator::api::VideoSdkIssuer>::namespaced(env.t.client.clone(), &ns)
        .delete("flip", &DeleteParams::default())
        .await
        .unwrap();
    env.wait_not_ready("u", "IssuerNotFound").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while env
        .events("u", "IssuerNotFound")
        .await
        .iter()
        .all(|e| e.series.is_none())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the repeated Event became a series"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A token request, served with the operator's client as every replica serves it: a
    // TokenReview, a SubjectAccessReview, the issuer and credentials caches.
    token_requests::wait_issuer_ready(&env, "videosdk").await;
    token_requests::service_account(&env, "backend", &["videosdk"]).await;
    let bearer = token_requests::mint(&env, "backend", token_requests::AUDIENCE, 3600)
        .await
        .unwrap();
    let endpoint =
        token_requests::Endpoint::start_with(&env, client, None, 10, 10, Duration::from_secs(10))
            .await;
    let answer =
        token_requests::ask_when_listed(&endpoint, &bearer, &token_requests::request("videosdk"))
            .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(health.leading.load(Ordering::Relaxed));
    let _ = stop.send(());
    task.await.unwrap().expect("the operator stops cleanly");

    let server = env.t.server().expect("in memory");
    let used: BTreeSet<Access> = server
        .accesses()
        .into_iter()
        .filter(|a| a.user.as_deref() == Some(OPERATOR))
        .collect();
    // The leader-election Role is where the test's operator runs.
    let grants = files::operator_grants(&ns);
    let ungranted: Vec<&Access> = used
        .iter()
        .filter(|a| granted(&grants, a).is_none())
        .collect();
    assert!(
        ungranted.is_empty(),
        "the operator used accesses its RBAC does not grant: {ungranted:#?}"
    );
    let used_grants: BTreeSet<Grant> = used.iter().filter_map(|a| granted(&grants, a)).collect();
    let unused: Vec<&Grant> = grants.iter().filter(|g| !used_grants.contains(g)).collect();
    assert!(
        unused.is_empty(),
        "RBAC grants what the operator never used: {unused:#?}"
    );
    assert!(
        used.iter()
            .any(|a| a.verb == Verb::Create && a.resource == "secrets"),
        "an apply that creates counts as create"
    );
    let _ = Api::<videosdk_token_operator::api::ClusterVideoSdkIssuer>::all(env.t.client.clone())
        .delete(&cluster_issuer, &DeleteParams::default())
        .await;
    env.cleanup().await;
}
