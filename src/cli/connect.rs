//! How the commands that read or change a cluster (`status`, `renew`) connect to it, as kubectl
//! does: the current context of `--kubeconfig`, else of `$KUBECONFIG` or `~/.kube/config`, else
//! the in-cluster service account; `--context` picks another context; the namespace is `-n`, else
//! the context's namespace, else `default`. Every request but a watch ends within
//! [`request_timeout::REQUEST_TIMEOUT`]. As a kubectl plugin these flags are the plugin's own:
//! kubectl does not hand its global flags to plugins.

use crate::request_timeout;
use clap::Args;
use kube::Client;
use kube::config::{Config, InferConfigError, KubeConfigOptions, Kubeconfig, KubeconfigError};
use std::path::PathBuf;

/// The flags that say which cluster and namespace, as kubectl spells them.
#[derive(Args, Debug, Clone)]
pub(crate) struct ClusterArgs {
    /// Namespace of the token(s) [default: the kubeconfig context's namespace, else `default`].
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub(crate) namespace: Option<String>,
    /// The kubeconfig context to use [default: the current context].
    #[arg(long, value_name = "CONTEXT")]
    pub(crate) context: Option<String>,
    /// The kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else in-cluster].
    #[arg(long, value_name = "FILE")]
    pub(crate) kubeconfig: Option<PathBuf>,
}

/// Why no client for the cluster could be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--kubeconfig` does not exist, may not be read, or is not a kubeconfig.
    #[error("cannot read --kubeconfig {}: {source}", path.display())]
    ReadKubeconfig {
        /// The file given.
        path: PathBuf,
        /// What kube said.
        source: KubeconfigError,
    },
    /// `--kubeconfig` was read, but its (or `--context`'s) context, cluster or user is missing
    /// or unusable.
    #[error("cannot use --kubeconfig {}: {source}", path.display())]
    UseKubeconfig {
        /// The file given.
        path: PathBuf,
        /// What kube said.
        source: KubeconfigError,
    },
    /// Neither `$KUBECONFIG`, `~/.kube/config` nor an in-cluster service account is usable.
    #[error(
        "cannot find a Kubernetes cluster to talk to (no usable $KUBECONFIG, ~/.kube/config or in-cluster service account): {0}"
    )]
    NoCluster(#[source] InferConfigError),
    /// `--context` names no usable context of `$KUBECONFIG` or `~/.kube/config`.
    #[error("cannot use kubeconfig context {context:?}: {source}")]
    Context {
        /// The context given.
        context: String,
        /// What kube said.
        source: KubeconfigError,
    },
    /// The configuration was read but no HTTP client could be built from it (for example a
    /// client certificate that does not parse).
    #[error("cannot make a client for the Kubernetes API: {0}")]
    Client(#[source] kube::Error),
}

/// A client for the cluster and the namespace to work in.
pub(crate) async fn connect(args: &ClusterArgs) -> Result<(Client, String), Error> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match (&args.kubeconfig, &args.context) {
        (Some(path), _) => {
            let file = Kubeconfig::read_from(path).map_err(|source| Error::ReadKubeconfig {
                path: path.clone(),
                source,
            })?;
            Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|source| Error::UseKubeconfig {
                    path: path.clone(),
                    source,
                })?
        }
        (None, None) => Config::infer().await.map_err(Error::NoCluster)?,
        (None, Some(context)) => {
            Config::from_kubeconfig(&options)
                .await
                .map_err(|source| Error::Context {
                    context: context.clone(),
                    source,
                })?
        }
    };
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = Client::try_from(config).map_err(Error::Client)?;
    let client = request_timeout::bounded(client, request_timeout::REQUEST_TIMEOUT);
    Ok((client, namespace))
}

/// A failed API request for an object or a list, `what` naming it (`Secret default/web`): not
/// found and forbidden in words a person acts on, and anything else (an unreachable server, a
/// timeout) with what kube said.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The API server answered 404: the object does not exist.
    #[error("{what} not found")]
    NotFound {
        /// The object.
        what: String,
    },
    /// The API server answered 403: RBAC does not let this user read it.
    #[error("not allowed to read {what}: {message} (see `kubectl auth can-i`)")]
    Forbidden {
        /// The object.
        what: String,
        /// The API server's message (names the user, verb and resource).
        message: String,
    },
    /// Any other failure: another API status, or no answer at all.
    #[error("cannot read {what}: {source}")]
    Failed {
        /// The object.
        what: String,
        /// What kube said.
        source: kube::Error,
    },
}

impl ReadError {
    /// Classifies `error`, from a request for `what`.
    pub(crate) fn new(error: kube::Error, what: impl Into<String>) -> Self {
        let what = what.into();
        match error {
            kube::Error::Api(status) if status.is_not_found() => ReadError::NotFound { what },
            kube::Error::Api(status) if status.is_forbidden() => ReadError::Forbidden {
                what,
                message: status.message,
            },
            source => ReadError::Failed { what, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api_error(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(Status::failure(message, reason).with_code(code)))
    }

    #[test]
    fn not_found_and_forbidden_are_said_in_words() {
        let read = |e| ReadError::new(e, "Secret default/web").to_string();
        assert_eq!(
            read(api_error(404, "NotFound", "secrets \"web\" not found")),
            "Secret default/web not found"
        );
        assert_eq!(
            read(api_error(403, "Forbidden", "user alice cannot get secrets")),
            "not allowed to read Secret default/web: user alice cannot get secrets (see `kubectl auth can-i`)"
        );
        assert!(
            read(api_error(500, "InternalError", "etcd is down"))
                .starts_with("cannot read Secret default/web: "),
        );
    }

    #[tokio::test]
    async fn a_kubeconfig_that_cannot_be_read_is_named() {
        let args = ClusterArgs {
            namespace: None,
            context: None,
            kubeconfig: Some(PathBuf::from("/nonexistent/kubeconfig")),
        };
        let Err(error) = connect(&args).await else {
            panic!("a kubeconfig that does not exist was used");
        };
        let error = error.to_string();
        assert!(
            error.starts_with("cannot read --kubeconfig /nonexistent/kubeconfig: "),
            "{error}"
        );
    }
}
