//! The operator at scale against the in-memory API server: N tokens created at once, until all
//! are Ready; then idle; then an operator restart.
//!
//! Run with `cargo bench --bench operator` (N = 1,000 by default; `BENCH_TOKENS=10000` for
//! more; `BENCH_IDLE_SECS` for the idle period, default 60). Prints a table and writes it as
//! JSON to `target/bench-operator.json`.
//!
//! Reported: seconds from the first create until every token is Ready; p50/p99 of create →
//! Ready per token; API writes the operator made per issued token (token creates by the
//! benchmark itself are not counted); writes during the idle period (target 0); after a
//! restart, writes (target 0) and seconds until every token was reconciled again.

use futures::{StreamExt, TryStreamExt, stream};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use videosdk_token_operator::api::VideoSdkToken;
use videosdk_token_operator::apiserver::{ApiServer, ApiServerOptions};
use videosdk_token_operator::controller::{self, Metrics, Settings};
use videosdk_token_operator::manifests;

const NAMESPACE: &str = "bench";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Operator {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    metrics: Arc<Metrics>,
}

fn start_operator(client: &kube::Client) -> Operator {
    let settings = Settings::new(NAMESPACE);
    let metrics = Arc::new(Metrics::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(controller::run(
        client.clone(),
        settings,
        metrics.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    Operator {
        stop,
        task,
        metrics,
    }
}

async fn stop_operator(operator: Operator) {
    let _ = operator.stop.send(());
    let _ = operator.task.await;
}

fn is_ready(token: &VideoSdkToken) -> bool {
    token.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let n = env_number("BENCH_TOKENS", 1_000) as usize;
    let idle = Duration::from_secs(env_number("BENCH_IDLE_SECS", 60));
    let server = ApiServer::start(ApiServerOptions::default())
        .await
        .expect("server starts");
    let client = server.client();
    manifests::install_crds(&client).await.expect("CRDs");
    let setup = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NAMESPACE}}}\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata: {{name: creds, namespace: {NAMESPACE}}}\n\
         stringData: {{apiKey: bench-key, secret: bench-secret-0123456789abcdef0123456789abcdef}}\n---\n\
         apiVersion: videosdk.live/v1alpha1\nkind: VideoSdkIssuer\nmetadata: {{name: videosdk, namespace: {NAMESPACE}}}\n\
         spec: {{credentialsSecretRef: {{name: creds}}}}\n"
    );
    manifests::apply(&client, NAMESPACE, "setup", &setup)
        .await
        .expect("setup");
    let operator = start_operator(&client);
    let tokens: Api<VideoSdkToken> = Api::namespaced(client.clone(), NAMESPACE);

    // Watch for Ready before creating anything, so that no transition is missed.
    let (ready_tx, ready_rx) = oneshot::channel::<HashMap<String, Instant>>();
    let watch_api = tokens.clone();
    tokio::spawn(async move {
        let mut ready = HashMap::new();
        let mut events = watcher(watch_api, watcher::Config::default())
            .applied_objects()
            .boxed();
        while let Ok(Some(token)) = events.try_next().await {
            if is_ready(&token) {
                ready
                    .entry(token.metadata.name.clone().unwrap_or_default())
                    .or_insert_with(Instant::now);
                if ready.len() == n {
                    break;
                }
            }
        }
        let _ = ready_tx.send(ready);
    });

    server.reset_requests();
    let start = Instant::now();
    let created: HashMap<String, Instant> = stream::iter(0..n)
        .map(|i| {
            let tokens = tokens.clone();
            async move {
                let name = format!("t{i}");
                let token = json!({"apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkToken",
                                   "metadata": {"name": name},
                                   "spec": {"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]}});
                let at = Instant::now();
                tokens.patch(&name, &PatchParams::apply("bench"), &Patch::Apply(&token)).await.expect("create");
                (name, at)
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let ready = ready_rx.await.expect("all tokens become Ready");
    let all_ready = start.elapsed();
    let mut latencies: Vec<f64> = ready
        .iter()
        .map(|(name, at)| at.duration_since(created[name]).as_secs_f64())
        .collect();
    latencies.sort_by(f64::total_cmp);
    let operator_writes = server.requests().writes() - n as u64;
    println!("requests until all Ready: {:?}", server.requests());
    let issued = operator.metrics.total_issuances();

    server.reset_requests();
    tokio::time::sleep(idle).await;
    let idle_writes = server.requests().writes();
    if idle_writes > 0 {
        println!("writes while idle: {:?}", server.requests());
    }

    stop_operator(operator).await;
    server.reset_requests();
    let restart = Instant::now();
    let operator = start_operator(&client);
    while operator.metrics.token_reconciles() < n as u64 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let restart_synced = restart.elapsed();
    let restart_writes = server.requests().writes();
    stop_operator(operator).await;

    let results = json!({
        "tokens": n,
        "secondsUntilAllReady": all_ready.as_secs_f64(),
        "createToReadyP50Seconds": percentile(&latencies, 0.5),
        "createToReadyP99Seconds": percentile(&latencies, 0.99),
        "tokensIssued": issued,
        "operatorWritesPerIssuedToken": operator_writes as f64 / issued.max(1) as f64,
        "idleSeconds": idle.as_secs(),
        "writesWhileIdle": idle_writes,
        "writesAfterRestart": restart_writes,
        "secondsUntilRestartedOperatorReconciledAll": restart_synced.as_secs_f64(),
    });
    println!("operator benchmark, {n} tokens against the in-memory API server");
    for (key, value) in results.as_object().expect("an object") {
        println!("  {key:<45} {value}");
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-operator.json");
    std::fs::write(path, serde_json::to_string_pretty(&results).expect("JSON"))
        .expect("write results");
    println!("written to {path}");
    server.shutdown().await;
}
