//! Running it in production: restarts of workloads on rotation, the metrics endpoint, and two
//! replicas with leader election.

use super::*;
use e2e_support::scrape::sample;
use k8s_openapi::api::apps::v1::Deployment;
use std::sync::atomic::Ordering;
use videosdk_token_operator::endpoints;
use videosdk_token_operator::operator::{self, Ended, Health, LeaderElection};

const SECRET: &str = "e2e-secret-production-0123456789abcdef";

/// A Deployment whose owner consents to restarts for the tokens `restart_for` (comma-separated;
/// `None`: no consent annotation).
fn deployment(name: &str, restart_for: Option<&str>) -> Value {
    let annotations = match restart_for {
        Some(tokens) => json!({"videosdk.live/restart-on-renewal": tokens}),
        None => json!({}),
    };
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "annotations": annotations},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "app", "image": "example/app:1"}]}}}})
}

fn restarted_at(d: &Deployment) -> Option<String> {
    d.spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get("kubectl.kubernetes.io/restartedAt")
        .cloned()
}

/// `rolloutRestartTargets`: a re-sign restarts the consenting workload once (debounced), the
/// first issuance, an operator restart and a label-only change restart nothing; a missing target
/// and a workload without consent (`videosdk.live/restart-on-renewal` naming another token) are
/// reported, left untouched and stop neither the other targets nor the token being Ready.
#[tokio::test]
async fn rotation_restarts_target_workloads_once() {
    let Some(mut env) = Env::start("rollout").await else {
        return;
    };
    env.credentials("creds", SECRET).await;
    env.issuer("videosdk", "creds", json!({})).await;
    env.apply(deployment("web", Some("other-token, t"))).await;
    env.apply(deployment("unasked", Some("other-token"))).await;
    let deployments: Api<Deployment> = Api::namespaced(env.t.client.clone(), env.namespace());
    let unasked = deployments.get("unasked").await.unwrap();
    // The failing and refused targets first: they must not stop the last one.
    let spec = |labels: Value| {
        json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"], "secretTemplate": {"labels": labels},
               "rolloutRestartTargets": [{"kind": "StatefulSet", "name": "missing"}, {"kind": "Deployment", "name": "unasked"},
                                         {"kind": "Deployment", "name": "web"}]})
    };
    env.token("t", spec(json!({}))).await;
    let first = env.wait_ready("t").await.status.unwrap().token_id.unwrap();
    let key = videosdk_token_operator::controller::rollout::record_key("t");
    // `<token id>` at first sight, `<token id>@<time>` once restarted for it.
    let recorded = |d: Option<&Deployment>, id: String| {
        d.and_then(|d| d.metadata.annotations.as_ref())
            .and_then(|a| a.get(&key))
            .is_some_and(|v| v.split('@').next() == Some(id.as_str()))
    };
    let web = tokio::time::timeout(
        WAIT,
        await_condition(deployments.clone(), "web", {
            let (recorded, first) = (recorded, first.clone());
            move |d: Option<&Deployment>| recorded(d, first.clone())
        }),
    )
    .await
    .expect("recorded in time")
    .unwrap()
    .unwrap();
    assert_eq!(
        restarted_at(&web),
        None,
        "the first issuance restarts nothing"
    );
    let generation = web.metadata.generation;
    env.wait_event("t", "RolloutTargetNotFound").await;
    let refused = env.wait_event("t", "RolloutRestartNotConsented").await;
    let note = refused.note.unwrap_or_default();
    assert!(
        note.contains("Deployment unasked") && note.contains("videosdk.live/restart-on-renewal=t"),
        "the Event says which annotation to add to which workload: {note}"
    );

    // Two re-signs in quick succession: one restart, for the latest token.
    env.annotate_token("t", "videosdk.live/renew-now", "1")
        .await;
    env.annotate_token("t", "videosdk.live/renew-now", "2")
        .await;
    let latest = env
        .wait_token("t", "re-signed twice", |t| {
            t.status
                .as_ref()
                .and_then(|s| s.conditions.first())
                .is_some()
                && t.metadata
                    .annotations
                    .as_ref()
                    .is_some_and(|a| a.get("videosdk.live/renew-now").is_some_and(|v| v == "2"))
        })
        .await;
    let _ = latest;
    let web = tokio::time::timeout(
        WAIT,
        await_condition(deployments.clone(), "web", |d: Option<&Deployment>| {
            d.is_some_and(|d| restarted_at(d).is_some())
        }),
    )
    .await
    .expect("restarted in time")
    .unwrap()
    .unwrap();
    let token_now = env.wait_ready("t").await.status.unwrap().token_id.unwrap();
    assert_ne!(token_now, first);
    let web = if recorded(Some(&web), token_now.clone()) {
        web
    } else {
        tokio::time::timeout(
            WAIT,
            await_condition(deployments.clone(), "web", {
                let token_now = token_now.clone();
                move |d: Option<&Deployment>| recorded(d, token_now.clone())
            }),
        )
        .await
        .expect("recorded the latest token")
        .unwrap()
        .unwrap()
    };
    assert_eq!(
        web.metadata.generation,
        generation.map(|g| g + 1),
        "restarted exactly once"
    );
    let restarted = env.wait_event("t", "RolloutRestarted").await;
    assert!(
        env.events("t", "RolloutRestartLagsRenewal")
            .await
            .is_empty(),
        "a 24h token's renew window (8h) covers the 5m restart interval"
    );
    let note = restarted.note.unwrap_or_default();
    assert!(
        note.contains("its next restart for this token is not before")
            && note.contains("videosdk.live/min-restart-interval: 5m"),
        "the Event says when the next restart may come: {note}"
    );

    // Whoever may edit the token re-signs it again at once: the workload is not restarted again
    // within its minimum restart interval (5 min by default), only past the debounce window.
    env.annotate_token("t", "videosdk.live/renew-now", "3")
        .await;
    env.wait_token("t", "re-signed a third time", |t| {
        t.status
            .as_ref()
            .and_then(|s| s.token_id.as_ref())
            .is_some_and(|id| *id != token_now)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let web = deployments.get("web").await.unwrap();
    assert_eq!(
        web.metadata.generation,
        generation.map(|g| g + 1),
        "restarted again within the minimum restart interval"
    );

    // A label-only change and an operator restart restart nothing.
    env.token("t", spec(json!({"x": "y"}))).await;
    env.wait_secret("t", "relabelled", |s| {
        s.and_then(|s| s.metadata.labels.as_ref())
            .is_some_and(|l| l.contains_key("x"))
    })
    .await;
    env.restart_operator().await;
    env.wait_ready("t").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while env.metrics.token_reconciles() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the restarted operator reconciles"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = deployments.get("web").await.unwrap();
    assert_eq!(
        after.metadata.generation, web.metadata.generation,
        "no restart without a re-sign"
    );
    // Never written by the operator: no field of its manager, the same spec and annotations.
    // (Not the resourceVersion: on a real cluster the deployment controller writes the status.)
    let after = deployments.get("unasked").await.unwrap();
    let managers: Vec<_> = after
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|f| f.manager.as_deref())
        .collect();
    assert!(
        !managers.contains(&videosdk_token_operator::rules::labels::FIELD_MANAGER),
        "a workload without consent is never written: {managers:?}"
    );
    // The operator's annotations only: the deployment controller adds its own (revision).
    let ours = |d: &Deployment| -> Vec<(String, String)> {
        d.metadata
            .annotations
            .iter()
            .flatten()
            .filter(|(k, _)| k.starts_with("videosdk.live/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    assert_eq!(
        (&after.metadata.generation, ours(&after)),
        (&unasked.metadata.generation, ours(&unasked)),
        "a workload without consent is never written"
    );
    env.wait_ready("t").await;
    env.cleanup().await;
}

/// Each rollout restart target on its own: a target whose API requests fail (500 on every
/// StatefulSet request) gets a `RolloutRestartFailed` Warning Event with the server's answer, one
/// the install may not touch (403 on DaemonSets, as RBAC answers without the rollout rights) a
/// `RolloutRestartForbidden` one naming the namespace; both are retried with backoff, while the
/// consenting Deployment after them is handled and the token stays Ready; once the server
/// answers again, the retry records the StatefulSet.
#[tokio::test]
async fn a_failing_rollout_target_stops_neither_the_others_nor_the_token() {
    if skipped_on_a_real_cluster("injects API server errors") {
        return;
    }
    let Some(env) = Env::start("rollout-failing").await else {
        return;
    };
    env.credentials("creds", SECRET).await;
    env.issuer("videosdk", "creds", json!({})).await;
    env.apply(deployment("web", Some("t"))).await;
    env.apply(json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                     "metadata": {"name": "db", "annotations": {"videosdk.live/restart-on-renewal": "t"}},
                     "spec": {"selector": {"matchLabels": {"app": "db"}}, "serviceName": "db",
                              "template": {"metadata": {"labels": {"app": "db"}},
                                           "spec": {"containers": [{"name": "db", "image": "example/db:1"}]}}}}))
        .await;
    let server = env.t.server().expect("in memory");
    server.add_fault(
        kube_apiserver_memory::FaultRule::any()
            .resource("statefulsets")
            .internal_errors(1.0),
    );
    server.add_fault(
        kube_apiserver_memory::FaultRule::any()
            .resource("daemonsets")
            .forbidden(1.0),
    );
    env.token("t", json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"],
                          "rolloutRestartTargets": [{"kind": "StatefulSet", "name": "db"}, {"kind": "DaemonSet", "name": "agent"},
                                                    {"kind": "Deployment", "name": "web"}]}))
        .await;
    let token_id = env.wait_ready("t").await.status.unwrap().token_id.unwrap();
    let key = videosdk_token_operator::controller::rollout::record_key("t");
    let deployments: Api<Deployment> = Api::namespaced(env.t.client.clone(), env.namespace());
    tokio::time::timeout(
        WAIT,
        await_condition(deployments, "web", {
            let (key, token_id) = (key.clone(), token_id.clone());
            move |d: Option<&Deployment>| {
                d.and_then(|d| d.metadata.annotations.as_ref())
                    .and_then(|a| a.get(&key))
                    .is_some_and(|v| *v == token_id)
            }
        }),
    )
    .await
    .expect("the Deployment after the failing target is handled")
    .unwrap();
    let failed = env.wait_event("t", "RolloutRestartFailed").await;
    let note = failed.note.unwrap_or_default();
    assert!(
        note.starts_with("StatefulSet db was not restarted: the API server answered 500"),
        "{note}"
    );
    let forbidden = env.wait_event("t", "RolloutRestartForbidden").await;
    let note = forbidden.note.unwrap_or_default();
    assert!(
        note.starts_with(&format!(
            "DaemonSet agent was not restarted: the operator's install does not grant rollout restarts in namespace {}",
            env.namespace()
        )),
        "{note}"
    );
    env.wait_ready("t").await;

    server.clear_faults();
    let statefulsets: Api<k8s_openapi::api::apps::v1::StatefulSet> =
        Api::namespaced(env.t.client.clone(), env.namespace());
    tokio::time::timeout(
        WAIT,
        await_condition(
            statefulsets,
            "db",
            move |s: Option<&k8s_openapi::api::apps::v1::StatefulSet>| {
                s.and_then(|s| s.metadata.annotations.as_ref())
                    .and_then(|a| a.get(&key))
                    .is_some_and(|v| *v == token_id)
            },
        ),
    )
    .await
    .expect("the failed target is retried once the server answers")
    .unwrap();
    env.cleanup().await;
}

/// /metrics, scraped over HTTP during the flows, agrees with the tokens' status; /healthz and
/// /readyz answer.
#[tokio::test]
async fn metrics_agree_with_the_tokens_status() {
    let Some(env) = Env::start("metrics").await else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let health = Arc::new(Health::default());
    health.leading.store(true, Ordering::Relaxed);
    tokio::spawn(endpoints::serve(listener, env.metrics.clone(), health));

    env.credentials("creds", SECRET).await;
    env.issuer("videosdk", "creds", json!({})).await;
    env.issuer("broken", "missing", json!({})).await;
    for name in ["a", "b"] {
        env.token(
            name,
            json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]}),
        )
        .await;
    }
    env.token(
        "c",
        json!({"issuerRef": {"name": "broken"}, "permissions": ["allow_join"]}),
    )
    .await;
    let mut statuses = Vec::new();
    for name in ["a", "b"] {
        statuses.push((name, env.wait_ready(name).await.status.unwrap()));
    }
    env.wait_not_ready("c", "IssuerNotReady").await;

    let (status_line, text) = get(address, "/metrics").await;
    assert!(status_line.contains("200"), "{status_line}");
    let ns = env.namespace();
    for (name, status) in &statuses {
        let labels = format!(
            "{{namespace=\"{ns}\",name=\"{name}\",issuer_name=\"videosdk\",issuer_kind=\"VideoSdkIssuer\"}}"
        );
        let expires = sample(
            &text,
            &format!("videosdk_token_expiration_timestamp_seconds{labels}"),
        );
        assert_eq!(
            expires,
            Some(status.not_after.as_ref().unwrap().0.as_second() as f64),
            "{text}"
        );
        let renews = sample(
            &text,
            &format!("videosdk_token_renewal_timestamp_seconds{labels}"),
        );
        assert_eq!(
            renews,
            Some(status.renewal_time.as_ref().unwrap().0.as_second() as f64)
        );
        let ready = format!(
            "videosdk_token_ready_status{{namespace=\"{ns}\",name=\"{name}\",issuer_name=\"videosdk\",issuer_kind=\"VideoSdkIssuer\",condition=\"True\"}}"
        );
        assert_eq!(sample(&text, &ready), Some(1.0));
    }
    let not_ready = format!(
        "videosdk_token_ready_status{{namespace=\"{ns}\",name=\"c\",issuer_name=\"broken\",issuer_kind=\"VideoSdkIssuer\",condition=\"False\"}}"
    );
    assert_eq!(sample(&text, &not_ready), Some(1.0), "{text}");
    assert!(
        sample(
            &text,
            "videosdk_token_issuances_total{reason=\"SecretMissing\"}"
        )
        .unwrap()
            >= 2.0
    );
    assert_eq!(sample(&text, "videosdk_caches_synced"), Some(1.0));

    env.tokens()
        .delete("a", &DeleteParams::default())
        .await
        .unwrap();
    let gone = "name=\"a\"";
    let deadline = tokio::time::Instant::now() + WAIT;
    while get(address, "/metrics").await.1.contains(gone) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a deleted token's series are removed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(get(address, "/healthz").await.0.contains("200"));
    assert!(get(address, "/readyz").await.0.contains("200"));
    env.cleanup().await;
}

/// `GET path` of the operator at `address`: the status line and body.
async fn get(address: std::net::SocketAddr, path: &str) -> (String, String) {
    e2e_support::scrape::get(address, path)
        .await
        .expect("the endpoint answers")
}

/// The replicas' lease duration: long enough that a takeover faster than it can only be a
/// released Lease, not an expired one.
const LEASE_SECONDS: u64 = 10;

struct Replica {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<Ended, String>>,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

fn replica(env: &Env, identity: &str) -> Replica {
    let (metrics, health) = (Arc::new(Metrics::default()), Arc::new(Health::default()));
    let election = LeaderElection {
        namespace: env.namespace().to_owned(),
        identity: identity.to_owned(),
        lease_duration_seconds: LEASE_SECONDS,
        renew_grace_seconds: 3,
    };
    let settings = Settings {
        namespace: Some(env.namespace().to_owned()),
        ..Settings::new(env.namespace())
    };
    let (stop, stopped) = oneshot::channel::<()>();
    // The error as its message, so that the outcome compares with `==`.
    let run = operator::run(
        env.t.client.clone(),
        settings,
        Some(election),
        metrics.clone(),
        health.clone(),
        async {
            let _ = stopped.await;
        },
    );
    let task = tokio::spawn(async move { run.await.map_err(|e| e.to_string()) });
    Replica {
        stop,
        task,
        metrics,
        health,
    }
}

async fn wait_leading(r: &Replica) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !r.health.leading.load(Ordering::Relaxed) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a replica became leader in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A token whose pods may outlive it (ttl 6m, a 2m window, the default 5m restart interval, the
/// tests' 1 s debounce: up to 3m1s) gets a Warning Event when it restarts the target, naming the
/// workload, the interval, the ttl, the window, the lag and the fix; a token with the same 2m
/// window but a 24h ttl, whose pods are always restarted long before their token expires, gets
/// none (the rule before, the interval against the window alone, warned there too).
#[tokio::test]
async fn pods_that_may_outlive_their_token_are_reported() {
    let Some(env) = Env::start("rollout-lag").await else {
        return;
    };
    env.credentials("creds", SECRET).await;
    env.issuer("videosdk", "creds", json!({})).await;
    env.apply(deployment("api", Some("short"))).await;
    env.apply(deployment("worker", Some("long"))).await;
    env.token(
        "short",
        json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"], "ttl": "6m",
                              "rolloutRestartTargets": [{"kind": "Deployment", "name": "api"}]}),
    )
    .await;
    env.token(
        "long",
        json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"], "ttl": "24h", "renewBefore": "2m",
                              "rolloutRestartTargets": [{"kind": "Deployment", "name": "worker"}]}),
    )
    .await;
    let long_first = env
        .wait_ready("long")
        .await
        .status
        .unwrap()
        .token_id
        .unwrap();
    let first = env
        .wait_ready("short")
        .await
        .status
        .unwrap()
        .token_id
        .unwrap();
    let deployments: Api<Deployment> = Api::namespaced(env.t.client.clone(), env.namespace());
    for (workload, token, id) in [("api", "short", first), ("worker", "long", long_first)] {
        let key = videosdk_token_operator::controller::rollout::record_key(token);
        tokio::time::timeout(
            WAIT,
            await_condition(
                deployments.clone(),
                workload,
                move |d: Option<&Deployment>| {
                    d.and_then(|d| d.metadata.annotations.as_ref())
                        .and_then(|a| a.get(&key))
                        .is_some_and(|v| v.starts_with(id.as_str()))
                },
            ),
        )
        .await
        .expect("recorded in time")
        .unwrap();
    }
    assert!(
        env.events("short", "RolloutRestartLagsRenewal")
            .await
            .is_empty(),
        "no restart, no warning"
    );
    env.annotate_token("short", "videosdk.live/renew-now", "1")
        .await;
    let warning = env.wait_event("short", "RolloutRestartLagsRenewal").await;
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    let note = warning.note.unwrap_or_default();
    assert!(
        note.contains("Deployment api restarts for this token at most every 5m (videosdk.live/min-restart-interval), and the token lives 6m with a renew window of 2m")
            && note.contains("set the token's ttl to at least 10m1s or its renewBefore to at least 5m1s"),
        "{note}"
    );
    // Up to 3m1s: the next restart up to 5m (the interval) and 1 s (the tests' debounce) after
    // one that came up to 4m (the renewal, or up to 12 s sooner: the jitter, a tenth of the
    // window) after issuance, of a token that expired 6m after it.
    let lag = note
        .split_once("may hold an expired token for up to ")
        .and_then(|(_, rest)| rest.split_once(" plus the rollout's duration"))
        .and_then(|(lag, _)| {
            lag.parse::<videosdk_token_operator::token::GoDuration>()
                .ok()
        })
        .map(|lag| lag.as_nanos() / 1_000_000_000);
    assert!(
        lag.is_some_and(|secs| (168..=181).contains(&secs)),
        "the lag is 3m1s less the jitter (up to 12 s): {note}"
    );
    env.wait_event("short", "RolloutRestarted").await;

    // The same 2m window on a 24h token: the restart is reported, the lag is not.
    env.annotate_token("long", "videosdk.live/renew-now", "1")
        .await;
    env.wait_event("long", "RolloutRestarted").await;
    assert!(
        env.events("long", "RolloutRestartLagsRenewal")
            .await
            .is_empty(),
        "a 24h token's pods are restarted within 10m1s of its issuance, long before it expires"
    );
    env.cleanup().await;
}

/// Two replicas: only the leader signs; when it is stopped in the middle of rotations the
/// standby takes over at once (the Lease is released), and when a leader dies without releasing
/// it, within the lease duration; rotation continues and no token ever expires in its Secret.
#[tokio::test]
async fn a_standby_takes_over_and_only_the_leader_signs() {
    let Some(mut env) = Env::start("leader-election").await else {
        return;
    };
    env.stop_operator().await; // this test runs its own replicas
    env.credentials("creds", SECRET).await;
    env.issuer("videosdk", "creds", json!({})).await;
    let names: Vec<String> = (0..5).map(|i| format!("t{i}")).collect();
    // The shortest legal schedule (2m10s renewed 2m before expiry): each token rotates every 11
    // seconds.
    for name in &names {
        env.token(name, json!({"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"], "ttl": "2m10s", "renewBefore": "2m"})).await;
    }
    let a = replica(&env, "replica-a");
    wait_leading(&a).await;
    let b = replica(&env, "replica-b");
    for name in &names {
        env.wait_ready(name).await;
    }
    // Let rotations happen under A, then stop A in the middle of them.
    while a
        .metrics
        .issuances(videosdk_token_operator::rules::decision::ResignReason::RenewalDue)
        < 3
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        b.metrics.total_issuances(),
        0,
        "the standby signs nothing while A leads"
    );
    assert!(!b.health.leading.load(Ordering::Relaxed));
    let _ = a.stop.send(());
    assert_eq!(a.task.await.unwrap(), Ok(Ended::Shutdown));
    let signed_by_a = a.metrics.total_issuances();
    let handover = tokio::time::Instant::now();
    wait_leading(&b).await;
    assert!(
        handover.elapsed() < Duration::from_secs(LEASE_SECONDS),
        "a released Lease is taken before it could have expired"
    );
    let before = b.metrics.total_issuances();
    while b.metrics.total_issuances() < before + 3 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        a.metrics.total_issuances(),
        signed_by_a,
        "a stopped replica signs nothing"
    );

    // A new standby; then B dies without releasing the Lease.
    let c = replica(&env, "replica-c");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(c.metrics.total_issuances(), 0);
    b.task.abort();
    let _ = b.stop;
    let crash = tokio::time::Instant::now();
    wait_leading(&c).await;
    assert!(
        // Its duration, plus slack for a loaded machine.
        crash.elapsed() < Duration::from_secs(LEASE_SECONDS + 5),
        "a dead leader's Lease is taken within its duration"
    );
    while c.metrics.total_issuances() < 3 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // No token ever sat expired in its Secret.
    for name in &names {
        let claims = verified(&env.jwt(name).await, SECRET);
        assert!(
            claims.exp
                > SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_secs()
        );
    }
    let _ = c.stop.send(());
    assert_eq!(c.task.await.unwrap(), Ok(Ended::Shutdown));
    env.cleanup().await;
}

/// `run` checks at start that the CRDs are installed, and says how to install them.
#[tokio::test]
async fn run_refuses_to_start_without_the_crds() {
    let server = kube_apiserver_memory::ApiServer::start(Default::default())
        .await
        .unwrap();
    let error = videosdk_token_operator::cli::run::check_crds(&server.client(), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("videosdktokens.videosdk.live")
            && error.contains("kubectl apply --server-side -f crds/"),
        "{error}"
    );
    manifests::install_crds(&server.client()).await.unwrap();
    videosdk_token_operator::cli::run::check_crds(&server.client(), None)
        .await
        .expect("installed now");
    server.shutdown().await;
}
