//! Token requests: throughput per core of the operator's CPU and latency over HTTPS keep-alive
//! connections with warm caches, as ratios to bare signing measured in the same run, and what
//! 10,000 requests from 10 callers cost the API server in TokenReviews and
//! SubjectAccessReviews.
//!
//! Run with `cargo bench --bench token_requests` (needs `openssl` for the test certificate).
//! Three processes, as in the operator benchmark: the in-memory API server (this binary,
//! re-executed), the operator (the release binary, `run --token-requests-address …
//! --token-requests-tls-secret …`), and this one, the 10 callers. The operator's CPU is read from
//! `/proc/PID/stat`, so the callers' TLS and HTTP work is not counted against it.
//! `BENCH_REQUESTS` (default 10000) and `BENCH_CALLERS` (default 10) change the load.
//!
//! Targets (issue 13): at least 10,000 requests per second per core of the operator's CPU, p99
//! under 5 ms, at most one TokenReview and one SubjectAccessReview per caller and issuer per
//! cache lifetime (10 s by default).
//!
//! Then a flood (issue 20): `BENCH_FLOOD_CONNECTIONS` (default 8) keep-alive connections send
//! distinct garbage bearers (random strings and JWTs shaped for the right audience, alternately)
//! while one legitimate caller makes `BENCH_FLOOD_REQUESTS` (default 2,000) requests; the same
//! caller's requests alone, just before, are the baseline. Reported: the TokenReviews per second
//! that reach the API server (its own count) against the endpoint's budget, and the caller's
//! p50/p99 under the flood as ratios to the baseline. Loopback only; each flood connection stops
//! when the caller is done, after at most 1,000,000 requests.
//!
//! Idle connections (issue 20): `BENCH_IDLE` (default `1000,4000`) TLS connections, handshake
//! done, opened from this one client and left silent (within the 30 s header timeout), then as
//! many plain HTTP ones to an operator serving plain HTTP on loopback; the
//! operator's RSS before, with them and 3 s after they close gives the cost of one idle
//! connection and what is returned, and a legitimate caller's p50/p99 with them is reported as
//! a ratio to its p50/p99 without them, measured just before (target: p99 within 2x).

// A test or benchmark binary exports nothing: its `pub` items are shared between its own
// modules, and are not the crate's public API that `missing_docs` is about.
#![allow(unreachable_pub, missing_docs)]

use e2e_support::operator_process::{self, OperatorProcess};
use e2e_support::server_process::{self, ServerProcess};
use e2e_support::{certificate, procfs};
use k8s_openapi::api::authentication::v1::{TokenRequest as KubeTokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use serde_json::json;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto::aws_lc_rs};
use videosdk_token_operator::api::{Permission, Role};
use videosdk_token_operator::manifests;
use videosdk_token_operator::token::{self, Credentials, TokenRequest};

/// The operator binary `cargo bench` built with this benchmark (release profile, default
/// features), which `e2e_support::operator_process` runs.
const OPERATOR: &str = env!("CARGO_BIN_EXE_videosdk-token-operator");
const NAMESPACE: &str = "bench";
const AUDIENCE: &str = "videosdk-token-operator";
const API_KEY: &str = "b7e9c5a1-3f2d-4c6b-9a8e-1d2c3b4a5f6e";
const SECRET: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
/// The body every caller sends: a v2 participant token, as VideoSDK's samples ask.
const BODY: &str = r#"{"issuer":{"name":"videosdk"},"permissions":["allow_join"],"roles":["rtc"],"roomId":"room-1234","participantId":"participant-42"}"#;

fn number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    server_process::serve_if_child();
    let requests = number("BENCH_REQUESTS", 10_000);
    let callers = number("BENCH_CALLERS", 10).max(1);
    let flood_connections = number("BENCH_FLOOD_CONNECTIONS", 8).max(1);
    let flood_requests = number("BENCH_FLOOD_REQUESTS", 2_000).max(100);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let (served, flood) =
        runtime.block_on(run(requests, callers, flood_connections, flood_requests));
    let signing = bare_signing();
    let per_core_ratio = served.per_core / signing.per_second;
    println!(
        "token requests over HTTPS keep-alive, {requests} requests from {callers} callers, warm caches:"
    );
    println!(
        "  {:.0} requests/s per core of the operator's CPU ({:.2} CPU-s), {:.0} requests/s wall clock",
        served.per_core, served.cpu_seconds, served.per_second
    );
    println!(
        "  latency p50 {:.3} ms, p99 {:.3} ms (client side, TLS and HTTP included)",
        served.p50 * 1e3,
        served.p99 * 1e3
    );
    println!(
        "bare signing, same run: {:.0} tokens/s on one core, p50 {:.2} µs, p99 {:.2} µs",
        signing.per_second,
        signing.p50 * 1e6,
        signing.p99 * 1e6
    );
    println!(
        "  ratios: requests/s per core ÷ signs/s = {per_core_ratio:.4} (1/{:.1}); p50 {:.0}×, p99 {:.0}× a bare sign",
        1.0 / per_core_ratio,
        served.p50 / signing.p50,
        served.p99 / signing.p99
    );
    println!(
        "API server cost of {} requests (warm-up included) in {:.1} s: {} TokenReviews, {} SubjectAccessReviews ({callers} callers, one issuer, cache lifetime 10 s)",
        requests + callers,
        served.duration,
        served.token_reviews,
        served.access_reviews
    );
    let targets = [
        (served.per_core >= 10_000.0, "≥ 10,000 requests/s per core"),
        (served.p99 < 0.005, "p99 < 5 ms"),
        (
            served.token_reviews <= callers as u64 * served.lifetimes
                && served.access_reviews <= callers as u64 * served.lifetimes,
            "≤ 1 review of each kind per caller per cache lifetime",
        ),
    ];
    for (met, target) in targets {
        println!("  target {target}: {}", if met { "met" } else { "NOT met" });
    }
    for idle in &served.idle {
        let cost_kib = (idle.rss_with - idle.rss_before) * 1024.0 / idle.connections as f64;
        println!(
            "{} idle {} connections (opened in {:.1} s): RSS {:.1} MiB before, {:.1} with them ({cost_kib:.1} KiB each), {:.1} 3 s after they closed",
            idle.connections,
            if idle.tls { "TLS" } else { "plain HTTP" },
            idle.open_seconds,
            idle.rss_before,
            idle.rss_with,
            idle.rss_after
        );
        let (p50, p99) = (idle.with.0 / idle.without.0, idle.with.1 / idle.without.1);
        println!(
            "  a caller's latency without them p50 {:.3} ms, p99 {:.3} ms; with them p50 {:.3} ms, p99 {:.3} ms: ratios p50 {p50:.2}, p99 {p99:.2} (target p99 ≤ 2: {})",
            idle.without.0 * 1e3,
            idle.without.1 * 1e3,
            idle.with.0 * 1e3,
            idle.with.1 * 1e3,
            if p99 <= 2.0 { "met" } else { "NOT met" }
        );
    }
    println!(
        "flood: {flood_connections} connections of distinct garbage bearers, {} requests in {:.1} s ({:.0}/s: {} refused unasked 401, {} reviewed 401, {} budget 429/503), beside one caller's {flood_requests} requests:",
        flood.garbage,
        flood.duration,
        flood.garbage as f64 / flood.duration,
        flood.unasked,
        flood.reviewed,
        flood.spent
    );
    let reviews_per_second = flood.token_reviews as f64 / flood.duration;
    println!(
        "  {} TokenReviews reached the API server: {reviews_per_second:.1}/s, {:.1}/s past the burst (budget: {} per second, burst {})",
        flood.token_reviews,
        flood.token_reviews.saturating_sub(u64::from(REVIEW_BURST)) as f64 / flood.duration,
        REVIEW_RATE,
        REVIEW_BURST
    );
    println!(
        "  the caller: p50 {:.3} ms, p99 {:.3} ms under the flood; alone p50 {:.3} ms, p99 {:.3} ms; ratios p50 {:.2}, p99 {:.2}; {} of its answers not 200",
        flood.p50 * 1e3,
        flood.p99 * 1e3,
        flood.alone_p50 * 1e3,
        flood.alone_p99 * 1e3,
        flood.p50 / flood.alone_p50,
        flood.p99 / flood.alone_p99,
        flood.caller_refused
    );
    let within = flood.token_reviews as f64
        <= f64::from(REVIEW_BURST) + f64::from(REVIEW_RATE) * flood.duration.ceil();
    println!(
        "  target TokenReviews within the budget: {}",
        if within { "met" } else { "NOT met" }
    );
}

/// The endpoint's TokenReview budget in the flood (`--token-requests-review-rate`, `-burst`):
/// the defaults.
const REVIEW_RATE: u32 = 100;
const REVIEW_BURST: u32 = 200;

/// What the flood did.
struct Flood {
    garbage: u64,
    unasked: u64,
    reviewed: u64,
    spent: u64,
    duration: f64,
    token_reviews: u64,
    p50: f64,
    p99: f64,
    alone_p50: f64,
    alone_p99: f64,
    caller_refused: usize,
}

/// A garbage bearer, number `n`: a random-looking string, or (odd `n`) a JWT shaped as a
/// ServiceAccount token for the endpoint's audience, valid for an hour, signed by nobody.
fn garbage(n: u64) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    if n % 2 == 0 {
        return format!(
            "garbage-{n:016x}-{:016x}",
            n.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        );
    }
    let exp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        + 3600;
    let part = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        part(json!({"alg": "RS256", "kid": "flood"})),
        part(
            json!({"aud": [AUDIENCE], "exp": exp, "sub": format!("system:serviceaccount:flood:n{n}")})
        ),
        URL_SAFE_NO_PAD.encode(n.to_be_bytes())
    )
}

/// `requests` requests of `caller`, one at a time; their latencies sorted, and how many were
/// not answered 200.
async fn timed(caller: &mut Caller, requests: usize) -> (Vec<f64>, usize) {
    let mut times = Vec::with_capacity(requests);
    let mut refused = 0;
    let request = caller.request.clone();
    for _ in 0..requests {
        let t = Instant::now();
        if caller.ask_with(&request).await != 200 {
            refused += 1;
        }
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (times, refused)
}

/// One caller alone, then beside `connections` connections of garbage bearers.
async fn flood(
    server: &ServerProcess,
    address: std::net::SocketAddr,
    tls: Arc<ClientConfig>,
    bearer: &str,
    path: &str,
    connections: usize,
    requests: usize,
) -> Flood {
    let mut caller = Caller::connect(address, Some(&tls), bearer, path).await;
    assert_eq!(caller.ask().await, 200, "the caller is granted");
    let (alone, _) = timed(&mut caller, requests).await;
    let mut flooders = Vec::new();
    for _ in 0..connections {
        flooders.push(Caller::connect(address, Some(&tls), "unused", path).await);
    }
    server.reset_requests().await;
    let done = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = flooders
        .into_iter()
        .map(|mut flooder| {
            let (done, next) = (done.clone(), next.clone());
            let path = path.to_owned();
            tokio::spawn(async move {
                let (mut unasked, mut reviewed, mut spent) = (0, 0, 0);
                for _ in 0..1_000_000 {
                    if done.load(Ordering::Relaxed) {
                        break;
                    }
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let request = Caller::request_for(&path, &garbage(n));
                    match (flooder.ask_with(&request).await, n % 2) {
                        (401, 0) => unasked += 1,
                        (401, _) => reviewed += 1,
                        (429 | 503, _) => spent += 1,
                        (other, _) => panic!("a garbage bearer was answered {other}"),
                    }
                }
                (unasked, reviewed, spent)
            })
        })
        .collect();
    let (under_flood, caller_refused) = timed(&mut caller, requests).await;
    done.store(true, Ordering::Relaxed);
    let (mut unasked, mut reviewed, mut spent) = (0, 0, 0);
    for task in tasks {
        let (u, r, s) = task.await.expect("a flood connection");
        (unasked, reviewed, spent) = (unasked + u, reviewed + r, spent + s);
    }
    let duration = started.elapsed().as_secs_f64();
    let counts = server.requests().await;
    let token_reviews = counts
        .by
        .iter()
        .filter(|(verb, r, _)| verb == "create" && r == "tokenreviews")
        .map(|(_, _, n)| n)
        .sum::<u64>();
    Flood {
        garbage: unasked + reviewed + spent,
        unasked,
        reviewed,
        spent,
        duration,
        token_reviews,
        p50: quantile(&under_flood, 0.5),
        p99: quantile(&under_flood, 0.99),
        alone_p50: quantile(&alone, 0.5),
        alone_p99: quantile(&alone, 0.99),
        caller_refused,
    }
}

/// One idle-connections scenario.
struct Idle {
    /// HTTPS (else plain HTTP).
    tls: bool,
    connections: usize,
    open_seconds: f64,
    /// The operator's RSS, MiB.
    rss_before: f64,
    rss_with: f64,
    rss_after: f64,
    /// A legitimate caller's (p50, p99), seconds.
    without: (f64, f64),
    with: (f64, f64),
}

/// Requests a legitimate caller makes for one latency figure.
const LATENCY_REQUESTS: usize = 2000;

/// A new keep-alive caller's p50 and p99 over [`LATENCY_REQUESTS`] sequential requests.
async fn latency(
    address: std::net::SocketAddr,
    tls: Option<&Arc<ClientConfig>>,
    bearer: &str,
    path: &str,
) -> (f64, f64) {
    let mut caller = Caller::connect(address, tls, bearer, path).await;
    let mut times = Vec::with_capacity(LATENCY_REQUESTS);
    for _ in 0..LATENCY_REQUESTS {
        let t = Instant::now();
        assert_eq!(caller.ask().await, 200);
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (quantile(&times, 0.5), quantile(&times, 0.99))
}

/// The idle-connections scenarios of `BENCH_IDLE`, over HTTPS when `tls` is given.
async fn idle_connections(
    address: std::net::SocketAddr,
    tls: Option<&Arc<ClientConfig>>,
    bearer: &str,
    path: &str,
    operator: &OperatorProcess,
) -> Vec<Idle> {
    let counts: Vec<usize> = std::env::var("BENCH_IDLE")
        .unwrap_or_else(|_| "1000,4000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let mut scenarios = Vec::new();
    for connections in counts {
        let without = latency(address, tls, bearer, path).await;
        let rss_before = operator.memory().rss_mib;
        let started = Instant::now();
        let mut open = Vec::with_capacity(connections);
        while open.len() < connections {
            let batch = (connections - open.len()).min(100);
            open.extend(
                futures::future::join_all((0..batch).map(|_| self::open(address, tls))).await,
            );
        }
        let open_seconds = started.elapsed().as_secs_f64();
        assert!(
            open_seconds < 20.0,
            "opening took {open_seconds:.1} s: the first ones would reach the 30 s header timeout"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss_with = operator.memory().rss_mib;
        let with = latency(address, tls, bearer, path).await;
        drop(open);
        tokio::time::sleep(Duration::from_secs(3)).await;
        scenarios.push(Idle {
            tls: tls.is_some(),
            connections,
            open_seconds,
            rss_before,
            rss_with,
            rss_after: operator.memory().rss_mib,
            without,
            with,
        });
    }
    scenarios
}

/// What the endpoint did.
struct Served {
    per_core: f64,
    per_second: f64,
    cpu_seconds: f64,
    p50: f64,
    p99: f64,
    duration: f64,
    token_reviews: u64,
    access_reviews: u64,
    /// Cache lifetimes the run spanned (a bound on refreshes).
    lifetimes: u64,
    /// The idle-connections scenarios.
    idle: Vec<Idle>,
}

/// Bare signing on this thread.
struct Signing {
    per_second: f64,
    p50: f64,
    p99: f64,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

/// `token::sign` of the same claims the endpoint signs, one at a time.
fn bare_signing() -> Signing {
    let credentials = Credentials::new(API_KEY, SECRET).expect("credentials");
    let request = TokenRequest {
        permissions: vec![Permission::AllowJoin],
        roles: vec![Role::Rtc],
        room_id: Some("room-1234".into()),
        participant_id: Some("participant-42".into()),
        ttl: Duration::from_secs(600),
    };
    let mut times = Vec::with_capacity(200_000);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        let t = Instant::now();
        black_box(token::sign(&request, &credentials, SystemTime::now()).expect("signs"));
        times.push(t.elapsed().as_secs_f64());
    }
    let per_second = times.len() as f64 / start.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    Signing {
        per_second,
        p50: quantile(&times, 0.5),
        p99: quantile(&times, 0.99),
    }
}

async fn apply(client: &kube::Client, manifest: serde_json::Value) {
    manifests::apply(client, NAMESPACE, "bench", &manifest.to_string())
        .await
        .unwrap_or_else(|e| panic!("applying {manifest}: {e}"));
}

/// A connection, HTTPS or plain HTTP.
trait Connection: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Connection for T {}

/// A connection to `address`, with a TLS handshake when `tls` is given.
async fn open(
    address: std::net::SocketAddr,
    tls: Option<&Arc<ClientConfig>>,
) -> Box<dyn Connection> {
    let tcp = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    tcp.set_nodelay(true).expect("TCP_NODELAY");
    match tls {
        None => Box::new(tcp),
        Some(tls) => Box::new(
            tokio_rustls::TlsConnector::from(tls.clone())
                .connect(ServerName::IpAddress(address.ip().into()), tcp)
                .await
                .expect("TLS handshake (is the connection cap below BENCH_IDLE?)"),
        ),
    }
}

/// One caller: a keep-alive connection.
struct Caller {
    reader: BufReader<Box<dyn Connection>>,
    request: Vec<u8>,
}

impl Caller {
    async fn connect(
        address: std::net::SocketAddr,
        tls: Option<&Arc<ClientConfig>>,
        bearer: &str,
        path: &str,
    ) -> Caller {
        let stream = open(address, tls).await;
        Caller {
            reader: BufReader::new(stream),
            request: Self::request_for(path, bearer),
        }
    }

    /// The request of [`BODY`] with `bearer`.
    fn request_for(path: &str, bearer: &str) -> Vec<u8> {
        format!(
            "POST {path} HTTP/1.1\r\nHost: operator\r\nContent-Type: application/json\r\nAuthorization: Bearer {bearer}\r\nContent-Length: {}\r\n\r\n{BODY}",
            BODY.len()
        )
        .into_bytes()
    }

    /// One request with the caller's bearer; its status code.
    async fn ask(&mut self) -> u16 {
        let request = self.request.clone();
        self.ask_with(&request).await
    }

    /// One request (`request`, whole); its status code.
    async fn ask_with(&mut self, request: &[u8]) -> u16 {
        self.reader
            .get_mut()
            .write_all(request)
            .await
            .expect("sent");
        let mut line = String::new();
        self.reader.read_line(&mut line).await.expect("status line");
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let mut length = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line).await.expect("header");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("a length");
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).await.expect("body");
        status
    }
}

async fn run(
    requests: usize,
    callers: usize,
    flood_connections: usize,
    flood_requests: usize,
) -> (Served, Flood) {
    let server = ServerProcess::spawn();
    let client = server.client();
    manifests::install_crds(&client).await.expect("CRDs");
    manifests::apply(
        &client,
        "default",
        "bench",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
            .to_string(),
    )
    .await
    .expect("namespace");
    apply(
        &client,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
                          "stringData": {"apiKey": API_KEY, "secret": SECRET}}),
    )
    .await;
    apply(&client, json!({"apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkIssuer",
                          "metadata": {"name": "videosdk"}, "spec": {"credentialsSecretRef": {"name": "creds"}}})).await;
    let (cert, key) = certificate::self_signed(&e2e_support::target_dir(), "bench-tls");
    apply(&client, json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                          "metadata": {"name": "tls"}, "stringData": {"tls.crt": cert, "tls.key": key}})).await;
    apply(&client, json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "requester"},
                          "rules": [{"apiGroups": ["videosdk.live"], "resources": ["videosdkissuers"], "verbs": ["request"], "resourceNames": ["videosdk"]}]})).await;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), NAMESPACE);
    let mut bearers = Vec::new();
    for i in 0..callers {
        let name = format!("caller-{i}");
        apply(
            &client,
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}),
        )
        .await;
        apply(&client, json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": name},
                              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "requester"},
                              "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}]})).await;
        let request = KubeTokenRequest {
            spec: TokenRequestSpec {
                audiences: vec![AUDIENCE.into()],
                expiration_seconds: Some(3600),
                bound_object_ref: None,
            },
            ..KubeTokenRequest::default()
        };
        let minted = accounts
            .create_token_request(&name, &PostParams::default(), &request)
            .await
            .expect("a ServiceAccount token");
        bearers.push(minted.status.expect("status").token);
    }
    let address = operator_process::free_address();
    let operator = OperatorProcess::spawn_with(
        OPERATOR,
        &server,
        NAMESPACE,
        &[
            "--token-requests-address",
            &address.to_string(),
            "--token-requests-tls-secret",
            &format!("{NAMESPACE}/tls"),
            "--token-requests-rate",
            "1000000",
            "--token-requests-burst",
            "1000000",
            "--token-requests-review-rate",
            &REVIEW_RATE.to_string(),
            "--token-requests-review-burst",
            &REVIEW_BURST.to_string(),
            "--token-requests-max-connections",
            "10000",
            // The idle connections all come from loopback, one address.
            "--token-requests-max-connections-per-ip",
            "10000",
        ],
    )
    .await;
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(cert.as_bytes()).expect("PEM"))
        .expect("a root");
    let tls = Arc::new(
        ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let path = format!("/apis/videosdk.live/v1alpha1/namespaces/{NAMESPACE}/tokenrequests");

    // Until the operator serves (TLS Secret loaded, issuer Ready), then one request per caller
    // to warm the caches; the API server's review counts start before the warm-up.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Ok(tcp)) = tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect(address),
        )
        .await
        {
            drop(tcp);
            let mut probe = Caller::connect(address, Some(&tls), &bearers[0], &path).await;
            if probe.ask().await == 200 {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the endpoint did not answer 200 within 60 s (see target/bench-operator.log)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(11)).await; // let the probe's cache entries expire
    server.reset_requests().await;
    let mut connections = Vec::new();
    for bearer in &bearers {
        let mut caller = Caller::connect(address, Some(&tls), bearer, &path).await;
        assert_eq!(caller.ask().await, 200, "warm-up");
        connections.push(caller);
    }
    let cpu_before = procfs::cpu_seconds(operator.pid());
    let started = Instant::now();
    let each = requests / callers;
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|mut caller| {
            tokio::spawn(async move {
                let mut times = Vec::with_capacity(each);
                for _ in 0..each {
                    let t = Instant::now();
                    assert_eq!(caller.ask().await, 200);
                    times.push(t.elapsed().as_secs_f64());
                }
                times
            })
        })
        .collect();
    let mut times = Vec::with_capacity(requests);
    for task in tasks {
        times.extend(task.await.expect("a caller"));
    }
    let duration = started.elapsed().as_secs_f64();
    let cpu_seconds = procfs::cpu_seconds(operator.pid()) - cpu_before;
    let counts = server.requests().await;
    let count = |resource: &str| {
        counts
            .by
            .iter()
            .filter(|(verb, r, _)| verb == "create" && r == resource)
            .map(|(_, _, n)| n)
            .sum::<u64>()
    };
    times.sort_by(f64::total_cmp);
    let served = Served {
        per_core: times.len() as f64 / cpu_seconds,
        per_second: times.len() as f64 / duration,
        cpu_seconds,
        p50: quantile(&times, 0.5),
        p99: quantile(&times, 0.99),
        duration,
        token_reviews: count("tokenreviews"),
        access_reviews: count("subjectaccessreviews"),
        lifetimes: (duration / 10.0).ceil() as u64 + 1,
        idle: idle_connections(address, Some(&tls), &bearers[0], &path, &operator).await,
    };
    let flood = flood(
        &server,
        address,
        tls,
        &bearers[0],
        &path,
        flood_connections,
        flood_requests,
    )
    .await;
    operator.stop().await;
    // The same over plain HTTP, from an operator serving it on loopback.
    let address = operator_process::free_address();
    let operator = OperatorProcess::spawn_with(
        OPERATOR,
        &server,
        NAMESPACE,
        &[
            "--token-requests-address",
            &address.to_string(),
            "--token-requests-rate",
            "1000000",
            "--token-requests-burst",
            "1000000",
            "--token-requests-max-connections",
            "10000",
            // The idle connections all come from loopback, one address.
            "--token-requests-max-connections-per-ip",
            "10000",
        ],
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if tokio::net::TcpStream::connect(address).await.is_ok()
            && Caller::connect(address, None, &bearers[0], &path)
                .await
                .ask()
                .await
                == 200
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the plain HTTP endpoint did not answer 200 within 60 s (see target/bench-operator.log)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut served = served;
    served
        .idle
        .extend(idle_connections(address, None, &bearers[0], &path, &operator).await);
    operator.stop().await;
    (served, flood)
}
