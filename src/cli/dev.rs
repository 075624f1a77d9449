//! `dev`: the no-cluster quick start, like `vault server -dev`: an in-memory Kubernetes API
//! server, the CRDs, some manifests, and the operator running against them.

use super::listen;
use super::logging::{self, LogArgs};
use super::run::DEFAULT_CLUSTER_RESOURCE_NAMESPACE;
use super::token_requests::{FlagError, TokenRequestArgs};
use crate::controller::{self, Settings};
use crate::manifests;
use crate::request_timeout;
use crate::token_requests::PATH;
use clap::Args;
use kube_apiserver_memory::{ApiServer, ApiServerOptions};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The manifests applied when no `-f` is given: `deploy/examples/dev/`, built into the binary so
/// that `dev` works from any directory.
pub(crate) const BUNDLED_EXAMPLES: [(&str, &str); 4] = [
    (
        "deploy/examples/dev/00-credentials.yaml",
        include_str!("../../deploy/examples/dev/00-credentials.yaml"),
    ),
    (
        "deploy/examples/dev/10-issuer.yaml",
        include_str!("../../deploy/examples/dev/10-issuer.yaml"),
    ),
    (
        "deploy/examples/dev/20-tokens.yaml",
        include_str!("../../deploy/examples/dev/20-tokens.yaml"),
    ),
    (
        "deploy/examples/dev/30-token-requests.yaml",
        include_str!("../../deploy/examples/dev/30-token-requests.yaml"),
    ),
];

/// Run the operator against an in-memory Kubernetes API server: no cluster needed.
///
/// Installs the CRDs, applies the manifests given with -f (files or directories; by default the
/// bundled deploy/examples/dev/: demo credentials, an issuer, two tokens, one of which rotates
/// every minute, and a ServiceAccount granted token requests), serves token requests on a free
/// loopback port, writes a kubeconfig for kubectl, and logs every issuance and rotation.
/// Runs until Ctrl-C.
///
/// Examples:
///   videosdk-token-operator dev
///   videosdk-token-operator dev -f my-manifests/ --listen 127.0.0.1:6443
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
// The flag is `run`'s, where the endpoint is off unless an address is given; `dev` serves it
// on a free loopback port unless one is given.
#[command(mut_arg("token_requests_address", |arg| arg.help(
    "Serve token requests (per-participant tokens for workloads, authorized by RBAC) on this address [default: a free loopback port, printed in the banner]. Plain HTTP is served only on a loopback address unless --token-requests-insecure-http is given"
)))]
pub struct DevArgs {
    /// Manifests to apply (files or directories of *.yaml) instead of the bundled examples.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    pub(crate) files: Vec<PathBuf>,
    /// Address of the in-memory API server.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub(crate) listen: SocketAddr,
    /// Where to write the kubeconfig for kubectl; must not exist yet, removed on exit
    /// [default: <temp dir>/videosdk-dev-<pid>.kubeconfig, one per instance].
    #[arg(long, value_name = "FILE")]
    pub(crate) kubeconfig: Option<PathBuf>,
    /// Token requests are served as by `run`, on --token-requests-address, by default a free
    /// port on 127.0.0.1.
    #[command(flatten)]
    pub(crate) token_requests: TokenRequestArgs,
    /// Logging.
    #[command(flatten)]
    pub(crate) logging: LogArgs,
}

/// Why `dev` did not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--listen` cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    ApiServerListen {
        /// The address given.
        address: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// `--token-requests-address` cannot be bound.
    #[error(transparent)]
    Listen(#[from] listen::Error),
    /// `--kubeconfig` names a file that exists: `dev` never overwrites one.
    #[error(
        "the kubeconfig {} already exists (another dev instance's, or a file of yours): remove it or choose another --kubeconfig",
        path.display()
    )]
    KubeconfigExists {
        /// The file.
        path: PathBuf,
    },
    /// The kubeconfig cannot be written (no such directory, no permission, a full disk).
    #[error("cannot write the kubeconfig {}: {source}", path.display())]
    WriteKubeconfig {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The in-memory API server refused the CRDs.
    #[error("cannot install the CRDs: {0}")]
    Crds(#[source] kube::Error),
    /// A `-f` file cannot be read, or a manifest is not an object or is refused.
    #[error(transparent)]
    Manifests(#[from] manifests::ManifestError),
    /// The path of this binary (printed in the banner) cannot be found.
    #[error("cannot find this program's own path: {0}")]
    OwnPath(#[source] std::io::Error),
    /// The log flags are refused, or the async runtime could not start.
    #[error(transparent)]
    Logging(#[from] logging::Error),
    /// The token request flags are refused.
    #[error(transparent)]
    TokenRequests(#[from] FlagError),
}

/// Runs the command until Ctrl-C.
pub fn run(args: &DevArgs) -> Result<(), Error> {
    let runtime = logging::start(&args.logging)?;
    let sources = if args.files.is_empty() {
        BUNDLED_EXAMPLES
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()
    } else {
        manifests::read_paths(&args.files)?
    };
    let kubeconfig = args.kubeconfig.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("videosdk-dev-{}.kubeconfig", std::process::id()))
    });
    let program = std::env::current_exe().map_err(Error::OwnPath)?;
    runtime.block_on(async {
        let options = ApiServerOptions { address: args.listen, ..ApiServerOptions::default() };
        let server = ApiServer::start(options)
            .await
            .map_err(|source| Error::ApiServerListen { address: args.listen, source })?;
        let kubeconfig = OwnKubeconfig::create(&kubeconfig, &server.kubeconfig())?;
        // As `run` makes it: every request but a watch cut at its deadline.
        let client = request_timeout::bounded(server.client(), request_timeout::REQUEST_TIMEOUT);
        manifests::install_crds(&client).await.map_err(Error::Crds)?;
        let namespace = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {DEFAULT_CLUSTER_RESOURCE_NAMESPACE}\n");
        manifests::apply(&client, "default", "the cluster resource namespace", &namespace).await?;
        let mut applied = Vec::new();
        for (name, text) in &sources {
            applied.extend(manifests::apply(&client, "default", name, text).await?);
        }
        let settings = Settings::new(DEFAULT_CLUSTER_RESOURCE_NAMESPACE);
        let mut requests = args.token_requests.clone();
        requests.token_requests_address.get_or_insert(SocketAddr::from(([127, 0, 0, 1], 0)));
        let serving = match requests.address()? {
            Some(address) => {
                // `dev` serves no /readyz: the listener's state is not reported.
                let listeners = crate::listener::Listeners::default();
                Some(requests.start(address, client.clone(), &settings, Default::default(), &listeners).await?)
            }
            None => None,
        };
        let endpoint = serving.as_ref().map(|s| Endpoint {
            address: s.address,
            audience: requests.token_requests_audience.clone(),
            https: requests.token_requests_tls_secret.is_some(),
        });
        let banner = Banner {
            url: server.url().to_owned(),
            kubeconfig: &kubeconfig.0,
            program: &program,
            applied: &applied,
            bundled: args.files.is_empty(),
            endpoint,
        };
        // Ctrl-C and SIGTERM are handled from before the banner, which says how to stop.
        let shutdown = logging::shutdown_signal();
        println!("{}", banner.text());
        controller::run(client, settings, Default::default(), shutdown).await;
        // Everything that watches the API server stops before it does.
        if let Some(serving) = serving {
            serving.stop().await;
        }
        server.shutdown().await;
        let stopped = banner.stop_lines();
        drop(kubeconfig);
        println!("{stopped}");
        Ok(())
    })
}

/// The kubeconfig this instance wrote, removed when the instance ends (also on an error after
/// it was written). A kill -9 leaves it behind: the next `dev` with the same `--kubeconfig`
/// then refuses rather than take it over.
struct OwnKubeconfig(PathBuf);

impl OwnKubeconfig {
    /// Writes `content` to `path`, which must not exist: two instances never share one file,
    /// and a kubeconfig of the user's is never overwritten.
    fn create(path: &std::path::Path, content: &str) -> Result<Self, Error> {
        use std::io::Write;
        let path = path.to_owned();
        let mut file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::KubeconfigExists { path });
            }
            Err(source) => return Err(Error::WriteKubeconfig { path, source }),
        };
        let written = OwnKubeconfig(path.clone());
        file.write_all(content.as_bytes())
            .map_err(|source| Error::WriteKubeconfig { path, source })?;
        Ok(written)
    }
}

impl Drop for OwnKubeconfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `s` as one POSIX shell word: as it is when it needs no quoting, else in single quotes.
fn shell_word(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:,=@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The token request endpoint `dev` serves.
struct Endpoint {
    /// The address bound.
    address: SocketAddr,
    /// The audience bearer tokens must be minted for.
    audience: String,
    /// HTTPS (`--token-requests-tls-secret`) rather than plain HTTP.
    https: bool,
}

impl Endpoint {
    /// Its URL for the namespace `default` (the bundled examples'), as a client posts to it.
    fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!(
            "{scheme}://{}{}",
            self.address,
            PATH.replace("{namespace}", "default")
        )
    }
}

/// What `dev` tells its user: the banner once it is ready, the last lines when it stops.
struct Banner<'a> {
    /// The in-memory API server's URL.
    url: String,
    /// The kubeconfig written for kubectl (removed when `dev` stops).
    kubeconfig: &'a std::path::Path,
    /// This binary's own path (`cargo run` does not put it on PATH).
    program: &'a std::path::Path,
    /// The objects applied, as `kind/name`.
    applied: &'a [String],
    /// Whether the bundled examples were applied (no `-f`).
    bundled: bool,
    /// The token request endpoint, when served.
    endpoint: Option<Endpoint>,
}

impl Banner<'_> {
    /// Whether the banner's commands set `TOKEN` (a ServiceAccount token, for the curl to the
    /// plain-HTTP endpoint of the bundled examples).
    fn sets_token(&self) -> bool {
        self.bundled && self.endpoint.as_ref().is_some_and(|e| !e.https)
    }

    /// What `dev` prints once it is ready: every command in it works when pasted into a POSIX
    /// shell (paths quoted). The Secret to inspect is the bundled examples' `participant`,
    /// printed only when they were applied.
    fn text(&self) -> String {
        let (url, applied, bundled) = (&self.url, self.applied, self.bundled);
        let kubeconfig = shell_word(&self.kubeconfig.display().to_string());
        let program = shell_word(&self.program.display().to_string());
        let mut inspect = if bundled {
            format!(
                "  kubectl get secret participant -o jsonpath='{{.data.token}}' | base64 -d | {program} inspect -\n"
            )
        } else {
            String::new()
        };
        // A per-participant token, asked for as the bundled ServiceAccount `backend` (over plain
        // HTTP: the CA of a --token-requests-tls-secret is not known here).
        if let (true, Some(endpoint)) = (self.sets_token(), &self.endpoint) {
            let body = r#"{"issuer":{"name":"videosdk"},"permissions":["allow_join"],"roles":["rtc"],"roomId":"demo-room","participantId":"alice"}"#;
            inspect.push_str(&format!(
            "  TOKEN=$(kubectl create token backend --audience {})\n  curl -sS -H \"Authorization: Bearer $TOKEN\" -d {} {}\n",
            shell_word(&endpoint.audience),
            shell_word(body),
            endpoint.url(),
        ));
        }
        let served = match &self.endpoint {
            Some(endpoint) => format!(
                "token requests: {} (bearer tokens for the audience {})\n",
                endpoint.url(),
                endpoint.audience
            ),
            None => String::new(),
        };
        let rotation = if bundled {
            " (participant: ttl 3m, renewed every minute, 2m before expiry: the shortest renew window, which outlasts a kubelet's update of a mounted Secret)"
        } else {
            ""
        };
        format!(
            "videosdk-token-operator dev: in-memory Kubernetes API server at {url}\n\
         {served}\
         applied: {}\n\n\
         In another terminal (the kubeconfig is removed when dev stops):\n  \
           export KUBECONFIG={kubeconfig}\n  \
           kubectl get videosdktokens -A\n\
         {inspect}\n\
         Issuances and rotations are logged below{rotation}. Ctrl-C stops.",
            applied.join(", ")
        )
    }

    /// What `dev` prints when it stops: its kubeconfig is gone, and a shell that still exports
    /// it sends kubectl to `localhost:8080` ("connection refused"), so the line to paste unsets
    /// every variable the banner's commands set.
    fn stop_lines(&self) -> String {
        let variables = if self.sets_token() {
            "KUBECONFIG TOKEN"
        } else {
            "KUBECONFIG"
        };
        format!(
            "videosdk-token-operator dev stopped: the kubeconfig {} is removed. In each terminal that used it:\n  unset {variables}",
            shell_word(&self.kubeconfig.display().to_string())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kubeconfig_is_never_overwritten() {
        let path = std::env::temp_dir().join(format!(
            "videosdk-dev-test-{}.kubeconfig",
            std::process::id()
        ));
        let written = OwnKubeconfig::create(&path, "first").expect("a new file");
        let Err(error) = OwnKubeconfig::create(&path, "second") else {
            panic!("an existing kubeconfig was overwritten");
        };
        assert_eq!(
            error.to_string(),
            format!(
                "the kubeconfig {} already exists (another dev instance's, or a file of yours): remove it or choose another --kubeconfig",
                path.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first");
        drop(written);
        assert!(!path.exists(), "removed when the instance ends");
        let Err(error) = OwnKubeconfig::create(std::path::Path::new("/nonexistent/dir/kc"), "")
        else {
            panic!("a kubeconfig was written into a directory that does not exist");
        };
        assert!(
            error
                .to_string()
                .starts_with("cannot write the kubeconfig /nonexistent/dir/kc: "),
            "{error}"
        );
    }
}
