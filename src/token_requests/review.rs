//! Who the caller is (TokenReview, authentication.k8s.io/v1) and whether it may use an issuer
//! (SubjectAccessReview, authorization.k8s.io/v1), each answer kept briefly in a bounded cache
//! keyed by the SHA-256 of the bearer token, never the token itself.
//!
//! A cached answer is reused for at most the cache lifetime (`--token-requests-cache-ttl`), and
//! a TokenReview answer never past the bearer token's own `exp` when it is a JWT: so a revoked
//! RoleBinding or a deleted ServiceAccount takes effect within the cache lifetime, as with
//! kube-apiserver's own webhook authorizer cache.

use super::cache::ExpiringCache;
use super::metrics::Metrics;
use super::refusal::{Check, Refusal};
use crate::api::{GROUP, IssuerKind};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
pub const VERB: &str = "request";

/// The SHA-256 of a bearer token: the cache key that stands for it.
pub type TokenHash = [u8; 32];

/// The hash of `bearer`.
pub fn hash(bearer: &str) -> TokenHash {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bearer.as_bytes());
    digest.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// An authenticated caller, as the TokenReview named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `system:serviceaccount:NAMESPACE:NAME` for a ServiceAccount.
    pub username: String,
    /// Its UID.
    pub uid: Option<String>,
    /// Its groups.
    pub groups: Vec<String>,
    /// Extra attributes (e.g. the pod the token is bound to), passed on to the
    /// SubjectAccessReview as the API server gave them.
    pub extra: BTreeMap<String, Vec<String>>,
}

/// Which issuer access is asked on: the SubjectAccessReview's resource and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The request's namespace (a ClusterVideoSdkIssuer is granted per namespace by a
    /// RoleBinding, or everywhere by a ClusterRoleBinding).
    pub namespace: String,
    /// The issuer's kind.
    pub kind: IssuerKind,
    /// The issuer's name.
    pub name: String,
}

impl Target {
    /// The RBAC resource of the issuer's kind.
    pub fn resource(&self) -> &'static str {
        match self.kind {
            IssuerKind::VideoSdkIssuer => "videosdkissuers",
            IssuerKind::ClusterVideoSdkIssuer => "clustervideosdkissuers",
        }
    }
}

/// The reviews and their caches.
pub struct Reviewer {
    client: Client,
    audience: String,
    authenticated: ExpiringCache<TokenHash, Result<Caller, String>>,
    authorized: ExpiringCache<(TokenHash, Target), Result<(), String>>,
}

impl Reviewer {
    /// Reviews with `client`, accepting bearer tokens for `audience`; answers are kept for
    /// `lifetime`, at most `capacity` of each kind.
    pub fn new(client: Client, audience: String, lifetime: Duration, capacity: usize) -> Self {
        Reviewer {
            client,
            audience,
            authenticated: ExpiringCache::new(lifetime, capacity),
            authorized: ExpiringCache::new(lifetime, capacity),
        }
    }

    /// Who holds `bearer`. Errors: 401 when the API server does not authenticate it for the
    /// audience, 500 when the TokenReview itself fails.
    pub async fn authenticate(
        &self,
        bearer: &str,
        key: &TokenHash,
        metrics: &Metrics,
    ) -> Result<Caller, Refusal> {
        let now = Instant::now();
        if let Some(answer) = self.authenticated.get(key, now) {
            metrics.cache_hit("tokenreview");
            return answer.map_err(Refusal::unauthorized);
        }
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
            .map_err(|e| Refusal::internal(format!("the TokenReview failed: {e}")))?;
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
            _ => Err(format!(
                "the bearer token is not valid for audience {:?}{}: use a ServiceAccount token minted for that audience (a projected token with `audience: {}`)",
                self.audience,
                status
                    .error
                    .filter(|e| !e.is_empty())
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default(),
                self.audience,
            )),
        };
        self.authenticated
            .insert(*key, answer.clone(), now, jwt_expiry(bearer, now));
        answer.map_err(Refusal::unauthorized)
    }

    /// Whether `caller` may use `target`. Errors: 403 (check `RBAC`) when the
    /// SubjectAccessReview says no, 500 when it fails.
    pub async fn authorize(
        &self,
        caller: &Caller,
        key: &TokenHash,
        target: &Target,
        metrics: &Metrics,
    ) -> Result<(), Refusal> {
        let now = Instant::now();
        let cache_key = (*key, target.clone());
        if let Some(answer) = self.authorized.get(&cache_key, now) {
            metrics.cache_hit("subjectaccessreview");
            return answer.map_err(|m| Refusal::forbidden(Check::Rbac, m));
        }
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
            .map_err(|e| Refusal::internal(format!("the SubjectAccessReview failed: {e}")))?;
        let status = reviewed.status.unwrap_or_default();
        let answer = if status.allowed {
            Ok(())
        } else {
            Err(format!(
                "{} may not use {} {}{}: RBAC grants it with verb {VERB:?} on resource {:?} of group {GROUP} (resourceNames: [{}]){}",
                caller.username,
                target.kind.as_str(),
                match target.kind {
                    IssuerKind::VideoSdkIssuer => format!("{}/", target.namespace),
                    IssuerKind::ClusterVideoSdkIssuer => String::new(),
                },
                target.name,
                target.resource(),
                target.name,
                match target.kind {
                    IssuerKind::VideoSdkIssuer => format!(" in namespace {}", target.namespace),
                    IssuerKind::ClusterVideoSdkIssuer =>
                        format!(" in namespace {} or cluster-wide", target.namespace),
                },
            ))
        };
        self.authorized.insert(cache_key, answer.clone(), now, None);
        answer.map_err(|m| Refusal::forbidden(Check::Rbac, m))
    }
}

/// When a JWT bearer token expires, as an `Instant` (its `exp` claim, read without checking
/// the signature: the TokenReview did that); `None` for a token that is not a JWT with `exp`.
fn jwt_expiry(bearer: &str, now: Instant) -> Option<Instant> {
    let payload = URL_SAFE_NO_PAD.decode(bearer.split('.').nth(1)?).ok()?;
    let exp = serde_json::from_slice::<serde_json::Value>(&payload)
        .ok()?
        .get("exp")?
        .as_u64()?;
    let unix_now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(now + Duration::from_secs(exp.saturating_sub(unix_now)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwt_bearer_is_cached_no_longer_than_it_lives() {
        let now = Instant::now();
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let payload = URL_SAFE_NO_PAD.encode(format!("{{\"exp\": {}}}", unix + 5));
        let until = jwt_expiry(&format!("h.{payload}.s"), now).unwrap();
        assert!(until <= now + Duration::from_secs(5) && until >= now + Duration::from_secs(4));
        assert_eq!(jwt_expiry("opaque-token", now), None);
    }

    #[test]
    fn the_hash_stands_for_the_token() {
        assert_eq!(hash("a"), hash("a"));
        assert_ne!(hash("a"), hash("b"));
    }
}
