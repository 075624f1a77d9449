//! What a reconcile does with a token's Secret once every check of the spec and the issuer
//! passed: sign a new token now, or keep the stored one until its renewal time, applying the
//! Secret meanwhile when what is there differs from what the operator writes. The controller's
//! plan acts on it (`controller::tokens::plan`); `status` shows it, from the Secret it reads.

use super::decision::{Decision, Desired, ResignReason, decide};
use super::secret;
use super::stored::StoredToken;
use crate::api::VideoSdkToken;
use crate::token::{Claims, Credentials};
use k8s_openapi::api::core::v1::Secret;
use std::time::SystemTime;

/// The next step for a token's Secret.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// Sign a new token now, for this reason.
    Sign(ResignReason),
    /// Keep the stored token until `renewal_time`.
    Keep {
        /// When the stored token is due for renewal.
        renewal_time: SystemTime,
        /// Its claims.
        claims: Box<Claims>,
        /// The renew-now value it answers.
        renew_now_handled: Option<String>,
        /// The whole Secret to apply now, the token kept, when the Secret there differs (a
        /// `secretTemplate` edit, a label, annotation or ownerReference someone removed);
        /// `None` when it is already exactly that.
        apply: Option<Box<Secret>>,
    },
}

/// The step for `token`, whose Secret is `existing` (`None`: there is none), as `desired` asks,
/// at `now` ([`decide`] on the token it holds, then [`secret::needs_apply`] on a kept one).
pub(crate) fn step(
    token: &VideoSdkToken,
    existing: Option<&Secret>,
    desired: &Desired<'_>,
    now: SystemTime,
) -> Step {
    let stored = existing.map(StoredToken::from_secret);
    let (renewal_time, claims) = match decide(stored.as_ref(), desired, now) {
        Decision::Resign(reason) => return Step::Sign(reason),
        Decision::Keep {
            renewal_time,
            claims,
        } => (renewal_time, claims),
    };
    let (Some(existing), Some(stored)) = (existing, stored) else {
        unreachable!("a kept token was read from its Secret")
    };
    let jwt = stored.jwt.expect("a kept token has a JWT");
    // A kept token answers a pending renew-now value already (or none was asked).
    let renew_now_handled = desired
        .renew_now
        .map(str::to_owned)
        .or(stored.renew_now_handled);
    let credentials_hash = desired
        .credentials
        .map(Credentials::fingerprint)
        .or(stored.credentials_hash);
    let kept = secret_for(
        token,
        &jwt,
        &claims,
        desired.spec_hash,
        credentials_hash,
        renew_now_handled.clone(),
    );
    Step::Keep {
        renewal_time,
        claims,
        renew_now_handled,
        apply: secret::needs_apply(existing, &kept).then(|| Box::new(kept)),
    }
}

/// The whole Secret that keeps `jwt` (with `claims`) for `token`, its annotations recording what
/// it was signed for: rebuilt from what was checked or signed, never copied from the Secret, so
/// that an edited annotation is corrected and a removed one restored.
pub(crate) fn secret_for(
    token: &VideoSdkToken,
    jwt: &str,
    claims: &Claims,
    spec_hash: &str,
    credentials_hash: Option<String>,
    renew_now_handled: Option<String>,
) -> Secret {
    let record = StoredToken {
        spec_hash: Some(spec_hash.to_owned()),
        credentials_hash,
        renew_now_handled,
        ..StoredToken::default()
    };
    secret::desired(token, jwt, record.annotations(claims))
}
