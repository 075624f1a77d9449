//! Who the caller is (TokenReview, authentication.k8s.io/v1) and whether it may use an issuer
//! (SubjectAccessReview, authorization.k8s.io/v1), each answer kept briefly in a bounded cache
//! keyed by the SHA-256 of the bearer token, never the token itself.
//!
//! A cached answer is reused for at most the cache lifetime (`--token-requests-cache-ttl`), and
//! a TokenReview answer never past the bearer token's own `exp`: so a revoked RoleBinding or a
//! deleted ServiceAccount takes effect within the cache lifetime, as with kube-apiserver's own
//! webhook authorizer cache. Granted and refused answers are kept apart ([`AnswerCache`]), so
//! that refusals, which anyone can cause, never push out an authenticated caller's answers, and
//! SubjectAccessReview answers are shared fairly between callers (one caller's answers push out
//! only its own while it holds the most: [`ExpiringCache::owned_by`]). A review not answered
//! from the cache takes a place in the endpoint's [`Budget`] of its kind.

use super::budget::Budget;
use super::cache::{AnswerCache, ExpiringCache};
use super::metrics::Metrics;
use super::refusal::{Check, Refusal};
use crate::api::{GROUP, IssuerKind};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::PostParams;
use kube::{Api, Client};
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The RBAC verb that grants an issuer to a caller, on `videosdkissuers` or
/// `clustervideosdkissuers` (group `videosdk.live`), narrowed with `resourceNames`.
pub(crate) const VERB: &str = "request";

/// The SHA-256 of a bearer token: the cache key that stands for it.
pub(crate) type TokenHash = [u8; 32];

/// The hash of `bearer`.
pub(crate) fn hash(bearer: &str) -> TokenHash {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bearer.as_bytes());
    digest.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// An authenticated caller, as the TokenReview named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    /// `system:serviceaccount:NAMESPACE:NAME` for a ServiceAccount.
    pub(crate) username: String,
    /// Its UID.
    pub(crate) uid: Option<String>,
    /// Its groups.
    pub(crate) groups: Vec<String>,
    /// Extra attributes (e.g. the pod the token is bound to), passed on to the
    /// SubjectAccessReview as the API server gave them.
    pub(crate) extra: BTreeMap<String, Vec<String>>,
}

/// Which issuer access is asked on: the SubjectAccessReview's resource and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Target {
    /// The request's namespace (a ClusterVideoSdkIssuer is granted per namespace by a
    /// RoleBinding, or everywhere by a ClusterRoleBinding).
    pub(crate) namespace: String,
    /// The issuer's kind.
    pub(crate) kind: IssuerKind,
    /// The issuer's name.
    pub(crate) name: String,
}

impl Target {
    /// The RBAC resource of the issuer's kind.
    pub(crate) fn resource(&self) -> &'static str {
        match self.kind {
            IssuerKind::VideoSdkIssuer => "videosdkissuers",
            IssuerKind::ClusterVideoSdkIssuer => "clustervideosdkissuers",
        }
    }

    /// The issuer as people name it: `NAMESPACE/NAME`, or `NAME` for a cluster issuer.
    fn qualified_name(&self) -> String {
        match self.kind {
            IssuerKind::VideoSdkIssuer => format!("{}/{}", self.namespace, self.name),
            IssuerKind::ClusterVideoSdkIssuer => self.name.clone(),
        }
    }

    /// Where a RoleBinding (or ClusterRoleBinding) may grant it.
    fn grant_scope(&self) -> String {
        match self.kind {
            IssuerKind::VideoSdkIssuer => format!(" in namespace {}", self.namespace),
            IssuerKind::ClusterVideoSdkIssuer => {
                format!(" in namespace {} or cluster-wide", self.namespace)
            }
        }
    }
}

/// The TokenReview did not authenticate the bearer token for the audience (401): it is not a
/// token of this cluster, has expired, its ServiceAccount is gone, or it was minted for another
/// audience. Kept in the cache as the answer for that token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the bearer token is not valid for audience {audience:?}{}: use a ServiceAccount token minted for that audience (a projected token with `audience: {audience}`)",
    .reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
)]
pub(crate) struct NotAuthenticated {
    /// The audience required.
    pub(crate) audience: String,
    /// The TokenReview's `status.error`, when it gave one (it names the fault, never the token).
    pub(crate) reason: Option<String>,
}

/// The SubjectAccessReview did not allow the caller to use the issuer (403, check `RBAC`); the
/// message says which grant is missing. Kept in the cache as the answer for that caller and
/// issuer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{username} may not use {} {}: RBAC grants it with verb {VERB:?} on resource {:?} of group {GROUP} (resourceNames: [{}]){}",
    .target.kind.as_str(),
    .target.qualified_name(),
    .target.resource(),
    .target.name,
    .target.grant_scope()
)]
pub(crate) struct NotGranted {
    /// The caller's username.
    pub(crate) username: String,
    /// The issuer asked for.
    pub(crate) target: Target,
}

impl From<NotAuthenticated> for Refusal {
    fn from(error: NotAuthenticated) -> Self {
        Refusal::unauthorized(error.to_string())
    }
}

impl From<NotGranted> for Refusal {
    fn from(error: NotGranted) -> Self {
        Refusal::forbidden(Check::Rbac, error.to_string())
    }
}

/// What a SubjectAccessReview answer is kept under: the caller's username (its owner in the
/// cache), the bearer's hash (which stands for the username, groups and extra the review was
/// asked with) and the issuer asked on.
type Authorization = (String, TokenHash, Target);

/// The reviews and their caches.
pub(crate) struct Reviewer {
    client: Client,
    audience: String,
    authenticated: AnswerCache<TokenHash, Caller, NotAuthenticated>,
    authorized: AnswerCache<Authorization, (), NotGranted>,
    /// Bearers the TokenReview authenticated, kept until their `exp` (at most a day): their
    /// next review is not held to the budget's rate (see [`Budget::take`]).
    known: ExpiringCache<TokenHash, ()>,
    /// The TokenReviews' budget.
    budget: Budget,
    /// The SubjectAccessReviews' budget.
    access_budget: Budget,
    /// Answers the SubjectAccessReview granted, kept a day: their next review is not held to
    /// the budget's rate, so a tenant spending it on new names cannot lock out callers already
    /// granted (as [`Self::known`] for TokenReviews); shared fairly between callers.
    access_known: ExpiringCache<Authorization, ()>,
}

impl Reviewer {
    /// Reviews with `client`, accepting bearer tokens for `audience`; answers are kept for
    /// `lifetime`, at most `capacity` granted and `capacity` refused answers of each kind;
    /// TokenReviews within `budget`, SubjectAccessReviews within `access_budget`.
    pub(crate) fn new(
        client: Client,
        audience: String,
        lifetime: Duration,
        capacity: usize,
        budget: Budget,
        access_budget: Budget,
    ) -> Self {
        Reviewer {
            client,
            audience,
            authenticated: AnswerCache::new(lifetime, capacity),
            authorized: AnswerCache::new(lifetime, capacity)
                .owned_by(|(username, _, _): &Authorization| username),
            known: ExpiringCache::new(FAR, capacity),
            budget,
            access_budget,
            access_known: ExpiringCache::new(FAR, capacity)
                .owned_by(|(username, _, _): &Authorization| username),
        }
    }

    /// Who holds `bearer`, which expires at `exp` (Unix seconds, as [`super::bearer::check`]
    /// read it). Errors: 401 when the API server does not authenticate it for the audience,
    /// 429 or 503 past the TokenReview budget, 500 when the TokenReview itself fails.
    pub(crate) async fn authenticate(
        &self,
        bearer: &str,
        key: &TokenHash,
        exp: u64,
        metrics: &Metrics,
    ) -> Result<Caller, Refusal> {
        let now = Instant::now();
        if let Some(answer) = self.authenticated.get(key, now) {
            metrics.cache_hit("tokenreview");
            return answer.map_err(Refusal::from);
        }
        let _permit = self.budget.take(self.known.get(key, now).is_some())?;
        metrics.cache_miss("tokenreview");
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(bearer.to_owned()),
                audiences: Some(vec![self.audience.clone()]),
            },
            ..TokenReview::default()
        };
        let reviewed = Api::<TokenReview>::all(self.client.clone())
            .create(&PostParams::default(), &review)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "token requests: the TokenReview failed");
                Refusal::internal(
                    "the operator could not ask the API server for a TokenReview: try again; the operator's log has the detail".to_owned(),
                )
            })?;
        let status = reviewed.status.unwrap_or_default();
        let answer = match status.user {
            Some(user)
                if status.authenticated == Some(true)
                    && status
                        .audiences
                        .as_ref()
                        .is_none_or(|a| a.contains(&self.audience)) =>
            {
                Ok(Caller {
                    username: user.username.unwrap_or_default(),
                    uid: user.uid,
                    groups: user.groups.unwrap_or_default(),
                    extra: user.extra.unwrap_or_default(),
                })
            }
            _ => Err(NotAuthenticated {
                audience: self.audience.clone(),
                reason: status.error.filter(|e| !e.is_empty()),
            }),
        };
        let expires = instant_of(exp, now);
        if answer.is_ok() {
            self.known.insert(*key, (), now, Some(expires));
        }
        self.authenticated
            .insert(*key, answer.clone(), now, Some(expires));
        answer.map_err(Refusal::from)
    }

    /// Whether `caller` may use `target`. Errors: 403 (check `RBAC`) when the
    /// SubjectAccessReview says no, 429 or 503 past the SubjectAccessReview budget, 500 when it
    /// fails.
    pub(crate) async fn authorize(
        &self,
        caller: &Caller,
        key: &TokenHash,
        target: &Target,
        metrics: &Metrics,
    ) -> Result<(), Refusal> {
        let now = Instant::now();
        let cache_key = (caller.username.clone(), *key, target.clone());
        if let Some(answer) = self.authorized.get(&cache_key, now) {
            metrics.cache_hit("subjectaccessreview");
            return answer.map_err(Refusal::from);
        }
        let _permit = self
            .access_budget
            .take(self.access_known.get(&cache_key, now).is_some())?;
        metrics.cache_miss("subjectaccessreview");
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(caller.username.clone()),
                uid: caller.uid.clone(),
                groups: Some(caller.groups.clone()),
                extra: Some(caller.extra.clone()),
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(target.namespace.clone()),
                    verb: Some(VERB.to_owned()),
                    group: Some(GROUP.to_owned()),
                    resource: Some(target.resource().to_owned()),
                    name: Some(target.name.clone()),
                    ..ResourceAttributes::default()
                }),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        let reviewed = Api::<SubjectAccessReview>::all(self.client.clone())
            .create(&PostParams::default(), &review)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "token requests: the SubjectAccessReview failed");
                Refusal::internal(
                    "the operator could not ask the API server for a SubjectAccessReview: try again; the operator's log has the detail".to_owned(),
                )
            })?;
        let status = reviewed.status.unwrap_or_default();
        let answer = if status.allowed {
            self.access_known.insert(cache_key.clone(), (), now, None);
            Ok(())
        } else {
            Err(NotGranted {
                username: caller.username.clone(),
                target: target.clone(),
            })
        };
        self.authorized.insert(cache_key, answer.clone(), now, None);
        answer.map_err(Refusal::from)
    }
}

/// The `Instant` of `exp` (Unix seconds), taking `now` as the wall clock's present: when a
/// bearer's answer stops being kept. `exp` is the caller's to write (a forged JWT may say year
/// 10^12), so the time left is capped at [`FAR`] rather than overflowing `Instant`: the cache
/// keeps nothing past its own lifetime (at most 300 s) anyway.
fn instant_of(exp: u64, now: Instant) -> Instant {
    let unix_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    now + Duration::from_secs(exp.saturating_sub(unix_now)).min(FAR)
}

/// Longer than any cache lifetime: one day.
const FAR: Duration = Duration::from_secs(24 * 3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_is_cached_no_longer_than_it_lives() {
        let now = Instant::now();
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let until = instant_of(unix + 5, now);
        assert!(until <= now + Duration::from_secs(5) && until >= now + Duration::from_secs(4));
        assert_eq!(instant_of(unix - 100, now), now, "past: not kept");
        assert_eq!(
            instant_of(u64::MAX, now),
            now + FAR,
            "a forged exp does not overflow"
        );
    }

    #[test]
    fn the_hash_stands_for_the_token() {
        assert_eq!(hash("a"), hash("a"));
        assert_ne!(hash("a"), hash("b"));
    }

    #[test]
    fn a_refusal_names_the_audience_or_the_missing_grant() {
        let unauthenticated = NotAuthenticated {
            audience: "videosdk-token-operator".into(),
            reason: Some("invalid bearer token".into()),
        };
        assert_eq!(
            unauthenticated.to_string(),
            "the bearer token is not valid for audience \"videosdk-token-operator\" (invalid bearer token): use a ServiceAccount token minted for that audience (a projected token with `audience: videosdk-token-operator`)"
        );
        let not_granted = |kind| NotGranted {
            username: "system:serviceaccount:media:backend".into(),
            target: Target {
                namespace: "media".into(),
                kind,
                name: "videosdk".into(),
            },
        };
        assert_eq!(
            not_granted(IssuerKind::VideoSdkIssuer).to_string(),
            "system:serviceaccount:media:backend may not use VideoSdkIssuer media/videosdk: RBAC grants it with verb \"request\" on resource \"videosdkissuers\" of group videosdk.live (resourceNames: [videosdk]) in namespace media"
        );
        let refusal = Refusal::from(not_granted(IssuerKind::ClusterVideoSdkIssuer));
        assert_eq!(refusal.check, Some(Check::Rbac));
        assert_eq!(
            refusal.message,
            "system:serviceaccount:media:backend may not use ClusterVideoSdkIssuer videosdk: RBAC grants it with verb \"request\" on resource \"clustervideosdkissuers\" of group videosdk.live (resourceNames: [videosdk]) in namespace media or cluster-wide"
        );
    }
}
