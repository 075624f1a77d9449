//! The operator in a child process: the release binary itself, `videosdk-token-operator run`,
//! as its Deployment runs it (default flags, one replica), pointed at the benchmark's API server
//! by a kubeconfig. Each start is a fresh process, so its memory figures (`/proc/PID/status`)
//! are the operator's alone, with nothing kept from an earlier scenario; its counters are read
//! from `/metrics`, as Prometheus reads them.

use crate::procfs::{self, Memory};
use crate::scrape;
use crate::server_process::ServerProcess;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Names another build of the operator to run instead of the one the benchmark was built with,
/// such as the container image's (without `dev`, fat LTO; see the Dockerfile), whose code is
/// smaller.
const BINARY_VARIABLE: &str = "BENCH_OPERATOR_BINARY";

/// The operator binary to run: `$BENCH_OPERATOR_BINARY`, else `built`.
fn binary(built: &str) -> std::ffi::OsString {
    std::env::var_os(BINARY_VARIABLE)
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| built.into())
}
/// How often a wait scrapes `/metrics`: at 10,000 tokens a scrape is about 2 MB of text, so
/// this is kept well below what would load the operator, yet far more often than Prometheus.
const SCRAPE_INTERVAL: Duration = Duration::from_millis(100);

/// A running operator. Dropping it kills the process.
pub struct OperatorProcess {
    child: Child,
    address: SocketAddr,
}

impl OperatorProcess {
    /// Starts the operator `built` (the benchmark's `env!("CARGO_BIN_EXE_videosdk-token-operator")`:
    /// this crate cannot depend on the operator's, see the book's "The workspace"; all
    /// namespaces; ClusterVideoSdkIssuer credentials in `cluster_resource_namespace`) against
    /// `server`, and waits until `/healthz` answers. Its log goes to `target/bench-operator.log`.
    pub async fn spawn(
        built: &str,
        server: &ServerProcess,
        cluster_resource_namespace: &str,
    ) -> OperatorProcess {
        Self::spawn_with(built, server, cluster_resource_namespace, &[]).await
    }

    /// [`spawn`](Self::spawn) with more flags of `run` (e.g. the token request endpoint's).
    pub async fn spawn_with(
        built: &str,
        server: &ServerProcess,
        cluster_resource_namespace: &str,
        extra: &[&str],
    ) -> OperatorProcess {
        let target = crate::target_dir();
        let kubeconfig = target.join("bench-operator.kubeconfig");
        std::fs::write(&kubeconfig, server.kubeconfig()).expect("kubeconfig written");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(target.join("bench-operator.log"))
            .expect("the log file");
        let address = free_address();
        // A profiler to run the operator under, e.g. `heaptrack` (a profile per start, in the
        // working directory); the memory figures are then the wrapper's, not the operator's.
        let mut command = match std::env::var("BENCH_OPERATOR_WRAPPER") {
            Ok(wrapper) if !wrapper.trim().is_empty() => {
                let mut words = wrapper.split_whitespace();
                let mut command = Command::new(words.next().unwrap_or_default());
                command.args(words).arg(binary(built));
                command
            }
            _ => Command::new(binary(built)),
        };
        let child = command
            .args([
                "run",
                "--cluster-resource-namespace",
                cluster_resource_namespace,
            ])
            .arg("--metrics-address")
            .arg(address.to_string())
            .args(extra)
            .env("KUBECONFIG", &kubeconfig)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log)
            // Its own process group, so that `stop` reaches a wrapper's child too.
            .process_group(0)
            .spawn()
            .expect("the operator starts");
        let operator = OperatorProcess { child, address };
        while scrape::get(operator.address, "/healthz").await.is_err() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        operator
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its resident memory now and its peak since it started.
    pub fn memory(&self) -> Memory {
        procfs::memory(self.pid())
    }

    /// Scrapes `/metrics`.
    pub async fn counters(&self) -> Counters {
        let (status, text) = scrape::get(self.address, "/metrics")
            .await
            .expect("/metrics answers");
        assert!(status.contains("200"), "/metrics: {status}");
        Counters(text)
    }

    /// Scrapes `/metrics` until `done` holds; returns that scrape.
    pub async fn wait_for(&self, done: impl Fn(&Counters) -> bool) -> Counters {
        loop {
            let counters = self.counters().await;
            if done(&counters) {
                return counters;
            }
            tokio::time::sleep(SCRAPE_INTERVAL).await;
        }
    }

    /// Until its caches are synced and it has reconciled `n` tokens.
    pub async fn wait_reconciled(&self, n: usize) {
        self.wait_for(|c| c.caches_synced() && c.reconciles() >= n as u64)
            .await;
    }

    /// Stops it as Kubernetes does, with SIGTERM (to its process group), and waits until it
    /// has exited.
    pub async fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.pid())])
            .status();
        // `Drop` then finds the process already reaped.
        tokio::task::spawn_blocking(move || self.child.wait().expect("the operator exits"))
            .await
            .expect("the wait thread");
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback address no one listens on now.
pub fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// One scrape of `/metrics`.
pub struct Counters(String);

impl Counters {
    fn value(&self, series: &str) -> u64 {
        scrape::sample(&self.0, series).map_or(0, |v| v as u64)
    }

    pub fn caches_synced(&self) -> bool {
        self.value("videosdk_caches_synced") == 1
    }

    /// Token reconciles run to the end.
    pub fn reconciles(&self) -> u64 {
        self.value("videosdk_token_reconciles_total")
    }

    /// Tokens signed for `reason` (a `ResignReason`'s name).
    pub fn issuances(&self, reason: &str) -> u64 {
        self.value(&format!(
            "videosdk_token_issuances_total{{reason=\"{reason}\"}}"
        ))
    }

    /// Tokens signed, for any reason.
    pub fn total_issuances(&self) -> u64 {
        self.0
            .lines()
            .filter_map(|l| l.strip_prefix("videosdk_token_issuances_total{"))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .map(|v| v as u64)
            .sum()
    }
}
