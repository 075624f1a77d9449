//! Trust nothing found in a managed Secret: for any valid spec, a stored token signed with the
//! issuer's own key but with any one claim changed is re-signed, for the reason that names what
//! changed; and no valid spec re-signs a token more often than the minimum interval.

use crate::signing::request;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::time::{Duration, UNIX_EPOCH};
use videosdk_token_operator::api::{IssuerKind, IssuerRef, VideoSdkTokenSpec};
use videosdk_token_operator::rules::decision::{Decision, Desired, ResignReason, decide};
use videosdk_token_operator::rules::stored::StoredToken;
use videosdk_token_operator::token::{
    Claim, Claims, Credentials, GoDuration, MIN_RENEW_BEFORE, MIN_RENEWAL_INTERVAL, RenewBefore,
    renewal_time, sign,
};

const SECRET: &str = "property-secret-0123456789abcdef";
const UID: &str = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";

/// The claims a test can change, and the reason that change must give.
const CHANGES: [(&str, ResignReason); 10] = [
    ("apikey", ResignReason::ClaimsMismatch(Claim::ApiKey)),
    (
        "permissions",
        ResignReason::ClaimsMismatch(Claim::Permissions),
    ),
    ("roles", ResignReason::ClaimsMismatch(Claim::Roles)),
    ("roomId", ResignReason::ClaimsMismatch(Claim::RoomId)),
    (
        "participantId",
        ResignReason::ClaimsMismatch(Claim::ParticipantId),
    ),
    ("version", ResignReason::ClaimsMismatch(Claim::Version)),
    ("iat", ResignReason::ClaimsMismatch(Claim::Lifetime)),
    ("exp", ResignReason::ClaimsMismatch(Claim::Lifetime)),
    ("jti", ResignReason::TokenIdMismatch),
    ("nbf", ResignReason::ClaimsMismatch(Claim::Extra)),
];

/// `claims` with claim `name` changed to another value of the same kind.
fn changed(mut claims: Value, name: &str) -> Value {
    let object = claims.as_object_mut().unwrap();
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(|s| format!("{s}x"));
    match name {
        "apikey" => {
            object.insert(name.into(), json!(text(object.get(name))));
        }
        "permissions" => {
            let permissions = object[name].as_array().unwrap().clone();
            let new = if permissions.len() > 1 {
                json!(permissions[..permissions.len() - 1])
            } else if permissions[0] == "allow_mod" {
                json!(["allow_join"])
            } else {
                json!(["allow_mod"])
            };
            object.insert(name.into(), new);
        }
        "roles" => {
            if object.remove(name).is_none() {
                object.insert(name.into(), json!(["rtc"]));
            }
        }
        "roomId" | "participantId" => {
            let new = text(object.get(name)).unwrap_or_else(|| "added".to_owned());
            object.insert(name.into(), json!(new));
        }
        "version" => {
            if object.remove(name).is_none() {
                object.insert(name.into(), json!(2));
            }
        }
        "iat" => {
            let iat = object[name].as_u64().unwrap();
            object.insert(name.into(), json!(iat - 1));
        }
        "exp" => {
            let exp = object[name].as_u64().unwrap();
            object.insert(name.into(), json!(exp + 1));
        }
        "jti" => {
            object.insert(name.into(), json!(uuid::Uuid::new_v4().to_string()));
        }
        "nbf" => {
            let iat = object["iat"].clone();
            object.insert(name.into(), iat);
        }
        other => unreachable!("no change for {other}"),
    }
    claims
}

proptest! {
    /// For any valid spec: sign its token, change one claim, sign that with the issuer's own
    /// secret (as anyone holding it could, with `jsonwebtoken`), store it under the operator's
    /// own records: the decision is always a re-sign, for the reason naming the change.
    #[test]
    fn a_stored_token_with_any_one_claim_changed_is_resigned(
        request in request(),
        change in 0..CHANGES.len(),
        age in 0u64..10,
    ) {
        let credentials = Credentials::new("property-key", SECRET).unwrap();
        let issued = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let signed = sign(&request, &credentials, issued).unwrap();
        let (name, reason) = CHANGES[change];
        // Through `Claims`, so that every unchanged claim is written in the operator's order and
        // only the change differs.
        let claims: Claims =
            serde_json::from_value(changed(serde_json::to_value(&signed.claims).unwrap(), name))
                .unwrap();
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        let spec_hash = request.fingerprint();
        let stored = StoredToken {
            jwt: Some(forged),
            token_id: signed.claims.jti.clone(),
            token_uid: Some(UID.to_owned()),
            spec_hash: Some(spec_hash.clone()),
            credentials_hash: Some(credentials.fingerprint()),
            renew_now_handled: None,
        };
        let desired = Desired {
            request: &request,
            spec_hash: &spec_hash,
            credentials: Some(&credentials),
            renew_now: None,
            renew_now_answered: None,
            recorded_token_id: signed.claims.jti.as_deref(),
            renew_before: RenewBefore::Default,
            uid: UID,
        };
        // Before the earliest renewal (11 s), so that only the change can explain a re-sign.
        let now = issued + Duration::from_secs(age);
        prop_assert_eq!(decide(Some(&stored), &desired, now), Decision::Resign(reason), "{}", name);
        // The token as signed is kept: the change alone made the difference.
        let right = StoredToken { jwt: Some(signed.jwt.clone()), ..stored };
        prop_assert!(
            matches!(decide(Some(&right), &desired, now), Decision::Keep { .. }),
            "the unchanged token must be kept"
        );
    }

    /// For every spec admission accepts (ttl from 2m10s, any renew-before policy that
    /// `RenewBefore::from_spec` accepts with a renew window of at least `MIN_RENEW_BEFORE`),
    /// following the operator's own schedule from a signing time anywhere inside a second, two
    /// re-signs are never closer than the minimum interval: in any window of T seconds there are
    /// at most T / 10 + 1.
    #[test]
    fn no_valid_spec_resigns_more_often_than_the_minimum_interval(
        ttl_ms in prop_oneof![Just(130_000u64), 130_000u64..=3 * 24 * 3_600_000],
        policy in prop_oneof![
            Just((None, None)),
            (1u64..=3 * 24 * 3_600_000).prop_map(|ms| (Some(ms), None)),
            (1i32..=99).prop_map(|p| (None, Some(p))),
        ],
        start_ns in 0u64..1_000_000_000,
        uid in "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    ) {
        let Some((spec, renew_before)) = admitted(ttl_ms, policy) else {
            return Err(TestCaseError::reject("refused at admission"));
        };
        let ttl_secs = ttl_ms / 1000;
        let mut signed_at = UNIX_EPOCH + Duration::new(1_800_000_000, u32::try_from(start_ns).unwrap());
        for _ in 0..20 {
            // What `sign` writes: iat rounded down, exp = iat + ttl in whole seconds.
            let iat = signed_at.duration_since(UNIX_EPOCH).unwrap().as_secs();
            let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
            let next = renewal_time(at(iat), at(iat + ttl_secs), renew_before, &uid).unwrap();
            let gap = next.duration_since(signed_at).unwrap_or_default();
            prop_assert!(
                gap >= MIN_RENEWAL_INTERVAL,
                "{spec:?}: re-signed {gap:?} after the previous signing"
            );
            signed_at = next;
        }
    }

    /// For every spec admission accepts, the token a scheduled re-sign replaces is still valid
    /// at least `MIN_RENEW_BEFORE` (2m) less a second after it (the second `iat` may lose to
    /// rounding, which the renewal floor gives back): the kubelet's time to put its successor
    /// into a mounted file (up to 90 s) is covered.
    #[test]
    fn every_valid_spec_keeps_the_old_token_valid_while_the_kubelet_updates_the_file(
        ttl_ms in prop_oneof![Just(130_000u64), 130_000u64..=3 * 24 * 3_600_000],
        policy in prop_oneof![
            Just((None, None)),
            (Just(120_000u64), 1u64..=3 * 24 * 3_600_000).prop_map(|(a, b)| (Some(a.max(b)), None)),
            (1i32..=99).prop_map(|p| (None, Some(p))),
        ],
        start_ns in 0u64..1_000_000_000,
        uid in "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    ) {
        let Some((_, renew_before)) = admitted(ttl_ms, policy) else {
            return Err(TestCaseError::reject("refused at admission"));
        };
        let signed_at = UNIX_EPOCH + Duration::new(1_800_000_000, u32::try_from(start_ns).unwrap());
        let iat = signed_at.duration_since(UNIX_EPOCH).unwrap().as_secs();
        let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
        let exp = at(iat + ttl_ms / 1000);
        let next = renewal_time(at(iat), exp, renew_before, &uid).unwrap();
        let left = exp.duration_since(next).unwrap();
        prop_assert!(
            left >= MIN_RENEW_BEFORE - Duration::from_secs(1),
            "{renew_before:?}, ttl {ttl_ms} ms: the old token expires {left:?} after its re-sign"
        );
    }
}

/// The spec of `ttl_ms` and `policy` (renewBefore in ms, renewBeforePercentage) and its renew
/// policy, when admission and the operator accept it: `RenewBefore::from_spec` and a renew
/// window of at least `MIN_RENEW_BEFORE`.
fn admitted(
    ttl_ms: u64,
    policy: (Option<u64>, Option<i32>),
) -> Option<(VideoSdkTokenSpec, RenewBefore)> {
    let go = |ms: u64| GoDuration::from_nanos(i64::try_from(ms * 1_000_000).unwrap()).to_string();
    let spec = VideoSdkTokenSpec {
        issuer_ref: IssuerRef {
            name: "issuer".into(),
            kind: IssuerKind::VideoSdkIssuer,
        },
        permissions: vec![videosdk_token_operator::api::Permission::AllowJoin],
        roles: None,
        room_id: None,
        participant_id: None,
        ttl: go(ttl_ms),
        renew_before: policy.0.filter(|ms| *ms < ttl_ms).map(go),
        renew_before_percentage: policy.1,
        secret_name: None,
        secret_template: None,
        rollout_restart_targets: vec![],
    };
    let renew_before = RenewBefore::from_spec(&spec).ok()?;
    // Whole seconds, as `sign` writes exp.
    let ttl = Duration::from_secs(ttl_ms / 1000);
    renew_before.check_window(ttl, MIN_RENEW_BEFORE).ok()?;
    Some((spec, renew_before))
}
