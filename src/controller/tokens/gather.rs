//! Step 1 of a token's reconcile: read everything the plan needs, from the caches (issuers,
//! credentials Secrets) and the API (the token's Secret, unless it is unchanged since the
//! operator last wrote or checked it; the namespace's labels when a cluster issuer's
//! namespaceSelector must judge them). Nothing is decided here.

use crate::api::{CredentialsSecretRef, IssuerKind, IssuerPolicy, VideoSdkToken};
use crate::controller::context::Context;
use crate::controller::error::Error;
use crate::controller::managed_secrets::Existing;
use crate::rules::{credentials, secret};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

/// What a token's plan is decided from.
#[derive(Debug, Clone)]
pub(crate) struct Inputs {
    /// The token's namespace.
    pub(crate) namespace: String,
    /// The Secret of the token's `secretName`.
    pub(crate) existing: Existing,
    /// The issuer the token names, as found.
    pub(crate) issuer: IssuerLookup,
    /// The operator's ceiling on a token's lifetime (`Settings::max_ttl`, fixed for the
    /// process's life, so not in the fingerprint).
    pub(crate) max_ttl: std::time::Duration,
    /// The operator's floor on a token's renew window (`Settings::min_renew_before`, fixed for
    /// the process's life, so not in the fingerprint).
    pub(crate) min_renew_before: std::time::Duration,
    /// A fingerprint of everything the plan reads but the Secret and the time: the token's UID,
    /// generation, renew-now annotation and recorded renew-now answer, the issuer's identity and
    /// generation, its credentials Secret's resourceVersion and the namespace's labels. While
    /// it and the Secret's resourceVersion stay as they were, so does the plan, until renewal.
    pub(crate) fingerprint: u64,
}

/// The issuer a token names, as found in the caches.
#[derive(Debug, Clone)]
pub(crate) enum IssuerLookup {
    /// It exists.
    Found(Box<Issuer>),
    /// It does not; `other_kind_exists`: an issuer of the other kind has that name (in the
    /// token's namespace for a `VideoSdkIssuer`), which the message suggests.
    Missing {
        /// Whether the other kind has an issuer of that name.
        other_kind_exists: bool,
    },
}

impl IssuerLookup {
    /// The fingerprint of the issuer's credentials as a number (the 16 hex digits of
    /// `Credentials::fingerprint`), when it exists and its credentials can be read.
    pub(crate) fn credentials_fingerprint(&self) -> Option<u64> {
        let IssuerLookup::Found(issuer) = self else {
            return None;
        };
        let credentials = credentials::read(
            issuer.credentials.as_deref(),
            &issuer.credentials_ref,
            &issuer.credentials_namespace,
        )
        .ok()?;
        u64::from_str_radix(&credentials.fingerprint(), 16).ok()
    }
}

/// What the plan needs of an issuer.
#[derive(Debug, Clone)]
pub(crate) struct Issuer {
    /// Which kind it is.
    pub(crate) kind: IssuerKind,
    /// Its name.
    pub(crate) name: String,
    /// Where its credentials are.
    pub(crate) credentials_ref: CredentialsSecretRef,
    /// The namespace its credentials Secret is read from.
    pub(crate) credentials_namespace: String,
    /// The credentials Secret, if it exists (shared with the credentials cache).
    pub(crate) credentials: Option<Arc<Secret>>,
    /// Its policy.
    pub(crate) policy: IssuerPolicy,
    /// A cluster issuer's namespaceSelector.
    pub(crate) namespace_selector: Option<LabelSelector>,
    /// The labels of the token's namespace, read only when `namespace_selector` is set.
    pub(crate) namespace_labels: Option<BTreeMap<String, String>>,
}

/// Reads the token's issuer and the issuer's credentials from the caches, and the token's Secret
/// from the API unless it is unchanged since the operator last wrote or checked it, or no
/// Secret of that name is the operator's ([`Existing::Unseen`]).
///
/// Errors: the API requests (the Secret GET, the Namespace GET) failed.
pub(crate) async fn gather(token: &VideoSdkToken, ctx: &Context) -> Result<Inputs, Error> {
    let (issuer, fingerprint) = gather_issuer(token, ctx).await?;
    let namespace = token.namespace().unwrap_or_default();
    let secret_name = secret::secret_name(token);
    let existing = match ctx
        .secrets
        .known(token, &namespace, &secret_name, fingerprint, || {
            issuer.credentials_fingerprint()
        }) {
        Some(known) => known,
        None => read_secret(ctx, &namespace, &secret_name).await?,
    };
    Ok(Inputs {
        namespace,
        existing,
        issuer,
        max_ttl: ctx.settings.max_ttl,
        min_renew_before: ctx.settings.min_renew_before,
        fingerprint,
    })
}

/// The token's Secret `namespace/name`, read from the API.
///
/// Errors: the GET failed.
pub(crate) async fn read_secret(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<Existing, Error> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    Ok(match secrets.get_opt(name).await? {
        Some(secret) => Existing::Read(Box::new(secret)),
        None => Existing::Absent,
    })
}

/// The issuer the token names, with its credentials, and the fingerprint of everything the plan
/// reads but the Secret and the time ([`Inputs::fingerprint`]).
///
/// Errors: the Namespace GET (for a cluster issuer's namespaceSelector) failed.
pub(crate) async fn gather_issuer(
    token: &VideoSdkToken,
    ctx: &Context,
) -> Result<(IssuerLookup, u64), Error> {
    let namespace = token.namespace().unwrap_or_default();
    let mut fingerprint = DefaultHasher::new();
    super::hash_request(token.uid().as_deref(), &token.metadata, &mut fingerprint);
    token
        .status
        .as_ref()
        .and_then(|s| s.renew_now_handled.as_deref())
        .hash(&mut fingerprint);
    let issuer_ref = &token.spec.issuer_ref;
    let local = ObjectRef::new(&issuer_ref.name).within(&namespace);
    let cluster = ObjectRef::new(&issuer_ref.name);
    let found = match issuer_ref.kind {
        IssuerKind::VideoSdkIssuer => ctx.issuers.get(&local).map(|i| {
            (i.uid(), i.metadata.generation).hash(&mut fingerprint);
            let spec = &i.spec;
            (
                spec.credentials_secret_ref.clone(),
                spec.policy.clone(),
                namespace.clone(),
                None,
            )
        }),
        IssuerKind::ClusterVideoSdkIssuer => ctx.cluster_issuers.get(&cluster).map(|i| {
            (i.uid(), i.metadata.generation).hash(&mut fingerprint);
            let spec = &i.spec;
            (
                spec.credentials_secret_ref.clone(),
                spec.policy.clone(),
                ctx.settings.cluster_resource_namespace.clone(),
                spec.namespace_selector.clone(),
            )
        }),
    };
    let Some((credentials_ref, policy, credentials_namespace, namespace_selector)) = found else {
        let other_kind_exists = match issuer_ref.kind {
            IssuerKind::VideoSdkIssuer => ctx.cluster_issuers.get(&cluster).is_some(),
            IssuerKind::ClusterVideoSdkIssuer => ctx.issuers.get(&local).is_some(),
        };
        return Ok((
            IssuerLookup::Missing { other_kind_exists },
            fingerprint.finish(),
        ));
    };
    let namespace_labels = match namespace_selector {
        Some(_) => {
            let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
            let meta = namespaces.get_metadata(&namespace).await?;
            Some(meta.metadata.labels.unwrap_or_default())
        }
        None => None,
    };
    namespace_labels.hash(&mut fingerprint);
    let credentials = ctx
        .credentials
        .get(&credentials_namespace, &credentials_ref.name)
        .await;
    credentials
        .as_ref()
        .map(|c| {
            (
                c.metadata.uid.as_deref(),
                c.metadata.resource_version.as_deref(),
            )
        })
        .hash(&mut fingerprint);
    let issuer = IssuerLookup::Found(Box::new(Issuer {
        kind: issuer_ref.kind,
        name: issuer_ref.name.clone(),
        credentials_ref,
        credentials_namespace,
        credentials,
        policy,
        namespace_selector,
        namespace_labels,
    }));
    Ok((issuer, fingerprint.finish()))
}
