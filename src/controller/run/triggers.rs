//! What brings a reconcile: the changes of a watched object that count (the predicates), and
//! the mappings from a credentials Secret, an issuer or a relist of the managed Secrets to the
//! objects they trigger. (A managed Secret's event is mapped by
//! `ManagedSecrets::token_to_reconcile`.) Pure functions of the caches, each tested here.

use crate::api::{ClusterVideoSdkIssuer, IssuerKind, VideoSdkIssuer};
use crate::controller::cached::CachedToken;
use crate::controller::tokens;
use crate::controller::watches::SecretKey;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use std::hash::{DefaultHasher, Hash, Hasher};

/// What a token's reconcile depends on beyond its generation: the renew-now annotation; and
/// which token it is, its UID. kube-runtime's predicate cache tells a token re-created under
/// the same name by the UID in its metadata, which [`CachedToken`] keeps elsewhere: without the
/// UID here, a token deleted and applied again (generation 1 again) would be filtered out as
/// unchanged and never issued.
pub(super) fn token_trigger(token: &CachedToken) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    tokens::hash_request(token.uid(), token.meta(), &mut hasher);
    Some(hasher.finish())
}

/// What a cluster issuer's reconcile depends on beyond its generation: which installation wrote
/// its status (`status.clusterResourceNamespace`), so that a status another installation writes
/// is noticed at once and reported (`ConflictingInstallation`, see `issuers`). This
/// installation's own first write changes it too, which costs one reconcile that writes nothing.
pub(super) fn cluster_issuer_trigger(issuer: &ClusterVideoSdkIssuer) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    issuer.meta().generation.hash(&mut hasher);
    issuer
        .status
        .as_ref()
        .and_then(|s| s.cluster_resource_namespace.as_deref())
        .hash(&mut hasher);
    Some(hasher.finish())
}

/// The namespaced issuers whose credentials Secret is `key`.
pub(super) fn issuers_using(
    issuers: &Store<VideoSdkIssuer>,
    key: &SecretKey,
) -> Vec<ObjectRef<VideoSdkIssuer>> {
    let (namespace, name) = key;
    issuers
        .state()
        .iter()
        .filter(|i| {
            i.namespace().as_ref() == Some(namespace) && &i.spec.credentials_secret_ref.name == name
        })
        .map(|i| ObjectRef::from_obj(&**i))
        .collect()
}

/// The cluster issuers whose credentials Secret is `key`: theirs are read from
/// `cluster_resource_namespace` only.
pub(super) fn cluster_issuers_using(
    cluster_issuers: &Store<ClusterVideoSdkIssuer>,
    cluster_resource_namespace: &str,
    key: &SecretKey,
) -> Vec<ObjectRef<ClusterVideoSdkIssuer>> {
    let (namespace, name) = key;
    if namespace != cluster_resource_namespace {
        return Vec::new();
    }
    cluster_issuers
        .state()
        .iter()
        .filter(|i| &i.spec.credentials_secret_ref.name == name)
        .map(|i| ObjectRef::from_obj(&**i))
        .collect()
}

/// The tokens that use an issuer of `kind` named `name` (in `namespace` for namespaced ones).
/// A token whose spec does not parse names no issuer here; its own reconcile reports it.
fn tokens_of(
    tokens: &Store<CachedToken>,
    kind: IssuerKind,
    name: &str,
    namespace: Option<&str>,
) -> Vec<ObjectRef<CachedToken>> {
    tokens
        .state()
        .iter()
        .filter(|t| namespace.is_none() || t.namespace().as_deref() == namespace)
        .filter(|t| {
            t.issuer_ref()
                .is_ok_and(|issuer| issuer.kind == kind && issuer.name == name)
        })
        .map(|t| ObjectRef::from_obj(&**t))
        .collect()
}

/// The tokens that use `issuer`: a change of it reconciles them.
pub(super) fn tokens_of_issuer(
    tokens: &Store<CachedToken>,
    issuer: &VideoSdkIssuer,
) -> Vec<ObjectRef<CachedToken>> {
    tokens_of(
        tokens,
        IssuerKind::VideoSdkIssuer,
        &issuer.name_any(),
        issuer.namespace().as_deref(),
    )
}

/// The tokens that use the cluster issuer `issuer`: a change of it reconciles them.
pub(super) fn tokens_of_cluster_issuer(
    tokens: &Store<CachedToken>,
    issuer: &ClusterVideoSdkIssuer,
) -> Vec<ObjectRef<CachedToken>> {
    tokens_of(
        tokens,
        IssuerKind::ClusterVideoSdkIssuer,
        &issuer.name_any(),
        None,
    )
}

/// The tokens whose issuer (namespaced, or cluster issuer reading from
/// `cluster_resource_namespace`) takes its credentials from the Secret `key`: a change of that
/// Secret reconciles them.
pub(super) fn tokens_using_credentials(
    tokens: &Store<CachedToken>,
    issuers: &Store<VideoSdkIssuer>,
    cluster_issuers: &Store<ClusterVideoSdkIssuer>,
    cluster_resource_namespace: &str,
    key: &SecretKey,
) -> Vec<ObjectRef<CachedToken>> {
    let namespaced = issuers_using(issuers, key).into_iter().flat_map(|i| {
        tokens_of(
            tokens,
            IssuerKind::VideoSdkIssuer,
            &i.name,
            i.namespace.as_deref(),
        )
    });
    let cluster = cluster_issuers_using(cluster_issuers, cluster_resource_namespace, key)
        .into_iter()
        .flat_map(|i| tokens_of(tokens, IssuerKind::ClusterVideoSdkIssuer, &i.name, None));
    namespaced.chain(cluster).collect()
}

/// Every token: after a relist of the managed Secrets that forgot some (deleted while the watch
/// was down; a relist brings no deletion events), each token is reconciled once, so that a
/// Secret deleted meanwhile is restored (those whose Secrets are unchanged make no request).
pub(super) fn all_tokens(tokens: &Store<CachedToken>) -> Vec<ObjectRef<CachedToken>> {
    tokens
        .state()
        .iter()
        .map(|t| ObjectRef::from_obj(&**t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector::{self, store::Writer};
    use kube::runtime::watcher;
    use serde::de::DeserializeOwned;
    use serde_json::json;
    use std::collections::BTreeSet;

    /// A store, and its writer, which keeps it alive.
    type Cache<K> = (Store<K>, Writer<K>);

    /// A store holding `objects`, and its writer.
    fn store<K>(objects: Vec<K>) -> Cache<K>
    where
        K: Resource<DynamicType = ()> + Clone + 'static,
    {
        let (reader, mut writer) = reflector::store();
        for object in objects {
            writer.apply_watcher_event(&watcher::Event::Apply(object));
        }
        (reader, writer)
    }

    fn issuer<K: DeserializeOwned>(namespace: Option<&str>, name: &str, credentials: &str) -> K {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"credentialsSecretRef": {"name": credentials}},
        }))
        .expect("an issuer")
    }

    /// Token `namespace/name` using the issuer of `kind` named `issuer`.
    fn token(namespace: &str, name: &str, kind: &str, issuer: &str) -> CachedToken {
        serde_json::from_str(
            &json!({
                "metadata": {"name": name, "namespace": namespace, "uid": name},
                "spec": {"issuerRef": {"name": issuer, "kind": kind}, "permissions": ["allow_join"]},
            })
            .to_string(),
        )
        .expect("a token")
    }

    /// The tokens of `refs`, as `namespace/name`.
    fn names(refs: Vec<ObjectRef<CachedToken>>) -> BTreeSet<String> {
        refs.into_iter()
            .map(|r| format!("{}/{}", r.namespace.unwrap_or_default(), r.name))
            .collect()
    }

    /// Namespaced issuers a/a (credentials `creds`), b/b (`creds`) and a/other (`other`); the
    /// cluster issuer shared (`creds`, read from `operator`); a token of each, a token of a
    /// missing issuer, and one whose spec does not parse.
    fn caches() -> (
        Cache<CachedToken>,
        Cache<VideoSdkIssuer>,
        Cache<ClusterVideoSdkIssuer>,
    ) {
        let unparsable: CachedToken = serde_json::from_str(
            &json!({"metadata": {"name": "broken", "namespace": "a", "uid": "broken"},
                    "spec": {"issuerRef": 7}})
            .to_string(),
        )
        .expect("the cache keeps a spec as text");
        (
            store(vec![
                token("a", "of-a", "VideoSdkIssuer", "a"),
                token("b", "of-b", "VideoSdkIssuer", "b"),
                token("b", "of-a-elsewhere", "VideoSdkIssuer", "a"),
                token("a", "of-other", "VideoSdkIssuer", "other"),
                token("c", "of-shared", "ClusterVideoSdkIssuer", "shared"),
                token("a", "of-missing", "VideoSdkIssuer", "missing"),
                unparsable,
            ]),
            store(vec![
                issuer(Some("a"), "a", "creds"),
                issuer(Some("b"), "b", "creds"),
                issuer(Some("a"), "other", "other"),
            ]),
            store(vec![issuer(None, "shared", "creds")]),
        )
    }

    #[test]
    fn a_credentials_secret_triggers_the_tokens_of_the_issuers_that_use_it() {
        let ((tokens, _t), (issuers, _i), (cluster, _c)) = caches();
        let key = |ns: &str, name: &str| (ns.to_owned(), name.to_owned());
        let using = |k: SecretKey| {
            names(tokens_using_credentials(
                &tokens, &issuers, &cluster, "operator", &k,
            ))
        };
        assert_eq!(using(key("a", "creds")), BTreeSet::from(["a/of-a".into()]));
        assert_eq!(using(key("b", "creds")), BTreeSet::from(["b/of-b".into()]));
        assert_eq!(
            using(key("operator", "creds")),
            BTreeSet::from(["c/of-shared".into()]),
            "a cluster issuer's credentials are read from the cluster resource namespace"
        );
        assert_eq!(
            using(key("a", "other")),
            BTreeSet::from(["a/of-other".into()])
        );
        assert!(using(key("a", "unused")).is_empty());
        assert_eq!(
            cluster_issuers_using(&cluster, "elsewhere", &key("operator", "creds")),
            Vec::new(),
            "another cluster resource namespace"
        );
    }

    #[test]
    fn an_issuer_triggers_its_own_tokens_only() {
        let ((tokens, _t), _, _) = caches();
        assert_eq!(
            names(tokens_of_issuer(&tokens, &issuer(Some("a"), "a", "creds"))),
            BTreeSet::from(["a/of-a".into()]),
            "not b/of-a-elsewhere, which names an issuer a of its own namespace"
        );
        assert_eq!(
            names(tokens_of_cluster_issuer(
                &tokens,
                &issuer(None, "shared", "creds")
            )),
            BTreeSet::from(["c/of-shared".into()])
        );
        assert!(tokens_of_cluster_issuer(&tokens, &issuer(None, "a", "creds")).is_empty());
    }

    #[test]
    fn a_relist_triggers_every_token() {
        let ((tokens, _t), _, _) = caches();
        assert_eq!(names(all_tokens(&tokens)).len(), 7);
    }

    #[test]
    fn a_token_recreated_under_the_same_name_triggers_anew() {
        let token = |uid: &str| -> CachedToken {
            serde_json::from_str(
                &json!({
                    "metadata": {"name": "t", "namespace": "ns", "uid": uid, "generation": 1},
                    "spec": {"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]},
                })
                .to_string(),
            )
            .expect("a token")
        };
        assert_eq!(token_trigger(&token("u1")), token_trigger(&token("u1")));
        assert_ne!(token_trigger(&token("u1")), token_trigger(&token("u2")));
    }
}
