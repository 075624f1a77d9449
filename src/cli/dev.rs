//! `dev`: the no-cluster quick start, like `vault server -dev`: an in-memory Kubernetes API
//! server, the CRDs, some manifests, and the operator running against them.

use super::logging::{self, LogArgs};
use super::run::DEFAULT_CLUSTER_RESOURCE_NAMESPACE;
use crate::apiserver::{ApiServer, ApiServerOptions};
use crate::controller::{self, Settings};
use crate::manifests;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The manifests applied when no `-f` is given: `deploy/examples/dev/`, built into the binary so
/// that `dev` works from any directory.
pub const BUNDLED_EXAMPLES: [(&str, &str); 3] = [
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
];

/// Run the operator against an in-memory Kubernetes API server: no cluster needed.
///
/// Installs the CRDs, applies the manifests given with -f (files or directories; by default the
/// bundled deploy/examples/dev/: demo credentials, an issuer and two tokens, one of which
/// rotates every minute), writes a kubeconfig for kubectl, and logs every issuance and rotation.
/// Runs until Ctrl-C.
///
/// Examples:
///   videosdk-token-operator dev
///   videosdk-token-operator dev -f my-manifests/ --listen 127.0.0.1:6443
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct DevArgs {
    /// Manifests to apply (files or directories of *.yaml) instead of the bundled examples.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Address of the in-memory API server.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Where to write the kubeconfig for kubectl [default: <temp dir>/videosdk-dev.kubeconfig].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    #[command(flatten)]
    pub logging: LogArgs,
}

/// Runs the command until Ctrl-C.
pub fn run(args: &DevArgs) -> Result<(), String> {
    args.logging.init()?;
    let sources = if args.files.is_empty() {
        BUNDLED_EXAMPLES
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()
    } else {
        manifests::read_paths(&args.files).map_err(|e| e.to_string())?
    };
    let kubeconfig = args
        .kubeconfig
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("videosdk-dev.kubeconfig"));
    logging::runtime()?.block_on(async {
        let options = ApiServerOptions { address: args.listen, ..ApiServerOptions::default() };
        let server = ApiServer::start(options)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        server
            .write_kubeconfig(&kubeconfig)
            .map_err(|e| format!("cannot write the kubeconfig {}: {e}", kubeconfig.display()))?;
        let client = server.client();
        manifests::install_crds(&client).await.map_err(|e| format!("cannot install the CRDs: {e}"))?;
        let namespace = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {DEFAULT_CLUSTER_RESOURCE_NAMESPACE}\n");
        manifests::apply(&client, "default", "the cluster resource namespace", &namespace)
            .await
            .map_err(|e| e.to_string())?;
        let mut applied = Vec::new();
        for (name, text) in &sources {
            applied.extend(manifests::apply(&client, "default", name, text).await.map_err(|e| e.to_string())?);
        }
        println!("{}", banner(server.url(), &kubeconfig, &applied));
        let settings = Settings::new(DEFAULT_CLUSTER_RESOURCE_NAMESPACE);
        controller::run(client, settings, Default::default(), logging::shutdown_signal()).await;
        server.shutdown().await;
        Ok(())
    })
}

fn banner(url: &str, kubeconfig: &std::path::Path, applied: &[String]) -> String {
    let kubeconfig = kubeconfig.display();
    format!(
        "videosdk-token-operator dev: in-memory Kubernetes API server at {url}\n\
         applied: {}\n\n\
         In another terminal:\n  \
           export KUBECONFIG={kubeconfig}\n  \
           kubectl get videosdktokens -A\n  \
           kubectl get secret participant -o jsonpath='{{.data.token}}' | base64 -d | videosdk-token-operator inspect -\n\n\
         Issuances and rotations are logged below. Ctrl-C stops.",
        applied.join(", ")
    )
}
