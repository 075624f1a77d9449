//! Whether a stored token is exactly the one the operator would issue for a request: the check
//! that lets the operator trust nothing it finds in a Secret.
//!
//! Signing is deterministic but for the issue time and the token id, so the token the operator
//! would have issued at the stored `iat` with the stored `jti` can be built again and compared
//! byte for byte. That one comparison covers every claim (`apikey`, `permissions`, `roles`,
//! `roomId`, `participantId`, `version`), the lifetime (`exp − iat` = ttl), the header, the
//! encoding and the signature, and so also the kinds of difference nobody listed. Only when the
//! bytes differ is the token taken apart, to say *which* part differs.
//!
//! What depends on the time (expired, issued in the future) and on the operator's records (the
//! `jti` it wrote down) is the caller's to check: this module is time-free.

use super::claims::{Claims, TokenRequest};
use super::credentials::Credentials;
use super::signing::{DecodeError, HEADER_B64, check_signature, decode_unverified, expected_jwt};
use std::fmt;
use uuid::Uuid;

/// A claim (or the header) of a stored token that is not what the operator would issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Claim {
    /// The JOSE header is not exactly `{"typ":"JWT","alg":"HS256"}`.
    Header,
    /// `apikey` is not the issuer's API key.
    ApiKey,
    /// `permissions` differ from `spec.permissions` (in content or order).
    Permissions,
    /// `roles` differ from `spec.roles`.
    Roles,
    /// `roomId` differs from `spec.roomId`.
    RoomId,
    /// `participantId` differs from `spec.participantId`.
    ParticipantId,
    /// `version` is not `2` exactly when a v2 claim is set.
    Version,
    /// `exp − iat` is not `spec.ttl` (in whole seconds).
    Lifetime,
    /// `jti` is missing or not a lowercase hyphenated UUID v4, as the operator writes it.
    TokenId,
    /// Claims the operator never writes (`nbf`, `sub`, ...).
    Extra,
    /// The same claims, written with other bytes (key order, spacing, escapes).
    Encoding,
}

impl Claim {
    /// The claim's name as it appears in the token (or a short phrase for the rest).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Claim::Header => "header",
            Claim::ApiKey => "apikey",
            Claim::Permissions => "permissions",
            Claim::Roles => "roles",
            Claim::RoomId => "roomId",
            Claim::ParticipantId => "participantId",
            Claim::Version => "version",
            Claim::Lifetime => "exp − iat (lifetime)",
            Claim::TokenId => "jti",
            Claim::Extra => "extra claims",
            Claim::Encoding => "encoding",
        }
    }
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a stored token differs from the one the operator would issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Difference {
    /// Whitespace before or after the compact JWT.
    SurroundingWhitespace,
    /// Not a readable JWT at all.
    Unreadable,
    /// Another algorithm, or a signature that does not verify with the issuer's secret.
    Signature,
    /// Signed with the issuer's secret, but this claim is not what the request asks for.
    Claim(Claim),
}

/// Compares `jwt` with the token [`super::sign`] would issue for `request` with `credentials`
/// at the stored `iat` with the stored `jti`. Returns the stored claims when the two are the
/// same bytes; otherwise the first difference, in this order: whitespace, readability,
/// signature, then the claims in [`Claim`]'s order.
pub(crate) fn compare(
    jwt: &str,
    request: &TokenRequest,
    credentials: &Credentials,
) -> Result<Claims, Difference> {
    let decoded = decode(jwt)?;
    let claims = decoded.claims;
    let jti = canonical_jti(&claims);
    if let Some(jti) = jti
        && expected_jwt(request, credentials, claims.iat, jti).is_ok_and(|want| want == jwt)
    {
        return Ok(claims);
    }
    check_signature(jwt, &decoded.header, credentials.secret())
        .map_err(|_| Difference::Signature)?;
    if !jwt.starts_with(HEADER_B64) || jwt.as_bytes().get(HEADER_B64.len()) != Some(&b'.') {
        return Err(Difference::Claim(Claim::Header));
    }
    let want = Claims::for_request(
        request,
        credentials.api_key(),
        claims.iat,
        jti.unwrap_or_default().to_owned(),
    );
    Err(Difference::Claim(first_difference(
        &claims,
        want.as_ref(),
        jti.is_some(),
    )))
}

/// Compares the claims of `jwt` with those [`super::sign`] would issue for `request` at the
/// stored `iat` with the stored `jti`, taking the stored `apikey` as the issuer's: [`compare`]
/// for a reader without the issuer's secret (`status`), which cannot check the signature, the
/// header's bytes or which API key signed. Returns the stored claims when every claim is the
/// asked one; otherwise the first difference, in [`Claim`]'s order.
pub(crate) fn compare_claims(jwt: &str, request: &TokenRequest) -> Result<Claims, Difference> {
    let claims = decode(jwt)?.claims;
    let jti = canonical_jti(&claims);
    let want = Claims::for_request(
        request,
        &claims.apikey,
        claims.iat,
        jti.unwrap_or_default().to_owned(),
    );
    match first_difference(&claims, want.as_ref(), jti.is_some()) {
        Claim::Encoding => Ok(claims),
        claim => Err(Difference::Claim(claim)),
    }
}

/// `jwt` decoded without its signature checked, or why it cannot be.
fn decode(jwt: &str) -> Result<super::signing::DecodedToken, Difference> {
    decode_unverified(jwt).map_err(|error| match error {
        DecodeError::SurroundingWhitespace { .. } => Difference::SurroundingWhitespace,
        _ => Difference::Unreadable,
    })
}

/// The `jti` of `claims` when it is written as the operator writes token ids.
fn canonical_jti(claims: &Claims) -> Option<&str> {
    claims
        .jti
        .as_deref()
        .filter(|jti| is_canonical_uuid_v4(jti))
}

/// The first claim in which `have` differs from `want` (`None`: `iat + ttl` overflows, so the
/// lifetime cannot be the asked one).
fn first_difference(have: &Claims, want: Option<&Claims>, jti_ok: bool) -> Claim {
    let Some(want) = want else {
        return Claim::Lifetime;
    };
    let checks = [
        (Claim::ApiKey, have.apikey == want.apikey),
        (Claim::Permissions, have.permissions == want.permissions),
        (Claim::Roles, have.roles == want.roles),
        (Claim::RoomId, have.room_id == want.room_id),
        (
            Claim::ParticipantId,
            have.participant_id == want.participant_id,
        ),
        (Claim::Version, have.version == want.version),
        (Claim::Lifetime, have.exp == want.exp),
        (Claim::TokenId, jti_ok),
        (Claim::Extra, have.other.is_empty()),
    ];
    checks
        .into_iter()
        .find_map(|(claim, same)| (!same).then_some(claim))
        .unwrap_or(Claim::Encoding)
}

/// Whether `jti` is written as the operator writes token ids: a UUID v4, lowercase, hyphenated.
fn is_canonical_uuid_v4(jti: &str) -> bool {
    Uuid::try_parse(jti).is_ok_and(|id| {
        id.get_version_num() == 4 && id.hyphenated().encode_lower(&mut Uuid::encode_buffer()) == jti
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Permission, Role};
    use crate::token::sign;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::{Value, json};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    const SECRET: &str = "secret-0123456789abcdef";

    fn credentials() -> Credentials {
        Credentials::new("test-key-1", SECRET).unwrap()
    }

    fn participant() -> TokenRequest {
        TokenRequest {
            permissions: vec![Permission::AllowJoin],
            roles: vec![Role::Rtc],
            room_id: Some("abcd-efgh-ijkl".to_owned()),
            participant_id: None,
            ttl: Duration::from_secs(3600),
        }
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    /// The claims of `jwt` as JSON.
    fn claims_of(jwt: &str) -> Value {
        let segment = jwt.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
    }

    /// `claims` signed with the issuer's secret by `jsonwebtoken`, as another tool would.
    fn signed_elsewhere(claims: &Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn the_token_the_operator_issued_is_exact() {
        let token = sign(&participant(), &credentials(), now()).unwrap();
        assert_eq!(
            compare(&token.jwt, &participant(), &credentials()),
            Ok(token.claims)
        );
    }

    #[test]
    fn another_valid_token_of_the_same_issuer_names_the_claim() {
        let moderator = TokenRequest {
            permissions: vec![Permission::AllowJoin, Permission::AllowMod],
            roles: vec![],
            room_id: None,
            participant_id: None,
            ttl: Duration::from_secs(3600),
        };
        let copied = sign(&moderator, &credentials(), now()).unwrap();
        assert_eq!(
            compare(&copied.jwt, &participant(), &credentials()),
            Err(Difference::Claim(Claim::Permissions))
        );
        // `sign --permissions allow_mod --ttl 8760h`, also with the right roles and room.
        let mut year = participant();
        year.ttl = Duration::from_secs(8760 * 3600);
        let long = sign(&year, &credentials(), now()).unwrap();
        assert_eq!(
            compare(&long.jwt, &participant(), &credentials()),
            Err(Difference::Claim(Claim::Lifetime))
        );
    }

    #[test]
    fn each_changed_claim_is_named() {
        let token = sign(&participant(), &credentials(), now()).unwrap();
        let cases: [(&str, Value, Claim); 10] = [
            ("apikey", json!("test-key-2"), Claim::ApiKey),
            ("permissions", json!(["allow_mod"]), Claim::Permissions),
            ("roles", json!(["crawler"]), Claim::Roles),
            ("roomId", json!("other-room"), Claim::RoomId),
            ("participantId", json!("alice"), Claim::ParticipantId),
            ("version", json!(3), Claim::Version),
            ("exp", json!(1_800_000_000u64 + 7200), Claim::Lifetime),
            ("jti", json!("not-a-uuid"), Claim::TokenId),
            ("nbf", json!(1_800_000_000u64), Claim::Extra),
            ("iat", json!(1_800_000_000u64 - 60), Claim::Lifetime),
        ];
        for (name, value, claim) in cases {
            let mut claims = claims_of(&token.jwt);
            claims[name] = value;
            assert_eq!(
                compare(&signed_elsewhere(&claims), &participant(), &credentials()),
                Err(Difference::Claim(claim)),
                "{name}"
            );
        }
    }

    #[test]
    fn without_the_secret_the_claims_are_compared_and_the_signature_is_not() {
        let token = sign(&participant(), &credentials(), now()).unwrap();
        assert_eq!(compare_claims(&token.jwt, &participant()), Ok(token.claims));
        let mut other = participant();
        other.permissions.push(Permission::AllowMod);
        assert_eq!(
            compare_claims(&token.jwt, &other),
            Err(Difference::Claim(Claim::Permissions))
        );
        // Another tool's bytes and signature: the same claims are the same, which only
        // `compare`, with the secret, tells apart.
        let elsewhere = signed_elsewhere(&claims_of(&token.jwt));
        assert!(compare_claims(&elsewhere, &participant()).is_ok());
        assert_eq!(
            compare_claims(&format!(" {}", token.jwt), &participant()),
            Err(Difference::SurroundingWhitespace)
        );
    }

    #[test]
    fn the_same_claims_in_other_bytes_are_not_exact() {
        let token = sign(&participant(), &credentials(), now()).unwrap();
        // Same claims and key, but jsonwebtoken's header and serde_json's key order for a Value.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".to_owned());
        let with_kid = jsonwebtoken::encode(
            &header,
            &token.claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_eq!(
            compare(&with_kid, &participant(), &credentials()),
            Err(Difference::Claim(Claim::Header))
        );
        let reordered = signed_elsewhere(&claims_of(&token.jwt));
        assert_ne!(reordered, token.jwt);
        assert_eq!(
            compare(&reordered, &participant(), &credentials()),
            Err(Difference::Claim(Claim::Encoding))
        );
    }

    #[test]
    fn whitespace_garbage_and_foreign_signatures_are_told_apart() {
        let token = sign(&participant(), &credentials(), now()).unwrap();
        for padded in [format!("{}\n", token.jwt), format!("  {}\r\n", token.jwt)] {
            assert_eq!(
                compare(&padded, &participant(), &credentials()),
                Err(Difference::SurroundingWhitespace)
            );
        }
        for garbage in ["", "not a jwt", "a.b.c", &format!("{}=", token.jwt)] {
            assert!(
                matches!(
                    compare(garbage, &participant(), &credentials()),
                    Err(Difference::Unreadable | Difference::Signature)
                ),
                "{garbage:?}"
            );
        }
        let other = Credentials::new("test-key-1", "another-secret-000000").unwrap();
        let foreign = sign(&participant(), &other, now()).unwrap();
        assert_eq!(
            compare(&foreign.jwt, &participant(), &credentials()),
            Err(Difference::Signature)
        );
    }
}
