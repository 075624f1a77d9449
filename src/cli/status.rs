//! `status`: everything about one `VideoSdkToken` in one place, as `cmctl status certificate`
//! shows a Certificate: its conditions, its Secret and the token in it (claims and times, never
//! the token), its issuer and whether that is ready, the last Events about it, and what the
//! operator will do next and when.
//!
//! [`observe`] reads the cluster; [`report`] turns what it read into a [`Report`] with no I/O;
//! [`render_text`] and `serde_json` print it.

use super::connect::{self, ClusterArgs, ReadError};
use super::inspect::{InspectOutput, relative};
use super::runtime;
use crate::api::{
    ClusterVideoSdkIssuer, IssuerKind, IssuerStatus, RENEW_NOW_ANNOTATION, VideoSdkIssuer,
    VideoSdkToken,
};
use crate::rules::decision::{Desired, ResignReason};
use crate::rules::step::{self, Step};
use crate::rules::{backoff, labels, secret as managed_secret, status as token_status};
use crate::token::{self, RenewBefore, TokenRequest};
use clap::Args;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use std::time::{Duration, SystemTime};

/// Show a VideoSdkToken's conditions, Secret, issuer, stored token, Events and next step.
///
/// Reads the token, its Secret (the token in it is decoded to show its claims and times; the
/// token itself is never printed), its issuer and the Events about it (events.k8s.io/v1), with
/// the current kubeconfig context, or the in-cluster service account. Also works as
/// `kubectl videosdk status NAME` when installed as the kubectl plugin `kubectl-videosdk`.
///
/// Exit codes: 0 shown (whether Ready or not); 2 the token was not found or the cluster could not
/// be read.
///
/// Examples:
///   videosdk-token-operator status participant
///   videosdk-token-operator status moderator -n default -o json
///   kubectl videosdk status participant
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct StatusArgs {
    /// Name of the VideoSdkToken.
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
    /// How to reach the cluster.
    #[command(flatten)]
    pub(crate) cluster: ClusterArgs,
    /// How many of the most recent Events to show.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub(crate) events: usize,
    /// What to print.
    #[arg(short, long, value_enum, default_value_t = InspectOutput::Text)]
    pub(crate) output: InspectOutput,
}

/// Why `status` showed nothing (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The token does not exist in the namespace.
    #[error(
        "VideoSdkToken {namespace}/{name} not found: list the tokens with `kubectl get videosdktokens -n {namespace}`"
    )]
    TokenNotFound {
        /// The namespace looked in.
        namespace: String,
        /// The token's name.
        name: String,
    },
    /// The token could not be read otherwise (forbidden, the API server unreachable).
    #[error(transparent)]
    Token(ReadError),
    /// No client for the cluster could be made.
    #[error(transparent)]
    Connect(#[from] connect::Error),
    /// The async runtime could not start.
    #[error(transparent)]
    Runtime(#[from] runtime::RuntimeError),
}

/// What [`observe`] read: the token, and for each related object either the object or why it
/// could not be read (missing, forbidden), so that one unreadable part does not hide the rest.
#[derive(Debug)]
pub(crate) struct Observed {
    /// The token.
    pub(crate) token: VideoSdkToken,
    /// Its Secret, or why it could not be read.
    pub(crate) secret: Result<Secret, ReadError>,
    /// Its issuer's status, or why it could not be read.
    pub(crate) issuer: Result<IssuerStatus, ReadError>,
    /// Events about the token (any order), or why they could not be listed.
    pub(crate) events: Result<Vec<Event>, ReadError>,
}

/// Why the Secret's token cannot be shown. Messages never quote the token.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoredTokenError {
    /// The Secret has no `token` key (not written by the operator yet, or changed by hand).
    #[error("the Secret has no key {:?}", labels::TOKEN_KEY)]
    NoKey,
    /// The `token` key holds bytes that are not UTF-8 text.
    #[error("the Secret's key {:?} is not UTF-8 text", labels::TOKEN_KEY)]
    NotText,
    /// The `token` key holds text that is not a VideoSDK JWT.
    #[error("the Secret's key {key:?}: {0}", key = labels::TOKEN_KEY)]
    NotAToken(#[source] token::DecodeError),
}

/// A condition as shown.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConditionView {
    /// The condition type (`Ready`).
    #[serde(rename = "type")]
    pub(crate) type_: String,
    /// `True`, `False` or `Unknown`.
    pub(crate) status: String,
    /// CamelCase reason.
    pub(crate) reason: String,
    /// What it means.
    pub(crate) message: String,
    /// When the status last changed (RFC 3339).
    pub(crate) last_transition_time: String,
    /// The generation it was computed for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) observed_generation: Option<i64>,
}

/// The issuer the token names, and whether it is ready.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IssuerView {
    /// Its name.
    pub(crate) name: String,
    /// `VideoSdkIssuer` or `ClusterVideoSdkIssuer`.
    pub(crate) kind: String,
    /// Its `Ready` condition; `None` when it has none yet or could not be read.
    pub(crate) ready: Option<ConditionView>,
    /// The fingerprint of its API key, from its status.
    pub(crate) api_key_fingerprint: Option<String>,
    /// Why it could not be read (`... not found`, forbidden).
    pub(crate) error: Option<String>,
}

/// The Secret the token is kept in.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SecretView {
    /// The Secret's name.
    pub(crate) name: String,
    /// Whether it carries this token's marks (ownerReference or token UID annotation); `None`
    /// when it could not be read.
    pub(crate) owned_by_token: Option<bool>,
    /// The token stored in it, decoded.
    pub(crate) token: Option<StoredTokenView>,
    /// Why it or its token could not be read.
    pub(crate) error: Option<String>,
}

/// The stored token's claims and times. The `apikey` claim is shown as its fingerprint (as
/// issuers' `status.apiKeyFingerprint`), the signature not at all.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredTokenView {
    /// Every claim but `apikey`, as in the token.
    pub(crate) claims: serde_json::Map<String, serde_json::Value>,
    /// The fingerprint of the `apikey` claim.
    pub(crate) api_key_fingerprint: String,
    /// `iat`, RFC 3339.
    pub(crate) issued_at: String,
    /// `exp`, RFC 3339.
    pub(crate) expires_at: String,
    /// Seconds until `exp`; negative once expired.
    pub(crate) expires_in_seconds: i64,
}

/// One Event about the token.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventView {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub(crate) type_: String,
    /// CamelCase reason.
    pub(crate) reason: String,
    /// What happened.
    pub(crate) note: String,
    /// How many times it happened (a series counts repeats).
    pub(crate) count: i32,
    /// When it last happened (RFC 3339).
    pub(crate) last_seen: String,
    /// Who reported it.
    pub(crate) reporting_controller: String,
}

/// What the operator does next.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NextStep {
    /// `Renew` (at `at`), `RenewNow` (at its next reconcile), `UpdateSecret` (the Secret is
    /// applied at its next reconcile, the token kept until `at`), `Retry` (not Ready; at about
    /// `at`, or when a watched object changes), `Wait` (for the operator to first see the
    /// token), or `Delete`.
    pub(crate) action: &'static str,
    /// When, RFC 3339, when a time is known.
    pub(crate) at: Option<String>,
    /// The step in words.
    pub(crate) message: String,
}

/// Everything `status` shows.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Report {
    /// The token's name.
    pub(crate) name: String,
    /// Its namespace.
    pub(crate) namespace: String,
    /// Whether it is Ready.
    pub(crate) ready: bool,
    /// Its conditions.
    pub(crate) conditions: Vec<ConditionView>,
    /// Its issuer.
    pub(crate) issuer: IssuerView,
    /// Its Secret and the token in it.
    pub(crate) secret: SecretView,
    /// `status.tokenId`.
    pub(crate) token_id: Option<String>,
    /// `status.notBefore`.
    pub(crate) not_before: Option<String>,
    /// `status.notAfter`.
    pub(crate) not_after: Option<String>,
    /// `status.renewalTime`.
    pub(crate) renewal_time: Option<String>,
    /// `status.failedIssuanceAttempts`.
    pub(crate) failed_issuance_attempts: Option<i32>,
    /// `status.lastFailureTime`.
    pub(crate) last_failure_time: Option<String>,
    /// The most recent Events about the token, oldest first.
    pub(crate) events: Vec<EventView>,
    /// Why the Events could not be listed.
    pub(crate) events_error: Option<String>,
    /// What the operator does next.
    pub(crate) next: NextStep,
}

/// Reads the token `name` in `namespace` and what belongs to it. An error only when the token
/// itself cannot be read.
pub(crate) async fn observe(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Observed, Error> {
    let tokens: Api<VideoSdkToken> = Api::namespaced(client.clone(), namespace);
    let token = tokens.get(name).await.map_err(|e| {
        match ReadError::new(e, format!("VideoSdkToken {namespace}/{name}")) {
            ReadError::NotFound { .. } => Error::TokenNotFound {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            },
            other => Error::Token(other),
        }
    })?;
    let secret_name = secret_name(&token);
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get(&secret_name)
        .await
        .map_err(|e| ReadError::new(e, format!("Secret {namespace}/{secret_name}")));
    let issuer_ref = &token.spec.issuer_ref;
    let issuer = match issuer_ref.kind {
        IssuerKind::VideoSdkIssuer => Api::<VideoSdkIssuer>::namespaced(client.clone(), namespace)
            .get(&issuer_ref.name)
            .await
            .map(|i| i.status.unwrap_or_default()),
        IssuerKind::ClusterVideoSdkIssuer => Api::<ClusterVideoSdkIssuer>::all(client.clone())
            .get(&issuer_ref.name)
            .await
            .map(|i| i.status.unwrap_or_default()),
    }
    .map_err(|e| {
        ReadError::new(
            e,
            format!("{} {}", issuer_ref.kind.as_str(), issuer_ref.name),
        )
    });
    let events = list_events(client, namespace, &token)
        .await
        .map_err(|e| ReadError::new(e, format!("the Events of namespace {namespace}")));
    Ok(Observed {
        token,
        secret,
        issuer,
        events,
    })
}

/// The Events about `token`: its namespace's events.k8s.io/v1 Events whose `regarding` is this
/// token (by UID, so that a deleted token of the same name is not mixed in). Filtered here rather
/// than with a field selector, whose field names differ between the two Event APIs and servers;
/// Events expire after an hour, so a namespace holds few.
async fn list_events(
    client: &Client,
    namespace: &str,
    token: &VideoSdkToken,
) -> Result<Vec<Event>, kube::Error> {
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let uid = token.uid();
    let kind = VideoSdkToken::kind(&());
    let name = token.name_any();
    Ok(events
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().is_some_and(|r| match (&r.uid, &uid) {
                (Some(a), Some(b)) => a == b,
                _ => r.kind.as_deref() == Some(&*kind) && r.name.as_deref() == Some(&*name),
            })
        })
        .collect())
}

/// The Secret's name: where the status says the token is, else where the spec puts it.
fn secret_name(token: &VideoSdkToken) -> String {
    token
        .status
        .as_ref()
        .and_then(|s| s.secret_name.clone())
        .unwrap_or_else(|| managed_secret::secret_name(token))
}

fn rfc3339(time: &Time) -> String {
    rfc3339_of(time.0)
}

/// A Kubernetes time as RFC 3339 UTC, whole seconds.
fn rfc3339_of(t: Timestamp) -> String {
    crate::time::rfc3339(u64::try_from(t.as_second()).unwrap_or(0))
}

/// Seconds from `now` to `t` (negative when `t` is past).
fn seconds_until(t: Timestamp, now: SystemTime) -> i64 {
    let now = i64::try_from(crate::time::to_unix(now)).unwrap_or(i64::MAX);
    t.as_second().saturating_sub(now)
}

fn condition_view(c: &Condition) -> ConditionView {
    ConditionView {
        type_: c.type_.clone(),
        status: c.status.clone(),
        reason: c.reason.clone(),
        message: c.message.clone(),
        last_transition_time: rfc3339(&c.last_transition_time),
        observed_generation: c.observed_generation,
    }
}

/// The token in the Secret, decoded without the secret (the CLI has none; the operator checks
/// signatures). Errors describe the problem without quoting the token.
fn stored_token(secret: &Secret, now: SystemTime) -> Result<StoredTokenView, StoredTokenError> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(labels::TOKEN_KEY))
        .ok_or(StoredTokenError::NoKey)?;
    let jwt = std::str::from_utf8(&bytes.0).map_err(|_| StoredTokenError::NotText)?;
    let decoded = token::decode_unverified(jwt).map_err(StoredTokenError::NotAToken)?;
    let claims = decoded.claims;
    let mut shown = match serde_json::to_value(&claims) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    shown.remove("apikey");
    let now_seconds = i64::try_from(crate::time::to_unix(now)).unwrap_or(i64::MAX);
    Ok(StoredTokenView {
        claims: shown,
        api_key_fingerprint: token::fingerprint(&claims.apikey),
        issued_at: crate::time::rfc3339(claims.iat),
        expires_at: crate::time::rfc3339(claims.exp),
        expires_in_seconds: i64::try_from(claims.exp)
            .unwrap_or(i64::MAX)
            .saturating_sub(now_seconds),
    })
}

/// When an Event last happened: its series' last observation, else its time, else when it was
/// stored.
fn last_seen(event: &Event) -> Option<Timestamp> {
    event
        .series
        .as_ref()
        .map(|s| s.last_observed_time.0)
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.deprecated_last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// The `limit` most recent of `events`, oldest first.
fn recent_events(mut events: Vec<Event>, limit: usize) -> Vec<EventView> {
    events.sort_by_key(last_seen);
    let skip = events.len().saturating_sub(limit);
    events
        .iter()
        .skip(skip)
        .map(|e| EventView {
            type_: e.type_.clone().unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_default(),
            note: e.note.clone().unwrap_or_default(),
            count: e
                .series
                .as_ref()
                .map(|s| s.count)
                .or(e.deprecated_count)
                .unwrap_or(1),
            last_seen: last_seen(e).map(rfc3339_of).unwrap_or_default(),
            reporting_controller: e.reporting_controller.clone().unwrap_or_default(),
        })
        .collect()
}

/// What the operator does next with `token`, whose Secret is `secret` (`None`: unreadable), as
/// of `now`: from its metadata and status, and for a Ready token from the operator's own step on
/// the Secret ([`operator_step`]); a token that is not Ready is retried as `rules::backoff` says.
pub(crate) fn next_step(
    token: &VideoSdkToken,
    secret: Option<&Secret>,
    now: SystemTime,
) -> NextStep {
    let status = token.status.clone().unwrap_or_default();
    let ready = token_status::ready_of(&status.conditions);
    let renew_now = token.annotations().get(RENEW_NOW_ANNOTATION);
    let when = |t: Timestamp| relative(seconds_until(t, now));
    if token.meta().deletion_timestamp.is_some() {
        return NextStep {
            action: "Delete",
            at: None,
            message: "The token is being deleted; its Secret is deleted with it (ownerReference)."
                .to_owned(),
        };
    }
    let Some(ready) = ready else {
        return NextStep {
            action: "Wait",
            at: None,
            message: "The operator has not processed this token yet. If this lasts more than a few seconds, check that the operator is running (kubectl get pods -A -l app.kubernetes.io/name=videosdk-token-operator) and its logs.".to_owned(),
        };
    };
    let ready_now = ready.status == "True";
    let step = secret
        .filter(|_| ready_now)
        .and_then(|s| operator_step(token, s, now));
    if let (Some(observed), Some(generation)) = (ready.observed_generation, token.meta().generation)
        && observed < generation
    {
        let changed = format!(
            "The spec changed (generation {generation}; the status describes generation {observed})"
        );
        if let Some(Step::Keep {
            renewal_time,
            apply,
            ..
        }) = &step
        {
            let at = timestamp(*renewal_time);
            let renew = format!("re-signs the token at {} ({})", rfc3339_of(at), when(at));
            return match apply {
                Some(_) => NextStep {
                    action: "UpdateSecret",
                    at: Some(rfc3339_of(at)),
                    message: format!(
                        "{changed}, not the token's claims: the operator keeps the token and applies its Secret's new labels and annotations at its next reconcile, within seconds; it {renew}."
                    ),
                },
                None => NextStep {
                    action: "Renew",
                    at: Some(rfc3339_of(at)),
                    message: format!(
                        "{changed}, neither the token's claims nor its Secret: the operator keeps both, records the new generation at its next reconcile, within seconds, and {renew}."
                    ),
                },
            };
        }
        return NextStep {
            action: "RenewNow",
            at: None,
            message: format!(
                "{changed}: the operator re-signs the token at its next reconcile, within seconds."
            ),
        };
    }
    if let Some(value) = renew_now
        && status.renew_now_handled.as_ref() != Some(value)
    {
        return NextStep {
            action: "RenewNow",
            at: None,
            message: format!(
                "A renewal was requested ({RENEW_NOW_ANNOTATION}={value}) and not answered yet: the operator re-signs the token at its next reconcile, within seconds."
            ),
        };
    }
    if ready_now {
        match &step {
            Some(Step::Keep {
                renewal_time,
                apply: Some(_),
                ..
            }) => {
                let at = timestamp(*renewal_time);
                return NextStep {
                    action: "UpdateSecret",
                    at: Some(rfc3339_of(at)),
                    message: format!(
                        "The Secret differs from what the operator writes (a label, annotation or ownerReference was changed or removed): the operator keeps the token and applies the Secret at its next reconcile, within seconds; it re-signs the token at {} ({}).",
                        rfc3339_of(at),
                        when(at)
                    ),
                };
            }
            Some(Step::Sign(reason)) if *reason != ResignReason::RenewalDue => {
                return NextStep {
                    action: "RenewNow",
                    at: None,
                    message: format!(
                        "The operator re-signs the token at its next reconcile, within seconds: {reason}."
                    ),
                };
            }
            _ => {}
        }
        return match &status.renewal_time {
            Some(at) if seconds_until(at.0, now) > 0 => NextStep {
                action: "Renew",
                at: Some(rfc3339(at)),
                message: format!(
                    "The operator re-signs the token at {} ({}).",
                    rfc3339(at),
                    when(at.0)
                ),
            },
            Some(at) => NextStep {
                action: "Renew",
                at: Some(rfc3339(at)),
                message: format!(
                    "Renewal was due at {} ({}): the operator re-signs the token at its next reconcile. If this lasts, check that the operator is running.",
                    rfc3339(at),
                    when(at.0)
                ),
            },
            None => NextStep {
                action: "Renew",
                at: None,
                message: "Ready, but the status has no renewal time: the operator sets it at its next reconcile.".to_owned(),
            },
        };
    }
    // Not Ready: the operator retries with backoff from the last failure (capped inside the
    // lifetime of the token still in the Secret), and at once when a watched object changes.
    let attempts = status.failed_issuance_attempts.unwrap_or(0);
    let retry_at = status.last_failure_time.as_ref().map(|last| {
        let remaining = status.not_after.as_ref().map(|exp| {
            Duration::from_secs(
                u64::try_from(exp.0.as_second().saturating_sub(last.0.as_second())).unwrap_or(0),
            )
        });
        let delay = backoff::delay(
            u32::try_from(attempts.max(1)).unwrap_or(u32::MAX),
            remaining,
        );
        last.0.checked_add(delay).unwrap_or(last.0)
    });
    let mut message = format!(
        "Not Ready ({}): {} The operator retries",
        ready.reason,
        ready.message.trim_end_matches('.').to_owned() + "."
    );
    match retry_at {
        Some(at) if seconds_until(at, now) > 0 => message.push_str(&format!(
            " at about {} ({}), after {attempts} failed attempt(s) with exponential backoff,",
            rfc3339_of(at),
            when(at)
        )),
        Some(_) => message.push_str(&format!(
            " any moment now (after {attempts} failed attempt(s) with exponential backoff),"
        )),
        None => message.push_str(" with exponential backoff,"),
    }
    message.push_str(" and at once when the token, its issuer or the issuer's credentials change.");
    if let Some(exp) = &status.not_after
        && seconds_until(exp.0, now) > 0
    {
        message.push_str(&format!(
            " Meanwhile the Secret keeps the token issued before, valid until {} ({}).",
            rfc3339(exp),
            when(exp.0)
        ));
    }
    NextStep {
        action: "Retry",
        at: retry_at.map(rfc3339_of),
        message,
    }
}

/// What the operator's own step ([`step::step`]) makes of `secret` for `token` at `now`, as far
/// as a reader without the issuer's API secret can tell: the claims are compared as decoded, so a
/// forged signature or a credentials rotation goes unseen here (the operator sees them). `None`
/// for a spec the operator refuses or a Secret that is not the token's (the token is then not
/// Ready).
fn operator_step(token: &VideoSdkToken, secret: &Secret, now: SystemTime) -> Option<Step> {
    if !managed_secret::is_owned_by(secret, token) {
        return None;
    }
    let request = TokenRequest::from_spec(&token.spec).ok()?;
    let renew_before = RenewBefore::from_spec(&token.spec).ok()?;
    let spec_hash = request.fingerprint();
    let uid = token.uid()?;
    let desired = Desired::of_token(token, &request, &spec_hash, None, renew_before, &uid);
    Some(step::step(token, Some(secret), &desired, now))
}

/// A time as the Kubernetes API's timestamp.
fn timestamp(t: SystemTime) -> Timestamp {
    crate::time::to_k8s(t).0
}

/// The report on `observed` as of `now`, with at most `event_limit` Events.
pub(crate) fn report(observed: Observed, now: SystemTime, event_limit: usize) -> Report {
    let token = &observed.token;
    let status = token.status.clone().unwrap_or_default();
    let issuer_ref = &token.spec.issuer_ref;
    let (issuer_status, issuer_error) = match observed.issuer {
        Ok(s) => (s, None),
        Err(e) => (IssuerStatus::default(), Some(e.to_string())),
    };
    let secret = match &observed.secret {
        Ok(s) => {
            let stored = stored_token(s, now);
            SecretView {
                name: s.name_any(),
                owned_by_token: Some(managed_secret::is_owned_by(s, token)),
                error: stored.as_ref().err().map(ToString::to_string),
                token: stored.ok(),
            }
        }
        Err(e) => SecretView {
            name: secret_name(token),
            owned_by_token: None,
            token: None,
            error: Some(e.to_string()),
        },
    };
    let (events, events_error) = match observed.events {
        Ok(events) => (recent_events(events, event_limit), None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    Report {
        name: token.name_any(),
        namespace: token.namespace().unwrap_or_default(),
        ready: token_status::ready_of(&status.conditions).is_some_and(|c| c.status == "True"),
        conditions: status.conditions.iter().map(condition_view).collect(),
        issuer: IssuerView {
            name: issuer_ref.name.clone(),
            kind: issuer_ref.kind.as_str().to_owned(),
            ready: token_status::ready_of(&issuer_status.conditions).map(condition_view),
            api_key_fingerprint: issuer_status.api_key_fingerprint,
            error: issuer_error,
        },
        secret,
        token_id: status.token_id.clone(),
        not_before: status.not_before.as_ref().map(rfc3339),
        not_after: status.not_after.as_ref().map(rfc3339),
        renewal_time: status.renewal_time.as_ref().map(rfc3339),
        failed_issuance_attempts: status.failed_issuance_attempts,
        last_failure_time: status.last_failure_time.as_ref().map(rfc3339),
        events,
        events_error,
        next: next_step(token, observed.secret.as_ref().ok(), now),
    }
}

/// " (in 3h)" / " (2m ago)" after an RFC 3339 time, as of `now`; nothing if it does not parse.
fn ago(rfc3339: &str, now: SystemTime) -> String {
    rfc3339
        .parse::<Timestamp>()
        .map(|t| format!(" ({})", relative(seconds_until(t, now))))
        .unwrap_or_default()
}

/// The report as lines for people, in the layout of `cmctl status certificate`.
pub(crate) fn render_text(report: &Report, now: SystemTime) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!("Name: {}", report.name));
    line(format!("Namespace: {}", report.namespace));
    if report.conditions.is_empty() {
        line("Conditions: none yet".to_owned());
    } else {
        line("Conditions:".to_owned());
        for c in &report.conditions {
            line(format!(
                "  {}: {}, Reason: {}, Message: {}",
                c.type_, c.status, c.reason, c.message
            ));
            line(format!(
                "    last transition {}{}",
                c.last_transition_time,
                ago(&c.last_transition_time, now)
            ));
        }
    }
    let issuer = &report.issuer;
    line(format!("Issuer: {} {}", issuer.kind, issuer.name));
    match (&issuer.error, &issuer.ready) {
        (Some(e), _) => line(format!("  {e}")),
        (None, None) => line("  Ready: unknown (no Ready condition yet)".to_owned()),
        (None, Some(c)) => line(format!(
            "  Ready: {}, Reason: {}, Message: {}",
            c.status, c.reason, c.message
        )),
    }
    if let Some(f) = &issuer.api_key_fingerprint {
        line(format!("  API key fingerprint: sha256:{f}"));
    }
    let secret = &report.secret;
    line(format!("Secret: {}", secret.name));
    if let Some(owned) = secret.owned_by_token {
        line(format!(
            "  Owned by this token: {}",
            if owned {
                "yes"
            } else {
                "NO (the operator leaves it untouched)"
            }
        ));
    }
    if let Some(e) = &secret.error {
        line(format!("  {e}"));
    }
    if let Some(t) = &secret.token {
        line("  Stored token (claims; the token itself is not shown):".to_owned());
        line(format!(
            "    {:<14} sha256:{} (fingerprint)",
            "apikey", t.api_key_fingerprint
        ));
        for (name, value) in &t.claims {
            if name == "iat" || name == "exp" {
                continue;
            }
            line(format!("    {name:<14} {value}"));
        }
        line(format!(
            "    {:<14} {}{}",
            "issued at",
            t.issued_at,
            ago(&t.issued_at, now)
        ));
        let expired = if t.expires_in_seconds <= 0 {
            " EXPIRED"
        } else {
            ""
        };
        line(format!(
            "    {:<14} {}{}{expired}",
            "expires at",
            t.expires_at,
            ago(&t.expires_at, now)
        ));
    }
    if let Some(id) = &report.token_id {
        line(format!("Token id (status): {id}"));
    }
    for (label, value) in [
        ("Not before", &report.not_before),
        ("Not after", &report.not_after),
        ("Renewal time", &report.renewal_time),
        ("Last failure", &report.last_failure_time),
    ] {
        if let Some(v) = value {
            line(format!("{label}: {v}{}", ago(v, now)));
        }
    }
    if let Some(n) = report.failed_issuance_attempts {
        line(format!("Failed issuance attempts: {n}"));
    }
    match (&report.events_error, report.events.is_empty()) {
        (Some(e), _) => line(format!("Events: {e}")),
        (None, true) => line("Events: none".to_owned()),
        (None, false) => {
            line("Events:".to_owned());
            line(format!(
                "  {:<8} {:<22} {:<22} {:>5}  NOTE",
                "TYPE", "REASON", "LAST SEEN", "COUNT"
            ));
            for e in &report.events {
                line(format!(
                    "  {:<8} {:<22} {:<22} {:>5}  {}",
                    e.type_, e.reason, e.last_seen, e.count, e.note
                ));
            }
        }
    }
    line(format!("Next: {}", report.next.message));
    out
}

/// Runs the command.
pub fn run(args: &StatusArgs) -> Result<(), Error> {
    runtime::runtime()?.block_on(async {
        let (client, namespace) = connect::connect(&args.cluster).await?;
        let observed = observe(&client, &namespace, &args.name).await?;
        let now = SystemTime::now();
        let report = report(observed, now, args.events);
        match args.output {
            InspectOutput::Text => print!("{}", render_text(&report, now)),
            InspectOutput::Json => println!(
                "{}",
                serde_json::to_string_pretty(&report).expect("the report serialises")
            ),
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{VideoSdkTokenSpec, VideoSdkTokenStatus};
    use k8s_openapi::api::core::v1::Secret;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    use k8s_openapi::{ByteString, api::events::v1::EventSeries};
    use std::collections::BTreeMap;

    const NOW: u64 = 1_800_000_000;

    fn at(seconds: u64) -> Time {
        crate::time::to_k8s(crate::time::from_unix(seconds))
    }

    fn now() -> SystemTime {
        crate::time::from_unix(NOW)
    }

    fn condition(status: &str, reason: &str, generation: i64) -> Condition {
        Condition {
            type_: "Ready".into(),
            status: status.into(),
            reason: reason.into(),
            message: format!("{reason} message"),
            observed_generation: Some(generation),
            last_transition_time: at(NOW - 60),
        }
    }

    fn token(status: Option<VideoSdkTokenStatus>) -> VideoSdkToken {
        let spec: VideoSdkTokenSpec = serde_json::from_value(serde_json::json!({
            "issuerRef": {"name": "videosdk"}, "permissions": ["allow_join"]
        }))
        .unwrap();
        let mut token = VideoSdkToken::new("web", spec);
        token.metadata.namespace = Some("default".into());
        token.metadata.generation = Some(1);
        token.status = status;
        token
    }

    fn ready_status() -> VideoSdkTokenStatus {
        VideoSdkTokenStatus {
            conditions: vec![condition("True", "Issued", 1)],
            token_id: Some("id".into()),
            not_before: Some(at(NOW - 3600)),
            not_after: Some(at(NOW + 3600)),
            renewal_time: Some(at(NOW + 1800)),
            secret_name: Some("web".into()),
            ..VideoSdkTokenStatus::default()
        }
    }

    #[test]
    fn a_ready_token_renews_at_its_renewal_time() {
        let next = next_step(&token(Some(ready_status())), None, now());
        assert_eq!(next.action, "Renew");
        assert_eq!(next.at.as_deref(), Some(&*crate::time::rfc3339(NOW + 1800)));
        assert!(next.message.contains("(in 30m)"), "{}", next.message);
        let mut overdue = ready_status();
        overdue.renewal_time = Some(at(NOW - 5));
        let next = next_step(&token(Some(overdue)), None, now());
        assert!(next.message.contains("was due"), "{}", next.message);
    }

    #[test]
    fn a_secret_someone_edited_is_applied_or_re_signed_as_the_operator_would() {
        let mut ready = token(Some(ready_status()));
        ready.metadata.uid = Some("0b9f6c1e-uid".into());
        let request = TokenRequest::from_spec(&ready.spec).unwrap();
        let credentials = token::Credentials::new("key", "secret-0123456789abcdef").unwrap();
        let signed = token::sign(&request, &credentials, crate::time::from_unix(NOW - 60)).unwrap();
        ready.status.as_mut().unwrap().token_id = signed.claims.jti.clone();
        let written = step::secret_for(
            &ready,
            &signed.jwt,
            &signed.claims,
            &request.fingerprint(),
            Some(credentials.fingerprint()),
            None,
        );
        let next = next_step(&ready, Some(&written), now());
        assert_eq!(next.action, "Renew", "{}", next.message);

        let mut unlabelled = written.clone();
        unlabelled.labels_mut().remove(labels::TOKEN_NAME_LABEL);
        let next = next_step(&ready, Some(&unlabelled), now());
        assert_eq!(next.action, "UpdateSecret", "{}", next.message);
        assert!(
            next.message
                .starts_with("The Secret differs from what the operator writes"),
            "{}",
            next.message
        );

        // Another token of the same spec put in its place: its id is neither of those recorded.
        let other = token::sign(&request, &credentials, crate::time::from_unix(NOW - 30)).unwrap();
        let mut copied_in = written.clone();
        copied_in
            .data
            .as_mut()
            .unwrap()
            .insert(labels::TOKEN_KEY.into(), ByteString(other.jwt.into_bytes()));
        let next = next_step(&ready, Some(&copied_in), now());
        assert_eq!(next.action, "RenewNow", "{}", next.message);
        assert!(
            next.message
                .ends_with("is not the one the operator recorded: it was copied in or replaced."),
            "{}",
            next.message
        );
    }

    #[test]
    fn pending_changes_come_before_the_schedule() {
        assert_eq!(next_step(&token(None), None, now()).action, "Wait");
        let mut asked = token(Some(ready_status()));
        asked
            .annotations_mut()
            .insert(RENEW_NOW_ANNOTATION.into(), "2".into());
        let next = next_step(&asked, None, now());
        assert_eq!(next.action, "RenewNow");
        assert!(next.message.contains("renew-now=2"), "{}", next.message);
        asked.status.as_mut().unwrap().renew_now_handled = Some("2".into());
        assert_eq!(next_step(&asked, None, now()).action, "Renew");
        asked.metadata.generation = Some(2);
        let next = next_step(&asked, None, now());
        assert_eq!(next.action, "RenewNow");
        assert!(next.message.contains("generation 2"), "{}", next.message);
    }

    #[test]
    fn a_token_not_ready_says_why_and_when_the_backoff_retries() {
        let status = VideoSdkTokenStatus {
            conditions: vec![condition("False", "IssuerNotFound", 1)],
            failed_issuance_attempts: Some(4),
            last_failure_time: Some(at(NOW - 2)),
            ..ready_status()
        };
        let next = next_step(&token(Some(status)), None, now());
        assert_eq!(next.action, "Retry");
        // The 4th failure waits 8 s (backoff::delay), from 2 s ago.
        assert_eq!(next.at.as_deref(), Some(&*crate::time::rfc3339(NOW + 6)));
        for want in [
            "Not Ready (IssuerNotFound): IssuerNotFound message.",
            "(in 6s), after 4 failed attempt(s)",
            "valid until",
        ] {
            assert!(next.message.contains(want), "{want}: {}", next.message);
        }
    }

    #[test]
    fn a_stored_token_that_cannot_be_read_is_said_without_quoting_it() {
        let secret = |token: Option<&[u8]>| Secret {
            data: token.map(|t| BTreeMap::from([("token".to_owned(), ByteString(t.to_vec()))])),
            ..Secret::default()
        };
        let error = |s: Secret| stored_token(&s, now()).unwrap_err().to_string();
        assert_eq!(error(secret(None)), "the Secret has no key \"token\"");
        assert_eq!(
            error(secret(Some(b"\xff"))),
            "the Secret's key \"token\" is not UTF-8 text"
        );
        let not_a_jwt = error(secret(Some(b"opaque-value")));
        assert_eq!(
            not_a_jwt,
            "the Secret's key \"token\": not a JWT: expected three base64url segments separated by dots (header.claims.signature), found 1 segment(s)"
        );
    }

    #[test]
    fn the_report_shows_claims_but_not_the_token_nor_the_api_key() {
        let secret_text = "s".repeat(32);
        let credentials =
            crate::token::Credentials::new("my-api-key", secret_text.clone()).expect("credentials");
        let request = crate::token::TokenRequest {
            permissions: vec![crate::api::Permission::AllowJoin],
            roles: vec![],
            room_id: Some("room".into()),
            participant_id: None,
            ttl: Duration::from_secs(3600),
        };
        let signed = crate::token::sign(&request, &credentials, now()).expect("signed");
        let jwt = signed.jwt.clone();
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("web".into()),
                ..Default::default()
            },
            data: Some(BTreeMap::from([(
                "token".to_owned(),
                ByteString(jwt.clone().into_bytes()),
            )])),
            ..Secret::default()
        };
        let event = |reason: &str, seconds: u64, count: Option<i32>| Event {
            reason: Some(reason.into()),
            event_time: Some(MicroTime(at(seconds).0)),
            series: count.map(|count| EventSeries {
                count,
                last_observed_time: MicroTime(at(seconds + 10).0),
            }),
            ..Event::default()
        };
        let observed = Observed {
            token: token(Some(ready_status())),
            secret: Ok(secret),
            issuer: Err(ReadError::NotFound {
                what: "VideoSdkIssuer videosdk".into(),
            }),
            events: Ok(vec![
                event("Renewed", NOW - 100, Some(3)),
                event("Issued", NOW - 200, None),
                event("Old", NOW - 300, None),
            ]),
        };
        let report = report(observed, now(), 2);
        let text = render_text(&report, now());
        let json = serde_json::to_string(&report).unwrap();
        for out in [&text, &json] {
            assert!(!out.contains(&jwt) && !out.contains(jwt.rsplit('.').next().unwrap()));
            assert!(!out.contains("my-api-key") && !out.contains(&secret_text));
            assert!(out.contains("room") && out.contains(&crate::token::fingerprint("my-api-key")));
        }
        assert_eq!(report.secret.owned_by_token, Some(false));
        assert_eq!(
            report.issuer.error.as_deref(),
            Some("VideoSdkIssuer videosdk not found")
        );
        let reasons: Vec<_> = report
            .events
            .iter()
            .map(|e| (&*e.reason, e.count))
            .collect();
        assert_eq!(
            reasons,
            [("Issued", 1), ("Renewed", 3)],
            "the 2 latest, oldest first"
        );
        assert_eq!(
            report.secret.token.as_ref().unwrap().expires_in_seconds,
            3600
        );
    }
}
