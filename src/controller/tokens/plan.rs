//! Step 2 of a token's reconcile: decide, as a pure function of what [`super::gather`] read, the
//! time and a freshly drawn token id, what the token's Secret must hold. The checks come in the
//! order a person fixes them: the spec, the issuer, the issuer's namespaceSelector, its policy
//! and credentials, the request against the policy, the Secret's ownership; then whether the
//! stored token is kept or re-signed ([`crate::rules::decision`]).

use super::gather::{Inputs, Issuer, IssuerLookup};
use crate::api::{IssuerKind, RENEW_NOW_ANNOTATION, VideoSdkToken};
use crate::controller::managed_secrets::Existing;
use crate::controller::reason::Reason;
use crate::rules::decision::{Desired, ResignReason};
use crate::rules::problem::Problem;
use crate::rules::step::{self, Step};
use crate::rules::{credentials, policy, renewal, secret};
use crate::token::{self, Claims, Credentials, RenewBefore, SignError, TokenRequest};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use std::time::SystemTime;
use uuid::Uuid;

/// What to do for a token.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    /// Bad input a person must fix: report it (`Ready=False`), and retry with backoff.
    NotReady(Problem),
    /// The Secret holds the right token once `apply` (when set) is applied.
    Ready {
        /// The token the Secret holds after this reconcile.
        issued: Box<Issued>,
        /// The whole Secret to apply; `None` when the Secret is already exactly that.
        apply: Option<Box<Secret>>,
    },
}

/// The token in the Secret after a successful reconcile.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Issued {
    /// Its claims.
    pub(crate) claims: Claims,
    /// When it is due for renewal: computed once, from the `iat` it was signed with.
    pub(crate) renewal_time: SystemTime,
    /// The renew-now value it answers.
    pub(crate) renew_now_handled: Option<String>,
    /// Why it was (re-)signed now; `None` when the stored token was kept.
    pub(crate) resigned: Option<ResignReason>,
}

/// The plan for `token`, given `inputs`, at `now`; `new_id` is the id a re-signed token gets.
///
/// Errors: signing failed (the clock reads before 1970, an expiry beyond Unix seconds).
pub(crate) fn plan(
    token: &VideoSdkToken,
    inputs: &Inputs,
    now: SystemTime,
    new_id: Uuid,
) -> Result<Plan, SignError> {
    let checked = match check(token, inputs) {
        Ok(checked) => checked,
        Err(problem) => return Ok(Plan::NotReady(problem)),
    };
    if let Some(issued) = unchanged_token(token, inputs, &checked, now) {
        // Unchanged since verified and not due: nothing to read, nothing to write.
        return Ok(Plan::Ready {
            issued: Box::new(issued),
            apply: None,
        });
    }
    let (issued, apply) = keep_or_sign(token, inputs, &checked, now, new_id)?;
    Ok(Plan::Ready {
        issued: Box::new(issued),
        apply,
    })
}

/// What the spec and the issuer resolve to, once every check passed.
struct Checked {
    request: TokenRequest,
    renew_before: RenewBefore,
    credentials: Credentials,
}

/// Every check but the stored token's: the first problem a person must fix, if any.
fn check(token: &VideoSdkToken, inputs: &Inputs) -> Result<Checked, Problem> {
    let invalid_spec = |e: &dyn std::fmt::Display| Problem::new(Reason::InvalidSpec, e.to_string());
    let request = TokenRequest::from_spec(&token.spec).map_err(|e| invalid_spec(&e))?;
    let renew_before = RenewBefore::from_spec(&token.spec).map_err(|e| invalid_spec(&e))?;
    renew_before
        .check_window(request.ttl, inputs.min_renew_before)
        .map_err(|e| invalid_spec(&e))?;
    let namespace = &inputs.namespace;
    let issuer = match &inputs.issuer {
        IssuerLookup::Found(issuer) => issuer,
        IssuerLookup::Missing { other_kind_exists } => {
            return Err(issuer_not_found(token, namespace, *other_kind_exists));
        }
    };
    let describe = describe(issuer, namespace);
    if let Some(selector) = &issuer.namespace_selector {
        let labels = issuer.namespace_labels.clone().unwrap_or_default();
        match policy::selector_matches(Some(selector), &labels) {
            Ok(true) => {}
            Ok(false) => {
                return Err(Problem::new(
                    Reason::NamespaceNotAllowed,
                    format!(
                        "the namespaceSelector of {describe} does not admit namespace {namespace}"
                    ),
                ));
            }
            Err(e) => {
                return Err(Problem::new(
                    Reason::IssuerNotReady,
                    format!(
                        "{describe} has an invalid namespaceSelector ({}): {e}",
                        Reason::InvalidNamespaceSelector
                    ),
                ));
            }
        }
    }
    policy::check_policy(&issuer.policy).map_err(|e| {
        Problem::new(
            Reason::IssuerNotReady,
            format!("{describe} has an invalid policy: {e}"),
        )
    })?;
    let credentials = credentials::read(
        issuer.credentials.as_deref(),
        &issuer.credentials_ref,
        &issuer.credentials_namespace,
    )
    .map_err(|p| {
        Problem::new(
            Reason::IssuerNotReady,
            format!("{describe} is not ready ({}): {}", p.reason, p.message),
        )
    })?;
    if let Some(violation) = policy::violation(&request, &issuer.policy, &describe, inputs.max_ttl)
    {
        return Err(Problem::new(Reason::PolicyViolation, violation.to_string()));
    }
    if let Some(existing) = inputs.existing.read()
        && !secret::is_owned_by(existing, token)
    {
        return Err(Problem::new(
            Reason::SecretNotOwned,
            format!(
                "Secret {namespace}/{} exists and was not created for this VideoSdkToken, so it is left untouched: delete it, or set spec.secretName to another name",
                secret::secret_name(token)
            ),
        ));
    }
    Ok(Checked {
        request,
        renew_before,
        credentials,
    })
}

/// The `IssuerNotFound` problem, with a hint at the likely mistake.
fn issuer_not_found(token: &VideoSdkToken, namespace: &str, other_kind_exists: bool) -> Problem {
    let name = &token.spec.issuer_ref.name;
    let message = match (token.spec.issuer_ref.kind, other_kind_exists) {
        (IssuerKind::VideoSdkIssuer, true) => format!(
            "VideoSdkIssuer {namespace}/{name} does not exist (a ClusterVideoSdkIssuer of that name exists: set issuerRef.kind: ClusterVideoSdkIssuer)"
        ),
        (IssuerKind::VideoSdkIssuer, false) => format!(
            "VideoSdkIssuer {namespace}/{name} does not exist (a VideoSdkIssuer must be in the token's own namespace; to share one issuer across namespaces use a ClusterVideoSdkIssuer)"
        ),
        (IssuerKind::ClusterVideoSdkIssuer, true) => format!(
            "ClusterVideoSdkIssuer {name} does not exist (a VideoSdkIssuer of that name exists in this namespace: set issuerRef.kind: VideoSdkIssuer or leave it out)"
        ),
        (IssuerKind::ClusterVideoSdkIssuer, false) => {
            format!("ClusterVideoSdkIssuer {name} does not exist")
        }
    };
    Problem::new(Reason::IssuerNotFound, message)
}

/// How messages name the issuer.
fn describe(issuer: &Issuer, namespace: &str) -> String {
    match issuer.kind {
        IssuerKind::VideoSdkIssuer => format!("VideoSdkIssuer {namespace}/{}", issuer.name),
        IssuerKind::ClusterVideoSdkIssuer => format!("ClusterVideoSdkIssuer {}", issuer.name),
    }
}

/// The token of a Secret that is unchanged since the operator verified it, rebuilt from the spec
/// and what it remembers (`iat`, `jti`), while it is not due for renewal; `None` otherwise.
fn unchanged_token(
    token: &VideoSdkToken,
    inputs: &Inputs,
    checked: &Checked,
    now: SystemTime,
) -> Option<Issued> {
    let Existing::Unchanged(verified) = &inputs.existing else {
        return None;
    };
    let claims = Claims::for_request(
        &checked.request,
        checked.credentials.api_key(),
        verified.iat,
        verified.jti.hyphenated().to_string(),
    )?;
    let renewal_time = renewal::kept_until(
        &claims,
        checked.renew_before,
        &token.uid().unwrap_or_default(),
        now,
    )?;
    Some(Issued {
        claims,
        renewal_time,
        renew_now_handled: token
            .annotations()
            .get(RENEW_NOW_ANNOTATION)
            .cloned()
            .or_else(|| token.status.as_ref()?.renew_now_handled.clone()),
        resigned: None,
    })
}

/// Keeps the stored token or signs a new one ([`step::step`]); returns it and the whole Secret
/// to apply (`None`: the Secret is already exactly that). A Secret unchanged since verified gets
/// here only when it is due ([`unchanged_token`]).
fn keep_or_sign(
    token: &VideoSdkToken,
    inputs: &Inputs,
    checked: &Checked,
    now: SystemTime,
    new_id: Uuid,
) -> Result<(Issued, Option<Box<Secret>>), SignError> {
    let spec_hash = checked.request.fingerprint();
    let uid = token.uid().unwrap_or_default();
    let desired = Desired::of_token(
        token,
        &checked.request,
        &spec_hash,
        Some(&checked.credentials),
        checked.renew_before,
        &uid,
    );
    let step = match &inputs.existing {
        Existing::Unchanged(_) => Step::Sign(ResignReason::RenewalDue),
        Existing::SignedWithOtherCredentials(_) => Step::Sign(ResignReason::CredentialsChanged),
        Existing::Absent | Existing::Unseen | Existing::Read(_) => {
            step::step(token, inputs.existing.read(), &desired, now)
        }
    };
    let reason = match step {
        Step::Keep {
            renewal_time,
            claims,
            renew_now_handled,
            apply,
        } => {
            let issued = Issued {
                claims: *claims,
                renewal_time,
                renew_now_handled,
                resigned: None,
            };
            return Ok((issued, apply));
        }
        Step::Sign(reason) => reason,
    };
    let signed = token::sign_with_id(&checked.request, &checked.credentials, now, new_id)?;
    let renewal_time =
        renewal::renewal_time(&signed.claims, checked.renew_before, &uid).unwrap_or(now);
    let renew_now_handled = desired.renew_now.map(str::to_owned);
    let desired_secret = step::secret_for(
        token,
        &signed.jwt,
        &signed.claims,
        &spec_hash,
        Some(checked.credentials.fingerprint()),
        renew_now_handled.clone(),
    );
    let apply = match &inputs.existing {
        Existing::Read(existing) => secret::needs_apply(existing, &desired_secret),
        Existing::Absent
        | Existing::Unseen
        | Existing::Unchanged(_)
        | Existing::SignedWithOtherCredentials(_) => true,
    }
    .then(|| Box::new(desired_secret));
    let issued = Issued {
        claims: signed.claims,
        renewal_time,
        renew_now_handled,
        resigned: Some(reason),
    };
    Ok((issued, apply))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{IssuerPolicy, Permission};
    use crate::rules::labels::TOKEN_KEY;
    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use serde_json::json;
    use std::collections::BTreeMap;
    use std::time::{Duration, UNIX_EPOCH};

    const SECRET: &str = "plan-secret-0123456789abcdef";

    fn token(spec: serde_json::Value) -> VideoSdkToken {
        let mut base =
            json!({"issuerRef": {"name": "issuer"}, "permissions": ["allow_join"], "ttl": "1h"});
        base.as_object_mut()
            .unwrap()
            .extend(spec.as_object().cloned().unwrap_or_default());
        serde_json::from_value(json!({
            "apiVersion": "videosdk.live/v1alpha1", "kind": "VideoSdkToken",
            "metadata": {"name": "t", "namespace": "ns", "uid": "0d6b1c5e-6f0a-4a51-9d8e-1a2b3c4d5e6f"},
            "spec": base,
        }))
        .unwrap()
    }

    fn credentials_secret() -> Secret {
        Secret {
            data: Some(BTreeMap::from([
                ("apiKey".to_owned(), ByteString(b"key".to_vec())),
                ("secret".to_owned(), ByteString(SECRET.as_bytes().to_vec())),
            ])),
            ..Secret::default()
        }
    }

    fn issuer(policy: IssuerPolicy) -> Issuer {
        Issuer {
            kind: IssuerKind::VideoSdkIssuer,
            name: "issuer".into(),
            credentials_ref: serde_json::from_value(json!({"name": "creds"})).unwrap(),
            credentials_namespace: "ns".into(),
            credentials: Some(std::sync::Arc::new(credentials_secret())),
            policy,
            namespace_selector: None,
            namespace_labels: None,
        }
    }

    fn inputs(issuer: Issuer, existing: Option<Secret>) -> Inputs {
        Inputs {
            namespace: "ns".into(),
            existing: existing.map_or(Existing::Absent, |s| Existing::Read(Box::new(s))),
            issuer: IssuerLookup::Found(Box::new(issuer)),
            max_ttl: token::DEFAULT_MAX_TTL,
            min_renew_before: token::MIN_RENEW_BEFORE,
            fingerprint: 0,
        }
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn reason_of(plan: Plan) -> Reason {
        match plan {
            Plan::NotReady(problem) => problem.reason,
            Plan::Ready { .. } => Reason::Issued,
        }
    }

    fn planned(token: &VideoSdkToken, inputs: &Inputs) -> Plan {
        plan(token, inputs, now(), Uuid::new_v4()).unwrap()
    }

    #[test]
    fn a_first_issuance_signs_once_and_applies_the_whole_secret() {
        let t = token(json!({}));
        let id = Uuid::new_v4();
        let Plan::Ready { issued, apply } = plan(
            &t,
            &inputs(issuer(IssuerPolicy::default()), None),
            now(),
            id,
        )
        .unwrap() else {
            panic!("ready");
        };
        assert_eq!(issued.resigned, Some(ResignReason::Missing));
        assert_eq!(
            issued.claims.jti,
            Some(id.to_string()),
            "the id drawn before"
        );
        let secret = apply.expect("a Secret to write");
        let jwt = String::from_utf8(secret.data.unwrap()[TOKEN_KEY].0.clone()).unwrap();
        assert_eq!(token::verify(&jwt, SECRET, now()).unwrap(), issued.claims);
        // The renewal time comes from the signed iat: a third of 1h left, less the jitter.
        let renews = issued.renewal_time.duration_since(now()).unwrap();
        assert!(renews <= Duration::from_secs(2400) && renews >= Duration::from_secs(2160));
    }

    #[test]
    fn the_same_inputs_again_keep_the_token_and_write_nothing() {
        let t = token(json!({}));
        let Plan::Ready { apply, issued } =
            planned(&t, &inputs(issuer(IssuerPolicy::default()), None))
        else {
            panic!("ready");
        };
        let mut written = *apply.unwrap();
        written.metadata.managed_fields = None;
        let again = plan(
            &t,
            &inputs(issuer(IssuerPolicy::default()), Some(written)),
            now() + Duration::from_secs(5),
            Uuid::new_v4(),
        )
        .unwrap();
        let Plan::Ready {
            issued: kept,
            apply,
        } = again
        else {
            panic!("ready");
        };
        assert_eq!(kept.resigned, None);
        assert_eq!(kept.claims, issued.claims);
        assert!(apply.is_none(), "nothing to write");
    }

    #[test]
    fn an_unchanged_secret_is_kept_without_reading_until_it_is_due() {
        let t = token(json!({}));
        let Plan::Ready { issued, .. } =
            planned(&t, &inputs(issuer(IssuerPolicy::default()), None))
        else {
            panic!("ready");
        };
        let verified = crate::controller::managed_secrets::Verified {
            resource_version: 7,
            iat: issued.claims.iat,
            jti: Uuid::try_parse(issued.claims.jti.as_deref().unwrap()).unwrap(),
            inputs: 0,
            credentials: 0,
        };
        let unchanged = Inputs {
            existing: Existing::Unchanged(verified),
            ..inputs(issuer(IssuerPolicy::default()), None)
        };
        let Plan::Ready {
            issued: kept,
            apply,
        } = plan(
            &t,
            &unchanged,
            now() + Duration::from_secs(60),
            Uuid::new_v4(),
        )
        .unwrap()
        else {
            panic!("ready");
        };
        assert_eq!(
            kept.claims, issued.claims,
            "the claims rebuilt from iat and jti"
        );
        assert_eq!(kept.renewal_time, issued.renewal_time);
        assert!(apply.is_none() && kept.resigned.is_none());
        // Due: re-signed, and the whole Secret applied.
        let due = issued.renewal_time + Duration::from_secs(1);
        let Plan::Ready {
            issued: renewed,
            apply,
        } = plan(&t, &unchanged, due, Uuid::new_v4()).unwrap()
        else {
            panic!("ready");
        };
        assert_eq!(renewed.resigned, Some(ResignReason::RenewalDue));
        assert!(apply.is_some());
        // Signed with credentials the issuer no longer has: re-signed at once, not read.
        let rotated = Inputs {
            existing: Existing::SignedWithOtherCredentials(verified),
            ..inputs(issuer(IssuerPolicy::default()), None)
        };
        let Plan::Ready {
            issued: resigned,
            apply,
        } = plan(&t, &rotated, now(), Uuid::new_v4()).unwrap()
        else {
            panic!("ready");
        };
        assert_eq!(resigned.resigned, Some(ResignReason::CredentialsChanged));
        assert!(apply.is_some(), "the whole Secret applied");
    }

    #[test]
    fn each_problem_is_found_in_the_order_a_person_fixes_them() {
        let open = || issuer(IssuerPolicy::default());
        let bad_spec = token(json!({"ttl": "1d"}));
        assert_eq!(
            reason_of(planned(&bad_spec, &inputs(open(), None))),
            Reason::InvalidSpec
        );
        let missing = Inputs {
            namespace: "ns".into(),
            existing: Existing::Absent,
            issuer: IssuerLookup::Missing {
                other_kind_exists: true,
            },
            max_ttl: token::DEFAULT_MAX_TTL,
            min_renew_before: token::MIN_RENEW_BEFORE,
            fingerprint: 0,
        };
        let Plan::NotReady(problem) = planned(&token(json!({})), &missing) else {
            panic!("not ready");
        };
        assert_eq!(problem.reason, Reason::IssuerNotFound);
        assert!(
            problem
                .message
                .contains("set issuerRef.kind: ClusterVideoSdkIssuer")
        );

        let mut refused = open();
        refused.namespace_selector =
            Some(serde_json::from_value(json!({"matchLabels": {"team": "media"}})).unwrap());
        refused.namespace_labels = Some(BTreeMap::new());
        assert_eq!(
            reason_of(planned(&token(json!({})), &inputs(refused, None))),
            Reason::NamespaceNotAllowed
        );

        let mut bad_selector = open();
        bad_selector.namespace_selector = Some(
            serde_json::from_value::<LabelSelector>(
                json!({"matchExpressions": [{"key": "a", "operator": "Gt"}]}),
            )
            .unwrap(),
        );
        assert_eq!(
            reason_of(planned(&token(json!({})), &inputs(bad_selector, None))),
            Reason::IssuerNotReady
        );

        let mut no_credentials = open();
        no_credentials.credentials = None;
        let Plan::NotReady(problem) = planned(&token(json!({})), &inputs(no_credentials, None))
        else {
            panic!("not ready");
        };
        assert_eq!(problem.reason, Reason::IssuerNotReady);
        assert!(
            problem.message.contains("(SecretNotFound)"),
            "{}",
            problem.message
        );

        let strict = issuer(IssuerPolicy {
            allowed_permissions: Some(vec![Permission::AskJoin]),
            ..IssuerPolicy::default()
        });
        assert_eq!(
            reason_of(planned(&token(json!({})), &inputs(strict, None))),
            Reason::PolicyViolation
        );

        let foreign = Secret::default();
        assert_eq!(
            reason_of(planned(&token(json!({})), &inputs(open(), Some(foreign)))),
            Reason::SecretNotOwned
        );
    }

    /// The operator's `--max-ttl` refuses a ttl its open issuer would sign, naming the flag.
    #[test]
    fn a_ttl_above_the_operators_ceiling_is_a_policy_violation() {
        let t = token(json!({"ttl": "2h"}));
        let capped = Inputs {
            max_ttl: Duration::from_secs(3600),
            ..inputs(issuer(IssuerPolicy::default()), None)
        };
        let Plan::NotReady(problem) = planned(&t, &capped) else {
            panic!("not ready");
        };
        assert_eq!(problem.reason, Reason::PolicyViolation);
        assert!(
            problem.message.contains("--max-ttl") && problem.message.contains("1h0m0s"),
            "{}",
            problem.message
        );
    }

    /// A renew window below the operator's floor (a spec that passed an older CRD, or a raised
    /// `--min-renew-before`) is `InvalidSpec`, with the window and the fix: no token is signed
    /// for it, and the Secret is left as it is.
    #[test]
    fn a_renew_window_below_the_operators_minimum_is_an_invalid_spec() {
        let open = || inputs(issuer(IssuerPolicy::default()), None);
        // The token: ttl 2m, renewed with a third (40s) left.
        let Plan::NotReady(problem) = planned(&token(json!({"ttl": "2m"})), &open()) else {
            panic!("not ready");
        };
        assert_eq!(problem.reason, Reason::InvalidSpec);
        assert!(
            problem.message.contains("renew window of 40s")
                && problem.message.contains("--min-renew-before")
                && problem.message.contains("set spec.ttl to at least 6m"),
            "{}",
            problem.message
        );
        let legal = token(json!({"ttl": "1h", "renewBefore": "2m"}));
        assert!(matches!(planned(&legal, &open()), Plan::Ready { .. }));
        let raised = Inputs {
            min_renew_before: Duration::from_secs(180),
            ..open()
        };
        let Plan::NotReady(problem) = planned(&legal, &raised) else {
            panic!("not ready under a raised minimum");
        };
        assert_eq!(problem.reason, Reason::InvalidSpec);
        assert!(
            problem.message.contains("minimum of 3m"),
            "{}",
            problem.message
        );
    }

    /// A `secretTemplate` that bypassed admission cannot preset the operator's own keys: the
    /// forged `renew-now-handled` is left out, so the record the Secret keeps is the operator's
    /// and a renew-now of that value is answered.
    #[test]
    fn template_keys_under_the_operators_prefix_are_left_out_of_the_secret() {
        let forged = json!({"secretTemplate": {
            "labels": {"app.kubernetes.io/managed-by": "someone-else", "videosdk.live/x": "y", "team": "media"},
            "annotations": {"videosdk.live/renew-now-handled": "forged", "note": "kept"},
        }});
        let t = token(forged.clone());
        let Plan::Ready { apply, .. } = planned(&t, &inputs(issuer(IssuerPolicy::default()), None))
        else {
            panic!("ready");
        };
        let written = *apply.unwrap();
        let labels = written.metadata.labels.clone().unwrap();
        let annotations = written.metadata.annotations.clone().unwrap();
        assert_eq!(
            labels["app.kubernetes.io/managed-by"],
            "videosdk-token-operator"
        );
        assert_eq!(labels["team"], "media");
        assert!(!labels.contains_key("videosdk.live/x"));
        assert_eq!(annotations["note"], "kept");
        assert!(
            !annotations.contains_key("videosdk.live/renew-now-handled"),
            "{annotations:?}"
        );
        assert_eq!(
            secret::operator_owned_template_keys(&t),
            [
                "labels[app.kubernetes.io/managed-by]",
                "labels[videosdk.live/x]",
                "annotations[videosdk.live/renew-now-handled]"
            ]
        );
        // Asked to renew with the forged value: re-signed.
        let mut asked = token(forged);
        asked
            .metadata
            .annotations
            .get_or_insert_default()
            .insert(RENEW_NOW_ANNOTATION.to_owned(), "forged".to_owned());
        let Plan::Ready { issued, .. } = planned(
            &asked,
            &inputs(issuer(IssuerPolicy::default()), Some(written)),
        ) else {
            panic!("ready");
        };
        assert_eq!(issued.resigned, Some(ResignReason::RenewNowRequested));
        assert_eq!(issued.renew_now_handled.as_deref(), Some("forged"));
    }
}
