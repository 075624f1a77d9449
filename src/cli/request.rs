//! `request`: asks the operator's token request endpoint for a per-participant token, with a
//! ServiceAccount token minted through the current kubeconfig (or in-cluster credentials) or
//! read from a file (a projected ServiceAccount token in a pod).

use super::runtime;
use crate::api::{Permission, Role};
use crate::cli::token_requests::DEFAULT_AUDIENCE;
use crate::request_timeout;
use crate::token_requests::PATH;
use axum::http::{Request, header};
use clap::{ArgGroup, Args, ValueEnum};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::{Value, json};
use std::path::PathBuf;

/// How long a ServiceAccount token minted for one request lives: kube-apiserver's minimum.
const MINTED_SECONDS: i64 = 600;

/// Ask the operator for a per-participant token, as a workload does (token requests).
///
/// The caller proves who it is with a ServiceAccount token for the operator's audience: minted
/// with the current kubeconfig or in-cluster credentials for --service-account (needs create on
/// serviceaccounts/token), or read from --token-file (a projected token in a pod). RBAC decides
/// which issuers it may use (verb `request`).
///
/// Examples:
///   videosdk-token-operator request --url https://videosdk-token-operator-token-requests.videosdk-system.svc:8443 \
///     --ca-file ca.crt --service-account backend --issuer videosdk --permissions allow_join --roles rtc --room-id r1
///   videosdk-token-operator request --url "$VIDEOSDK_TOKEN_REQUESTS_URL" --token-file /var/run/secrets/videosdk/token \
///     --issuer videosdk --permissions allow_join --participant-id alice --output json
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
#[command(group(ArgGroup::new("bearer").required(true).args(["service_account", "token_file"])))]
pub struct RequestArgs {
    /// The endpoint: scheme, host and port (the path is added).
    #[arg(long, env = "VIDEOSDK_TOKEN_REQUESTS_URL", value_name = "URL")]
    pub(crate) url: String,
    /// PEM file of the CA that signed the endpoint's certificate [default: the system's roots].
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_file: Option<PathBuf>,
    /// Mint a token of this ServiceAccount (in --namespace) with the current kubeconfig or
    /// in-cluster credentials.
    #[arg(long, value_name = "NAME")]
    pub(crate) service_account: Option<String>,
    /// Read the bearer token from this file (e.g. a projected ServiceAccount token).
    #[arg(long, value_name = "FILE")]
    pub(crate) token_file: Option<PathBuf>,
    /// The audience to mint the ServiceAccount token for (the operator's --token-requests-audience).
    #[arg(long, default_value = DEFAULT_AUDIENCE, value_name = "AUDIENCE")]
    pub(crate) audience: String,
    /// Namespace of the request (and of a namespaced issuer) [default: the kubeconfig's].
    #[arg(short, long, value_name = "NAMESPACE")]
    pub(crate) namespace: Option<String>,
    /// The issuer's name.
    #[arg(long, value_name = "NAME")]
    pub(crate) issuer: String,
    /// The issuer is a ClusterVideoSdkIssuer.
    #[arg(long)]
    pub(crate) cluster_issuer: bool,
    /// Permissions, comma-separated: allow_join, ask_join, allow_mod.
    #[arg(long, value_delimiter = ',', value_name = "LIST", required = true)]
    pub(crate) permissions: Vec<Permission>,
    /// VideoSDK v2 roles, comma-separated: rtc, crawler.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub(crate) roles: Vec<Role>,
    /// VideoSDK v2: the only room the token may join.
    #[arg(long, value_name = "ID")]
    pub(crate) room_id: Option<String>,
    /// VideoSDK v2: the participant id the token is bound to.
    #[arg(long, value_name = "ID")]
    pub(crate) participant_id: Option<String>,
    /// Lifetime in Go duration syntax [default: the endpoint's, 10m].
    #[arg(long, value_name = "DURATION")]
    pub(crate) ttl: Option<String>,
    /// What to print.
    #[arg(short, long, value_enum, default_value_t = RequestOutput::Jwt)]
    pub(crate) output: RequestOutput,
}

/// Why no token was had from the endpoint (exit code 2). Messages never hold the bearer token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--token-file` cannot be read.
    #[error("cannot read --token-file {}: {source}", path.display())]
    TokenFile {
        /// The file given.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Neither `--service-account` nor `--token-file` was given.
    #[error("give --service-account or --token-file")]
    NoBearer,
    /// `--service-account`, or a request without `--namespace`, needs a kubeconfig or the
    /// in-cluster configuration, and neither is usable.
    #[error(
        "cannot read the kubeconfig or in-cluster configuration (needed for --service-account, or without --namespace): {0}"
    )]
    Kubeconfig(#[source] kube::config::InferConfigError),
    /// The API server refused the TokenRequest (the ServiceAccount does not exist, or RBAC
    /// does not grant `create` on `serviceaccounts/token`): its message and HTTP status.
    #[error(
        "cannot mint a token of ServiceAccount {namespace}/{account} (needs create on serviceaccounts/token): {message} ({code})"
    )]
    MintRefused {
        /// The namespace.
        namespace: String,
        /// The ServiceAccount.
        account: String,
        /// The API server's message (`serviceaccounts "x" not found`).
        message: String,
        /// The HTTP status.
        code: u16,
    },
    /// The TokenRequest got no answer (an unreachable server, a timeout).
    #[error(
        "cannot mint a token of ServiceAccount {namespace}/{account} (needs create on serviceaccounts/token): {source}"
    )]
    Mint {
        /// The namespace.
        namespace: String,
        /// The ServiceAccount.
        account: String,
        /// What kube said.
        source: kube::Error,
    },
    /// The API server answered the TokenRequest without a token.
    #[error("the API server returned no token for ServiceAccount {namespace}/{account}")]
    NotMinted {
        /// The namespace.
        namespace: String,
        /// The ServiceAccount.
        account: String,
    },
    /// No client for the Kubernetes API could be made from the configuration.
    #[error("cannot connect to the Kubernetes API: {0}")]
    KubernetesClient(#[source] kube::Error),
    /// `--url` has a path or a query: it names the endpoint's scheme, host and port, and the
    /// command adds the path.
    #[error(
        "--url {url:?} has a path; give the scheme, host and port only (such as https://HOST:8443): the command adds {}",
        PATH.replace("{namespace}", "NAMESPACE")
    )]
    UrlWithPath {
        /// The URL given.
        url: String,
    },
    /// `--url` does not parse.
    #[error("--url {url:?} is not a URL: {source}")]
    Url {
        /// The URL given.
        url: String,
        /// Why it does not parse.
        source: axum::http::uri::InvalidUri,
    },
    /// `--ca-file` cannot be read.
    #[error("cannot read --ca-file {}: {source}", path.display())]
    CaFile {
        /// The file given.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// `--ca-file` is not PEM.
    #[error("--ca-file {}: not PEM certificates: {source}", path.display())]
    CaNotPem {
        /// The file given.
        path: PathBuf,
        /// Why it does not parse.
        source: tokio_rustls::rustls::pki_types::pem::Error,
    },
    /// `--ca-file` holds no `CERTIFICATE` block.
    #[error("--ca-file {}: holds no certificate", path.display())]
    CaEmpty {
        /// The file given.
        path: PathBuf,
    },
    /// No HTTP client for `--url` could be made (for example a `--ca-file` certificate that
    /// does not parse).
    #[error("cannot reach --url {url}: {source}")]
    EndpointClient {
        /// The URL given.
        url: String,
        /// What kube said.
        source: kube::Error,
    },
    /// The HTTP request could not be built (a bearer token with characters a header cannot
    /// hold).
    #[error("cannot build the request: {0}")]
    Build(#[source] axum::http::Error),
    /// The endpoint refused: its status and message (401 the bearer token, 403 RBAC or the
    /// issuer's policy, 404 no such issuer, 422 a field, 429 the rate limit, 503 not Ready).
    #[error("the endpoint refused: {code} {reason}: {message}")]
    Refused {
        /// The HTTP status code.
        code: u16,
        /// The refusal's reason (`Forbidden`).
        reason: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// No answer from the endpoint (not reachable, TLS failed).
    #[error("token request to {url} failed: {source}")]
    Failed {
        /// The URL given.
        url: String,
        /// What kube said.
        source: kube::Error,
    },
    /// The endpoint answered 200 with something other than JSON.
    #[error("the endpoint's answer is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The async runtime could not start.
    #[error(transparent)]
    Runtime(#[from] runtime::RuntimeError),
}

/// Output formats of `request`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestOutput {
    /// The JWT alone, for `$(...)` in scripts.
    Jwt,
    /// The endpoint's answer: token, id, iat, exp.
    Json,
}

impl RequestArgs {
    /// The request body.
    fn body(&self) -> Value {
        let mut body = json!({
            "issuer": {"name": self.issuer, "kind": if self.cluster_issuer { "ClusterVideoSdkIssuer" } else { "VideoSdkIssuer" }},
            "permissions": self.permissions,
        });
        if !self.roles.is_empty() {
            body["roles"] = json!(self.roles);
        }
        for (key, value) in [
            ("roomId", &self.room_id),
            ("participantId", &self.participant_id),
            ("ttl", &self.ttl),
        ] {
            if let Some(v) = value {
                body[key] = json!(v);
            }
        }
        body
    }
}

/// Runs the command: prints the token, or says why the endpoint refused.
pub fn run(args: &RequestArgs) -> Result<(), Error> {
    runtime::runtime()?.block_on(async {
        let needs_cluster = args.service_account.is_some() || args.namespace.is_none();
        let cluster = if needs_cluster {
            Some(kube::Config::infer().await.map_err(Error::Kubeconfig)?)
        } else {
            None
        };
        let namespace = args
            .namespace
            .clone()
            .or_else(|| cluster.as_ref().map(|c| c.default_namespace.clone()))
            .unwrap_or_else(|| "default".to_owned());
        let bearer = match (&args.token_file, &args.service_account, cluster) {
            (Some(file), _, _) => std::fs::read_to_string(file)
                .map_err(|source| Error::TokenFile {
                    path: file.clone(),
                    source,
                })?
                .trim()
                .to_owned(),
            (None, Some(account), Some(config)) => {
                mint(config, &namespace, account, &args.audience).await?
            }
            _ => return Err(Error::NoBearer),
        };
        let url: axum::http::Uri = args.url.parse().map_err(|source| Error::Url {
            url: args.url.clone(),
            source,
        })?;
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            return Err(Error::UrlWithPath {
                url: args.url.clone(),
            });
        }
        let mut endpoint = kube::Config::new(url);
        // The client's default retry of 429/503/504 (kube 5: up to 15 times, backing off to
        // minutes) would repeat the request against the very budget or rate that refused it;
        // the refusal and its `Retry-After` go to the caller instead.
        endpoint.default_retry = false;
        if let Some(ca) = &args.ca_file {
            let pem = std::fs::read(ca).map_err(|source| Error::CaFile {
                path: ca.clone(),
                source,
            })?;
            endpoint.root_cert = Some(pem_certificates(&pem, ca)?);
        }
        let client = Client::try_from(endpoint).map_err(|source| Error::EndpointClient {
            url: args.url.clone(),
            source,
        })?;
        let client = request_timeout::bounded(client, request_timeout::REQUEST_TIMEOUT);
        let request = Request::post(PATH.replace("{namespace}", &namespace))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
            .body(serde_json::to_vec(&args.body()).expect("JSON"))
            .map_err(Error::Build)?;
        let text = client.request_text(request).await.map_err(|e| match e {
            kube::Error::Api(status) => Error::Refused {
                code: status.code,
                reason: status.reason,
                message: status.message,
            },
            source => Error::Failed {
                url: args.url.clone(),
                source,
            },
        })?;
        let answer: Value = serde_json::from_str(&text).map_err(Error::NotJson)?;
        match args.output {
            RequestOutput::Jwt => println!("{}", answer["token"].as_str().unwrap_or_default()),
            RequestOutput::Json => println!("{answer:#}"),
        }
        Ok(())
    })
}

/// A token of ServiceAccount `namespace/account` for `audience`, minted with `config`.
async fn mint(
    config: kube::Config,
    namespace: &str,
    account: &str,
    audience: &str,
) -> Result<String, Error> {
    let client = Client::try_from(config).map_err(Error::KubernetesClient)?;
    let client = request_timeout::bounded(client, request_timeout::REQUEST_TIMEOUT);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![audience.to_owned()],
            expiration_seconds: Some(MINTED_SECONDS),
            bound_object_ref: None,
        },
        ..TokenRequest::default()
    };
    let minted = Api::<ServiceAccount>::namespaced(client, namespace)
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .map_err(|source| match source {
            kube::Error::Api(status) => Error::MintRefused {
                namespace: namespace.to_owned(),
                account: account.to_owned(),
                message: status.message,
                code: status.code,
            },
            source => Error::Mint {
                namespace: namespace.to_owned(),
                account: account.to_owned(),
                source,
            },
        })?;
    minted
        .status
        .map(|s| s.token)
        .ok_or_else(|| Error::NotMinted {
            namespace: namespace.to_owned(),
            account: account.to_owned(),
        })
}

/// The DER certificates of the PEM file `path`, whose content is `pem`.
fn pem_certificates(pem: &[u8], path: &std::path::Path) -> Result<Vec<Vec<u8>>, Error> {
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let certs = CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| Error::CaNotPem {
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(Error::CaEmpty {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_ca_file_without_certificates_is_named() {
        let error = |pem: &[u8]| {
            pem_certificates(pem, Path::new("ca.crt"))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(error(b"not pem"), "--ca-file ca.crt: holds no certificate");
        assert!(
            error(b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n")
                .starts_with("--ca-file ca.crt: not PEM certificates: "),
        );
    }
}
