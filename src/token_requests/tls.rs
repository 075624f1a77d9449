//! HTTPS for the token request endpoint, from a `kubernetes.io/tls` Secret (`tls.crt`: the
//! certificate chain, PEM; `tls.key`: its private key, PEM), such as the one a cert-manager
//! `Certificate` writes, reloaded when the Secret changes.
//!
//! The Secret is watched by name (the same field-selected watch as issuers' credentials
//! Secrets, [`CredentialSecrets`]), so a renewed certificate is served to new connections within
//! seconds of cert-manager writing it, with no restart and no volume mount. Until the Secret
//! exists and holds a usable pair, TLS handshakes fail, the reason is logged and `/readyz`
//! answers 503 with it. TLS 1.2 and
//! 1.3 on aws-lc-rs, the one crypto backend of the operator; HTTP/1.1 with keep-alive.

use crate::controller::CredentialSecrets;
use crate::listener::{self, Limits, ListenerStatus};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use std::sync::{Arc, RwLock};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::{CryptoProvider, aws_lc_rs};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{ServerConfig, version};

/// The certificate served now (`None`: none usable yet).
#[derive(Debug, Default)]
struct Current(RwLock<Option<Arc<CertifiedKey>>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Why a `kubernetes.io/tls` Secret cannot be served; `secret` is `NAMESPACE/NAME`. Messages
/// name the Secret and key, never key material.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CertificateError {
    /// The Secret does not exist (yet: cert-manager may not have issued it).
    #[error("TLS Secret {secret} does not exist")]
    Missing {
        /// The Secret.
        secret: String,
    },
    /// The Secret lacks `tls.crt` or `tls.key`.
    #[error("TLS Secret {secret} has no key {key}")]
    NoKey {
        /// The Secret.
        secret: String,
        /// The key missing.
        key: &'static str,
    },
    /// `tls.crt` is not PEM.
    #[error("TLS Secret {secret} key tls.crt is not a PEM certificate chain: {source}")]
    ChainNotPem {
        /// The Secret.
        secret: String,
        /// Why it does not parse.
        source: tokio_rustls::rustls::pki_types::pem::Error,
    },
    /// `tls.crt` holds no `CERTIFICATE` block.
    #[error("TLS Secret {secret} key tls.crt holds no certificate")]
    NoCertificate {
        /// The Secret.
        secret: String,
    },
    /// `tls.key` is not a PEM private key.
    #[error("TLS Secret {secret} key tls.key is not a PEM private key: {source}")]
    KeyNotPem {
        /// The Secret.
        secret: String,
        /// Why it does not parse.
        source: tokio_rustls::rustls::pki_types::pem::Error,
    },
    /// `tls.key` is a key of a type or size rustls cannot sign with.
    #[error("TLS Secret {secret} key tls.key cannot be used: {source}")]
    UnusableKey {
        /// The Secret.
        secret: String,
        /// What rustls said.
        source: tokio_rustls::rustls::Error,
    },
    /// `tls.key` is not the private key of `tls.crt`'s first certificate.
    #[error("TLS Secret {secret}: tls.key does not belong to tls.crt ({source})")]
    KeyMismatch {
        /// The Secret.
        secret: String,
        /// What rustls said.
        source: tokio_rustls::rustls::Error,
    },
}

/// The certificate and key of a `kubernetes.io/tls` Secret, or why they cannot be served.
pub(crate) fn certified_key(
    secret: Option<&Secret>,
    namespace: &str,
    name: &str,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, CertificateError> {
    let id = || format!("{namespace}/{name}");
    let secret = secret.ok_or_else(|| CertificateError::Missing { secret: id() })?;
    let data = secret.data.clone().unwrap_or_default();
    let value = |key: &'static str| {
        data.get(key)
            .map(|v| v.0.clone())
            .ok_or_else(|| CertificateError::NoKey { secret: id(), key })
    };
    let chain = CertificateDer::pem_slice_iter(&value("tls.crt")?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| CertificateError::ChainNotPem {
            secret: id(),
            source,
        })?;
    if chain.is_empty() {
        return Err(CertificateError::NoCertificate { secret: id() });
    }
    let key = PrivateKeyDer::from_pem_slice(&value("tls.key")?).map_err(|source| {
        CertificateError::KeyNotPem {
            secret: id(),
            source,
        }
    })?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|source| CertificateError::UnusableKey {
            secret: id(),
            source,
        })?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|source| CertificateError::KeyMismatch {
            secret: id(),
            source,
        })?;
    Ok(certified)
}

/// Serves `router` over HTTPS on `listener` with the certificate of Secret `namespace/name`,
/// read through `secrets`, within `limits` (see [`crate::listener`]), until `shutdown`.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    secrets: Arc<CredentialSecrets>,
    namespace: String,
    name: String,
    limits: Limits,
    status: Arc<ListenerStatus>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let provider = Arc::new(aws_lc_rs::default_provider());
    let current = Arc::new(Current::default());
    let config = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&version::TLS13, &version::TLS12])
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_cert_resolver(current.clone());
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    // Load now, then again on every change of the Secret.
    let mut changes = secrets.subscribe();
    let load = {
        let (current, secrets, provider) = (current.clone(), secrets.clone(), provider.clone());
        let (namespace, name, status) = (namespace.clone(), name.clone(), status.clone());
        move || {
            let (current, secrets, provider) = (current.clone(), secrets.clone(), provider.clone());
            let (namespace, name, status) = (namespace.clone(), name.clone(), status.clone());
            async move {
                let secret = secrets.get(&namespace, &name).await;
                match certified_key(secret.as_deref(), &namespace, &name, &provider) {
                    Ok(key) => {
                        *current.0.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(key));
                        status.set_certificate_problem(None);
                        tracing::info!(secret = %format!("{namespace}/{name}"), "token requests: serving the certificate of the TLS Secret");
                    }
                    Err(problem) => {
                        // With a previous certificate, handshakes go on with it: still serving.
                        if current
                            .0
                            .read()
                            .unwrap_or_else(|p| p.into_inner())
                            .is_none()
                        {
                            status.set_certificate_problem(Some(problem.to_string()));
                        }
                        tracing::warn!(
                            "token requests: {problem}; TLS handshakes keep the previous certificate, or fail while there is none"
                        );
                    }
                }
            }
        }
    };
    load().await;
    let reload = tokio::spawn({
        let (namespace, name) = (namespace.clone(), name.clone());
        async move {
            while let Some((ns, n)) = changes.next().await {
                if ns == namespace && n == name {
                    load().await;
                }
            }
        }
    });
    let _stop_reloading = AbortOnDrop(reload.abort_handle());
    let service = listener::Service {
        router,
        tls: Some(acceptor),
        timed_out: super::timed_out,
    };
    listener::serve(listener, service, limits, status, shutdown).await;
    Ok(())
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(entries: &[(&str, &[u8])]) -> Secret {
        Secret {
            data: Some(
                entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                    .collect(),
            ),
            ..Secret::default()
        }
    }

    #[test]
    fn each_unusable_secret_is_named_with_its_fault() {
        let provider = aws_lc_rs::default_provider();
        let problem = |s: Option<&Secret>| {
            certified_key(s, "ns", "tls", &provider)
                .unwrap_err()
                .to_string()
        };
        assert!(problem(None).contains("does not exist"));
        assert!(problem(Some(&secret(&[("tls.key", b"x")]))).contains("no key tls.crt"));
        assert!(
            problem(Some(&secret(&[("tls.crt", b"not pem"), ("tls.key", b"x")])))
                .contains("holds no certificate")
        );
    }
}
