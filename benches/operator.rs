//! The operator at scale against the in-memory API server.
//!
//! Run: `cargo bench --bench operator` (release build). Environment:
//! `BENCH_TOKENS` (N, or a comma list such as `1000,10000`; default 1000),
//! `BENCH_IDLE_SECS` (default 60), `BENCH_UNRELATED_SECRETS` (default 100000),
//! `BENCH_RENEW_TTL` (ttl of the mass-renewal tokens, default `30m`), `BENCH_OPERATOR_BINARY`
//! (another build of the operator to run, such as the image's; default: the one `cargo bench`
//! built), `BENCH_OPERATOR_WRAPPER` (a profiler to run it under, such as `heaptrack`). Prints a table and writes
//! the figures as JSON to `target/bench-operator.json` (under `CARGO_TARGET_DIR` when set).
//!
//! Three processes: the API server (this binary, re-executed; see `e2e_support::server_process`), the
//! operator (the release binary `videosdk-token-operator run`, started afresh for each scenario;
//! see `e2e_support::operator_process`) and this one, the benchmark's client. The operator's memory and CPU
//! are read from `/proc/PID` and its counters from `/metrics`. The book's Benchmarks page
//! (`docs/src/development/benchmarks.md`) has the latest table, from
//! `BENCH_TOKENS=1000,10000 cargo bench --bench operator`. Every scenario, per N:
//!
//! 1. **Floor**: on a fresh server, the benchmark creates N tokens while a minimal client, with
//!    the operator's concurrency (16), does for each what the operator must at least do — one
//!    server-side apply of the token's Secret (a real signed JWT) and one status apply. Seconds
//!    until all are Ready.
//! 2. **Create**: on another fresh server, once the operator has started and its caches are
//!    synced (the CPU of that start is reported on its own), the same creates: seconds until
//!    all Ready (and as a ratio to the floor), p50/p99 create → Ready, writes and Secret GETs
//!    per issued token, the operator's CPU per 1,000 issuances (and as a ratio to the floor
//!    client's CPU for its writes), its peak RSS, and what its RSS is made of then.
//! 3. **Idle**: API writes during `BENCH_IDLE_SECS` after all are Ready (target 0), and the
//!    operator's CPU in that time.
//! 4. **Restart**: the operator stopped and started again with N valid tokens: writes (target 0),
//!    seconds until its caches are synced and every token was reconciled, RSS and peak RSS.
//! 5. **Credential rotation**: the issuer's Secret gets a new secret: seconds until every token
//!    was re-signed, writes and Secret GETs per token (target 0: each Secret is as the operator
//!    wrote it, and what other credentials signed is re-signed unread); every Secret is then
//!    checked with `token::verify` against the new secret.
//! 6. **Unrelated Secrets**: the operator restarted in a cluster that also holds
//!    `BENCH_UNRELATED_SECRETS` Secrets it does not manage: RSS and peak RSS as ratios to
//!    step 4's.
//! 7. **Mass renewal**: N more tokens whose Secrets hold tokens all issued at the same second in
//!    the past (as after a bulk install), so that their renewal times, which the per-token jitter
//!    spreads over the last 10% of the renew window (ttl `30m`: 60 s), fall just after the
//!    operator starts: re-signs (Secret writes) and writes per second, their peak, and the
//!    spread.

// A test or benchmark binary exports nothing: its `pub` items are shared between its own
// modules, and are not the crate's public API that `missing_docs` is about.
#![allow(unreachable_pub, missing_docs)]

use e2e_support::operator_process::OperatorProcess;
use e2e_support::procfs::{self, Memory};
use e2e_support::server_process::{self, ServerProcess};
use futures::channel::mpsc;
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::oneshot;
use videosdk_token_operator::api::VideoSdkToken;
use videosdk_token_operator::rules::decision::ResignReason;
use videosdk_token_operator::rules::labels::{FIELD_MANAGER, MANAGED_SELECTOR, TOKEN_KEY};
use videosdk_token_operator::rules::stored::StoredToken;
use videosdk_token_operator::rules::{secret, status};
use videosdk_token_operator::token::{self, Credentials, RenewBefore, TokenRequest};
use videosdk_token_operator::{manifests, time};

/// The operator binary `cargo bench` built with this benchmark (release profile, default
/// features), which `e2e_support::operator_process` runs.
const OPERATOR: &str = env!("CARGO_BIN_EXE_videosdk-token-operator");
/// Where the tokens of every scenario but the mass renewal live.
const NAMESPACE: &str = "bench";
/// Where the mass-renewal tokens live.
const RENEWAL_NAMESPACE: &str = "renewal";
const API_KEY: &str = "bench-key";
const SECRET: &str = "bench-secret-0123456789abcdef0123456789abcdef";
const ROTATED_SECRET: &str = "rotated-secret-fedcba9876543210fedcba9876543210";
/// The operator's `--concurrency` default, which the floor's client uses too.
const CONCURRENCY: u16 = 16;
/// How many token creates the benchmark sends at once.
const CREATE_CONCURRENCY: usize = 64;

struct Options {
    tokens: Vec<usize>,
    idle: Duration,
    unrelated: usize,
    renew_ttl: String,
}

impl Options {
    fn from_env() -> Options {
        let var = |name: &str| std::env::var(name).ok();
        let number = |name: &str, default: u64| {
            var(name)
                .and_then(|v| v.replace('_', "").parse().ok())
                .unwrap_or(default)
        };
        let tokens = var("BENCH_TOKENS")
            .map(|v| {
                v.split(',')
                    .map(|n| {
                        n.trim()
                            .replace('_', "")
                            .parse()
                            .expect("BENCH_TOKENS: numbers")
                    })
                    .collect()
            })
            .unwrap_or_else(|| vec![1_000]);
        Options {
            tokens,
            idle: Duration::from_secs(number("BENCH_IDLE_SECS", 60)),
            unrelated: number("BENCH_UNRELATED_SECRETS", 100_000) as usize,
            renew_ttl: var("BENCH_RENEW_TTL").unwrap_or_else(|| "30m".to_owned()),
        }
    }
}

fn main() {
    server_process::serve_if_child();
    let options = Options::from_env();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let runs: Vec<Value> = options
        .tokens
        .iter()
        .map(|&n| runtime.block_on(run(n, &options)))
        .collect();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let results = json!({"cpus": cpus, "runs": runs});
    print_table(&results);
    let path = e2e_support::target_dir().join("bench-operator.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results).expect("JSON"))
        .expect("write results");
    println!("written to {}", path.display());
}

/// Every scenario for `n` tokens.
async fn run(n: usize, options: &Options) -> Value {
    eprintln!("== {n} tokens: floor");
    let floor = floor(n).await;
    let server = ServerProcess::spawn();
    let client = server.client();
    setup_namespace(&client, NAMESPACE).await;
    eprintln!("== {n} tokens: create until Ready");
    let (create, operator) = create_until_ready(&server, &client, n).await;
    eprintln!("== {n} tokens: idle {:?}", options.idle);
    let idle = idle(&server, &operator, options.idle).await;
    eprintln!("== {n} tokens: restart");
    let (restart, operator, restart_memory) = restart(&server, operator, n).await;
    eprintln!("== {n} tokens: credential rotation");
    let rotation = rotation(&server, &client, &operator, n).await;
    operator.stop().await;
    eprintln!("== {n} tokens: {} unrelated Secrets", options.unrelated);
    let unrelated = unrelated(&server, n, options.unrelated, restart_memory).await;
    eprintln!("== {n} tokens: mass renewal");
    let lead = 10.0 + 2.0 * floor["seconds"].as_f64().unwrap_or(0.0);
    let renewal = mass_renewal(&server, &client, n, &options.renew_ttl, lead).await;
    let ratio = create["secondsUntilAllReady"].as_f64().unwrap_or(0.0)
        / floor["seconds"].as_f64().unwrap_or(f64::NAN);
    // The floor client's own CPU for its writes: this process's CPU in the floor run less its
    // CPU in the operator's run, where it made the same creates and watched the same Ready
    // conditions but wrote nothing else.
    let floor_writes_cpu = (floor["benchProcessCpuSeconds"].as_f64().unwrap_or(0.0)
        - create["benchProcessCpuSeconds"].as_f64().unwrap_or(0.0))
    .max(1e-3);
    let floor_cpu_per_1000 = 1000.0 * floor_writes_cpu / n as f64;
    let cpu_ratio = create["operatorCpuSecondsPer1000"]
        .as_f64()
        .unwrap_or(f64::NAN)
        / floor_cpu_per_1000;
    json!({
        "tokens": n,
        "floor": floor,
        "create": create,
        "createToFloorRatio": ratio,
        "floorClientCpuSecondsPer1000": floor_cpu_per_1000,
        "operatorToFloorCpuRatio": cpu_ratio,
        "idle": idle,
        "restart": restart,
        "rotation": rotation,
        "unrelatedSecrets": unrelated,
        "massRenewal": renewal,
    })
}

// ---------------------------------------------------------------------------------------------
// The cluster, the tokens, the operator

/// The namespace, the issuer's credentials Secret and the issuer.
async fn setup_namespace(client: &kube::Client, namespace: &str) {
    if namespace == NAMESPACE {
        manifests::install_crds(client).await.expect("CRDs");
    }
    let setup = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {namespace}}}\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata: {{name: creds, namespace: {namespace}}}\n\
         stringData: {{apiKey: {API_KEY}, secret: {SECRET}}}\n---\n\
         apiVersion: videosdk.live/v1alpha1\nkind: VideoSdkIssuer\nmetadata: {{name: videosdk, namespace: {namespace}}}\n\
         spec: {{credentialsSecretRef: {{name: creds}}}}\n"
    );
    manifests::apply(client, namespace, "setup", &setup)
        .await
        .expect("setup");
}

/// Creates tokens `t0`…`t{n-1}` (with `ttl` if given), `CREATE_CONCURRENCY` at a time, sending
/// each created token to `created` if given. Returns each token's creation instant.
async fn create_tokens(
    api: &Api<VideoSdkToken>,
    n: usize,
    ttl: Option<&str>,
    created: Option<mpsc::UnboundedSender<VideoSdkToken>>,
) -> HashMap<String, Instant> {
    stream::iter(0..n)
        .map(|i| {
            let created = created.clone();
            async move {
                let name = format!("t{i}");
                let mut token = json!({"apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkToken",
                                       "metadata": {"name": name},
                                       "spec": {"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]}});
                if let Some(ttl) = ttl {
                    token["spec"]["ttl"] = json!(ttl);
                }
                let at = Instant::now();
                let token = api
                    .patch(&name, &PatchParams::apply("bench"), &Patch::Apply(&token))
                    .await
                    .expect("create");
                if let Some(created) = created {
                    let _ = created.unbounded_send(token);
                }
                (name, at)
            }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .collect()
        .await
}

fn is_ready(token: &VideoSdkToken) -> bool {
    token.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// Watches tokens from now on; resolves with the instant each of `n` tokens was first seen
/// Ready.
fn watch_ready(api: Api<VideoSdkToken>, n: usize) -> oneshot::Receiver<HashMap<String, Instant>> {
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut ready = HashMap::new();
        let mut events = watcher(api, watcher::Config::default())
            .applied_objects()
            .boxed();
        while let Ok(Some(token)) = events.try_next().await {
            if is_ready(&token) {
                ready.entry(token.name_any()).or_insert_with(Instant::now);
                if ready.len() == n {
                    break;
                }
            }
        }
        let _ = tx.send(ready);
    });
    rx
}

/// The Secret and the status the operator would write for `token`, signed at `now`.
fn issued(token: &VideoSdkToken, credentials: &Credentials, now: SystemTime) -> (Secret, Value) {
    let request = TokenRequest::from_spec(&token.spec).expect("a valid spec");
    let signed = token::sign(&request, credentials, now).expect("signed");
    let record = StoredToken {
        jwt: None,
        token_id: None,
        token_uid: None,
        spec_hash: Some(request.fingerprint()),
        credentials_hash: Some(credentials.fingerprint()),
        renew_now_handled: None,
    };
    let secret = secret::desired(token, &signed.jwt, record.annotations(&signed.claims));
    let (iat, exp) = (
        time::from_unix(signed.claims.iat),
        time::from_unix(signed.claims.exp),
    );
    let uid = token.uid().unwrap_or_default();
    let renewal = token::renewal_time(iat, exp, RenewBefore::Default, &uid).expect("a schedule");
    let secret_name = secret::secret_name(token);
    let conditions = status::conditions(
        videosdk_token_operator::controller::reason::Reason::Issued,
        format!("Secret {secret_name} holds a valid token"),
        token.meta().generation,
        &[],
        now,
    );
    let times = status::TokenTimes {
        token_id: signed.claims.jti.clone(),
        not_before: time::to_k8s(iat),
        not_after: time::to_k8s(exp),
        renewal_time: time::to_k8s(renewal),
        renew_now_handled: None,
    };
    let status = json!({
        "apiVersion": VideoSdkToken::api_version(&()),
        "kind": VideoSdkToken::kind(&()),
        "metadata": {"name": token.name_any(), "namespace": token.namespace()},
        "status": status::ready(conditions, token.meta().generation, times, secret_name),
    });
    (secret, status)
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/// The floor: a minimal client that, for each token the benchmark creates, applies its Secret
/// and its status, `CONCURRENCY` tokens at a time. Same creates, same Ready watch, fresh server.
async fn floor(n: usize) -> Value {
    let server = ServerProcess::spawn();
    let client = server.client();
    setup_namespace(&client, NAMESPACE).await;
    let tokens: Api<VideoSdkToken> = Api::namespaced(client.clone(), NAMESPACE);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    let credentials = Credentials::new(API_KEY, SECRET).expect("credentials");
    let ready = watch_ready(tokens.clone(), n);
    let (created_tx, created_rx) = mpsc::unbounded::<VideoSdkToken>();
    server.reset_requests().await;
    let start = Instant::now();
    let client_cpu = procfs::cpu_seconds(std::process::id());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let writes = created_rx
        .map(|token| {
            let (tokens, secrets, params, credentials) = (&tokens, &secrets, &params, &credentials);
            async move {
                let (secret, status) = issued(&token, credentials, SystemTime::now());
                let name = secret.name_any();
                secrets
                    .patch(&name, params, &Patch::Apply(&secret))
                    .await
                    .expect("Secret applied");
                tokens
                    .patch_status(&token.name_any(), params, &Patch::Apply(&status))
                    .await
                    .expect("status applied");
            }
        })
        .buffer_unordered(usize::from(CONCURRENCY))
        .collect::<()>();
    let creates = create_tokens(&tokens, n, None, Some(created_tx));
    let (_, ()) = tokio::join!(creates, writes);
    ready.await.expect("all tokens become Ready");
    let seconds = start.elapsed().as_secs_f64();
    let client_cpu = procfs::cpu_seconds(std::process::id()) - client_cpu;
    let requests = server.requests().await;
    json!({
        "seconds": seconds,
        "writes": requests.writes - n as u64,
        // This process: the creates, the Ready watch and the floor's writes.
        "benchProcessCpuSeconds": client_cpu,
    })
}

/// N tokens created at once with the operator running, until all are Ready.
async fn create_until_ready(
    server: &ServerProcess,
    client: &kube::Client,
    n: usize,
) -> (Value, OperatorProcess) {
    let operator = OperatorProcess::spawn(OPERATOR, server, NAMESPACE).await;
    // Its start (the client's TLS set-up, the first lists) is not issuance work: the CPU per
    // issuance is counted from when its caches are synced, and the start's CPU on its own.
    operator.wait_for(|c| c.caches_synced()).await;
    let start_cpu = procfs::cpu_seconds(operator.pid());
    let tokens: Api<VideoSdkToken> = Api::namespaced(client.clone(), NAMESPACE);
    let ready = watch_ready(tokens.clone(), n);
    server.reset_requests().await;
    let start = Instant::now();
    let (operator_cpu, bench_cpu) = (
        procfs::cpu_seconds(operator.pid()),
        procfs::cpu_seconds(std::process::id()),
    );
    let created = create_tokens(&tokens, n, None, None).await;
    let ready = ready.await.expect("all tokens become Ready");
    let seconds = start.elapsed().as_secs_f64();
    let operator_cpu = procfs::cpu_seconds(operator.pid()) - operator_cpu;
    let bench_cpu = procfs::cpu_seconds(std::process::id()) - bench_cpu;
    let memory = operator.memory();
    let mut latencies: Vec<f64> = ready
        .iter()
        .map(|(name, at)| at.duration_since(created[name]).as_secs_f64())
        .collect();
    latencies.sort_by(f64::total_cmp);
    let requests = server.requests().await;
    let total_issuances = operator.counters().await.total_issuances();
    let issued = total_issuances.max(1) as f64;
    let result = json!({
        "secondsUntilAllReady": seconds,
        "createToReadyP50Seconds": percentile(&latencies, 0.5),
        "createToReadyP99Seconds": percentile(&latencies, 0.99),
        "tokensIssued": total_issuances,
        "writesPerIssuedToken": (requests.writes - n as u64) as f64 / issued,
        "secretWritesPerIssuedToken": requests.writes_to("secrets") as f64 / issued,
        "statusWritesPerIssuedToken": requests.writes_to("videosdktokens/status") as f64 / issued,
        "eventWritesPerIssuedToken": requests.writes_to("events") as f64 / issued,
        "secondsFromReadyUntilEventsPosted": events_posted(server, total_issuances).await,
        "secretGetsPerIssuedToken": requests.get("get", "secrets") as f64 / issued,
        "operatorCpuSecondsPer1000": 1000.0 * operator_cpu / issued,
        "operatorStartCpuSeconds": start_cpu,
        // This process without the floor's writes: the same creates and Ready watch.
        "benchProcessCpuSeconds": bench_cpu,
        "peakRssMiB": memory.peak_mib,
        "rssMiB": memory.rss_mib,
        "rssAnonMiB": memory.anon_mib,
        "rssFileMiB": memory.file_mib,
    });
    (result, operator)
}

/// Seconds until every issuance's Event was posted (they follow the status, off the path to
/// Ready), counted from the request counts since the last reset.
async fn events_posted(server: &ServerProcess, issuances: u64) -> f64 {
    let start = Instant::now();
    while server.requests().await.writes_to("events") < issuances {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the issuances' Events were not posted in 5 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    start.elapsed().as_secs_f64()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Nothing to do for `period`: writes and CPU.
async fn idle(server: &ServerProcess, operator: &OperatorProcess, period: Duration) -> Value {
    server.reset_requests().await;
    let (operator_cpu, server_cpu) = (
        procfs::cpu_seconds(operator.pid()),
        procfs::cpu_seconds(server.pid()),
    );
    tokio::time::sleep(period).await;
    let operator_cpu = procfs::cpu_seconds(operator.pid()) - operator_cpu;
    let server_cpu = procfs::cpu_seconds(server.pid()) - server_cpu;
    let requests = server.requests().await;
    if requests.writes > 0 {
        eprintln!("writes while idle: {:?}", requests.by);
    }
    json!({
        "seconds": period.as_secs(),
        "writes": requests.writes,
        "operatorCpuSeconds": operator_cpu,
        "operatorCpuPercentOfACore": 100.0 * operator_cpu / period.as_secs_f64(),
        "serverCpuSeconds": server_cpu,
    })
}

/// The operator stopped and started again with `n` valid tokens.
async fn restart(
    server: &ServerProcess,
    operator: OperatorProcess,
    n: usize,
) -> (Value, OperatorProcess, Memory) {
    operator.stop().await;
    server.reset_requests().await;
    let start = Instant::now();
    let operator = OperatorProcess::spawn(OPERATOR, server, NAMESPACE).await;
    operator.wait_reconciled(n).await;
    let seconds = start.elapsed().as_secs_f64();
    let memory = operator.memory();
    let requests = server.requests().await;
    let result = json!({
        "writes": requests.writes,
        "secretGets": requests.get("get", "secrets"),
        "secretLists": requests.get("list", "secrets"),
        "namespaceGets": requests.get("get", "namespaces"),
        "tokensIssued": operator.counters().await.total_issuances(),
        "secondsUntilSyncedAndReconciled": seconds,
        "rssMiB": memory.rss_mib,
        "peakRssMiB": memory.peak_mib,
    });
    (result, operator, memory)
}

/// The issuer's credentials Secret gets a new secret: until every token is re-signed with it.
async fn rotation(
    server: &ServerProcess,
    client: &kube::Client,
    operator: &OperatorProcess,
    n: usize,
) -> Value {
    let reason = ResignReason::CredentialsChanged.as_str();
    let before = operator.counters().await.issuances(reason);
    server.reset_requests().await;
    let start = Instant::now();
    let rotated = json!({"apiVersion": "v1", "kind": "Secret",
                         "metadata": {"name": "creds", "namespace": NAMESPACE},
                         "stringData": {"apiKey": API_KEY, "secret": ROTATED_SECRET}});
    Api::<Secret>::namespaced(client.clone(), NAMESPACE)
        .patch(
            "creds",
            &PatchParams::apply(manifests::FIELD_MANAGER).force(),
            &Patch::Apply(&rotated),
        )
        .await
        .expect("credentials rotated");
    operator
        .wait_for(|c| c.issuances(reason) - before >= n as u64)
        .await;
    let seconds = start.elapsed().as_secs_f64();
    let requests = server.requests().await;
    let verified = verified_secrets(client, ROTATED_SECRET).await;
    assert_eq!(
        verified, n,
        "every Secret holds a token signed with the new secret"
    );
    json!({
        "secondsUntilAllResigned": seconds,
        "verifiedWithNewSecret": verified,
        "writesPerToken": (requests.writes - 1) as f64 / n as f64,
        "secretGetsPerToken": requests.get("get", "secrets") as f64 / n as f64,
    })
}

/// How many managed Secrets in the benchmark namespace hold a token that verifies with `secret`.
async fn verified_secrets(client: &kube::Client, secret: &str) -> usize {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    let list = secrets
        .list(&ListParams::default().labels(MANAGED_SELECTOR))
        .await
        .expect("Secrets listed");
    let now = SystemTime::now();
    list.items
        .iter()
        .filter_map(|s| s.data.as_ref()?.get(TOKEN_KEY))
        .filter_map(|jwt| std::str::from_utf8(&jwt.0).ok())
        .filter(|jwt| token::verify(jwt, secret, now).is_ok())
        .count()
}

/// The operator (re)started in a cluster that also holds `count` Secrets it does not manage:
/// its memory as a ratio to the same start without them (`baseline`).
async fn unrelated(server: &ServerProcess, n: usize, count: usize, baseline: Memory) -> Value {
    server.seed_unrelated(count).await;
    let start = Instant::now();
    let operator = OperatorProcess::spawn(OPERATOR, server, NAMESPACE).await;
    operator.wait_reconciled(n).await;
    let seconds = start.elapsed().as_secs_f64();
    let memory = operator.memory();
    operator.stop().await;
    server.unseed_unrelated().await;
    json!({
        "unrelatedSecrets": count,
        "secondsUntilSyncedAndReconciled": seconds,
        "rssMiB": memory.rss_mib,
        "peakRssMiB": memory.peak_mib,
        "rssRatio": memory.rss_mib / baseline.rss_mib,
        "peakRssRatio": memory.peak_mib / baseline.peak_mib,
    })
}

/// N tokens (ttl `ttl`) whose Secrets hold tokens issued at the same second in the past, such
/// that the earliest renewal time is `lead` seconds from now: re-signs and writes per second.
async fn mass_renewal(
    server: &ServerProcess,
    client: &kube::Client,
    n: usize,
    ttl: &str,
    lead: f64,
) -> Value {
    setup_namespace(client, RENEWAL_NAMESPACE).await;
    let tokens: Api<VideoSdkToken> = Api::namespaced(client.clone(), RENEWAL_NAMESPACE);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), RENEWAL_NAMESPACE);
    let (created_tx, created_rx) = mpsc::unbounded();
    create_tokens(&tokens, n, Some(ttl), Some(created_tx)).await;
    let created: Vec<VideoSdkToken> = created_rx.collect().await;

    // Default renew window: the last third of the lifetime; the jitter moves renewal earlier by
    // up to a tenth of it. All issued at `issued_at`, they renew within [first, last].
    let lifetime = token::parse_positive(ttl).expect("BENCH_RENEW_TTL is a duration");
    let window = lifetime / 3;
    let spread = window.min(lifetime - window) / 10;
    let first = SystemTime::now() + Duration::from_secs_f64(lead);
    let issued_at = first + spread - (lifetime - window);
    let credentials = Credentials::new(API_KEY, SECRET).expect("credentials");
    let params = PatchParams::apply(FIELD_MANAGER).force();
    stream::iter(&created)
        .map(|token| {
            let (secret, _) = issued(token, &credentials, issued_at);
            let (secrets, params) = (&secrets, &params);
            async move {
                secrets
                    .patch(&secret.name_any(), params, &Patch::Apply(&secret))
                    .await
            }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await
        .expect("Secrets issued in the past");

    let operator = OperatorProcess::spawn(OPERATOR, server, NAMESPACE).await;
    operator.wait_reconciled(2 * n).await;
    let margin = first
        .duration_since(SystemTime::now())
        .map_or(0.0, |d| d.as_secs_f64());
    // Per second from `first`: re-signs (the only Secret writes now) and writes of any kind,
    // sampled from the server's counts (a scrape of 2N tokens' series this often would load
    // the operator).
    let (mut resigns, mut writes) = (Vec::<u64>::new(), Vec::<u64>::new());
    let deadline = first + spread + Duration::from_secs(120) + Duration::from_secs_f64(lead);
    let counts = || async {
        let requests = server.requests().await;
        (requests.writes_to("secrets"), requests.writes)
    };
    let start = counts().await;
    let mut last = start;
    while last.0 - start.0 < n as u64 && SystemTime::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = counts().await;
        let Ok(since) = SystemTime::now().duration_since(first) else {
            last = now;
            continue;
        };
        let second = since.as_secs() as usize;
        for series in [&mut resigns, &mut writes] {
            if series.len() <= second {
                series.resize(second + 1, 0);
            }
        }
        resigns[second] += now.0 - last.0;
        writes[second] += now.1 - last.1;
        last = now;
    }
    let seconds_until_all = SystemTime::now()
        .duration_since(first)
        .map_or(0.0, |d| d.as_secs_f64());
    let total = operator
        .counters()
        .await
        .issuances(ResignReason::RenewalDue.as_str());
    operator.stop().await;
    let busy = resigns.iter().filter(|&&r| r > 0).count();
    json!({
        "ttl": ttl,
        "jitterSpreadSeconds": spread.as_secs_f64(),
        "secondsToSpareBeforeFirstRenewal": margin,
        "resigned": total,
        "secondsFromFirstRenewalTimeUntilAllResigned": seconds_until_all,
        "secondsWithResigns": busy,
        "peakResignsPerSecond": resigns.iter().max().copied().unwrap_or(0),
        "peakWritesPerSecond": writes.iter().max().copied().unwrap_or(0),
        "resignsPerSecond": resigns,
        "writesPerSecond": writes,
    })
}

// ---------------------------------------------------------------------------------------------
// Report

/// One row of the table: a label, where the figure is in each run's JSON, and the target.
const ROWS: &[(&str, &str, &str)] = &[
    (
        "floor: seconds until all Ready (minimal client)",
        "/floor/seconds",
        "",
    ),
    (
        "operator: seconds until all Ready",
        "/create/secondsUntilAllReady",
        "",
    ),
    (
        "  as a ratio to the floor",
        "/createToFloorRatio",
        "≤ 1.2 at 10,000 and 50,000",
    ),
    (
        "  create → Ready p50 (s)",
        "/create/createToReadyP50Seconds",
        "",
    ),
    (
        "  create → Ready p99 (s)",
        "/create/createToReadyP99Seconds",
        "",
    ),
    (
        "  API writes per issued token",
        "/create/writesPerIssuedToken",
        "",
    ),
    (
        "    of which Events (the rest follow Ready)",
        "/create/eventWritesPerIssuedToken",
        "",
    ),
    (
        "  from all Ready until every Event is posted (s)",
        "/create/secondsFromReadyUntilEventsPosted",
        "",
    ),
    (
        "  status writes per issued token",
        "/create/statusWritesPerIssuedToken",
        "1",
    ),
    (
        "  Secret GETs per issued token",
        "/create/secretGetsPerIssuedToken",
        "0",
    ),
    (
        "  operator CPU per 1,000 issuances (s)",
        "/create/operatorCpuSecondsPer1000",
        "",
    ),
    (
        "  operator CPU from start until its caches are synced (s)",
        "/create/operatorStartCpuSeconds",
        "",
    ),
    (
        "  floor client CPU per 1,000 (s)",
        "/floorClientCpuSecondsPer1000",
        "",
    ),
    (
        "  operator CPU as a ratio to the floor's",
        "/operatorToFloorCpuRatio",
        "≤ 1.5",
    ),
    (
        "  operator peak RSS (MiB)",
        "/create/peakRssMiB",
        "≤ 32 at 10,000",
    ),
    (
        "  operator RSS when all Ready: data (RssAnon, MiB)",
        "/create/rssAnonMiB",
        "",
    ),
    (
        "  operator RSS when all Ready: code and other files (RssFile, MiB)",
        "/create/rssFileMiB",
        "",
    ),
    ("idle: writes", "/idle/writes", "0"),
    (
        "idle: operator CPU (% of a core)",
        "/idle/operatorCpuPercentOfACore",
        "",
    ),
    ("restart: writes", "/restart/writes", "0"),
    ("restart: Secret GETs", "/restart/secretGets", "0"),
    ("restart: Secret LISTs", "/restart/secretLists", ""),
    (
        "restart: seconds until synced, all reconciled",
        "/restart/secondsUntilSyncedAndReconciled",
        "",
    ),
    ("restart: RSS (MiB)", "/restart/rssMiB", "≤ 64"),
    ("restart: peak RSS (MiB)", "/restart/peakRssMiB", "≤ 64"),
    (
        "rotation: seconds until all re-signed",
        "/rotation/secondsUntilAllResigned",
        "",
    ),
    ("rotation: writes per token", "/rotation/writesPerToken", ""),
    (
        "rotation: Secret GETs per token",
        "/rotation/secretGetsPerToken",
        "0",
    ),
    (
        "unrelated Secrets: RSS ratio",
        "/unrelatedSecrets/rssRatio",
        "≤ 1.1",
    ),
    (
        "unrelated Secrets: peak RSS ratio",
        "/unrelatedSecrets/peakRssRatio",
        "≤ 1.1",
    ),
    (
        "mass renewal: jitter spread (s)",
        "/massRenewal/jitterSpreadSeconds",
        "",
    ),
    (
        "mass renewal: seconds with re-signs",
        "/massRenewal/secondsWithResigns",
        "",
    ),
    (
        "mass renewal: peak re-signs per second",
        "/massRenewal/peakResignsPerSecond",
        "",
    ),
    (
        "mass renewal: peak writes per second",
        "/massRenewal/peakWritesPerSecond",
        "",
    ),
    (
        "mass renewal: s until all re-signed",
        "/massRenewal/secondsFromFirstRenewalTimeUntilAllResigned",
        "",
    ),
];

fn print_table(results: &Value) {
    let runs = results["runs"].as_array().expect("runs");
    let cell = |v: Option<&Value>| match v {
        Some(Value::Number(x)) if x.is_f64() => format!("{:.2}", x.as_f64().unwrap_or(0.0)),
        Some(v) => v.to_string(),
        None => "-".to_owned(),
    };
    let header: Vec<String> = runs
        .iter()
        .map(|r| format!("N = {}", r["tokens"]))
        .collect();
    println!(
        "\noperator benchmark against the in-memory API server (separate process), {} CPUs",
        results["cpus"]
    );
    println!("| scenario | {} | target |", header.join(" | "));
    println!("|---|{}---|", "---:|".repeat(runs.len()));
    for (label, pointer, target) in ROWS {
        let cells: Vec<String> = runs.iter().map(|r| cell(r.pointer(pointer))).collect();
        println!("| {label} | {} | {target} |", cells.join(" | "));
    }
    for pair in runs.windows(2) {
        let figure = |run: &Value, pointer: &str| run.pointer(pointer).and_then(Value::as_f64);
        if let (Some(n1), Some(n2), Some(peak1), Some(peak2)) = (
            figure(&pair[0], "/tokens"),
            figure(&pair[1], "/tokens"),
            figure(&pair[0], "/create/peakRssMiB"),
            figure(&pair[1], "/create/peakRssMiB"),
        ) {
            println!(
                "peak RSS per additional token from N = {n1} to {n2}: {:.2} KiB (target ≤ 2)",
                (peak2 - peak1) * 1024.0 / (n2 - n1)
            );
        }
    }
    for run in runs {
        println!(
            "re-signs per second from the first renewal time, N = {}: {}",
            run["tokens"], run["massRenewal"]["resignsPerSecond"]
        );
    }
}
