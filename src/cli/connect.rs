//! How the commands that read or change a cluster (`status`, `renew`) connect to it: the current
//! kubeconfig context (`$KUBECONFIG`, else `~/.kube/config`), another context with `--context`,
//! or the in-cluster service account, and the namespace as kubectl picks it (`-n`, else the
//! context's namespace, else `default`).

use clap::Args;
use kube::Client;
use kube::config::{Config, KubeConfigOptions};

/// The flags that say which cluster and namespace, as kubectl spells them.
#[derive(Args, Debug, Clone)]
pub struct ClusterArgs {
    /// Namespace of the token(s) [default: the kubeconfig context's namespace, else `default`].
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// The kubeconfig context to use [default: the current context].
    #[arg(long, value_name = "CONTEXT")]
    pub context: Option<String>,
}

/// A client for the cluster and the namespace to work in.
pub async fn connect(args: &ClusterArgs) -> Result<(Client, String), String> {
    let config = match &args.context {
        None => Config::infer().await.map_err(|e| {
            format!("cannot find a Kubernetes cluster to talk to (no usable $KUBECONFIG, ~/.kube/config or in-cluster service account): {e}")
        })?,
        Some(context) => Config::from_kubeconfig(&KubeConfigOptions {
            context: Some(context.clone()),
            ..KubeConfigOptions::default()
        })
        .await
        .map_err(|e| format!("cannot use kubeconfig context {context:?}: {e}"))?,
    };
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = Client::try_from(config)
        .map_err(|e| format!("cannot make a client for the Kubernetes API: {e}"))?;
    Ok((client, namespace))
}

/// A failed API request as one line: not found and forbidden in words a person acts on, and
/// anything else (an unreachable server, a timeout) with what kube said.
pub fn describe(error: &kube::Error, what: &str) -> String {
    match error {
        kube::Error::Api(status) if status.is_not_found() => format!("{what} not found"),
        kube::Error::Api(status) if status.is_forbidden() => format!(
            "not allowed to read {what}: {} (see `kubectl auth can-i`)",
            status.message
        ),
        other => format!("cannot read {what}: {other}"),
    }
}
