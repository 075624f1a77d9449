//! Signing: every valid token spec signs into a JWT that reads back (without the secret),
//! verifies (with it) and inspects as exactly the claims that were asked for.

use proptest::prelude::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use uuid::{Uuid, Variant, Version};
use videosdk_token_operator::api::{Permission, Role};
use videosdk_token_operator::cli::inspect::{Signature, inspect};
use videosdk_token_operator::token::{
    self, Credentials, TokenRequest, VerifyError, decode_unverified, sign, verify,
};

/// The longest ttl a request may have (a year, 8760h), in seconds: the longest generated.
const LONGEST: u64 = token::TTL_LIMIT.as_secs();

/// A claim value: 1–256 characters of any kind but control characters, which a spec may not
/// hold (unicode, quotes, backslashes).
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<char>(), 1..=256),
        "[a-z0-9-]{1,16}".prop_map(|s| s.chars().collect()),
    ]
    .prop_map(|chars| {
        chars
            .into_iter()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect()
    })
}

/// A valid request: a non-empty set of permissions and a set of roles, each in any order, and
/// optional room and participant ids; a ttl from 1 minute to a year (`token::TTL_LIMIT`), not
/// always whole seconds.
pub(crate) fn request() -> impl Strategy<Value = TokenRequest> {
    (
        prop::sample::subsequence(Permission::ALL.to_vec(), 1..=Permission::ALL.len())
            .prop_shuffle(),
        prop::sample::subsequence(Role::ALL.to_vec(), 0..=Role::ALL.len()).prop_shuffle(),
        prop::option::of(id()),
        prop::option::of(id()),
        prop_oneof![
            Just((60u64, 0u32)),
            Just((LONGEST, 0)),
            (60u64..LONGEST, prop_oneof![Just(0u32), 0u32..1_000_000_000]),
        ],
    )
        .prop_map(
            |(permissions, roles, room_id, participant_id, (secs, nanos))| TokenRequest {
                permissions,
                roles,
                room_id,
                participant_id,
                ttl: Duration::new(secs, nanos),
            },
        )
}

/// An API key or secret as the issuer's Secret may hold it: any non-empty text without
/// surrounding whitespace.
fn credential() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<char>(), 1..80).prop_map(String::from_iter),
        "[0-9a-f]{64}",
    ]
    .prop_filter("no surrounding whitespace", |s| {
        !s.is_empty() && s.trim() == s
    })
}

/// HMAC pads a key shorter than its block with zero bytes, so secrets that differ only in
/// trailing NULs are the same key (a property of HS256, not of this operator).
fn same_hmac_key(a: &str, b: &str) -> bool {
    a.trim_end_matches('\0') == b.trim_end_matches('\0')
}

/// Issuance times from 1970 to beyond 2100, not always on a second.
fn now() -> impl Strategy<Value = SystemTime> {
    (0u64..5_000_000_000, 0u32..1_000_000_000)
        .prop_map(|(secs, nanos)| UNIX_EPOCH + Duration::new(secs, nanos))
}

proptest! {
    /// Users rely on the token in their Secret granting exactly what their `VideoSdkToken` asks
    /// for and nothing else, and on it verifying with their secret only: for every valid spec
    /// and credentials, the signed JWT reads back to the same claims; those claims are the
    /// request's (permissions and roles in the order given, `version: 2` exactly when a v2 claim
    /// is present, `exp − iat` the ttl in whole seconds, `iat` the issuance second, a UUID v4
    /// `jti`, no other claims); it verifies with the secret at issuance and fails with
    /// `BadSignature` under any other secret; and `inspect` reports it valid.
    #[test]
    fn sign_then_inspect_round_trips(
        request in request(),
        api_key in credential(),
        secret in credential(),
        other_secret in credential(),
        now in now(),
    ) {
        let credentials = Credentials::new(api_key.clone(), secret.clone()).expect("valid credentials");
        let signed = sign(&request, &credentials, now).expect("a valid request signs");

        let decoded = decode_unverified(&signed.jwt).expect("a signed token reads back");
        prop_assert_eq!(&decoded.claims, &signed.claims);
        prop_assert_eq!(decoded.header.alg.as_str(), "HS256");
        prop_assert_eq!(decoded.header.typ.as_deref(), Some("JWT"));

        let claims = &decoded.claims;
        let iat = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
        prop_assert_eq!(&claims.apikey, &api_key);
        prop_assert_eq!(
            claims.permissions.iter().map(String::as_str).collect::<Vec<_>>(),
            request.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>()
        );
        let roles: Vec<&str> = request.roles.iter().map(|r| r.as_str()).collect();
        prop_assert_eq!(
            claims.roles.as_ref().map(|r| r.iter().map(String::as_str).collect::<Vec<_>>()),
            (!roles.is_empty()).then_some(roles)
        );
        prop_assert_eq!(&claims.room_id, &request.room_id);
        prop_assert_eq!(&claims.participant_id, &request.participant_id);
        let v2 = !request.roles.is_empty() || request.room_id.is_some() || request.participant_id.is_some();
        prop_assert_eq!(claims.version, v2.then_some(2));
        prop_assert_eq!(claims.iat, iat);
        prop_assert_eq!(claims.exp - claims.iat, request.ttl.as_secs());
        prop_assert!(claims.other.is_empty(), "{:?}", claims.other);
        let jti = claims.jti.as_deref().expect("a jti");
        let id = Uuid::parse_str(jti).expect("the jti is a UUID");
        prop_assert_eq!(id, signed.id);
        prop_assert_eq!(id.get_version(), Some(Version::Random));
        prop_assert_eq!(id.get_variant(), Variant::RFC4122);
        prop_assert_eq!(jti, id.hyphenated().to_string());

        prop_assert_eq!(verify(&signed.jwt, &secret, now), Ok(signed.claims.clone()));
        if !same_hmac_key(&secret, &other_secret) {
            prop_assert_eq!(verify(&signed.jwt, &other_secret, now), Err(VerifyError::BadSignature));
            let report = inspect(&signed.jwt, Some(&other_secret), now).expect("a token");
            prop_assert!(!report.is_valid());
            prop_assert!(matches!(report.signature, Signature::Invalid(_)), "{:?}", report.signature);
        }

        let report = inspect(&signed.jwt, Some(&secret), now).expect("a token");
        prop_assert!(report.is_valid(), "{:?}", report);
        prop_assert_eq!(&report.signature, &Signature::Valid);
        prop_assert_eq!(&report.decoded.claims, &signed.claims);
        prop_assert_eq!(report.expires_in, request.ttl.as_secs() as i64);
        prop_assert_eq!(report.issued_ago, 0);
    }
}
