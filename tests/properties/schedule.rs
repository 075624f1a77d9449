//! The renewal schedule: for every lifetime, policy and UID, the renewal time lies strictly
//! inside the token's lifetime and is the same every time it is computed.

use proptest::prelude::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use videosdk_token_operator::token::{
    MIN_RENEWAL_INTERVAL, RenewBefore, ScheduleError, renewal_time,
};

/// Issuance times from about 1650 to 2350, to the nanosecond.
fn issued_at() -> impl Strategy<Value = SystemTime> {
    const SPAN: u64 = 11_000_000_000;
    (any::<bool>(), 0u64..SPAN, 0u32..1_000_000_000).prop_map(|(before, secs, nanos)| {
        let offset = Duration::new(secs, nanos);
        if before {
            UNIX_EPOCH - offset
        } else {
            UNIX_EPOCH + offset
        }
    })
}

/// Lifetimes from 2 ns (the shortest that has a time strictly inside it) to 300 years, biased
/// towards the very short and the ordinary.
fn lifetime() -> impl Strategy<Value = Duration> {
    prop_oneof![
        2 => (2u64..1_000).prop_map(Duration::from_nanos),
        1 => (1_000u64..60_000_000_000).prop_map(Duration::from_nanos),
        3 => (60u64..=10 * 365 * 24 * 3600, 0u32..1_000_000_000)
            .prop_map(|(s, n)| Duration::new(s, n)),
        1 => (0u64..=300 * 365 * 24 * 3600, 0u32..1_000_000_000)
            .prop_map(|(s, n)| Duration::new(s, n)),
    ]
    .prop_filter("at least 2 ns", |d| *d >= Duration::from_nanos(2))
}

/// Every policy a spec can ask for, including `renewBefore`s longer than the lifetime (the
/// issuer's `maxTtl` may have shortened it) and zero.
fn renew_before() -> impl Strategy<Value = RenewBefore> {
    prop_oneof![
        Just(RenewBefore::Default),
        (any::<u64>(), 0u32..1_000_000_000)
            .prop_map(|(s, n)| RenewBefore::Duration(Duration::new(s, n))),
        (0u64..1_000_000_000_000_000).prop_map(|n| RenewBefore::Duration(Duration::from_nanos(n))),
        (1u8..=99).prop_map(RenewBefore::Percentage),
    ]
}

/// Token UIDs: Kubernetes' UUIDs, and any other string.
fn uid() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        any::<String>(),
    ]
}

/// The renew window in nanoseconds, as the design says: a third of the lifetime by default;
/// `renewBefore` or the percentage of the lifetime when that is a non-empty window shorter than
/// the lifetime, else the default (the issuer's `maxTtl` may have shortened the lifetime).
fn asked_window(policy: RenewBefore, lifetime: u128) -> u128 {
    let asked = match policy {
        RenewBefore::Default => lifetime / 3,
        RenewBefore::Duration(d) => d.as_nanos(),
        RenewBefore::Percentage(p) => lifetime * u128::from(p) / 100,
    };
    if asked == 0 || asked >= lifetime {
        lifetime / 3
    } else {
        asked
    }
}

proptest! {
    /// Users rely on every token being renewed while it is still valid, and never in the same
    /// instant it was issued (which would re-sign it in a loop): for any issuance time,
    /// lifetime of at least 2 ns, renew-before policy and UID, the renewal time is strictly
    /// after issuance and strictly before expiry. And on an operator restart not moving
    /// renewals: the same inputs give the same time. And on `renewBefore` and
    /// `renewBeforePercentage` meaning what they say, give or take the documented jitter, and
    /// never sooner than the minimum interval after issuance.
    #[test]
    fn renewal_is_strictly_inside_the_lifetime_and_stable(
        issued_at in issued_at(),
        lifetime in lifetime(),
        policy in renew_before(),
        uid in uid(),
    ) {
        let Some(expires_at) = issued_at.checked_add(lifetime) else {
            return Err(TestCaseError::reject("expiry beyond SystemTime"));
        };
        let at = renewal_time(issued_at, expires_at, policy, &uid);
        prop_assert!(
            matches!(at, Ok(t) if issued_at < t && t < expires_at),
            "{at:?} not strictly inside ({issued_at:?}, {expires_at:?})"
        );
        prop_assert_eq!(renewal_time(issued_at, expires_at, policy, &uid), at.clone());

        // And the policy is honoured: renewal comes no later than the asked-for window before
        // expiry, and at most a tenth of that window (the jitter) earlier.
        let lifetime_ns = lifetime.as_nanos();
        let window = asked_window(policy, lifetime_ns);
        let asked = lifetime_ns - window;
        let offset = at.unwrap().duration_since(issued_at).unwrap().as_nanos();
        // Both bounds kept strictly inside the lifetime (a 2 ns lifetime has an empty default
        // window, which would ask for renewal at expiry).
        // Never sooner than the minimum interval (plus the second `iat` may have lost).
        let floor = (MIN_RENEWAL_INTERVAL + Duration::from_secs(1)).as_nanos();
        let inside = |ns: u128| ns.max(floor).clamp(1, lifetime_ns - 1);
        let (earliest, asked) = (inside(asked - window.min(asked) / 10), inside(asked));
        prop_assert!(
            (earliest..=asked).contains(&offset),
            "renews {offset} ns after issuance; asked {asked}, earliest {earliest} (window {window})"
        );
    }

    /// The other side: a lifetime too short to have an instant strictly inside it (0 or 1 ns),
    /// or an expiry before issuance, is an error (re-sign now), never a time outside it or a
    /// panic.
    #[test]
    fn empty_lifetimes_are_refused(
        issued_at in issued_at(),
        back in prop_oneof![
            Just(Duration::ZERO),
            Just(Duration::from_nanos(1)),
            (0u64..1_000_000_000_000, 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        ],
        forward in any::<bool>(),
        policy in renew_before(),
        uid in uid(),
    ) {
        let expires_at = if forward {
            // 0 or 1 ns after issuance.
            issued_at.checked_add(back.min(Duration::from_nanos(1)))
        } else {
            issued_at.checked_sub(back)
        };
        let Some(expires_at) = expires_at else {
            return Err(TestCaseError::reject("expiry beyond SystemTime"));
        };
        prop_assert_eq!(
            renewal_time(issued_at, expires_at, policy, &uid),
            Err(ScheduleError::EmptyLifetime)
        );
    }
}
