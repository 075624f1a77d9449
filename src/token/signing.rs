//! Signing tokens (HS256, encoded here on aws-lc-rs's HMAC), reading them back without the
//! secret, and verifying them with it (with `jsonwebtoken`).

use super::claims::{Claims, TokenRequest};
use super::credentials::Credentials;
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::cell::RefCell;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// The only algorithm VideoSDK tokens use.
const ALGORITHM: &str = "HS256";

/// Why a token could not be signed. Never contains the secret.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The request breaks a rule (see [`TokenRequest::validate`]).
    #[error(transparent)]
    InvalidRequest(#[from] super::claims::RequestError),
    /// The clock reads before 1970, so `iat` cannot be written.
    #[error("the system clock reads before 1970-01-01; fix the clock")]
    ClockBeforeEpoch,
    /// The random number generator failed, so no token id could be drawn.
    #[error("the system's random number generator failed; cannot draw a token id")]
    RandomUnavailable,
    /// `iat + ttl` does not fit in the `exp` claim.
    #[error(
        "the token's expiry (now + ttl) is too far in the future to be written; use a shorter ttl"
    )]
    ExpiryOverflow,
    /// The claims could not be serialized to JSON (not expected: they are strings, string
    /// lists and integers).
    #[error("signing the token failed: its claims could not be written as JSON: {0}")]
    Encoding(#[source] serde_json::Error),
}

/// A freshly signed token.
///
/// `Debug` leaves the JWT out: a token grants access to meetings until it expires, so it must
/// not end up in logs.
#[derive(Clone, PartialEq)]
pub struct SignedToken {
    /// The compact JWT (`header.claims.signature`), what pods read from the Secret.
    pub jwt: String,
    /// The claims inside it.
    pub claims: Claims,
    /// The token id, also in `claims.jti`.
    pub id: Uuid,
}

impl fmt::Debug for SignedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedToken")
            .field("jwt", &format_args!("<redacted>"))
            .field("claims", &self.claims)
            .field("id", &self.id)
            .finish()
    }
}

/// `{"typ":"JWT","alg":"HS256"}` in unpadded base64url: the first segment of every token,
/// encoded once rather than serialized and encoded per token.
pub(super) const HEADER_B64: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9";

/// Length of an HMAC-SHA256 tag (32 bytes) in unpadded base64url.
const SIGNATURE_B64_LEN: usize = 43;

/// Signs `request` with `credentials` as issued at `now` (rounded down to the second):
/// `iat = now`, `exp = iat + ttl` (in whole seconds), a new random `jti`, header
/// `{"typ":"JWT","alg":"HS256"}`.
///
/// The `jti` is a UUID v4 drawn from aws-lc-rs's CSPRNG, the generator that also keys TLS here,
/// rather than from a system call per token (and in batches, see `IdPool`).
///
/// The JWT is assembled here rather than by `jsonwebtoken::encode`, for speed: that builds the
/// HMAC key from the secret again on every call and allocates a buffer per segment and per
/// join. Here the key is built once per [`Credentials`], the header is a constant, and the
/// claims go through one pre-sized JSON buffer into one pre-sized `String` (see
/// `benches/sign.rs`). Tokens are still *verified* by `jsonwebtoken` ([`verify`]), so every
/// sign-then-verify test cross-checks this encoder against an independent implementation.
pub fn sign(
    request: &TokenRequest,
    credentials: &Credentials,
    now: SystemTime,
) -> Result<SignedToken, SignError> {
    sign_with_id(request, credentials, now, new_token_id()?)
}

/// A fresh token id (UUID v4) from aws-lc-rs's CSPRNG, as [`sign`] draws it.
///
/// Errors: [`SignError::RandomUnavailable`] when the generator fails.
pub(crate) fn new_token_id() -> Result<Uuid, SignError> {
    random_id()
}

/// [`sign`] with the token id given: deterministic for the same inputs, so that a caller that
/// draws the id first ([`new_token_id`]) can decide in a pure function what it will write.
pub(crate) fn sign_with_id(
    request: &TokenRequest,
    credentials: &Credentials,
    now: SystemTime,
    id: Uuid,
) -> Result<SignedToken, SignError> {
    request.validate()?;
    let iat = now
        .duration_since(UNIX_EPOCH)
        .map_err(|_| SignError::ClockBeforeEpoch)?
        .as_secs();
    // Formatted on the stack, without `Display`'s formatting machinery; one allocation for the
    // claim itself.
    let mut jti = Uuid::encode_buffer();
    let jti: &str = id.hyphenated().encode_lower(&mut jti);
    let (jwt, claims) = encode_request(request, credentials, iat, jti)?;
    Ok(SignedToken { jwt, claims, id })
}

/// The exact compact JWT that [`sign`] issues for `request` and `credentials` at `iat` (Unix
/// seconds) with token id `jti`: signing is deterministic but for the time and the id, so this
/// is what a token the operator stored must be, byte for byte (see [`super::compare`]).
///
/// Errors: [`SignError::ExpiryOverflow`] when `iat + ttl` does not fit in Unix seconds.
pub(crate) fn expected_jwt(
    request: &TokenRequest,
    credentials: &Credentials,
    iat: u64,
    jti: &str,
) -> Result<String, SignError> {
    encode_request(request, credentials, iat, jti).map(|(jwt, _)| jwt)
}

/// The claims of `request` at `iat` with id `jti`, and their JWT.
fn encode_request(
    request: &TokenRequest,
    credentials: &Credentials,
    iat: u64,
    jti: &str,
) -> Result<(String, Claims), SignError> {
    let claims = Claims::for_request(request, credentials.api_key(), iat, jti.to_owned())
        .ok_or(SignError::ExpiryOverflow)?;
    let jwt = encode_jwt(&claims, credentials.signing_key()).map_err(SignError::Encoding)?;
    Ok((jwt, claims))
}

/// How many token ids [`IdPool`] draws from the CSPRNG at once.
const ID_POOL_IDS: usize = 32;

/// Random bytes for token ids, drawn from aws-lc-rs's CSPRNG [`ID_POOL_IDS`] ids at a time, per
/// thread.
///
/// For speed: each `RAND_bytes` call costs about as much as the HMAC of a whole token, almost
/// whatever its length (on x86-64 it mixes RDRAND output into the DRBG on every call, for
/// prediction resistance), which made one call per token the largest cost of [`sign`] after
/// the HMAC. The ids are the CSPRNG's output all the same, only fetched ahead. Fetching ahead is
/// harmless here: a `jti` is not secret (anyone holding the token reads it). The one thing
/// a pool would break is a process that forks and signs tokens in both parent and child (they
/// would issue the same ids); the operator never forks without exec.
struct IdPool {
    bytes: [u8; ID_POOL_IDS * 16],
    /// How many bytes of `bytes` have been handed out; all of them when empty.
    used: usize,
}

thread_local! {
    static ID_POOL: RefCell<IdPool> = const {
        RefCell::new(IdPool {
            bytes: [0; ID_POOL_IDS * 16],
            used: ID_POOL_IDS * 16,
        })
    };
}

/// A fresh UUID v4 from [`IdPool`].
fn random_id() -> Result<Uuid, SignError> {
    ID_POOL.with_borrow_mut(|pool| {
        if pool.used == pool.bytes.len() {
            // On failure the pool stays empty, so the next call tries again.
            aws_lc_rs::rand::fill(&mut pool.bytes).map_err(|_| SignError::RandomUnavailable)?;
            pool.used = 0;
        }
        let mut random = [0u8; 16];
        random.copy_from_slice(&pool.bytes[pool.used..pool.used + 16]);
        pool.used += 16;
        Ok(uuid::Builder::from_random_bytes(random).into_uuid())
    })
}

/// The compact serialization of an HS256 JWT with `claims`: base64url(header) "."
/// base64url(claims JSON) "." base64url(HMAC-SHA256 of the two), all without padding.
fn encode_jwt(claims: &Claims, key: &hmac::Key) -> Result<String, serde_json::Error> {
    let mut json = Vec::with_capacity(claims_json_len_hint(claims));
    serde_json::to_writer(&mut json, claims)?;
    // Unpadded base64 of n bytes is at most 4 * ceil(n / 3) characters.
    let claims_b64_len = 4 * json.len().div_ceil(3);
    let mut jwt =
        String::with_capacity(HEADER_B64.len() + 1 + claims_b64_len + 1 + SIGNATURE_B64_LEN);
    jwt.push_str(HEADER_B64);
    jwt.push('.');
    URL_SAFE_NO_PAD.encode_string(&json, &mut jwt);
    let signature = hmac::sign(key, jwt.as_bytes());
    jwt.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut jwt);
    Ok(jwt)
}

/// Enough bytes for the JSON of `claims` as this operator signs them (only strings that need
/// no escaping, no `other` claims), so that serializing does not grow the buffer. Anything
/// longer still serializes correctly, with a reallocation.
fn claims_json_len_hint(claims: &Claims) -> usize {
    // Every claim name, quote, bracket and separator, two 20-digit integers, `version`, a
    // 36-character `jti`: 183 bytes.
    const FIXED: usize = 192;
    // Two quotes and a comma around each listed name.
    let list = |names: &[String]| names.iter().map(|name| name.len() + 3).sum::<usize>();
    FIXED
        + claims.apikey.len()
        + list(&claims.permissions)
        + claims.roles.as_deref().map_or(0, list)
        + claims.room_id.as_deref().map_or(0, str::len)
        + claims.participant_id.as_deref().map_or(0, str::len)
}

/// The JOSE header of a token, as read without verifying it. Unknown header fields (`kid`, ...)
/// are ignored; `alg` is kept as written so that a token with another algorithm can be named in
/// an error rather than refused as unreadable.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TokenHeader {
    /// The signing algorithm; `HS256` for VideoSDK tokens.
    pub alg: String,
    /// The token type, `JWT` when set.
    #[serde(default)]
    pub typ: Option<String>,
}

/// A token's header and claims, read without checking the signature.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedToken {
    /// The JOSE header.
    pub header: TokenHeader,
    /// The claims.
    pub claims: Claims,
}

/// The part of a JWT that could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPart {
    /// The first segment.
    Header,
    /// The second segment.
    Claims,
    /// The third segment.
    Signature,
}

impl fmt::Display for TokenPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenPart::Header => "header",
            TokenPart::Claims => "claims",
            TokenPart::Signature => "signature",
        })
    }
}

/// Why a string is not a readable token. Messages describe the problem without quoting the
/// token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Whitespace before or after the token (a newline from `echo`, a `\r\n` from an editor).
    /// A token is exactly `header.claims.signature` (RFC 7519 §7.2, RFC 7515 §7.1: the compact
    /// serialization has no whitespace); consumers that compare or split it byte-wise break.
    #[error(
        "the token has whitespace around it ({leading} byte(s) before, {trailing} after): a compact JWT is exactly header.claims.signature"
    )]
    SurroundingWhitespace {
        /// Whitespace bytes before the token.
        leading: usize,
        /// Whitespace bytes after the token.
        trailing: usize,
    },
    /// Not three dot-separated segments.
    #[error(
        "not a JWT: expected three base64url segments separated by dots (header.claims.signature), found {segments} segment(s)"
    )]
    NotAJwt {
        /// How many dot-separated segments there were.
        segments: usize,
    },
    /// A segment is not unpadded base64url.
    #[error("the token's {part} is not valid base64url (without padding)")]
    Base64 {
        /// Which segment.
        part: TokenPart,
    },
    /// The header or claims are not the JSON expected.
    #[error("the token's {part} is not the expected JSON: {reason}")]
    Json {
        /// Which segment.
        part: TokenPart,
        /// What the JSON parser said (it names fields, never the token).
        reason: String,
    },
}

/// Reads a token's header and claims without the secret, for `inspect` and for the operator to
/// read back what it stored in a Secret. Checks the shape only: anyone can forge what this
/// returns, so decisions that grant access must use [`verify`]. Only the exact compact form is
/// read: whitespace around the token is [`DecodeError::SurroundingWhitespace`] (callers that
/// read from a terminal strip it themselves, and say so).
pub fn decode_unverified(jwt: &str) -> Result<DecodedToken, DecodeError> {
    let trimmed = jwt.trim();
    if trimmed.len() != jwt.len() {
        let leading = jwt.len() - jwt.trim_start().len();
        return Err(DecodeError::SurroundingWhitespace {
            leading,
            trailing: jwt.len() - trimmed.len() - leading,
        });
    }
    let segments: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = segments[..] else {
        return Err(DecodeError::NotAJwt {
            segments: segments.len(),
        });
    };
    if URL_SAFE_NO_PAD.decode(signature).is_err() {
        return Err(DecodeError::Base64 {
            part: TokenPart::Signature,
        });
    }
    Ok(DecodedToken {
        header: decode_part(header, TokenPart::Header)?,
        claims: decode_part(claims, TokenPart::Claims)?,
    })
}

fn decode_part<T: for<'de> Deserialize<'de>>(
    segment: &str,
    part: TokenPart,
) -> Result<T, DecodeError> {
    let json = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| DecodeError::Base64 { part })?;
    serde_json::from_slice(&json).map_err(|err| DecodeError::Json {
        part,
        reason: err.to_string(),
    })
}

/// Why a token failed verification. Messages never contain the token or the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a readable JWT.
    #[error(transparent)]
    Malformed(#[from] DecodeError),
    /// Signed with another algorithm than HS256 (including `none`).
    #[error("the token is signed with {found:?}, but VideoSDK tokens must use HS256")]
    WrongAlgorithm {
        /// The header's `alg`.
        found: String,
    },
    /// The signature does not match: another secret signed it, or it was altered.
    #[error(
        "the token's signature does not match this secret: it was signed with another secret or altered"
    )]
    BadSignature,
    /// `jsonwebtoken` refused the token for a reason not listed above.
    #[error("the token could not be verified: {reason}")]
    Unverifiable {
        /// What `jsonwebtoken` said (it names the problem, never the token or key).
        reason: String,
    },
    /// Expired (`exp` is not after now).
    #[error("the token expired at {exp} (Unix seconds); now is {now}")]
    Expired {
        /// The `exp` claim.
        exp: u64,
        /// The time of the check, in Unix seconds.
        now: u64,
    },
    /// Not valid yet: `iat` or `nbf` is more than [`CLOCK_SKEW`] after now.
    #[error(
        "the token is not valid yet: its {claim} is {at} (Unix seconds), {ahead}s after now ({now}), more than the {skew}s allowed for clock skew",
        ahead = at - now,
        skew = CLOCK_SKEW.as_secs()
    )]
    NotYetValid {
        /// `iat` or `nbf`.
        claim: &'static str,
        /// The claim's value.
        at: u64,
        /// The time of the check, in Unix seconds.
        now: u64,
    },
}

/// How far in the future a token's `iat` or `nbf` may lie and still count as valid: the clocks
/// of the machine that signed it and of the one that checks it may differ by this much. 60 s,
/// the leeway Kubernetes allows for its own ServiceAccount JWTs (`NotBefore`/`IssuedAt`, see
/// `pkg/serviceaccount/claims.go`).
pub(crate) const CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(60);

/// The first of `iat` and `nbf` that lies more than [`CLOCK_SKEW`] after `now` (Unix seconds).
pub(crate) fn not_yet_valid(claims: &Claims, now: u64) -> Option<VerifyError> {
    let nbf = claims.other.get("nbf").and_then(serde_json::Value::as_u64);
    [("iat", Some(claims.iat)), ("nbf", nbf)]
        .into_iter()
        .find_map(|(claim, at)| {
            at.filter(|at| *at > now.saturating_add(CLOCK_SKEW.as_secs()))
                .map(|at| VerifyError::NotYetValid { claim, at, now })
        })
}

/// Verifies `jwt` against the API `secret` as of `now`: well-formed, HS256, signature matches,
/// not expired (`now < exp`, no leeway: the operator renews long before expiry, so a token this
/// close to `exp` is not one it should keep), and not issued in the future (`iat`, and `nbf` when
/// present, at most [`CLOCK_SKEW`] after now). Returns the claims when all hold.
pub fn verify(jwt: &str, secret: &str, now: SystemTime) -> Result<Claims, VerifyError> {
    let decoded = decode_unverified(jwt)?;
    check_signature(jwt, &decoded.header, secret)?;
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if decoded.claims.exp <= now {
        return Err(VerifyError::Expired {
            exp: decoded.claims.exp,
            now,
        });
    }
    if let Some(error) = not_yet_valid(&decoded.claims, now) {
        return Err(error);
    }
    Ok(decoded.claims)
}

/// Checks only that `jwt` (whose header is `header`) is HS256 and signed with `secret`, with
/// `jsonwebtoken`.
pub(super) fn check_signature(
    jwt: &str,
    header: &TokenHeader,
    secret: &str,
) -> Result<(), VerifyError> {
    if header.alg != ALGORITHM {
        return Err(VerifyError::WrongAlgorithm {
            found: header.alg.clone(),
        });
    }
    // The signature only; expiry is checked below against the caller's `now` rather than the
    // wall clock `jsonwebtoken` would read.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<serde::de::IgnoredAny>(
        jwt,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map(|_| ())
    .map_err(|err| match err.kind() {
        ErrorKind::InvalidSignature => VerifyError::BadSignature,
        ErrorKind::Json(err) => VerifyError::Malformed(DecodeError::Json {
            part: TokenPart::Header,
            reason: err.to_string(),
        }),
        _ => VerifyError::Unverifiable {
            reason: err.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Permission, Role};
    use crate::token::claims::RequestError;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{Value, json};
    use std::time::Duration;

    const API_KEY: &str = "b7e9c5a1-3f2d-4c6b-9a8e-1d2c3b4a5f6e";
    const SECRET: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    /// 2026-11-28T00:00:00Z
    const NOW: u64 = 1_795_824_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn credentials() -> Credentials {
        Credentials::new(API_KEY, SECRET).unwrap()
    }

    fn request() -> TokenRequest {
        super::super::test_request(Duration::from_secs(24 * 3600))
    }

    fn b64_json(segment: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
    }

    /// The header and claims as JSON objects, straight from the JWT's segments.
    fn raw(jwt: &str) -> (Value, Value) {
        let mut parts = jwt.split('.');
        let header = b64_json(parts.next().unwrap());
        let claims = b64_json(parts.next().unwrap());
        (header, claims)
    }

    fn forge(header: &Value, claims: &Value, signature: &str) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            signature
        )
    }

    #[test]
    fn v1_token_has_exactly_the_always_claims() {
        let token = sign(
            &request(),
            &credentials(),
            now() + Duration::from_millis(999),
        )
        .unwrap();
        let (header, claims) = raw(&token.jwt);
        assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
        let object = claims.as_object().unwrap();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["apikey", "exp", "iat", "jti", "permissions"]);
        assert_eq!(claims["apikey"], API_KEY);
        assert_eq!(claims["permissions"], json!(["allow_join"]));
        // iat is `now` rounded down; exp = iat + ttl.
        assert_eq!(claims["iat"], NOW);
        assert_eq!(claims["exp"], NOW + 24 * 3600);
        let jti = Uuid::parse_str(claims["jti"].as_str().unwrap()).unwrap();
        assert_eq!(jti.get_version_num(), 4);
        assert_eq!(jti, token.id);
        assert_eq!(token.claims.jti.as_deref(), Some(jti.to_string().as_str()));
    }

    #[test]
    fn jsonwebtoken_accepts_our_tokens_and_the_header_is_exact() {
        let mut request = request();
        request.permissions = vec![Permission::AllowJoin, Permission::AllowMod];
        request.roles = vec![Role::Rtc];
        request.room_id = Some("room-1".to_owned());
        request.participant_id = Some("alice".to_owned());
        // The real clock, so that `jsonwebtoken`'s own default checks (exp required, not
        // expired) apply as they would to any consumer.
        let token = sign(&request, &credentials(), SystemTime::now()).unwrap();
        let data = jsonwebtoken::decode::<Claims>(
            &token.jwt,
            &DecodingKey::from_secret(SECRET.as_bytes()),
            &Validation::new(Algorithm::HS256),
        )
        .unwrap();
        assert_eq!(data.claims, token.claims);
        assert_eq!(data.header.alg, Algorithm::HS256);
        assert_eq!(data.header.typ.as_deref(), Some("JWT"));
        let header = URL_SAFE_NO_PAD
            .decode(token.jwt.split('.').next().unwrap())
            .unwrap();
        let header_json: Value = serde_json::from_slice(&header).unwrap();
        assert_eq!(header_json, json!({"alg": "HS256", "typ": "JWT"}));
        // Byte for byte what `jsonwebtoken` wrote before this module encoded tokens itself.
        assert_eq!(header, br#"{"typ":"JWT","alg":"HS256"}"#);
        let theirs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &token.claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_eq!(token.jwt, theirs, "same bytes as jsonwebtoken::encode");
        // Tampering is caught by jsonwebtoken too, not only by our `verify`.
        assert!(
            jsonwebtoken::decode::<Claims>(
                &token.jwt,
                &DecodingKey::from_secret(b"another-secret"),
                &Validation::new(Algorithm::HS256),
            )
            .is_err()
        );
    }

    #[test]
    fn buffers_are_sized_for_the_largest_token() {
        let mut request = request();
        request.permissions = vec![
            Permission::AllowJoin,
            Permission::AskJoin,
            Permission::AllowMod,
        ];
        request.roles = vec![Role::Rtc, Role::Crawler];
        request.room_id = Some("r".repeat(100));
        request.participant_id = Some("p".repeat(100));
        request.ttl = Duration::from_secs(60);
        // The latest time `SystemTime` holds: 19-digit `iat` and `exp`.
        let at = UNIX_EPOCH + Duration::from_secs(u64::MAX / 2 - 60);
        let token = sign(&request, &credentials(), at).unwrap();
        let json = serde_json::to_vec(&token.claims).unwrap();
        assert!(json.len() <= claims_json_len_hint(&token.claims));
        // The JWT's `String` was allocated once, at most 2 bytes too large (the `4 * ceil(n / 3)`
        // bound on unpadded base64); growing it would have at least doubled its capacity.
        assert!(
            token.jwt.capacity() - token.jwt.len() <= 2,
            "{} of {}",
            token.jwt.len(),
            token.jwt.capacity()
        );
        assert_eq!(
            token.jwt.rsplit('.').next().unwrap().len(),
            SIGNATURE_B64_LEN
        );
    }

    #[test]
    fn each_v2_claim_alone_makes_a_v2_token() {
        let mut with_room = request();
        with_room.room_id = Some("room-1".to_owned());
        let mut with_participant = request();
        with_participant.participant_id = Some("alice".to_owned());
        let mut with_roles = request();
        with_roles.roles = vec![Role::Rtc, Role::Crawler];
        let cases = [
            (with_room, "roomId", json!("room-1")),
            (with_participant, "participantId", json!("alice")),
            (with_roles, "roles", json!(["rtc", "crawler"])),
        ];
        for (request, present, value) in cases {
            let (_, claims) = raw(&sign(&request, &credentials(), now()).unwrap().jwt);
            assert_eq!(claims["version"], 2, "{present}");
            assert_eq!(claims[present], value);
            for absent in ["roomId", "participantId", "roles"] {
                if absent != present {
                    assert!(claims.get(absent).is_none(), "{absent} set with {present}");
                }
            }
        }
    }

    #[test]
    fn all_claims_together() {
        let mut request = request();
        request.permissions = vec![Permission::AskJoin, Permission::AllowMod];
        request.roles = vec![Role::Crawler];
        request.room_id = Some("r".to_owned());
        request.participant_id = Some("p".to_owned());
        let token = sign(&request, &credentials(), now()).unwrap();
        let (_, claims) = raw(&token.jwt);
        assert_eq!(claims["permissions"], json!(["ask_join", "allow_mod"]));
        assert_eq!(claims["version"], 2);
        assert_eq!(claims["roles"], json!(["crawler"]));
        assert_eq!(claims["roomId"], "r");
        assert_eq!(claims["participantId"], "p");
        assert_eq!(
            decode_unverified(&token.jwt).unwrap().claims,
            token.claims,
            "what is read back is what was signed"
        );
    }

    #[test]
    fn every_token_gets_a_new_id() {
        let a = sign(&request(), &credentials(), now()).unwrap();
        let b = sign(&request(), &credentials(), now()).unwrap();
        assert_ne!(a.id, b.id);
        assert_ne!(a.jwt, b.jwt);
    }

    #[test]
    fn ids_stay_distinct_v4_uuids_across_pool_refills() {
        let count = ID_POOL_IDS * 3 + 5;
        let ids: std::collections::HashSet<Uuid> =
            (0..count).map(|_| random_id().unwrap()).collect();
        assert_eq!(ids.len(), count);
        assert!(
            ids.iter()
                .all(|id| id.get_version_num() == 4 && id.get_variant() == uuid::Variant::RFC4122)
        );
    }

    #[test]
    fn sign_refuses_invalid_requests_and_impossible_times() {
        let mut empty = request();
        empty.permissions.clear();
        assert!(matches!(
            sign(&empty, &credentials(), now()),
            Err(SignError::InvalidRequest(RequestError::NoPermissions))
        ));
        assert!(matches!(
            sign(
                &request(),
                &credentials(),
                UNIX_EPOCH - Duration::from_secs(1)
            ),
            Err(SignError::ClockBeforeEpoch)
        ));
        let mut forever = request();
        forever.ttl = Duration::from_secs(u64::MAX / 2 + 2);
        assert!(matches!(
            sign(
                &forever,
                &credentials(),
                UNIX_EPOCH + Duration::from_secs(u64::MAX / 2)
            ),
            Err(SignError::InvalidRequest(RequestError::TtlTooLong { .. }))
        ));
        // A stored token's iat (read back, not from the clock) can be anything.
        assert!(matches!(
            expected_jwt(&request(), &credentials(), u64::MAX - 10, "id"),
            Err(SignError::ExpiryOverflow)
        ));
    }

    #[test]
    fn signature_verifies_with_the_secret() {
        let token = sign(&request(), &credentials(), now()).unwrap();
        let claims = verify(&token.jwt, SECRET, now() + Duration::from_secs(3600)).unwrap();
        assert_eq!(claims, token.claims);
    }

    #[test]
    fn only_the_exact_compact_form_is_read() {
        let token = sign(&request(), &credentials(), now()).unwrap();
        for (input, leading, trailing) in [
            (format!("{}\n", token.jwt), 0, 1),
            (format!("  {}\r\n", token.jwt), 2, 2),
            (format!("\t{}", token.jwt), 1, 0),
        ] {
            let want = DecodeError::SurroundingWhitespace { leading, trailing };
            assert_eq!(decode_unverified(&input), Err(want.clone()), "{input:?}");
            assert_eq!(
                verify(&input, SECRET, now()),
                Err(VerifyError::Malformed(want))
            );
        }
    }

    #[test]
    fn a_token_issued_in_the_future_is_not_valid_yet() {
        let issued = now() + CLOCK_SKEW + Duration::from_secs(1);
        let token = sign(&request(), &credentials(), issued).unwrap();
        assert_eq!(
            verify(&token.jwt, SECRET, now()),
            Err(VerifyError::NotYetValid {
                claim: "iat",
                at: NOW + 61,
                now: NOW
            })
        );
        // Within the allowed skew it is valid.
        let token = sign(&request(), &credentials(), now() + CLOCK_SKEW).unwrap();
        assert!(verify(&token.jwt, SECRET, now()).is_ok());
        // So is `nbf`, which the operator never sets but other tools do.
        let (header, mut claims) = raw(&token.jwt);
        claims["iat"] = json!(NOW);
        claims["nbf"] = json!(NOW + 3600);
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_eq!(header["alg"], "HS256");
        let error = verify(&forged, SECRET, now()).unwrap_err();
        assert_eq!(
            error,
            VerifyError::NotYetValid {
                claim: "nbf",
                at: NOW + 3600,
                now: NOW
            }
        );
        assert!(error.to_string().contains("its nbf is"), "{error}");
    }

    #[test]
    fn expected_jwt_is_what_sign_issued() {
        let mut request = request();
        request.roles = vec![Role::Rtc];
        request.room_id = Some("room-1".to_owned());
        let token = sign(&request, &credentials(), now()).unwrap();
        let jti = token.claims.jti.as_deref().unwrap();
        assert_eq!(
            expected_jwt(&request, &credentials(), NOW, jti).unwrap(),
            token.jwt
        );
        assert_ne!(
            expected_jwt(&request, &credentials(), NOW + 1, jti).unwrap(),
            token.jwt
        );
    }

    #[test]
    fn wrong_secret_fails() {
        let token = sign(&request(), &credentials(), now()).unwrap();
        assert_eq!(
            verify(&token.jwt, "another-secret", now()),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn tampered_claims_fail() {
        let token = sign(&request(), &credentials(), now()).unwrap();
        let (header, mut claims) = raw(&token.jwt);
        claims["permissions"] = json!(["allow_join", "allow_mod"]);
        let signature = token.jwt.rsplit('.').next().unwrap();
        let tampered = forge(&header, &claims, signature);
        assert_eq!(
            verify(&tampered, SECRET, now()),
            Err(VerifyError::BadSignature)
        );
        // A flipped signature character fails too.
        let mut bytes = token.jwt.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            verify(&String::from_utf8(bytes).unwrap(), SECRET, now()),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn expired_fails_at_exp_and_after() {
        let token = sign(&request(), &credentials(), now()).unwrap();
        let exp = NOW + 24 * 3600;
        assert!(
            verify(
                &token.jwt,
                SECRET,
                UNIX_EPOCH + Duration::from_secs(exp - 1)
            )
            .is_ok()
        );
        for at in [exp, exp + 1, exp + 86_400] {
            assert_eq!(
                verify(&token.jwt, SECRET, UNIX_EPOCH + Duration::from_secs(at)),
                Err(VerifyError::Expired { exp, now: at })
            );
        }
    }

    #[test]
    fn other_algorithms_are_named() {
        let token = sign(&request(), &credentials(), now()).unwrap();
        let (_, claims) = raw(&token.jwt);
        for alg in ["none", "HS512", "RS256"] {
            let forged = forge(&json!({"alg": alg, "typ": "JWT"}), &claims, "");
            assert_eq!(
                verify(&forged, SECRET, now()),
                Err(VerifyError::WrongAlgorithm {
                    found: alg.to_owned()
                })
            );
        }
    }

    #[test]
    fn garbage_gives_a_specific_error_without_panicking() {
        let token = sign(&request(), &credentials(), now()).unwrap();
        let (header, claims) = raw(&token.jwt);
        let cases: Vec<(String, DecodeError)> = vec![
            (String::new(), DecodeError::NotAJwt { segments: 1 }),
            ("hello".to_owned(), DecodeError::NotAJwt { segments: 1 }),
            ("a.b".to_owned(), DecodeError::NotAJwt { segments: 2 }),
            (
                format!("{}.x", token.jwt),
                DecodeError::NotAJwt { segments: 4 },
            ),
            (
                "!!!.e30.sig".to_owned(),
                DecodeError::Base64 {
                    part: TokenPart::Header,
                },
            ),
            (
                forge(&header, &claims, "not base64!"),
                DecodeError::Base64 {
                    part: TokenPart::Signature,
                },
            ),
            (
                format!("{}.%%%.sig", URL_SAFE_NO_PAD.encode(header.to_string())),
                DecodeError::Base64 {
                    part: TokenPart::Claims,
                },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(decode_unverified(&input), Err(want.clone()), "{input:?}");
            assert_eq!(
                verify(&input, SECRET, now()),
                Err(VerifyError::Malformed(want))
            );
        }

        let not_json = format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode("{\"alg\":"),
            URL_SAFE_NO_PAD.encode("{}")
        );
        assert!(matches!(
            decode_unverified(&not_json),
            Err(DecodeError::Json {
                part: TokenPart::Header,
                ..
            })
        ));
        let mut missing_exp = claims.clone();
        missing_exp.as_object_mut().unwrap().remove("exp");
        let err = decode_unverified(&forge(&header, &missing_exp, "sig")).unwrap_err();
        assert!(
            matches!(&err, DecodeError::Json { part: TokenPart::Claims, reason } if reason.contains("exp")),
            "{err}"
        );
        let mut wrong_type = claims.clone();
        wrong_type["iat"] = json!("yesterday");
        assert!(matches!(
            decode_unverified(&forge(&header, &wrong_type, "sig")),
            Err(DecodeError::Json {
                part: TokenPart::Claims,
                ..
            })
        ));
    }

    #[test]
    fn tokens_from_other_tools_are_read_with_extra_claims_kept() {
        // As VideoSDK's Node sample signs them: no jti, no typ, plus claims we do not model.
        let claims = json!({
            "apikey": API_KEY,
            "permissions": ["allow_join", "something_new"],
            "iat": NOW,
            "exp": NOW + 7200,
            "sub": "user-42",
            "custom": {"nested": true},
        });
        let jwt = jsonwebtoken::encode(
            &Header {
                typ: None,
                kid: Some("k1".to_owned()),
                ..Header::new(Algorithm::HS256)
            },
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        let decoded = decode_unverified(&jwt).unwrap();
        assert_eq!(decoded.header.alg, "HS256");
        assert_eq!(decoded.header.typ, None);
        assert_eq!(decoded.claims.jti, None);
        assert_eq!(decoded.claims.permissions, ["allow_join", "something_new"]);
        assert_eq!(decoded.claims.other["sub"], "user-42");
        assert_eq!(decoded.claims.other["custom"], json!({"nested": true}));
        assert_eq!(verify(&jwt, SECRET, now()).unwrap(), decoded.claims);
    }

    #[test]
    fn debug_and_errors_never_show_the_secret_or_the_token() {
        let credentials = credentials();
        let token = sign(&request(), &credentials, now()).unwrap();
        let signature = token.jwt.rsplit('.').next().unwrap().to_owned();
        let mut outputs = vec![
            format!("{credentials:?}"),
            format!("{token:?}"),
            format!("{:?}", decode_unverified(&token.jwt).unwrap()),
        ];
        let expired = verify(&token.jwt, SECRET, now() + Duration::from_secs(86_400)).unwrap_err();
        let wrong = verify(&token.jwt, "other", now()).unwrap_err();
        let garbage = verify(&format!("{}.x", token.jwt), SECRET, now()).unwrap_err();
        for err in [expired, wrong, garbage] {
            outputs.push(format!("{err} {err:?}"));
        }
        for output in outputs {
            assert!(!output.contains(SECRET), "{output}");
            assert!(!output.contains(&token.jwt), "{output}");
            assert!(!output.contains(&signature), "{output}");
            assert!(!output.contains(API_KEY), "{output}");
        }
    }
}
