//! VideoSDK access tokens as pure functions, with no Kubernetes and no I/O: Go durations, the
//! claims a `VideoSdkToken` asks for, signing and verifying them, and when to renew them.
//!
//! The controller feeds these functions what it read from the API server and the clock, and
//! writes back what they return; everything here is tested without a cluster.

mod claims;
mod credentials;
mod exact;
mod request_hash;
mod schedule;
mod signing;

pub use claims::{
    Claims, DEFAULT_MAX_TTL, MIN_TTL, RequestError, TTL_LIMIT, TokenRequest, show_duration,
};
pub use credentials::{Credentials, CredentialsError, fingerprint};
pub use exact::{Claim, Difference, compare, compare_claims};
pub use go_duration::{DurationError, GoDuration, format_human, parse_positive};
pub use schedule::{
    JITTER_DIVISOR, MIN_RENEW_BEFORE, MIN_RENEWAL_INTERVAL, MIN_TOKEN_TTL, RenewBefore,
    ScheduleError, renewal_time,
};
pub use signing::{
    CLOCK_SKEW, DecodeError, DecodedToken, SignError, SignedToken, TokenHeader, TokenPart,
    VerifyError, decode_unverified, expected_jwt, new_token_id, not_yet_valid, sign, sign_with_id,
    verify,
};

/// A minimal valid request (`allow_join` for `ttl`) for the crate's unit tests.
#[cfg(test)]
pub(crate) fn test_request(ttl: std::time::Duration) -> TokenRequest {
    TokenRequest {
        permissions: vec![crate::api::Permission::AllowJoin],
        roles: vec![],
        room_id: None,
        participant_id: None,
        ttl,
    }
}

/// A minimal valid `VideoSdkTokenSpec` for the tests of this module.
#[cfg(test)]
pub(crate) fn test_spec(permissions: Vec<crate::api::Permission>) -> crate::api::VideoSdkTokenSpec {
    crate::api::VideoSdkTokenSpec {
        issuer_ref: crate::api::IssuerRef {
            name: "issuer".to_owned(),
            kind: crate::api::IssuerKind::VideoSdkIssuer,
        },
        permissions,
        roles: None,
        room_id: None,
        participant_id: None,
        ttl: "24h".to_owned(),
        renew_before: None,
        renew_before_percentage: None,
        secret_name: None,
        secret_template: None,
        rollout_restart_targets: vec![],
    }
}
