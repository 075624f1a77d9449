//! Step 1 of a token's reconcile: read everything the plan needs, from the caches (issuers,
//! credentials Secrets) and the API (the token's Secret; the namespace's labels when a cluster
//! issuer's namespaceSelector must judge them). Nothing is decided here.

use crate::api::{CredentialsSecretRef, IssuerKind, IssuerPolicy, VideoSdkToken};
use crate::controller::context::Context;
use crate::controller::error::Error;
use crate::controller::secret;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use std::collections::BTreeMap;

/// What a token's plan is decided from.
#[derive(Debug, Clone)]
pub(crate) struct Inputs {
    /// The token's namespace.
    pub(crate) namespace: String,
    /// The Secret of the token's `secretName`, if it exists.
    pub(crate) existing: Option<Secret>,
    /// The issuer the token names, as found.
    pub(crate) issuer: IssuerLookup,
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
    /// The credentials Secret, if it exists.
    pub(crate) credentials: Option<Secret>,
    /// Its policy.
    pub(crate) policy: IssuerPolicy,
    /// A cluster issuer's namespaceSelector.
    pub(crate) namespace_selector: Option<LabelSelector>,
    /// The labels of the token's namespace, read only when `namespace_selector` is set.
    pub(crate) namespace_labels: Option<BTreeMap<String, String>>,
}

/// Reads the token's Secret, its issuer and the issuer's credentials.
///
/// Errors: the API requests (the Secret GET, the Namespace GET) failed.
pub(crate) async fn gather(token: &VideoSdkToken, ctx: &Context) -> Result<Inputs, Error> {
    let namespace = token.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let existing = secrets.get_opt(&secret::secret_name(token)).await?;
    let issuer_ref = &token.spec.issuer_ref;
    let local = ObjectRef::new(&issuer_ref.name).within(&namespace);
    let cluster = ObjectRef::new(&issuer_ref.name);
    let found = match issuer_ref.kind {
        IssuerKind::VideoSdkIssuer => ctx.issuers.get(&local).map(|i| {
            let spec = &i.spec;
            (
                spec.credentials_secret_ref.clone(),
                spec.policy.clone(),
                namespace.clone(),
                None,
            )
        }),
        IssuerKind::ClusterVideoSdkIssuer => ctx.cluster_issuers.get(&cluster).map(|i| {
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
        return Ok(Inputs {
            namespace,
            existing,
            issuer: IssuerLookup::Missing { other_kind_exists },
        });
    };
    let namespace_labels = match namespace_selector {
        Some(_) => {
            let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
            let meta = namespaces.get_metadata(&namespace).await?;
            Some(meta.metadata.labels.unwrap_or_default())
        }
        None => None,
    };
    let credentials = ctx
        .credentials
        .get(&credentials_namespace, &credentials_ref.name)
        .await;
    Ok(Inputs {
        namespace,
        existing,
        issuer: IssuerLookup::Found(Box::new(Issuer {
            kind: issuer_ref.kind,
            name: issuer_ref.name.clone(),
            credentials_ref,
            credentials_namespace,
            credentials,
            policy,
            namespace_selector,
            namespace_labels,
        })),
    })
}
