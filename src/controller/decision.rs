//! Whether a token must be re-signed, decided from what its Secret holds — a pure function, so
//! that every reason (and "keep", which is what an operator restart must see for every valid
//! token) has a unit test.

use super::stored::StoredToken;
use crate::token::{self, Claims, Credentials, RenewBefore, VerifyError};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why a token is (re-)signed. Shown in Events and logs, and counted in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResignReason {
    /// There is no Secret yet (first issuance), or it was deleted.
    Missing,
    /// The Secret has no readable token (no `token` key, not a JWT, claims unreadable).
    Unparseable,
    /// The stored token does not verify with the issuer's current secret.
    InvalidSignature,
    /// The issuer's API key or secret changed since the stored token was signed.
    CredentialsChanged,
    /// A claims-relevant field of the spec changed (permissions, roles, roomId, participantId, ttl).
    SpecChanged,
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
            ResignReason::InvalidSignature => "InvalidSignature",
            ResignReason::CredentialsChanged => "CredentialsChanged",
            ResignReason::SpecChanged => "SpecChanged",
            ResignReason::RenewNowRequested => "RenewNowRequested",
            ResignReason::RenewalDue => "RenewalDue",
        }
    }

    /// Every reason, for metrics that must show zeros.
    pub const ALL: [ResignReason; 7] = [
        ResignReason::Missing,
        ResignReason::Unparseable,
        ResignReason::InvalidSignature,
        ResignReason::CredentialsChanged,
        ResignReason::SpecChanged,
        ResignReason::RenewNowRequested,
        ResignReason::RenewalDue,
    ];
}

impl fmt::Display for ResignReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResignReason::Missing => "the Secret does not exist",
            ResignReason::Unparseable => "the Secret holds no readable token",
            ResignReason::InvalidSignature => {
                "the stored token does not verify with the issuer's secret"
            }
            ResignReason::CredentialsChanged => "the issuer's credentials changed",
            ResignReason::SpecChanged => "the token's claims in the spec changed",
            ResignReason::RenewNowRequested => "renewal was requested with videosdk.live/renew-now",
            ResignReason::RenewalDue => "the renewal time was reached",
        })
    }
}

/// What the spec and the issuer want the stored token to be.
#[derive(Debug)]
pub struct Desired<'a> {
    /// Fingerprint of the claims-relevant spec ([`crate::token::TokenRequest::fingerprint`]).
    pub spec_hash: &'a str,
    /// The issuer's current credentials.
    pub credentials: &'a Credentials,
    /// The token's `videosdk.live/renew-now` annotation, if any.
    pub renew_now: Option<&'a str>,
    /// The spec's renew-before policy.
    pub renew_before: RenewBefore,
    /// The token's UID, which seeds the renewal jitter.
    pub uid: &'a str,
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
pub fn decide(stored: Option<&StoredToken>, desired: &Desired<'_>, now: SystemTime) -> Decision {
    let Some(stored) = stored else {
        return Decision::Resign(ResignReason::Missing);
    };
    let Some(jwt) = stored.jwt.as_deref() else {
        return Decision::Resign(ResignReason::Unparseable);
    };
    let claims = match token::verify(jwt, desired.credentials.secret(), now) {
        Ok(claims) => claims,
        Err(VerifyError::Expired { .. }) => return Decision::Resign(ResignReason::RenewalDue),
        Err(VerifyError::Malformed(_)) => return Decision::Resign(ResignReason::Unparseable),
        Err(_) => {
            // A signature that does not match is first explained by a rotation the annotations
            // recorded; otherwise the token was altered or signed elsewhere.
            return Decision::Resign(
                if stored.credentials_hash.as_deref() != Some(&desired.credentials.fingerprint()) {
                    ResignReason::CredentialsChanged
                } else {
                    ResignReason::InvalidSignature
                },
            );
        }
    };
    if stored.credentials_hash.as_deref() != Some(&desired.credentials.fingerprint())
        || claims.apikey != desired.credentials.api_key()
    {
        return Decision::Resign(ResignReason::CredentialsChanged);
    }
    if stored.spec_hash.as_deref() != Some(desired.spec_hash) {
        return Decision::Resign(ResignReason::SpecChanged);
    }
    if desired.renew_now.is_some() && desired.renew_now != stored.renew_now_handled.as_deref() {
        return Decision::Resign(ResignReason::RenewNowRequested);
    }
    let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
    match token::renewal_time(
        at(claims.iat),
        at(claims.exp),
        desired.renew_before,
        desired.uid,
    ) {
        Ok(renewal_time) if now < renewal_time => Decision::Keep {
            renewal_time,
            claims: Box::new(claims),
        },
        _ => Decision::Resign(ResignReason::RenewalDue),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::TokenRequest;

    const UID: &str = "0d6b1c5e-6f0a-4a51-9d8e-1a2b3c4d5e6f";

    fn credentials() -> Credentials {
        Credentials::new("key", "secret-0123456789abcdef").unwrap()
    }

    fn request() -> TokenRequest {
        crate::token::test_request(Duration::from_secs(3 * 3600))
    }

    /// A Secret's contents as the operator writes them, signed at `issued`.
    fn stored_at(issued: SystemTime, credentials: &Credentials) -> StoredToken {
        let signed = token::sign(&request(), credentials, issued).unwrap();
        StoredToken {
            jwt: Some(signed.jwt),
            spec_hash: Some(request().fingerprint()),
            credentials_hash: Some(credentials.fingerprint()),
            renew_now_handled: None,
        }
    }

    fn decide_with(
        stored: Option<&StoredToken>,
        credentials: &Credentials,
        renew_now: Option<&str>,
        now: SystemTime,
    ) -> Decision {
        let spec_hash = request().fingerprint();
        let desired = Desired {
            spec_hash: &spec_hash,
            credentials,
            renew_now,
            renew_before: RenewBefore::Default,
            uid: UID,
        };
        decide(stored, &desired, now)
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
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
            Decision::Resign(ResignReason::Missing)
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
                Decision::Resign(ResignReason::Unparseable)
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
                Decision::Resign(ResignReason::RenewalDue)
            );
        }
    }

    #[test]
    fn claims_relevant_spec_change_resigns() {
        let creds = credentials();
        let stored = StoredToken {
            spec_hash: Some("0000000000000000".to_owned()),
            ..stored_at(now(), &creds)
        };
        assert_eq!(
            decide_with(Some(&stored), &creds, None, now()),
            Decision::Resign(ResignReason::SpecChanged)
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
                Decision::Resign(ResignReason::CredentialsChanged)
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
            Decision::Resign(ResignReason::InvalidSignature)
        );
    }

    #[test]
    fn renew_now_resigns_once_per_new_value() {
        let creds = credentials();
        let stored = stored_at(now(), &creds);
        assert_eq!(
            decide_with(Some(&stored), &creds, Some("1"), now()),
            Decision::Resign(ResignReason::RenewNowRequested)
        );
        let answered = StoredToken {
            renew_now_handled: Some("1".to_owned()),
            ..stored
        };
        assert!(matches!(
            decide_with(Some(&answered), &creds, Some("1"), now()),
            Decision::Keep { .. }
        ));
        assert_eq!(
            decide_with(Some(&answered), &creds, Some("2"), now()),
            Decision::Resign(ResignReason::RenewNowRequested)
        );
    }
}
