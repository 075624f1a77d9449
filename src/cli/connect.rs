//! How the commands that read or change a cluster (`status`, `renew`) connect to it, as kubectl
//! does: the current context of `--kubeconfig`, else of `$KUBECONFIG` or `~/.kube/config`, else
//! the in-cluster service account; `--context` picks another context; the namespace is `-n`, else
//! the context's namespace, else `default`. As a kubectl plugin these flags are the plugin's own:
//! kubectl does not hand its global flags to plugins.

use clap::Args;
use kube::Client;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use std::path::PathBuf;

/// The flags that say which cluster and namespace, as kubectl spells them.
#[derive(Args, Debug, Clone)]
pub struct ClusterArgs {
    /// Namespace of the token(s) [default: the kubeconfig context's namespace, else `default`].
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// The kubeconfig context to use [default: the current context].
    #[arg(long, value_name = "CONTEXT")]
    pub context: Option<String>,
    /// The kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

/// A client for the cluster and the namespace to work in.
pub async fn connect(args: &ClusterArgs) -> Result<(Client, String), String> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match (&args.kubeconfig, &args.context) {
        (Some(path), _) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read --kubeconfig {}: {e}", path.display()))?;
            Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| format!("cannot use --kubeconfig {}: {e}", path.display()))?
        }
        (None, None) => Config::infer().await.map_err(|e| {
            format!("cannot find a Kubernetes cluster to talk to (no usable $KUBECONFIG, ~/.kube/config or in-cluster service account): {e}")
        })?,
        (None, Some(context)) => Config::from_kubeconfig(&options)
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
