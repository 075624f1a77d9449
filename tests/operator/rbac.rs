//! Least privilege, proven, in each install mode: the operator runs every flow against the
//! in-memory API server as an impersonated ServiceAccount, configured as the Helm chart
//! configures it in that mode; every (verb, group, resource, namespace) it used must be bound to
//! that ServiceAccount by the chart rendered for that mode (with Helm v4's engine, see
//! `e2e_support::rbac`), and every right bound must have been used. The kustomize base binds
//! what the chart's default binds (`tests/deploy/rbac.rs`). Needs the server's access
//! accounting, so it runs in memory only.

use super::token_requests;
use super::*;
use e2e_support::rbac::{self as files, Grant};
use k8s_openapi::api::core::v1::Namespace;
use kube_apiserver_memory::{Access, Verb};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use videosdk_token_operator::operator::{self, Health, LeaderElection};

const SECRET: &str = "e2e-secret-rbac-0123456789abcdef";
/// The chart's release name, and so its ServiceAccount's name.
const RELEASE: &str = "videosdk-token-operator";

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

/// The operator's client: the test server's, impersonating `user`.
async fn operator_client(env: &Env, user: &str) -> kube::Client {
    let server = env.t.server().expect("in memory");
    let kubeconfig: kube::config::Kubeconfig =
        serde_yaml::from_str(&server.kubeconfig()).expect("kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    config.auth_info.impersonate = Some(user.to_owned());
    kube::Client::try_from(config).expect("client")
}

/// An install mode, as the chart configures the operator.
struct Mode {
    /// The chart's values.
    values: Value,
    /// The release namespace: where the operator runs, its ServiceAccount and its Lease.
    release_namespace: String,
    /// `--namespace`, from `watchNamespace`.
    watch_namespace: Option<String>,
    /// `--cluster-resource-namespace`: `clusterResourceNamespace`, else the release namespace.
    cluster_resource_namespace: String,
    /// Whether token requests are served (`tokenRequests.enabled`).
    token_requests: bool,
}

/// Runs the operator as `mode` configures it through every flow the mode allows, and checks that
/// what it used is exactly what the chart binds in that mode.
async fn check(env: Env, mode: Mode) {
    // Certificates, TLS handshakes and a whole operator's flows: kept apart from the soak's
    // time budget, as the other token request tests are.
    let _cpu = CPU_HEAVY.lock().await;
    let ns = env.namespace().to_owned();
    let user = format!("system:serviceaccount:{}:{RELEASE}", mode.release_namespace);
    let Some(rendered) = files::helm_template(RELEASE, &mode.release_namespace, &mode.values)
    else {
        env.cleanup().await;
        return;
    };
    let grants = files::bound_grants(&rendered, &mode.release_namespace, RELEASE);
    let client = operator_client(&env, &user).await;
    videosdk_token_operator::cli::run::check_crds(&client, mode.watch_namespace.as_deref())
        .await
        .expect("CRDs installed");

    let (metrics, health) = (Arc::new(Metrics::default()), Arc::new(Health::default()));
    let election = LeaderElection {
        namespace: mode.release_namespace.clone(),
        identity: "rbac".into(),
        lease_duration_seconds: 3,
        renew_grace_seconds: 1,
    };
    let settings = Settings {
        namespace: mode.watch_namespace.clone(),
        rollout_debounce: Duration::from_millis(200),
        ..Settings::new(mode.cluster_resource_namespace.clone())
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

    // Every flow: a namespaced issuer; a cluster issuer with a namespaceSelector, whose
    // credentials (in the cluster resource namespace) appear only after it reported them
    // missing (an Event about a cluster issuer); issuance, renew-now with a rollout restart, a
    // repeated Event (patched as a series).
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
        objects::merged(objects::issuer_spec("cluster-creds"), selector),
    ))
    .await;
    let cluster_issuers =
        Api::<videosdk_token_operator::api::ClusterVideoSdkIssuer>::all(env.t.client.clone());
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cluster_issuers
        .get(&cluster_issuer)
        .await
        .unwrap()
        .status
        .is_some_and(|s| s.conditions.iter().any(|c| c.reason == "SecretNotFound"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cluster issuer reports its missing credentials"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    env.apply(objects::in_namespace(
        objects::credentials("cluster-creds", SECRET),
        &mode.cluster_resource_namespace,
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
    // The cluster issuer's credentials go missing again: its repeated Event (kept in `default`,
    // as Events about cluster-scoped objects are) is a series patch of the first.
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(
        env.t.client.clone(),
        &mode.cluster_resource_namespace,
    )
    .delete("cluster-creds", &DeleteParams::default())
    .await
    .unwrap();
    let events = Api::<Event>::namespaced(env.t.client.clone(), "default");
    let deadline = tokio::time::Instant::now() + WAIT;
    while !events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .any(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(cluster_issuer.as_str())
                && e.reason.as_deref() == Some("SecretNotFound")
                && e.series.is_some()
        })
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cluster issuer's repeated Event became a series"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if mode.token_requests {
        // A token request over HTTPS, served with the operator's client as every replica serves
        // it: the TLS Secret the chart's flag names (read as the CLI reads it), a TokenReview, a
        // SubjectAccessReview, the issuer and credentials caches.
        token_requests::wait_issuer_ready(&env, "videosdk").await;
        token_requests::service_account(&env, "backend", &["videosdk"]).await;
        let bearer = token_requests::mint(&env, "backend", token_requests::AUDIENCE, 3600)
            .await
            .unwrap();
        serve_https(&env, &mode, &rendered, client, &bearer).await;
    }
    assert!(health.leading.load(Ordering::Relaxed));
    let _ = stop.send(());
    task.await.unwrap().expect("the operator stops cleanly");

    let server = env.t.server().expect("in memory");
    let used: BTreeSet<Access> = server
        .accesses()
        .into_iter()
        .filter(|a| a.user.as_deref() == Some(user.as_str()))
        .collect();
    let ungranted: Vec<&Access> = used
        .iter()
        .filter(|a| granted(&grants, a).is_none())
        .collect();
    assert!(
        ungranted.is_empty(),
        "the operator used accesses the chart does not bind in this mode ({}): {ungranted:#?}",
        mode.values
    );
    let used_grants: BTreeSet<Grant> = used.iter().filter_map(|a| granted(&grants, a)).collect();
    let unused: Vec<&Grant> = grants.iter().filter(|g| !used_grants.contains(g)).collect();
    assert!(
        unused.is_empty(),
        "the chart binds what the operator never used in this mode ({}): {unused:#?}",
        mode.values
    );
    assert!(
        used.iter()
            .any(|a| a.verb == Verb::Create && a.resource == "secrets"),
        "an apply that creates counts as create"
    );
    let _ = cluster_issuers
        .delete(&cluster_issuer, &DeleteParams::default())
        .await;
    env.cleanup().await;
}

/// Serves token requests over HTTPS as the chart's Deployment configures it in `mode`: the TLS
/// Secret (`tokenRequests.tls.secretName`) created where values.yaml says it is, in the release
/// namespace, and read through `--token-requests-tls-secret` as rendered, resolved as the CLI
/// resolves it; asks one token and expects 200.
async fn serve_https(
    env: &Env,
    mode: &Mode,
    rendered: &[Value],
    client: kube::Client,
    bearer: &str,
) {
    use videosdk_token_operator::controller::CredentialSecrets;
    use videosdk_token_operator::listener::{Limits, ListenerStatus};
    use videosdk_token_operator::token_requests as endpoint;
    let deployment = rendered
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("the chart renders a Deployment");
    let args: Vec<&str> = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let flag = args
        .iter()
        .position(|a| *a == "--token-requests-tls-secret")
        .map(|i| args[i + 1])
        .expect("--token-requests-tls-secret");
    let (tls_namespace, tls_name) = videosdk_token_operator::cli::token_requests::tls_secret(
        flag,
        &mode.cluster_resource_namespace,
    );
    let dir = std::env::temp_dir().join(format!("videosdk-rbac-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = e2e_support::certificate::self_signed(&dir, "rbac");
    let secret_name = mode.values["tokenRequests"]["tls"]["secretName"]
        .as_str()
        .expect("tokenRequests.tls.secretName");
    env.apply(objects::in_namespace(
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
               "metadata": {"name": secret_name},
               "stringData": {"tls.crt": cert, "tls.key": key}}),
        &mode.release_namespace,
    ))
    .await;
    let settings = endpoint::Settings {
        rate: std::num::NonZeroU32::new(10).unwrap(),
        burst: std::num::NonZeroU32::new(10).unwrap(),
        cluster_resource_namespace: mode.cluster_resource_namespace.clone(),
        namespace: mode.watch_namespace.clone(),
        ..token_requests::settings(env)
    };
    let server = endpoint::Server::start(client.clone(), settings, Default::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let serving = tokio::spawn(endpoint::tls::serve(
        listener,
        endpoint::router(server),
        Arc::new(CredentialSecrets::new(client)),
        tls_namespace.clone(),
        tls_name.clone(),
        Limits::new(16, 16),
        Arc::new(ListenerStatus::new("token requests", address)),
        std::future::pending(),
    ));
    let path = endpoint::PATH.replace("{namespace}", env.namespace());
    let body = token_requests::request("videosdk").to_string();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let connected = token_requests::connect_tls(address, &[&cert]).await;
        let failure = match connected {
            Ok((stream, _)) => {
                let answer =
                    e2e_support::http::post_over(stream, &path, Some(bearer), body.as_bytes())
                        .await
                        .unwrap();
                if answer.status == 200 {
                    break;
                }
                format!("{} {}", answer.status, answer.body)
            }
            Err(e) => e.to_string(),
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "no token over HTTPS from the TLS Secret {tls_namespace}/{tls_name} (the chart's flag \
             {flag:?}; the Secret is {}/{secret_name}): {failure}",
            mode.release_namespace
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    serving.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The default install with token requests and rollout restarts on: everything cluster-wide.
#[tokio::test]
async fn rbac_binds_exactly_what_the_operator_uses_watching_all_namespaces() {
    if skipped_on_a_real_cluster("needs the in-memory API server's access accounting") {
        return;
    }
    let Some(mut env) = Env::start("rbac").await else {
        return;
    };
    env.stop_operator().await;
    let ns = env.namespace().to_owned();
    let mode = Mode {
        values: json!({"tokenRequests": {"enabled": true, "tls": {"secretName": "tls"}},
                       "rolloutRestarts": {"enabled": true}}),
        release_namespace: ns.clone(),
        watch_namespace: None,
        cluster_resource_namespace: ns,
        token_requests: true,
    };
    check(env, mode).await;
}

/// A scoped install (`watchNamespace`), its cluster resource namespace elsewhere, rollout
/// restarts on, token requests off: Roles in the watched namespace, the cluster resource
/// namespace and `default`; cluster-wide only cluster issuers and namespaces.
#[tokio::test]
async fn rbac_binds_exactly_what_the_operator_uses_watching_one_namespace() {
    if skipped_on_a_real_cluster("needs the in-memory API server's access accounting") {
        return;
    }
    let Some(mut env) = Env::start("rbac-scoped").await else {
        return;
    };
    env.stop_operator().await;
    let ns = env.namespace().to_owned();
    let home = format!("{ns}-system");
    env.apply(objects::namespace(&home)).await;
    let mode = Mode {
        values: json!({"watchNamespace": ns, "rolloutRestarts": {"enabled": true}}),
        release_namespace: home.clone(),
        watch_namespace: Some(ns),
        cluster_resource_namespace: home,
        token_requests: false,
    };
    check(env, mode).await;
}

/// A scoped install with token requests on, whose release namespace (the operator's, and the
/// chart's TLS Secret's), watched namespace and cluster resource namespace all differ: the TLS
/// Secret is read from the release namespace, with a Role there (review of issue 20: the chart
/// passed a bare name, read from the cluster resource namespace, where nothing granted it).
#[tokio::test]
async fn rbac_binds_exactly_what_the_operator_uses_serving_https_watching_one_namespace() {
    if skipped_on_a_real_cluster("needs the in-memory API server's access accounting") {
        return;
    }
    let Some(mut env) = Env::start("rbac-https").await else {
        return;
    };
    env.stop_operator().await;
    let ns = env.namespace().to_owned();
    let (home, shared) = (format!("{ns}-system"), format!("{ns}-shared"));
    env.apply(objects::namespace(&home)).await;
    env.apply(objects::namespace(&shared)).await;
    let mode = Mode {
        values: json!({"watchNamespace": ns, "clusterResourceNamespace": shared,
                       "rolloutRestarts": {"enabled": true},
                       "tokenRequests": {"enabled": true, "tls": {"secretName": "tls"}}}),
        release_namespace: home,
        watch_namespace: Some(ns),
        cluster_resource_namespace: shared,
        token_requests: true,
    };
    check(env, mode).await;
}
