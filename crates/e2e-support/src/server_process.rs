//! The in-memory API server in a child process, so that the benchmark process's memory is the
//! operator's own.
//!
//! The benchmark binary re-executes itself with [`ROLE_VAR`] set; the child starts an
//! [`ApiServer`], prints `url <URL>` on stdout and then answers one line per command read from
//! stdin: `requests` (the request counts as JSON), `reset` (zero them), `seed <count>` (create
//! that many Secrets the operator does not manage, in namespaces of their own) and `unseed`
//! (delete them again). It exits when stdin closes, i.e. when the benchmark ends or dies.

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, PostParams};
use kube_apiserver_memory::{ApiServer, ApiServerOptions};
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// Set in the child's environment: it is to be the API server.
pub const ROLE_VAR: &str = "VIDEOSDK_BENCH_ROLE";
const ROLE: &str = "apiserver";
/// Namespaces the unrelated Secrets are spread over.
const UNRELATED_NAMESPACES: usize = 10;

/// When this process is the child, serves until stdin closes and exits; otherwise returns.
pub fn serve_if_child() {
    if std::env::var(ROLE_VAR).as_deref() != Ok(ROLE) {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(serve());
    std::process::exit(0);
}

async fn serve() {
    let server = ApiServer::start(ApiServerOptions::default())
        .await
        .expect("the server starts");
    let mut out = tokio::io::stdout();
    reply(&mut out, format!("url {}", server.url())).await;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut words = line.split_whitespace();
        let answer = match words.next() {
            Some("requests") => {
                let counts = server.requests();
                let by: Vec<_> = counts
                    .iter()
                    .map(|(verb, resource, n)| json!([verb.as_str(), resource, n]))
                    .collect();
                json!({"writes": counts.writes(), "by": by}).to_string()
            }
            Some("reset") => {
                server.reset_requests();
                "ok".to_owned()
            }
            Some("seed") => {
                let count = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                seed(&server.client(), count).await;
                "ok".to_owned()
            }
            Some("unseed") => {
                unseed(&server.client()).await;
                "ok".to_owned()
            }
            other => format!("unknown command {other:?}"),
        };
        reply(&mut out, answer).await;
    }
    server.shutdown().await;
}

async fn reply(out: &mut tokio::io::Stdout, line: String) {
    out.write_all(format!("{line}\n").as_bytes())
        .await
        .expect("the benchmark reads the reply");
    out.flush().await.expect("flushed");
}

/// Creates `count` Secrets without the operator's label, as other workloads of a cluster have.
async fn seed(client: &kube::Client, count: usize) {
    for i in 0..UNRELATED_NAMESPACES {
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": format!("unrelated-{i}")}}))
                .expect("a namespace");
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace created");
    }
    stream::iter(0..count)
        .map(|i| {
            let api: Api<Secret> = Api::namespaced(
                client.clone(),
                &format!("unrelated-{}", i % UNRELATED_NAMESPACES),
            );
            async move {
                let secret: Secret = serde_json::from_value(json!({
                    "metadata": {"name": format!("app-{i:06}"), "labels": {"app": "unrelated"}},
                    "type": "Opaque",
                    // About the size of a small TLS key or a database URL and password.
                    "stringData": {"password": "x".repeat(64), "config": "y".repeat(512)},
                }))
                .expect("a Secret");
                api.create(&PostParams::default(), &secret).await
            }
        })
        .buffer_unordered(32)
        .try_for_each(|_| async { Ok(()) })
        .await
        .expect("unrelated Secrets created");
}

async fn unseed(client: &kube::Client) {
    for i in 0..UNRELATED_NAMESPACES {
        Api::<Namespace>::all(client.clone())
            .delete(&format!("unrelated-{i}"), &DeleteParams::default())
            .await
            .expect("namespace deleted");
    }
}

/// Writes counted by the server, and the same by verb and resource, for the report.
#[derive(Debug, Clone, Default)]
pub struct Requests {
    pub writes: u64,
    pub by: Vec<(String, String, u64)>,
}

impl Requests {
    /// Writes (create, update, patch, delete) to `resource` and its subresources.
    pub fn writes_to(&self, resource: &str) -> u64 {
        self.by
            .iter()
            .filter(|(verb, r, _)| {
                matches!(verb.as_str(), "create" | "update" | "patch" | "delete")
                    && (r == resource || r.starts_with(&format!("{resource}/")))
            })
            .map(|(_, _, n)| n)
            .sum()
    }

    /// Requests of `verb` to `resource`.
    pub fn get(&self, verb: &str, resource: &str) -> u64 {
        self.by
            .iter()
            .filter(|(v, r, _)| v == verb && r == resource)
            .map(|(_, _, n)| n)
            .sum()
    }
}

struct Pipe {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// A running child server. Dropping it ends the child.
pub struct ServerProcess {
    child: Child,
    pipe: Arc<Mutex<Pipe>>,
    url: String,
}

impl ServerProcess {
    /// Starts a fresh server in a child process.
    pub fn spawn() -> ServerProcess {
        let mut child = Command::new(std::env::current_exe().expect("the benchmark's path"))
            .env(ROLE_VAR, ROLE)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server process starts");
        let mut pipe = Pipe {
            stdin: child.stdin.take().expect("piped"),
            stdout: BufReader::new(child.stdout.take().expect("piped")),
        };
        let mut first = String::new();
        pipe.stdout
            .read_line(&mut first)
            .expect("the server says its URL");
        let url = first
            .trim()
            .strip_prefix("url ")
            .unwrap_or_else(|| panic!("the server said {first:?}"))
            .to_owned();
        ServerProcess {
            child,
            pipe: Arc::new(Mutex::new(pipe)),
            url,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A kubeconfig for this server.
    pub fn kubeconfig(&self) -> String {
        kube_apiserver_memory::kubeconfig::render(&self.url)
    }

    /// A client of this server.
    pub fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url.parse().expect("a URL"));
        kube::Client::try_from(config).expect("a client")
    }

    /// Sends one command and returns the one-line answer.
    async fn command(&self, command: String) -> String {
        let pipe = self.pipe.clone();
        tokio::task::spawn_blocking(move || {
            let mut pipe = pipe.lock().expect("not poisoned");
            writeln!(pipe.stdin, "{command}").expect("the server reads commands");
            pipe.stdin.flush().expect("flushed");
            let mut answer = String::new();
            pipe.stdout
                .read_line(&mut answer)
                .expect("the server answers");
            answer.trim().to_owned()
        })
        .await
        .expect("the command thread")
    }

    pub async fn requests(&self) -> Requests {
        let answer: serde_json::Value =
            serde_json::from_str(&self.command("requests".into()).await).expect("JSON counts");
        let by = answer["by"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|row| {
                (
                    row[0].as_str().unwrap_or_default().to_owned(),
                    row[1].as_str().unwrap_or_default().to_owned(),
                    row[2].as_u64().unwrap_or_default(),
                )
            })
            .collect();
        Requests {
            writes: answer["writes"].as_u64().unwrap_or_default(),
            by,
        }
    }

    pub async fn reset_requests(&self) {
        assert_eq!(self.command("reset".into()).await, "ok");
    }

    /// Creates `count` Secrets that the operator does not manage.
    pub async fn seed_unrelated(&self, count: usize) {
        assert_eq!(self.command(format!("seed {count}")).await, "ok");
    }

    /// Deletes them again.
    pub async fn unseed_unrelated(&self) {
        assert_eq!(self.command("unseed".into()).await, "ok");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
