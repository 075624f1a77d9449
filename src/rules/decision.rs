//! Whether a token must be re-signed, decided from what its Secret holds — a pure function, so
//! that every reason (and "keep", which is what an operator restart must see for every valid
//! token) has a unit test.

use super::renewal;
use super::stored::StoredToken;
use crate::api::{RENEW_NOW_ANNOTATION, VideoSdkToken};
use crate::time;
use crate::token::{self, Claim, Claims, Credentials, Difference, RenewBefore, TokenRequest};
use kube::ResourceExt;
use std::fmt;
use std::time::SystemTime;

/// Why a token is (re-)signed. Shown in Events and logs, and counted in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResignReason {
    /// There is no Secret yet (first issuance), or it was deleted.
    Missing,
    /// The Secret has no readable token (no `token` key, not a JWT, claims unreadable).
    Unparseable,
    /// The stored token has whitespace around it: only the exact compact JWT counts.
    NotCompact,
    /// The stored token does not verify with the issuer's current secret.
    InvalidSignature,
    /// The issuer's API key or secret changed since the stored token was signed.
    CredentialsChanged,
    /// A claims-relevant field of the spec changed (permissions, roles, roomId, participantId, ttl).
    SpecChanged,
    /// The stored token is signed with the issuer's secret, but this claim is not what the spec
    /// and issuer ask for, although the Secret's records say it was signed for them: a token
    /// copied in from elsewhere, or signed by hand.
    ClaimsMismatch(Claim),
    /// The stored token is right in every claim, but its `jti` is neither of the ids the
    /// operator recorded for this token: a token of the same spec copied in from another
    /// Secret.
    TokenIdMismatch,
    /// The stored token's `iat` lies more than [`token::CLOCK_SKEW`] in the future.
    NotYetValid,
    /// The `videosdk.live/renew-now` annotation got a new value.
    RenewNowRequested,
    /// The renewal time was reached (or the token expired).
    RenewalDue,
}

impl ResignReason {
    /// A CamelCase name for Events and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ResignReason::Missing => "SecretMissing",
            ResignReason::Unparseable => "TokenUnparseable",
            ResignReason::NotCompact => "TokenNotCompact",
            ResignReason::InvalidSignature => "InvalidSignature",
            ResignReason::CredentialsChanged => "CredentialsChanged",
            ResignReason::SpecChanged => "SpecChanged",
            ResignReason::ClaimsMismatch(_) => "ClaimsMismatch",
            ResignReason::TokenIdMismatch => "TokenIdMismatch",
            ResignReason::NotYetValid => "TokenNotYetValid",
            ResignReason::RenewNowRequested => "RenewNowRequested",
            ResignReason::RenewalDue => "RenewalDue",
        }
    }

    /// One reason of each name, for metrics that must show zeros.
    pub(crate) const ALL: [ResignReason; 11] = [
        ResignReason::Missing,
        ResignReason::Unparseable,
        ResignReason::NotCompact,
        ResignReason::InvalidSignature,
        ResignReason::CredentialsChanged,
        ResignReason::SpecChanged,
        ResignReason::ClaimsMismatch(Claim::Encoding),
        ResignReason::TokenIdMismatch,
        ResignReason::NotYetValid,
        ResignReason::RenewNowRequested,
        ResignReason::RenewalDue,
    ];
}

impl fmt::Display for ResignReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResignReason::Missing => f.write_str("the Secret does not exist"),
            ResignReason::Unparseable => f.write_str("the Secret holds no readable token"),
            ResignReason::NotCompact => f.write_str(
                "the stored token has whitespace around it; only the exact compact JWT counts",
            ),
            ResignReason::InvalidSignature => {
                f.write_str("the stored token does not verify with the issuer's secret")
            }
            ResignReason::CredentialsChanged => f.write_str("the issuer's credentials changed"),
            ResignReason::SpecChanged => f.write_str("the token's claims in the spec changed"),
            ResignReason::ClaimsMismatch(claim) => write!(
                f,
                "the stored token's claims do not match the spec and issuer: they differ in {claim}"
            ),
            ResignReason::TokenIdMismatch => f.write_str(
                "the stored token's id (jti) is not the one the operator recorded: it was copied in or replaced",
            ),
            ResignReason::NotYetValid => write!(
                f,
                "the stored token is issued in the future (iat more than {}s ahead of the operator's clock)",
                token::CLOCK_SKEW.as_secs()
            ),
            ResignReason::RenewNowRequested => {
                f.write_str("renewal was requested with videosdk.live/renew-now")
            }
            ResignReason::RenewalDue => f.write_str("the renewal time was reached"),
        }
    }
}

/// What the spec and the issuer want the stored token to be, and what the operator recorded
/// about the token it last stored.
#[derive(Debug)]
pub struct Desired<'a> {
    /// The claims the spec asks for.
    pub request: &'a TokenRequest,
    /// Fingerprint of `request` ([`TokenRequest::fingerprint`]), to tell a spec change from
    /// a token copied in.
    pub spec_hash: &'a str,
    /// The issuer's current credentials; `None` for a reader without them (`status`), for which
    /// the claims are compared as decoded ([`token::compare_claims`]) and neither the signature
    /// nor a rotation can be told.
    pub credentials: Option<&'a Credentials>,
    /// The token's `videosdk.live/renew-now` annotation, if any.
    pub renew_now: Option<&'a str>,
    /// The renew-now value the token's status records as answered (`status.renewNowHandled`).
    pub renew_now_answered: Option<&'a str>,
    /// The id of the token the status records (`status.tokenId`). With the Secret's
    /// `videosdk.live/token-id` annotation (when its `videosdk.live/token-uid` names this token)
    /// it is what a stored token's `jti` is checked against: either record agreeing is enough,
    /// since each can lag or be lost (the status after a crash between the two writes, the
    /// annotation to a tool), and a copy from another Secret agrees with neither.
    pub recorded_token_id: Option<&'a str>,
    /// The spec's renew-before policy.
    pub renew_before: RenewBefore,
    /// The token's UID, which seeds the renewal jitter.
    pub uid: &'a str,
}

impl<'a> Desired<'a> {
    /// What `token` wants: `request` (fingerprint `spec_hash`) signed with `credentials`, renewed
    /// as `renew_before` says, and what its renew-now annotation and status record.
    pub(crate) fn of_token(
        token: &'a VideoSdkToken,
        request: &'a TokenRequest,
        spec_hash: &'a str,
        credentials: Option<&'a Credentials>,
        renew_before: RenewBefore,
        uid: &'a str,
    ) -> Self {
        let status = token.status.as_ref();
        Desired {
            request,
            spec_hash,
            credentials,
            renew_now: token
                .annotations()
                .get(RENEW_NOW_ANNOTATION)
                .map(String::as_str),
            renew_now_answered: status.and_then(|s| s.renew_now_handled.as_deref()),
            recorded_token_id: status.and_then(|s| s.token_id.as_deref()),
            renew_before,
            uid,
        }
    }
}

/// The outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The stored token is right; re-sign it at `renewal_time`.
    Keep {
        /// When the stored token is due for renewal.
        renewal_time: SystemTime,
        /// The stored token's claims, verified.
        claims: Box<Claims>,
    },
    /// Sign a new token now.
    Resign(ResignReason),
}

/// Decides for the token whose Secret holds `stored` (`None`: no Secret), as of `now`.
///
/// The stored token is kept only when it is, byte for byte, the token the operator would issue
/// for `desired` at its `iat` with its `jti` ([`token::compare`]: every claim, the lifetime,
/// the header, the signature), its `jti` is the one recorded, it is not issued in the future
/// beyond [`token::CLOCK_SKEW`], no renew-now request is pending and its renewal time is ahead.
/// The Secret's annotations only explain a difference (a rotation, a spec change); they never
/// make a token valid, and a token that is right is kept even if they were removed.
pub fn decide(stored: Option<&StoredToken>, desired: &Desired<'_>, now: SystemTime) -> Decision {
    match check(stored, desired, now) {
        Ok((renewal_time, claims)) => Decision::Keep {
            renewal_time,
            claims: Box::new(claims),
        },
        Err(reason) => Decision::Resign(reason),
    }
}

fn check(
    stored: Option<&StoredToken>,
    desired: &Desired<'_>,
    now: SystemTime,
) -> Result<(SystemTime, Claims), ResignReason> {
    let stored = stored.ok_or(ResignReason::Missing)?;
    let jwt = stored.jwt.as_deref().ok_or(ResignReason::Unparseable)?;
    let rotated = desired
        .credentials
        .is_some_and(|c| stored.credentials_hash.as_deref() != Some(&c.fingerprint()));
    let compared = match desired.credentials {
        Some(credentials) => token::compare(jwt, desired.request, credentials),
        None => token::compare_claims(jwt, desired.request),
    };
    let claims = compared.map_err(|difference| {
        match difference {
            Difference::SurroundingWhitespace => ResignReason::NotCompact,
            Difference::Unreadable => ResignReason::Unparseable,
            // A signature or claim that does not match is first explained by a rotation or
            // a spec change the annotations recorded; otherwise the token was altered,
            // copied in or signed elsewhere.
            _ if rotated => ResignReason::CredentialsChanged,
            Difference::Signature => ResignReason::InvalidSignature,
            _ if stored.spec_hash.as_deref() != Some(desired.spec_hash) => {
                ResignReason::SpecChanged
            }
            Difference::Claim(claim) => ResignReason::ClaimsMismatch(claim),
        }
    })?;
    let annotated = stored
        .token_id
        .as_deref()
        .filter(|_| stored.token_uid.as_deref() == Some(desired.uid));
    let records = [annotated, desired.recorded_token_id];
    if records.iter().any(Option::is_some) && !records.contains(&claims.jti.as_deref()) {
        return Err(ResignReason::TokenIdMismatch);
    }
    let now_secs = time::to_unix(now);
    if token::not_yet_valid(&claims, now_secs).is_some() {
        return Err(ResignReason::NotYetValid);
    }
    let answered = |value: Option<&str>| value.is_some() && value == desired.renew_now;
    if desired.renew_now.is_some()
        && !answered(stored.renew_now_handled.as_deref())
        && !answered(desired.renew_now_answered)
    {
        return Err(ResignReason::RenewNowRequested);
    }
    match renewal::kept_until(&claims, desired.renew_before, desired.uid, now) {
        Some(renewal_time) => Ok((renewal_time, claims)),
        None => Err(ResignReason::RenewalDue),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Permission;
    use std::time::{Duration, UNIX_EPOCH};

    const UID: &str = "0d6b1c5e-6f0a-4a51-9d8e-1a2b3c4d5e6f";

    fn credentials() -> Credentials {
        Credentials::new("key", "secret-0123456789abcdef").unwrap()
    }

    fn request() -> TokenRequest {
        crate::token::test_request(Duration::from_secs(3 * 3600))
    }

    /// A Secret's contents as the operator writes them for `request`, signed at `issued`.
    fn stored_for(
        request: &TokenRequest,
        issued: SystemTime,
        credentials: &Credentials,
    ) -> StoredToken {
        let signed = token::sign(request, credentials, issued).unwrap();
        StoredToken {
            token_id: signed.claims.jti.clone(),
            token_uid: Some(UID.to_owned()),
            jwt: Some(signed.jwt),
            spec_hash: Some(request.fingerprint()),
            credentials_hash: Some(credentials.fingerprint()),
            renew_now_handled: None,
        }
    }

    fn stored_at(issued: SystemTime, credentials: &Credentials) -> StoredToken {
        stored_for(&request(), issued, credentials)
    }

    /// The inputs of [`decide`] for [`request`], with nothing recorded beyond the Secret.
    struct Case<'a> {
        credentials: &'a Credentials,
        renew_now: Option<&'a str>,
        renew_now_answered: Option<&'a str>,
        recorded_token_id: Option<&'a str>,
    }

    impl<'a> Case<'a> {
        fn new(credentials: &'a Credentials) -> Self {
            Case {
                credentials,
                renew_now: None,
                renew_now_answered: None,
                recorded_token_id: None,
            }
        }

        fn decide(&self, stored: Option<&StoredToken>, now: SystemTime) -> Decision {
            let request = request();
            let spec_hash = request.fingerprint();
            let desired = Desired {
                request: &request,
                spec_hash: &spec_hash,
                credentials: Some(self.credentials),
                renew_now: self.renew_now,
                renew_now_answered: self.renew_now_answered,
                recorded_token_id: self.recorded_token_id,
                renew_before: RenewBefore::Default,
                uid: UID,
            };
            decide(stored, &desired, now)
        }
    }

    fn decide_with(
        stored: Option<&StoredToken>,
        credentials: &Credentials,
        renew_now: Option<&str>,
        now: SystemTime,
    ) -> Decision {
        Case {
            renew_now,
            ..Case::new(credentials)
        }
        .decide(stored, now)
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn resign(reason: ResignReason) -> Decision {
        Decision::Resign(reason)
    }

    #[test]
    fn a_fresh_valid_token_is_kept_until_its_renewal_time() {
        let creds = credentials();
        let stored = stored_at(now(), &creds);
        let later = now() + Duration::from_secs(60);
        let Decision::Keep {
            renewal_time,
            claims,
        } = decide_with(Some(&stored), &creds, None, later)
        else {
            panic!("a valid token must be kept (an operator restart re-signs nothing)");
        };
        // Default: renew with a third of 3h left, jitter moving it earlier by at most 10% of that.
        let two_hours = now() + Duration::from_secs(2 * 3600);
        assert!(renewal_time <= two_hours && renewal_time >= two_hours - Duration::from_secs(720));
        assert_eq!(claims.permissions, ["allow_join"]);
    }

    #[test]
    fn missing_secret_resigns() {
        assert_eq!(
            decide_with(None, &credentials(), None, now()),
            resign(ResignReason::Missing)
        );
    }

    #[test]
    fn unparseable_token_resigns() {
        let creds = credentials();
        for jwt in [None, Some("not a jwt".to_owned()), Some("a.b.c".to_owned())] {
            let stored = StoredToken {
                jwt,
                ..stored_at(now(), &creds)
            };
            assert_eq!(
                decide_with(Some(&stored), &creds, None, now()),
                resign(ResignReason::Unparseable)
            );
        }
    }

    #[test]
    fn whitespace_around_the_right_token_resigns() {
        let creds = credentials();
        let right = stored_at(now(), &creds);
        let jwt = right.jwt.clone().unwrap();
        for padded in [format!("{jwt}\n"), format!("  {jwt}\r\n")] {
            let stored = StoredToken {
                jwt: Some(padded),
                ..right.clone()
            };
            assert_eq!(
                decide_with(Some(&stored), &creds, None, now()),
                resign(ResignReason::NotCompact)
            );
        }
    }

    #[test]
    fn renewal_due_resigns_and_so_does_expiry() {
        let creds = credentials();
        let stored = stored_at(now(), &creds);
        for later in [
            Duration::from_secs(2 * 3600),
            Duration::from_secs(3 * 3600),
            Duration::from_secs(99 * 3600),
        ] {
            assert_eq!(
                decide_with(Some(&stored), &creds, None, now() + later),
                resign(ResignReason::RenewalDue)
            );
        }
    }

    #[test]
    fn claims_relevant_spec_change_resigns() {
        let creds = credentials();
        let mut before = request();
        before.permissions = vec![Permission::AskJoin];
        let stored = stored_for(&before, now(), &creds);
        assert_eq!(
            decide_with(Some(&stored), &creds, None, now()),
            resign(ResignReason::SpecChanged)
        );
    }

    #[test]
    fn rotated_credentials_resign() {
        let old = credentials();
        let stored = stored_at(now(), &old);
        let new_secret = Credentials::new("key", "rotated-secret-fedcba9876543210").unwrap();
        let new_key = Credentials::new("other-key", "secret-0123456789abcdef").unwrap();
        for creds in [new_secret, new_key] {
            assert_eq!(
                decide_with(Some(&stored), &creds, None, now()),
                resign(ResignReason::CredentialsChanged)
            );
        }
    }

    #[test]
    fn a_token_that_does_not_verify_resigns_even_if_annotations_agree() {
        let creds = credentials();
        let foreign = Credentials::new("key", "someone-elses-secret-000000").unwrap();
        let stored = StoredToken {
            jwt: stored_at(now(), &foreign).jwt,
            ..stored_at(now(), &creds)
        };
        assert_eq!(
            decide_with(Some(&stored), &creds, None, now()),
            resign(ResignReason::InvalidSignature)
        );
    }

    #[test]
    fn another_valid_token_of_the_same_issuer_resigns_naming_the_claim() {
        let creds = credentials();
        let right = stored_at(now(), &creds);
        let mut moderator = request();
        moderator.permissions = vec![Permission::AllowJoin, Permission::AllowMod];
        let mut year = request();
        year.ttl = Duration::from_secs(8760 * 3600);
        for (other, claim) in [(moderator, Claim::Permissions), (year, Claim::Lifetime)] {
            // Only the token is copied: the Secret's records still say it is right.
            let stored = StoredToken {
                jwt: stored_for(&other, now(), &creds).jwt,
                ..right.clone()
            };
            assert_eq!(
                decide_with(Some(&stored), &creds, None, now()),
                resign(ResignReason::ClaimsMismatch(claim))
            );
        }
    }

    #[test]
    fn a_twin_token_copied_in_resigns_for_its_id() {
        let creds = credentials();
        let mine = stored_at(now(), &creds);
        let twin = stored_at(now(), &creds);
        // The token alone, under this Secret's own annotations.
        let token_only = StoredToken {
            jwt: twin.jwt.clone(),
            ..mine.clone()
        };
        assert_eq!(
            Case::new(&creds).decide(Some(&token_only), now()),
            resign(ResignReason::TokenIdMismatch)
        );
        // The whole Secret, annotations included (written for the twin's UID): the status still
        // records this token's id.
        let twin = StoredToken {
            token_uid: Some("the-twins-uid".to_owned()),
            ..twin
        };
        let case = Case {
            recorded_token_id: mine.token_id.as_deref(),
            ..Case::new(&creds)
        };
        assert_eq!(
            case.decide(Some(&twin), now()),
            resign(ResignReason::TokenIdMismatch)
        );
        assert!(matches!(
            case.decide(Some(&mine), now()),
            Decision::Keep { .. }
        ));
        // The operator's own write whose status write a crash prevented (the status still
        // records the previous id): the Secret's record, written for this token, is enough.
        let after_crash = Case {
            recorded_token_id: twin.token_id.as_deref(),
            ..Case::new(&creds)
        };
        assert!(matches!(
            after_crash.decide(Some(&mine), now()),
            Decision::Keep { .. }
        ));
    }

    #[test]
    fn a_right_token_is_kept_whatever_happened_to_the_annotations() {
        let creds = credentials();
        let right = stored_at(now(), &creds);
        let stripped = StoredToken {
            jwt: right.jwt.clone(),
            ..StoredToken::default()
        };
        let edited = StoredToken {
            spec_hash: Some("0000000000000000".to_owned()),
            credentials_hash: Some("ffffffffffffffff".to_owned()),
            token_id: Some("edited".to_owned()),
            ..right.clone()
        };
        let case = Case {
            recorded_token_id: right.token_id.as_deref(),
            ..Case::new(&creds)
        };
        for stored in [&right, &stripped, &edited] {
            assert!(
                matches!(case.decide(Some(stored), now()), Decision::Keep { .. }),
                "{stored:?}"
            );
        }
        // With no record anywhere, the right token is adopted as it is.
        assert!(matches!(
            Case::new(&creds).decide(Some(&stripped), now()),
            Decision::Keep { .. }
        ));
    }

    #[test]
    fn a_token_issued_in_the_future_resigns() {
        let creds = credentials();
        let ahead = stored_at(now() + Duration::from_secs(61), &creds);
        assert_eq!(
            decide_with(Some(&ahead), &creds, None, now()),
            resign(ResignReason::NotYetValid)
        );
        // Within the clock-skew allowance it is kept.
        let skewed = stored_at(now() + Duration::from_secs(60), &creds);
        assert!(matches!(
            decide_with(Some(&skewed), &creds, None, now()),
            Decision::Keep { .. }
        ));
    }

    #[test]
    fn renew_now_resigns_once_per_new_value() {
        let creds = credentials();
        let stored = stored_at(now(), &creds);
        assert_eq!(
            decide_with(Some(&stored), &creds, Some("1"), now()),
            resign(ResignReason::RenewNowRequested)
        );
        let answered = StoredToken {
            renew_now_handled: Some("1".to_owned()),
            ..stored.clone()
        };
        assert!(matches!(
            decide_with(Some(&answered), &creds, Some("1"), now()),
            Decision::Keep { .. }
        ));
        assert_eq!(
            decide_with(Some(&answered), &creds, Some("2"), now()),
            resign(ResignReason::RenewNowRequested)
        );
        // The Secret's record removed: the status's record of the answer is enough.
        let case = Case {
            renew_now: Some("1"),
            renew_now_answered: Some("1"),
            ..Case::new(&creds)
        };
        assert!(matches!(
            case.decide(Some(&stored), now()),
            Decision::Keep { .. }
        ));
    }

    #[test]
    fn every_reason_has_a_distinct_name_and_all_lists_each_once() {
        let names: std::collections::BTreeSet<_> =
            ResignReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), ResignReason::ALL.len());
        assert_eq!(
            ResignReason::ClaimsMismatch(Claim::RoomId).to_string(),
            "the stored token's claims do not match the spec and issuer: they differ in roomId"
        );
    }
}
