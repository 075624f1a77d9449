//! The Secrets the operator manages, and the one question every token's reconcile asks of them:
//! must I read this Secret, or what may I trust instead? It owns everything that answers it:
//! the label-selected metadata watch ([`watch`]) and the resourceVersion it last saw of each
//! Secret ([`versions`]), what the operator last wrote or verified of each token's Secret
//! ([`Verified`]), the check of every Secret at start ([`warm_up`]), and the precondition on
//! every write ([`create_guard`]).
//!
//! The invariant: **a Secret anyone else edited is read before it is trusted.** Any write moves a
//! Secret's resourceVersion; the watch brings the new one here; a recorded [`Verified`] is trusted
//! only at the very resourceVersion it was recorded at (and for the same inputs), and every write
//! carries that resourceVersion as its precondition, so an edit the watch has not brought yet
//! fails the write with `409 Conflict` and the reconcile reads the Secret. The tests below check
//! it over this interface alone.

mod create_guard;
mod owner;
mod versions;
mod warm_up;
mod watch;

pub(crate) use owner::token_of;
pub(crate) use versions::resource_version;

use super::cached::CachedToken;
use super::memory::{TokenUid, uid_key};
use create_guard::CreateGuard;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::reflector::ObjectRef;
use std::collections::HashMap;
use std::sync::Mutex;
use versions::SecretVersions;

/// What a token's reconcile knows of its Secret.
#[derive(Debug, Clone)]
pub(crate) enum Existing {
    /// There is no Secret of that name.
    Absent,
    /// Not read: the operator's watch of its labelled Secrets knows none of that name. There is
    /// none, or one that is not the operator's (or lost its labels); the plan takes it for
    /// absent, and the write creates the Secret only if none exists ([`Precondition`]), or reads
    /// it and decides again. This spares every first issuance a GET.
    Unseen,
    /// The Secret, as just read.
    Read(Box<Secret>),
    /// Not read: it is unchanged (the same resourceVersion, and the same inputs fingerprint)
    /// since the operator wrote it or read it and found the right token in it.
    Unchanged(Verified),
    /// Not read: it is unchanged since the operator wrote it or read it and found the right
    /// token in it, but that token was signed with credentials the issuer no longer has (a
    /// rotation). Whatever else changed, the token must be re-signed, so its content is not
    /// needed: a rotation of N tokens costs no Secret GET. The write's precondition is the
    /// recorded resourceVersion, so a Secret edited meanwhile is read after all (`409`).
    SignedWithOtherCredentials(Verified),
}

impl Existing {
    /// The Secret, when it was read.
    pub(crate) fn read(&self) -> Option<&Secret> {
        match self {
            Existing::Read(secret) => Some(secret),
            _ => None,
        }
    }

    /// The resourceVersion the Secret was decided at, when it exists and the version is a
    /// number.
    pub(crate) fn resource_version(&self) -> Option<u64> {
        match self {
            Existing::Read(secret) => resource_version(&secret.metadata),
            Existing::Unchanged(verified) | Existing::SignedWithOtherCredentials(verified) => {
                Some(verified.resource_version)
            }
            Existing::Absent | Existing::Unseen => None,
        }
    }
}

/// What the operator knows of a Secret it wrote, or read and found holding the right token,
/// without keeping the Secret: enough to rebuild the token's claims (from the spec, `iat` and
/// `jti`) while nothing has changed since, or to know it must be re-signed after a rotation.
/// 56 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verified {
    /// The Secret's resourceVersion then: any later write by anyone moves it.
    pub(crate) resource_version: u64,
    /// The stored token's `iat` (Unix seconds).
    pub(crate) iat: u64,
    /// The stored token's `jti`.
    pub(crate) jti: uuid::Uuid,
    /// A fingerprint of everything else the plan read then (the token's generation and
    /// renew-now annotation, the issuer, its credentials Secret's resourceVersion); see
    /// `tokens::gather`.
    pub(crate) inputs: u64,
    /// The fingerprint of the credentials the stored token was signed with, as a number (the
    /// 16 hex digits of `Credentials::fingerprint`, which the Secret's annotation records).
    pub(crate) credentials: u64,
}

/// The precondition of one Secret write ([`ManagedSecrets::precondition`]).
pub(crate) struct Precondition {
    /// The `metadata.resourceVersion` to apply with; `None`: none.
    pub(crate) resource_version: Option<String>,
    /// Whether it is [`create_guard::NO_OBJECT`]: the write creates the Secret.
    creates: bool,
}

/// The managed Secrets, as far as reconciles need to know them. One per operator.
#[derive(Default)]
pub(crate) struct ManagedSecrets {
    /// Each Secret's resourceVersion as the watch last saw it; only the watch writes it.
    versions: SecretVersions,
    /// Per token (a hash of its UID, see `memory`): its Secret as last written or verified.
    /// 56 bytes and a key per token; a token deleted is forgotten ([`ManagedSecrets::forget`]).
    verified: Mutex<HashMap<u64, Verified>>,
    /// Whether a token's first Secret is created without reading first.
    create_guard: CreateGuard,
}

impl ManagedSecrets {
    /// What `token`'s reconcile may trust of its Secret `namespace/name` instead of reading it,
    /// its plan's other inputs having fingerprint `inputs` and its issuer's credentials
    /// fingerprint `credentials()` (`None`: unreadable; asked only when the inputs changed);
    /// `None`: read it.
    ///
    /// A Secret is trusted as [`Existing::Unchanged`] only at the resourceVersion recorded for
    /// it and for the same inputs, and as [`Existing::SignedWithOtherCredentials`] only at that
    /// resourceVersion and for other credentials; it is taken for [`Existing::Unseen`] only when
    /// the watch has listed the managed Secrets, knows none of that name, and the write can
    /// create it guarded.
    pub(crate) fn known(
        &self,
        token: &impl TokenUid,
        namespace: &str,
        name: &str,
        inputs: u64,
        credentials: impl FnOnce() -> Option<u64>,
    ) -> Option<Existing> {
        let current = self.versions.current(namespace, name);
        let verified = self
            .verified(token)
            .filter(|verified| current == Some(verified.resource_version));
        match verified {
            Some(verified) if verified.inputs == inputs => Some(Existing::Unchanged(verified)),
            Some(verified) if credentials().is_some_and(|c| c != verified.credentials) => {
                Some(Existing::SignedWithOtherCredentials(verified))
            }
            Some(_) => None,
            None if current.is_none() && self.versions.listed() && self.create_guard.works() => {
                Some(Existing::Unseen)
            }
            None => None,
        }
    }

    /// Records what the operator now knows of `token`'s Secret: written or read and found right
    /// (`Some`), or nothing to trust (`None`: read it next time).
    pub(crate) fn record(&self, token: &impl TokenUid, verified: Option<Verified>) {
        let key = uid_key(token.token_uid());
        let mut map = self.verified.lock().expect("not poisoned");
        match verified {
            Some(verified) => map.insert(key, verified),
            None => map.remove(&key),
        };
    }

    /// Forgets a deleted token.
    pub(crate) fn forget(&self, token: &impl TokenUid) {
        self.record(token, None);
    }

    /// What `token`'s Secret was last written or verified as.
    fn verified(&self, token: &impl TokenUid) -> Option<Verified> {
        let map = self.verified.lock().expect("not poisoned");
        map.get(&uid_key(token.token_uid())).copied()
    }

    /// The precondition of a write of a Secret decided from `existing`: the resourceVersion it
    /// was read or verified at, or, when it was taken for absent, one no Secret has
    /// ([`create_guard`]), unless the API server refused that once.
    pub(crate) fn precondition(&self, existing: &Existing) -> Precondition {
        let resource_version = match existing {
            Existing::Absent | Existing::Unseen => self
                .create_guard
                .works()
                .then(|| create_guard::NO_OBJECT.to_owned()),
            Existing::Read(secret) => secret.metadata.resource_version.clone(),
            Existing::Unchanged(verified) | Existing::SignedWithOtherCredentials(verified) => {
                Some(verified.resource_version.to_string())
            }
        };
        let creates = resource_version.as_deref() == Some(create_guard::NO_OBJECT);
        Precondition {
            resource_version,
            creates,
        }
    }

    /// Whether `error`, the answer to a write under `precondition`, says the API server refuses
    /// a resourceVersion on create; if so, absent Secrets are read first from now on, and the
    /// reconcile reads this one and decides again.
    pub(crate) fn create_refused(&self, precondition: &Precondition, error: &kube::Error) -> bool {
        let refused = precondition.creates && create_guard::refuses_guarded_create(error);
        if refused {
            self.create_guard.refused();
        }
        refused
    }

    /// The token a watch event of the Secret with metadata `meta` must reconcile: its token,
    /// unless the event is at the version that token's reconcile just wrote or verified (that
    /// reconcile already did the work). A deletion, or a Secret leaving the label selection, is
    /// never such an event: [`ManagedSecrets::observe`] forgot its version before this runs.
    pub(crate) fn token_to_reconcile(&self, meta: &ObjectMeta) -> Option<ObjectRef<CachedToken>> {
        let own = owner::controller_token(meta)
            .zip(resource_version(meta))
            .is_some_and(|(owner, rv)| {
                let verified = self.verified.lock().expect("not poisoned");
                verified
                    .get(&uid_key(Some(&owner.uid)))
                    .is_some_and(|v| v.resource_version == rv)
                    && self.versions.current(
                        meta.namespace.as_deref().unwrap_or_default(),
                        meta.name.as_deref().unwrap_or_default(),
                    ) == Some(rv)
            });
        if own { None } else { token_of(meta) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::VideoSdkToken;
    use crate::controller::cached::WatchedSecret;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use kube::core::Status;
    use kube::runtime::watcher::Event;

    fn token(uid: &str) -> VideoSdkToken {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "t", "namespace": "ns", "uid": uid},
            "spec": {"issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]},
        }))
        .expect("a token")
    }

    /// Secret `ns/t` at `rv`, controlled by token `t` with UID `uid`.
    fn secret(uid: &str, rv: u64) -> WatchedSecret {
        WatchedSecret {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                name: Some("t".into()),
                resource_version: Some(rv.to_string()),
                owner_references: Some(vec![OwnerReference {
                    api_version: "videosdk.live/v1alpha1".into(),
                    kind: "VideoSdkToken".into(),
                    name: "t".into(),
                    uid: uid.into(),
                    controller: Some(true),
                    ..OwnerReference::default()
                }]),
                ..ObjectMeta::default()
            },
        }
    }

    /// The issuer's credentials fingerprint in the tests, unless they rotate.
    const CREDENTIALS: Option<u64> = Some(5);

    fn verified(rv: u64, inputs: u64) -> Verified {
        Verified {
            resource_version: rv,
            iat: 1,
            jti: uuid::Uuid::nil(),
            inputs,
            credentials: 5,
        }
    }

    /// The managed Secrets, listed once with `listed` in them.
    fn listed(listed: &[WatchedSecret]) -> ManagedSecrets {
        let secrets = ManagedSecrets::default();
        secrets.observe(&Event::Init);
        for secret in listed {
            secrets.observe(&Event::InitApply(secret.clone()));
        }
        secrets.observe(&Event::InitDone);
        secrets
    }

    fn is_unchanged(existing: Option<Existing>) -> bool {
        matches!(existing, Some(Existing::Unchanged(_)))
    }

    #[test]
    fn a_secret_written_and_unchanged_is_trusted_without_a_read() {
        let secrets = listed(&[secret("u1", 7)]);
        secrets.record(&token("u1"), Some(verified(7, 42)));
        assert!(is_unchanged(secrets.known(
            &token("u1"),
            "ns",
            "t",
            42,
            || CREDENTIALS
        )));
        let precondition = secrets.precondition(
            &secrets
                .known(&token("u1"), "ns", "t", 42, || CREDENTIALS)
                .unwrap(),
        );
        assert_eq!(precondition.resource_version.as_deref(), Some("7"));
        assert_eq!(
            secrets.token_to_reconcile(&secret("u1", 7).metadata),
            None,
            "the event of the operator's own write brings nothing to do"
        );
    }

    #[test]
    fn a_secret_anyone_else_edited_is_read_before_it_is_trusted() {
        let secrets = listed(&[secret("u1", 7)]);
        secrets.record(&token("u1"), Some(verified(7, 42)));
        // Someone else writes the Secret: its watch brings version 8.
        let edited = secret("u1", 8);
        secrets.observe(&Event::Apply(edited.clone()));
        assert!(
            secrets
                .known(&token("u1"), "ns", "t", 42, || CREDENTIALS)
                .is_none(),
            "read it"
        );
        assert_eq!(
            secrets.token_to_reconcile(&edited.metadata),
            Some(ObjectRef::new("t").within("ns")),
            "the edit brings its token's reconcile"
        );
        // An edit whose event is not here yet: the write's precondition is the version that
        // was trusted, which the API server refuses (409) for the edited Secret.
        let secrets = listed(&[secret("u1", 7)]);
        secrets.record(&token("u1"), Some(verified(7, 42)));
        let known = secrets
            .known(&token("u1"), "ns", "t", 42, || CREDENTIALS)
            .expect("trusted");
        assert_eq!(
            secrets.precondition(&known).resource_version.as_deref(),
            Some("7")
        );
    }

    #[test]
    fn nothing_is_trusted_for_other_inputs_another_token_or_an_unknown_version() {
        let secrets = listed(&[secret("u1", 7)]);
        secrets.record(&token("u1"), Some(verified(7, 42)));
        assert!(
            secrets
                .known(&token("u1"), "ns", "t", 43, || CREDENTIALS)
                .is_none(),
            "the spec changed"
        );
        assert!(
            secrets
                .known(&token("u2"), "ns", "t", 42, || CREDENTIALS)
                .is_none(),
            "a token re-created under the same name"
        );
        assert_eq!(
            secrets.token_to_reconcile(&secret("u2", 7).metadata),
            Some(ObjectRef::new("t").within("ns")),
            "another token's Secret at that version"
        );
        secrets.record(&token("u1"), None);
        assert!(
            secrets
                .known(&token("u1"), "ns", "t", 42, || CREDENTIALS)
                .is_none(),
            "forgotten"
        );
        secrets.record(&token("u1"), Some(verified(7, 42)));
        secrets.forget(&token("u1"));
        assert!(
            secrets
                .known(&token("u1"), "ns", "t", 42, || CREDENTIALS)
                .is_none(),
            "token deleted"
        );
    }

    #[test]
    fn after_a_rotation_an_unchanged_secret_is_re_signed_without_a_read() {
        let secrets = listed(&[secret("u1", 7)]);
        secrets.record(&token("u1"), Some(verified(7, 42)));
        // The credentials Secret changed: so did the inputs fingerprint.
        let known = secrets.known(&token("u1"), "ns", "t", 43, || Some(6));
        assert!(
            matches!(known, Some(Existing::SignedWithOtherCredentials(v)) if v == verified(7, 42)),
            "{known:?}"
        );
        assert_eq!(
            secrets
                .precondition(&known.unwrap())
                .resource_version
                .as_deref(),
            Some("7"),
            "an edit meanwhile fails the write (409), and the reconcile reads the Secret"
        );
        assert!(
            secrets
                .known(&token("u1"), "ns", "t", 43, || None)
                .is_none(),
            "credentials that cannot be read: read the Secret (the plan says what is wrong)"
        );
        secrets.observe(&Event::Apply(secret("u1", 8)));
        assert!(
            secrets
                .known(&token("u1"), "ns", "t", 43, || Some(6))
                .is_none(),
            "edited by someone else since: read it"
        );
    }

    #[test]
    fn a_secret_deleted_or_unlabelled_is_created_guarded_or_read() {
        let secrets = listed(&[secret("u1", 7)]);
        secrets.record(&token("u1"), Some(verified(7, 42)));
        // Deleted, or it left the label selection (the watch sees both as a deletion).
        secrets.observe(&Event::Delete(secret("u1", 7)));
        let known = secrets.known(&token("u1"), "ns", "t", 42, || CREDENTIALS);
        assert!(matches!(known, Some(Existing::Unseen)), "{known:?}");
        let precondition = secrets.precondition(&known.unwrap());
        assert_eq!(
            precondition.resource_version.as_deref(),
            Some(create_guard::NO_OBJECT),
            "created only if no Secret of that name exists"
        );
        // An API server that refuses the guarded create: absent Secrets are read from then on.
        let refusal = kube::Error::Api(Box::new(
            Status::failure(
                "resourceVersion should not be set on objects to be created",
                "",
            )
            .with_code(500),
        ));
        assert!(secrets.create_refused(&precondition, &refusal));
        assert!(
            secrets
                .known(&token("u1"), "ns", "t", 42, || CREDENTIALS)
                .is_none(),
            "read it"
        );
        assert_eq!(
            secrets.precondition(&Existing::Absent).resource_version,
            None
        );
    }

    #[test]
    fn before_the_first_list_an_unknown_secret_is_read() {
        let secrets = ManagedSecrets::default();
        assert!(
            secrets
                .known(&token("u1"), "ns", "t", 42, || CREDENTIALS)
                .is_none()
        );
        secrets.record(&token("u1"), Some(verified(7, 42)));
        assert!(
            secrets
                .known(&token("u1"), "ns", "t", 42, || CREDENTIALS)
                .is_none(),
            "the watch has not seen the Secret at that version"
        );
    }

    #[test]
    fn a_relist_forgets_secrets_deleted_while_the_watch_was_down() {
        let secrets = listed(&[secret("u1", 7)]);
        secrets.record(&token("u1"), Some(verified(7, 42)));
        assert!(!secrets.observe(&Event::Init));
        assert!(
            secrets.observe(&Event::InitDone),
            "every token is reconciled once"
        );
        assert!(!is_unchanged(secrets.known(
            &token("u1"),
            "ns",
            "t",
            42,
            || CREDENTIALS
        )));
    }
}
