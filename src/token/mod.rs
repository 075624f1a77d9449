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

pub use claims::DEFAULT_MAX_TTL;
pub use claims::{Claims, TTL_LIMIT, TokenRequest};
pub(crate) use claims::{MIN_TTL, RequestError, show_duration};
pub use credentials::Credentials;
pub(crate) use credentials::{CredentialsError, fingerprint};
pub use exact::Claim;
pub(crate) use exact::{Difference, compare, compare_claims};
pub(crate) use go_duration::format_human;
pub use go_duration::{DurationError, GoDuration, parse_positive};
#[cfg(test)]
pub(crate) use schedule::MIN_TOKEN_TTL;
pub use schedule::{MIN_RENEW_BEFORE, MIN_RENEWAL_INTERVAL, RenewBefore};
pub use schedule::{ScheduleError, renewal_time};
pub use signing::verify;
pub(crate) use signing::{
    CLOCK_SKEW, DecodeError, DecodedToken, SignError, SignedToken, new_token_id, not_yet_valid,
    sign_with_id,
};
pub use signing::{VerifyError, decode_unverified, sign};

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
