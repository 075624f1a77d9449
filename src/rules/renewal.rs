//! When a token is due for renewal: one rule for the controller's decision on a Secret it read
//! ([`super::decision`]), on a Secret unchanged since it verified it (the plan), and for `status`.

use crate::time;
use crate::token::{self, Claims, RenewBefore, ScheduleError};
use std::time::SystemTime;

/// When the token with `claims` is due for renewal under `renew_before`, its jitter seeded by the
/// token's `uid` ([`token::renewal_time`]).
pub(crate) fn renewal_time(
    claims: &Claims,
    renew_before: RenewBefore,
    uid: &str,
) -> Result<SystemTime, ScheduleError> {
    token::renewal_time(
        time::from_unix(claims.iat),
        time::from_unix(claims.exp),
        renew_before,
        uid,
    )
}

/// The token's [`renewal_time`] while it is still ahead of `now` and the token has not expired;
/// `None` once renewal is due (or no renewal time can be computed: an empty lifetime).
pub(crate) fn kept_until(
    claims: &Claims,
    renew_before: RenewBefore,
    uid: &str,
    now: SystemTime,
) -> Option<SystemTime> {
    let renewal_time = renewal_time(claims, renew_before, uid).ok()?;
    (now < renewal_time && time::to_unix(now) < claims.exp).then_some(renewal_time)
}
