//! The commands that talk to a cluster (`run`, `status`, `renew`), run as a user runs them:
//! the binary with `KUBECONFIG` pointing at the in-memory API server.

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
