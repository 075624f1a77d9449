//! Speed of the in-memory API server: create 10,000 Secrets through HTTP with kube::Client
//! while a watch receives them, and report writes per second and memory per 10,000 Secrets.
//!
//! Run: `cargo bench -p kube-apiserver-memory --bench apiserver` (release build; add `-- --secrets N --clients C` to change
//! the number of Secrets (default 10000) and of concurrent writers (default 32)).
//!
//! The server runs on a single-threaded Tokio runtime in a thread of its own, the clients on
//! another. Two figures are printed: wall-clock writes/s (server and clients competing for the
//! machine's cores) and writes per second of the server thread's own CPU time
//! (`/proc/thread-self/stat`), i.e. what one core serves. Memory is the resident-set growth
//! (`/proc/self/statm`) of the whole process, clients included, from before the first write to
//! after the last, scaled to 10,000 Secrets.

use e2e_support::procfs;

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use kube_apiserver_memory::{ApiServer, ApiServerOptions, RequestCounts, Verb};
use std::time::Instant;

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// CPU seconds (user + system) the calling thread has used.
fn thread_cpu_seconds() -> f64 {
    procfs::stat_cpu_seconds("/proc/thread-self/stat")
}

/// Starts the server on its own thread and runtime; returns its URL, a sender that stops it,
/// and the thread, which returns the CPU seconds the server used.
fn server_thread() -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<(f64, RequestCounts)>,
) {
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let server = ApiServer::start(ApiServerOptions::default())
                .await
                .expect("the server starts");
            url_tx
                .send(server.url().to_owned())
                .expect("the bench waits for the URL");
            let cpu_before = thread_cpu_seconds();
            let _ = stop_rx.await;
            let cpu = thread_cpu_seconds() - cpu_before;
            let counts = server.requests();
            server.shutdown().await;
            (cpu, counts)
        })
    });
    (url_rx.recv().expect("the server starts"), stop_tx, thread)
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let secrets = arg("--secrets", 10_000);
    let clients = arg("--clients", 32);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (url, stop, thread) = server_thread();
    runtime.block_on(async move {
        let client = kube::Client::try_from(kube::Config::new(url.parse().expect("a URL"))).expect("a client");
        let api: Api<Secret> = Api::namespaced(client, "default");
        let before = resident_bytes();
        let mut watch = api
            .watch(&WatchParams::default(), "0")
            .await
            .expect("a watch")
            .boxed();
        let start = Instant::now();
        let writes = stream::iter(0..secrets)
            .map(|i| {
                let api = api.clone();
                async move {
                    let s: Secret = serde_json::from_value(serde_json::json!({
                        "metadata": {"name": format!("bench-{i:05}"), "labels": {"app.kubernetes.io/managed-by": "videosdk-token-operator"}},
                        "type": "Opaque",
                        "data": {"token": "ZXlKaGJHY2lPaUpJVXpJMU5pSXNJblI1Y0NJNklrcFhWQ0o5LmV5SmhjR2xyWlhraU9pSmhZbU1pZlEuc2lnbmF0dXJl"}
                    }))
                    .expect("a secret");
                    api.create(&PostParams::default(), &s).await
                }
            })
            .buffer_unordered(clients)
            .try_for_each(|_| async { Ok(()) });
        let watched = async {
            let mut added = 0;
            while added < secrets {
                match watch.try_next().await.expect("watch event").expect("watch open") {
                    WatchEvent::Added(_) => added += 1,
                    WatchEvent::Error(e) => panic!("watch error: {e:?}"),
                    _ => {}
                }
            }
        };
        let (written, ()) = tokio::join!(writes, watched);
        written.expect("every create succeeds");
        let elapsed = start.elapsed();
        let after = resident_bytes();
        stop.send(()).expect("the server is running");
        let (server_cpu, counts) = thread.join().expect("the server thread");
        assert_eq!(counts.get(Verb::Create, "secrets") as usize, secrets);
        println!(
            "{secrets} Secrets created and watched through HTTP in {:.2} s with {clients} concurrent writers: {:.0} writes/s wall clock",
            elapsed.as_secs_f64(),
            secrets as f64 / elapsed.as_secs_f64()
        );
        println!(
            "server thread CPU: {server_cpu:.2} s, i.e. {:.0} writes/s per core (each write also fanned out to one watch)",
            secrets as f64 / server_cpu.max(0.01)
        );
        println!(
            "resident memory growth: {:.1} MiB, i.e. {:.1} MiB per 10,000 Secrets (store, watch history, client buffers)",
            after.saturating_sub(before) as f64 / (1 << 20) as f64,
            after.saturating_sub(before) as f64 / (1 << 20) as f64 * 10_000.0 / secrets as f64
        );
    });
}
