//! The view of a `VideoSdkToken` that the operator's cache keeps: of its metadata only what
//! kube-runtime (reflector, scheduler, predicates, the watcher's resume point) and the
//! reconciles read ([`CachedMeta`]; labels, ownerReferences, finalizers, managedFields and every
//! annotation but renew-now are skipped as they are read, never built; the UID is kept beside
//! the metadata, out of kube-runtime's references), its spec and status
//! kept as the JSON text the API server sent, parsed only when a reconcile, a trigger or a
//! metrics scrape reads them.
//!
//! Why: a parsed `VideoSdkToken` is 848 bytes inline (every optional field of metadata, spec
//! and status takes its room, set or not), and one as the operator caches it holds about 1,570
//! bytes in 15 heap blocks; this view holds about 950 bytes in 7 (392 inline; measured for a
//! Ready token of the benchmark's shape). At 10,000 tokens that is about 7 MiB less, and a
//! watch event no longer builds a spec, a status and managedFields only to drop or keep them.
//! A reconcile parses spec and status again (reconciles are far rarer than cached tokens).
//!
//! The texts are captured as `serde_json::value::RawValue`, which needs serde_json to read them
//! straight from the response: watch events as kube-apiserver writes them (`type` before
//! `object`, the field order of its `WatchEvent` struct) and lists qualify; an event written the
//! other way round would fail to decode (both tested in `a_watch_event_decodes`).

use crate::api::{IssuerRef, RENEW_NOW_ANNOTATION, VideoSdkToken, VideoSdkTokenStatus};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::{Resource, ResourceExt};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// Where client-side `kubectl apply` keeps the manifest it applied.
const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops from a cached issuer or credentials Secret the apply bookkeeping that no reconcile
/// reads, server-side (`managedFields`) and client-side (`kubectl apply`'s copy of the whole
/// manifest in an annotation): most of a small object's size. (A [`CachedToken`] never parses
/// them.)
pub(crate) fn slim<K: Resource>(object: &mut K) {
    object.managed_fields_mut().clear();
    object.annotations_mut().remove(LAST_APPLIED_ANNOTATION);
}

/// A `VideoSdkToken` as cached: metadata parsed in part, spec and status as JSON text.
#[derive(Deserialize, Clone, Debug)]
#[serde(from = "Received")]
pub(crate) struct CachedToken {
    /// The token's metadata: name, namespace, resourceVersion, generation, deletionTimestamp
    /// and the renew-now annotation; nothing else. Its UID is kept beside it
    /// ([`CachedToken::uid`]).
    pub(crate) metadata: ObjectMeta,
    /// `metadata.uid`, kept outside `metadata`: kube-runtime copies the UID of an object's
    /// metadata into every `ObjectRef` it makes of it (the store's key, two in the scheduler,
    /// one in the predicate cache), four strings per token that nothing reads.
    uid: Option<Box<str>>,
    /// `spec`, as sent.
    spec: Box<RawValue>,
    /// `status`, as sent; `None` before the operator first wrote one.
    status: Option<Box<RawValue>>,
}

/// A token as received, before its UID moves out of its metadata.
#[derive(Deserialize)]
struct Received {
    #[serde(deserialize_with = "cached_meta")]
    metadata: ObjectMeta,
    spec: Box<RawValue>,
    #[serde(default)]
    status: Option<Box<RawValue>>,
}

impl From<Received> for CachedToken {
    fn from(mut received: Received) -> Self {
        CachedToken {
            uid: received.metadata.uid.take().map(String::into_boxed_str),
            metadata: received.metadata,
            spec: received.spec,
            status: received.status,
        }
    }
}

/// The part of a spec that triggers and metrics read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IssuerOnly {
    issuer_ref: IssuerRef,
}

/// The metadata a cached token keeps.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CachedMeta {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    /// kube-runtime's watcher resumes from the last object's; `run` drops it once cached.
    resource_version: Option<String>,
    generation: Option<i64>,
    deletion_timestamp: Option<Time>,
    #[serde(default, deserialize_with = "renew_now_only")]
    annotations: Option<BTreeMap<String, String>>,
}

/// `metadata` as [`CachedMeta`] keeps it.
fn cached_meta<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ObjectMeta, D::Error> {
    let meta = CachedMeta::deserialize(deserializer)?;
    Ok(ObjectMeta {
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
        resource_version: meta.resource_version,
        generation: meta.generation,
        deletion_timestamp: meta.deletion_timestamp,
        annotations: meta.annotations,
        ..ObjectMeta::default()
    })
}

/// Of `annotations`, only [`RENEW_NOW_ANNOTATION`]: the other keys are compared as they are read
/// and their values skipped, so a `kubectl apply`'s copy of the whole manifest costs nothing.
fn renew_now_only<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    /// Whether a key is the renew-now annotation, read without keeping it.
    struct IsRenewNow(bool);

    impl<'de> Deserialize<'de> for IsRenewNow {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct KeyVisitor;
            impl Visitor<'_> for KeyVisitor {
                type Value = IsRenewNow;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an annotation key")
                }
                fn visit_str<E: de::Error>(self, key: &str) -> Result<IsRenewNow, E> {
                    Ok(IsRenewNow(key == RENEW_NOW_ANNOTATION))
                }
            }
            deserializer.deserialize_str(KeyVisitor)
        }
    }

    struct Annotations;
    impl<'de> Visitor<'de> for Annotations {
        type Value = Option<BTreeMap<String, String>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of annotations, or null")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut renew_now = None;
            while let Some(IsRenewNow(wanted)) = map.next_key()? {
                if wanted {
                    renew_now = Some(map.next_value::<String>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(renew_now.map(|value| BTreeMap::from([(RENEW_NOW_ANNOTATION.to_owned(), value)])))
        }
    }
    deserializer.deserialize_option(Annotations)
}

impl CachedToken {
    /// The whole token, spec and status parsed.
    ///
    /// Errors: the spec or status does not parse as this operator's `VideoSdkToken` (the API
    /// server validated them against the CRD's schema, so only a CRD of another version of the
    /// operator can cause this).
    pub(crate) fn token(&self) -> Result<VideoSdkToken, serde_json::Error> {
        let mut metadata = self.metadata.clone();
        metadata.uid = self.uid.as_deref().map(str::to_owned);
        Ok(VideoSdkToken {
            metadata,
            spec: serde_json::from_str(self.spec.get())?,
            status: self.status()?,
        })
    }

    /// The token's UID (`metadata.uid`).
    pub(crate) fn uid(&self) -> Option<&str> {
        self.uid.as_deref()
    }

    /// The token's `spec.issuerRef`.
    ///
    /// Errors: as [`CachedToken::token`].
    pub(crate) fn issuer_ref(&self) -> Result<IssuerRef, serde_json::Error> {
        serde_json::from_str::<IssuerOnly>(self.spec.get()).map(|spec| spec.issuer_ref)
    }

    /// The token's status.
    ///
    /// Errors: as [`CachedToken::token`].
    pub(crate) fn status(&self) -> Result<Option<VideoSdkTokenStatus>, serde_json::Error> {
        self.status
            .as_deref()
            .map(|status| serde_json::from_str(status.get()))
            .transpose()
    }
}

/// A Secret the operator manages, as its label-selected metadata watch sees it (an `Api` of this
/// type asks for `PartialObjectMetadata`): name, namespace, resourceVersion, labels and
/// ownerReferences, what `secret::token_of` and the Secret versions read; its annotations and
/// managedFields are skipped as they are read. Not cached: only streamed to the token controller.
#[derive(Deserialize, Clone, Debug)]
pub(crate) struct WatchedSecret {
    /// The Secret's metadata, in part.
    #[serde(deserialize_with = "secret_meta")]
    pub(crate) metadata: ObjectMeta,
}

/// The metadata a [`WatchedSecret`] keeps.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecretMeta {
    name: Option<String>,
    namespace: Option<String>,
    resource_version: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    owner_references: Option<Vec<OwnerReference>>,
}

/// `metadata` as [`SecretMeta`] keeps it.
fn secret_meta<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ObjectMeta, D::Error> {
    let meta = SecretMeta::deserialize(deserializer)?;
    Ok(ObjectMeta {
        name: meta.name,
        namespace: meta.namespace,
        resource_version: meta.resource_version,
        labels: meta.labels,
        owner_references: meta.owner_references,
        ..ObjectMeta::default()
    })
}

/// `impl Resource` for a view (`$view`) of objects of type `$of`: the same kind, scope and URL,
/// decoded in part; `metadata_api: true` when its `Api` asks for `PartialObjectMetadata`.
macro_rules! view_of {
    ($view:ty, $of:ty, metadata_api: $metadata_api:expr) => {
        impl Resource for $view {
            type DynamicType = ();
            type Scope = NamespaceResourceScope;

            fn kind(dt: &()) -> Cow<'_, str> {
                <$of>::kind(dt)
            }

            fn group(dt: &()) -> Cow<'_, str> {
                <$of>::group(dt)
            }

            fn version(dt: &()) -> Cow<'_, str> {
                <$of>::version(dt)
            }

            fn plural(dt: &()) -> Cow<'_, str> {
                <$of>::plural(dt)
            }

            fn metadata_api() -> bool {
                $metadata_api
            }

            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }

            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

view_of!(CachedToken, VideoSdkToken, metadata_api: false);
view_of!(WatchedSecret, Secret, metadata_api: true);

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector::ObjectRef;

    #[test]
    fn cached_objects_drop_apply_bookkeeping_and_keep_the_rest() {
        let mut token: VideoSdkToken = serde_json::from_value(serde_json::json!({
            "apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkToken",
            "metadata": {"name": "t", "namespace": "ns", "uid": "u1",
                         "annotations": {LAST_APPLIED_ANNOTATION: "{\"spec\": {}}", RENEW_NOW_ANNOTATION: "1"},
                         "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": {}}]},
            "spec": {"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]},
        }))
        .expect("a token");
        slim(&mut token);
        assert!(token.managed_fields().is_empty());
        assert_eq!(
            token.annotations().keys().collect::<Vec<_>>(),
            [RENEW_NOW_ANNOTATION]
        );
        assert_eq!(token.meta().uid.as_deref(), Some("u1"));
        assert_eq!(token.spec.permissions.len(), 1);
    }
    use crate::api::IssuerKind;
    use kube::core::WatchEvent;

    const TOKEN: &str = r#"{"apiVersion":"videosdk.live/v1alpha1","kind":"VideoSdkToken",
        "metadata":{"name":"t","namespace":"ns","uid":"u1","generation":2},
        "spec":{"issuerRef":{"name":"videosdk","kind":"ClusterVideoSdkIssuer"},"permissions":["allow_join"],"ttl":"2h"},
        "status":{"tokenId":"j1","notAfter":"2027-01-15T08:00:00Z","conditions":[{"type":"Ready","status":"True",
        "reason":"Issued","message":"m","lastTransitionTime":"2026-11-30T00:00:00Z","observedGeneration":2}]}}"#;

    #[test]
    fn the_view_gives_back_the_whole_token() {
        let cached: CachedToken = serde_json::from_str(TOKEN).unwrap();
        let whole: VideoSdkToken = serde_json::from_str(TOKEN).unwrap();
        let parsed = cached.token().unwrap();
        // This token's metadata has only fields the view keeps, so the whole token comes back.
        assert_eq!(
            (&parsed.metadata, &parsed.spec, &parsed.status),
            (&whole.metadata, &whole.spec, &whole.status)
        );
        assert_eq!(cached.status().unwrap(), whole.status);
        assert_eq!(
            cached.issuer_ref().unwrap().kind,
            IssuerKind::ClusterVideoSdkIssuer
        );
        assert_eq!(cached.meta().generation, Some(2));
        assert_eq!(
            CachedToken::url_path(&(), Some("ns")),
            VideoSdkToken::url_path(&(), Some("ns"))
        );
    }

    #[test]
    fn metadata_keeps_what_reconciles_read_and_skips_the_rest() {
        let cached: CachedToken = serde_json::from_str(
            r#"{"metadata":{"name":"t","namespace":"ns","uid":"u1","generation":3,"resourceVersion":"42",
                "labels":{"team":"a"},"finalizers":["example.com/keep"],"deletionTimestamp":"2026-11-30T00:00:00Z",
                "ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"o","uid":"u0"}],
                "managedFields":[{"manager":"kubectl","operation":"Apply","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{}}}],
                "annotations":{"note":"x","kubectl.kubernetes.io/last-applied-configuration":"{\"spec\":{}}","videosdk.live/renew-now":"1"}},
              "spec":{"issuerRef":{"name":"v"},"permissions":["allow_join"]}}"#,
        )
        .unwrap();
        let meta = &cached.metadata;
        assert_eq!(
            (
                meta.name.as_deref(),
                meta.namespace.as_deref(),
                cached.uid()
            ),
            (Some("t"), Some("ns"), Some("u1"))
        );
        // The UID is kept beside the metadata, so kube-runtime's references carry no copy of
        // it; the whole token has it back.
        assert_eq!(meta.uid, None);
        assert_eq!(ObjectRef::from_obj(&cached).extra.uid, None);
        assert_eq!(cached.token().unwrap().metadata.uid.as_deref(), Some("u1"));
        assert_eq!(
            (meta.generation, meta.resource_version.as_deref()),
            (Some(3), Some("42"))
        );
        assert!(meta.deletion_timestamp.is_some());
        assert_eq!(
            meta.annotations,
            Some(BTreeMap::from([(
                RENEW_NOW_ANNOTATION.to_owned(),
                "1".to_owned()
            )]))
        );
        assert_eq!(
            (
                &meta.labels,
                &meta.finalizers,
                &meta.owner_references,
                &meta.managed_fields
            ),
            (&None, &None, &None, &None)
        );
        for annotations in [r#"{"note":"x"}"#, "null", "{}"] {
            let cached: CachedToken = serde_json::from_str(&format!(
                r#"{{"metadata":{{"name":"t","annotations":{annotations}}},"spec":{{}}}}"#
            ))
            .unwrap();
            assert_eq!(cached.metadata.annotations, None, "{annotations}");
        }
    }

    /// A Secret's metadata as kube-apiserver sends it for a `PartialObjectMetadata` watch.
    #[test]
    fn a_watched_secret_keeps_what_finds_its_token() {
        let line = r#"{"type":"ADDED","object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1",
            "metadata":{"name":"s","namespace":"ns","resourceVersion":"7","uid":"u2",
            "labels":{"app.kubernetes.io/managed-by":"videosdk-token-operator"},
            "annotations":{"videosdk.live/token-id":"j1"},
            "ownerReferences":[{"apiVersion":"videosdk.live/v1alpha1","kind":"VideoSdkToken","name":"t","uid":"u1","controller":true}],
            "managedFields":[{"manager":"videosdk-token-operator","operation":"Apply","fieldsType":"FieldsV1","fieldsV1":{"f:data":{}}}]}}}"#;
        let WatchEvent::Added(secret) =
            serde_json::from_str::<WatchEvent<WatchedSecret>>(line).unwrap()
        else {
            panic!("an ADDED event");
        };
        let meta = &secret.metadata;
        assert_eq!(meta.resource_version.as_deref(), Some("7"));
        assert_eq!(meta.owner_references.as_ref().unwrap()[0].name, "t");
        assert_eq!(meta.labels.as_ref().unwrap().len(), 1);
        assert_eq!((&meta.annotations, &meta.managed_fields), (&None, &None));
        assert!(WatchedSecret::metadata_api());
        assert_eq!(
            WatchedSecret::url_path(&(), Some("ns")),
            Secret::url_path(&(), Some("ns"))
        );
    }

    #[test]
    fn a_token_without_a_status_has_none() {
        let cached: CachedToken = serde_json::from_str(
            r#"{"metadata":{"name":"t"},"spec":{"issuerRef":{"name":"v"},"permissions":["allow_join"]},"status":null}"#,
        )
        .unwrap();
        assert_eq!(cached.status().unwrap(), None);
        assert_eq!(cached.token().unwrap().status, None);
    }

    /// Watch events decode as kube-runtime's watcher decodes them (`WatchEvent<K>` from one
    /// line), with `type` first as kube-apiserver writes it.
    #[test]
    fn a_watch_event_decodes() {
        let line = format!(r#"{{"type":"MODIFIED","object":{TOKEN}}}"#);
        let event: WatchEvent<CachedToken> = serde_json::from_str(&line).unwrap();
        let WatchEvent::Modified(cached) = event else {
            panic!("a MODIFIED event: {event:?}");
        };
        assert_eq!(cached.token().unwrap().spec.ttl, "2h");
        // The limit this view accepts: serde buffers an `object` that comes before its `type`,
        // and a RawValue cannot be read from that buffer.
        let reversed = format!(r#"{{"object":{TOKEN},"type":"MODIFIED"}}"#);
        let error = serde_json::from_str::<WatchEvent<CachedToken>>(&reversed).unwrap_err();
        assert!(error.to_string().contains("invalid type"), "{error}");
    }

    #[test]
    fn a_spec_of_another_shape_is_an_error_not_a_panic() {
        let cached: CachedToken = serde_json::from_str(
            r#"{"metadata":{"name":"t"},"spec":{"issuerRef":{"name":"v"},"permissions":"allow_join"}}"#,
        )
        .unwrap();
        let error = cached.token().unwrap_err().to_string();
        assert!(error.contains("invalid type"), "{error}");
    }
}
