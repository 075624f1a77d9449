//! The commands that talk to a cluster (`run`, `status`, `renew`), run as a user runs them:
//! the binary with `KUBECONFIG` pointing at the in-memory API server.

use e2e_support::certificate;

use kube_apiserver_memory::{ApiServer, ApiServerOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use videosdk_token_operator::manifests;

/// An in-memory API server with the CRDs and the `dev` examples (credentials, issuer, tokens
/// `participant` and `moderator` in `default`), and a kubeconfig file for it.
pub struct Cluster {
    /// Keeps the server's tasks running, and runs the tests' own requests.
    runtime: tokio::runtime::Runtime,
    server: ApiServer,
    pub kubeconfig: PathBuf,
}

impl Cluster {
    pub fn new(test: &str) -> Cluster {
        Self::with_options(test, ApiServerOptions::default())
    }

    /// A cluster whose server has non-default `options` (e.g. the version it reports).
    pub fn with_options(test: &str, options: ApiServerOptions) -> Cluster {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let server = runtime.block_on(async {
            let server = ApiServer::start(options)
                .await
                .expect("the API server starts");
            let client = server.client();
            manifests::install_crds(&client).await.expect("CRDs");
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/examples/dev");
            for (name, text) in manifests::read_paths(&[dir]).expect("the dev examples") {
                manifests::apply(&client, "default", &name, &text)
                    .await
                    .expect("applied");
            }
            server
        });
        let kubeconfig = std::env::temp_dir().join(format!(
            "videosdk-cli-{test}-{}.kubeconfig",
            std::process::id()
        ));
        server.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        Cluster {
            runtime,
            server,
            kubeconfig,
        }
    }

    /// Applies the YAML documents of `text` (namespace `default` where they name none).
    pub fn apply(&self, text: &str) {
        self.with_client(|client| async move {
            manifests::apply(&client, "default", "test", text)
                .await
                .expect("the test's manifests apply")
        });
    }

    /// Runs `request` with a client of this cluster (made inside the runtime, as kube needs).
    pub fn with_client<T, F: Future<Output = T>>(
        &self,
        request: impl FnOnce(kube::Client) -> F,
    ) -> T {
        self.runtime
            .block_on(async { request(self.server.client()).await })
    }

    /// The binary with `args`, against this cluster.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_videosdk-token-operator"));
        command
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("VIDEOSDK_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Starts the operator (`run`, JSON logs, metrics on a port of the system's choosing);
    /// its log lines arrive on the receiver.
    pub fn start_operator(&self) -> (Operator, mpsc::Receiver<serde_json::Value>) {
        let mut child = self
            .command(&[
                "run",
                "--metrics-address",
                "127.0.0.1:0",
                "--log-format",
                "json",
            ])
            .spawn()
            .expect("run starts");
        let stderr = child.stderr.take().expect("piped");
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                let parsed = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
                if send.send(parsed).is_err() {
                    return;
                }
            }
        });
        (Operator(child), receive)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.kubeconfig);
    }
}

/// A running operator process, killed when dropped.
pub struct Operator(Child);

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first log line for which `want` holds, within `deadline`; panics naming `what`.
pub fn wait_for_log(
    logs: &mpsc::Receiver<serde_json::Value>,
    what: &str,
    deadline: Duration,
    want: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let until = Instant::now() + deadline;
    let mut seen = Vec::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match logs.recv_timeout(left) {
            Ok(line) if want(&line) => return line,
            Ok(line) => seen.push(line),
            Err(_) => panic!("no log line {what} within {deadline:?}; logged: {seen:#?}"),
        }
    }
}

/// `GET path` on `address` over plain HTTP/1.1: (status code, body).
fn http_get(address: &str, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("a response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    (status, response)
}

#[test]
fn run_logs_the_address_it_listens_on_and_json_fields_at_the_top_level() {
    let cluster = Cluster::new("run-logs");
    let (_operator, logs) = cluster.start_operator();
    let listening = wait_for_log(
        &logs,
        "saying where it listens",
        Duration::from_secs(30),
        |l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("listening on"))
        },
    );
    let address = listening["address"]
        .as_str()
        .expect("the address is a top-level field");
    assert!(
        address.starts_with("127.0.0.1:") && !address.ends_with(":0"),
        "the port the system chose, not 0: {address}"
    );
    assert_eq!(listening["level"], "INFO");
    assert!(listening.get("fields").is_none(), "fields are not nested");
    let (status, body) = http_get(address, "/metrics");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("videosdk_build_info{"), "{body}");
    assert!(body.contains("process_resident_memory_bytes "), "{body}");

    let issued = wait_for_log(
        &logs,
        "for the issuance of default/participant",
        Duration::from_secs(60),
        |l| l["token"] == "default/participant" && l["reason"] == "SecretMissing",
    );
    assert!(
        issued["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Issued token ")),
        "{issued}"
    );
}

#[test]
fn run_warns_on_a_server_older_than_the_oldest_supported_release() {
    let options = ApiServerOptions {
        kubernetes_version: (1, 27),
        ..ApiServerOptions::default()
    };
    let cluster = Cluster::with_options("run-old-server", options);
    let (_operator, logs) = cluster.start_operator();
    let warned = wait_for_log(
        &logs,
        "warning about Kubernetes 1.27",
        Duration::from_secs(30),
        |l| l["level"] == "WARN" && l["server_version"].is_string(),
    );
    let message = warned["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(
            "the Kubernetes API server is v1.27 (v1.27.0-videosdk-inmemory), older than v1.28, the oldest release this operator supports"
        ),
        "{warned}"
    );
    // A warning, not a refusal: the operator goes on to issue tokens.
    wait_for_log(
        &logs,
        "for the issuance of default/participant",
        Duration::from_secs(60),
        |l| l["token"] == "default/participant" && l["reason"] == "SecretMissing",
    );
}

/// Issue 20 §1: with the open-file limit at 256, 300 connections to the metrics port and 300 to
/// the HTTPS token endpoint no longer run the process out of file descriptors (each listener
/// closes those past its cap, a quarter of the limit, at once), and once the client goes away
/// both ports serve and `/readyz` is 200. Before, the TLS accept loop returned on `Too many open
/// files` and the port stayed closed.
#[test]
fn connections_past_the_file_limit_leave_every_listener_serving() {
    // Debian's util-linux has prlimit.
    if !crate::have_all(
        "connections_past_the_file_limit_leave_every_listener_serving",
        &["prlimit"],
    ) {
        return;
    }
    let cluster = Cluster::new("run-file-limit");
    let dir = std::env::temp_dir().join(format!("videosdk-cli-file-limit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = certificate::self_signed(&dir, "tls");
    let indent = |pem: &str| pem.trim_end().replace('\n', "\n      ");
    cluster.apply(&format!(
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\nmetadata:\n  name: tls\n  namespace: default\nstringData:\n  tls.crt: |\n      {}\n  tls.key: |\n      {}\n",
        indent(&cert),
        indent(&key)
    ));
    let mut child = Command::new("prlimit")
        .args(["--nofile=256:256", "--"])
        .arg(env!("CARGO_BIN_EXE_videosdk-token-operator"))
        .args([
            "run",
            "--metrics-address",
            "127.0.0.1:0",
            "--token-requests-address",
            "127.0.0.1:0",
            "--token-requests-tls-secret",
            "default/tls",
            "--log-format",
            "json",
        ])
        .env("KUBECONFIG", &cluster.kubeconfig)
        .env_remove("VIDEOSDK_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run starts under prlimit");
    let stderr = child.stderr.take().expect("piped");
    let (send, logs) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(parsed) = serde_json::from_str::<serde_json::Value>(&line)
                && send.send(parsed).is_err()
            {
                return;
            }
        }
    });
    let _operator = Operator(child);
    let address_of = |what: &str, prefix: &'static str| {
        wait_for_log(&logs, what, Duration::from_secs(30), |l| {
            l["message"].as_str().is_some_and(|m| m.starts_with(prefix))
        })["address"]
            .as_str()
            .expect("an address field")
            .to_owned()
    };
    let metrics = address_of("saying where metrics are served", "listening on");
    let token = address_of(
        "saying where token requests are served",
        "serving token requests",
    );
    let mut held = Vec::new();
    for address in [&metrics, &token] {
        for _ in 0..300 {
            if let Ok(stream) = std::net::TcpStream::connect(address) {
                held.push(stream);
            }
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    drop(held);
    std::thread::sleep(Duration::from_secs(2));
    // The HTTPS port still accepts (a closed listener refuses the TCP connection), and keeps the
    // connection for the TLS handshake.
    let mut probe = std::net::TcpStream::connect(&token).expect("the token port still accepts");
    probe
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut byte = [0; 1];
    let kept = matches!(probe.read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut);
    assert!(kept, "the token port closed a new connection at once");
    let (status, body) = http_get(&metrics, "/readyz");
    assert_eq!(status, 200, "{body}");
    let _ = std::fs::remove_dir_all(&dir);
    let errors: Vec<_> = logs.try_iter().filter(|l| l["level"] == "ERROR").collect();
    assert!(errors.is_empty(), "{errors:#?}");
}
