//! When to re-sign a token: the renewal time, computed from its lifetime, the renew-before
//! policy of its spec and a jitter that is a stable function of the token's UID.

use crate::api::VideoSdkTokenSpec;
use aws_lc_rs::digest::{SHA256, digest};
use go_duration::{DurationError, GoDuration, parse_positive};
use std::time::{Duration, SystemTime};

/// The jitter moves renewal earlier by at most 1/`JITTER_DIVISOR` (10%) of the renew window.
///
/// Why 10%: tokens created together (a Helm install of 10,000 of them) would otherwise all
/// renew in the same second, and then again every lifetime after, as a burst of signing and
/// API writes. 10% of the default window (a third of 24h = 8h) spreads them over 48 minutes,
/// about 3.5 tokens a second. More spread buys little and costs the token's useful life: a token
/// renews at most 10% of its renew window earlier than asked, which a person reading
/// `status.renewalTime` will not find absurd. The jitter is also capped at 10% of the time from
/// issuance to the asked-for renewal, so that a large renew window (`renewBeforePercentage: 99`)
/// cannot push renewal back onto the issuance.
pub(crate) const JITTER_DIVISOR: u128 = 10;

/// The shortest time between a token's issuance and its renewal, and so between two re-signs of
/// one token for its schedule's sake: 10 seconds.
///
/// Why: a renew window close to the lifetime (`ttl: 1m` with `renewBeforePercentage: 99`, or
/// `renewBefore: 59s`) would otherwise renew a second or less after issuance, and since `iat` is
/// whole seconds the renewal time could already be past when signing finished: a re-sign storm
/// (each re-sign writes the Secret and the status, and posts an Event). Admission refuses specs
/// that leave less (the CRD's rules, and [`RenewBefore::from_spec`] for specs that bypassed it),
/// and [`renewal_time`] never schedules earlier whatever it is given. 10 s bounds a token to six
/// re-signs a minute whatever its spec (741 in 20 s were seen before); with the renew window
/// of at least [`MIN_RENEW_BEFORE`] it makes the shortest `ttl` [`MIN_TOKEN_TTL`], 2m10s.
pub const MIN_RENEWAL_INTERVAL: Duration = Duration::from_secs(10);

/// The shortest renew window a `VideoSdkToken` may have: how long the token a re-sign replaces
/// must still be valid once its successor is in the Secret. 2 minutes: the CRD's floor, and the
/// default of `run --min-renew-before`, which may only raise it.
///
/// Why: a pod that mounts the Secret reads the new token only once the kubelet has rewritten the
/// file, at its next sync of the pod. The kubelet syncs a running pod every `syncFrequency` (1m
/// by default, `pkg/kubelet/apis/config/v1beta1/defaults.go`) stretched by a jitter of up to half
/// (`wait.Jitter(resyncInterval, workerResyncIntervalJitterFactor)`, factor 0.5, in
/// `pkg/kubelet/pod_workers.go`; Kubernetes v1.33): 60 to 90 s, plus the Secret watch and the
/// atomic writer's swap, well under a second each. Measured on a v1.33 node: 56 to 85 s. 2
/// minutes covers the 90 s worst case with 30 s of margin (the jitter of [`renewal_time`] only
/// widens the window; the renewal floor of [`MIN_RENEWAL_INTERVAL`] plus a second may narrow it by
/// at most the 1 s of `iat`'s rounding).
pub const MIN_RENEW_BEFORE: Duration = Duration::from_secs(120);

/// The shortest `ttl` a `VideoSdkToken` can have: a [`MIN_RENEW_BEFORE`] window and
/// [`MIN_RENEWAL_INTERVAL`] between issuance and renewal, 2m10s (`ttl: 2m10s` with
/// `renewBefore: 2m`). Without `renewBefore` the window is a third of the ttl, so the ttl must be
/// at least 3 × [`MIN_RENEW_BEFORE`], 6m. Token requests keep [`super::MIN_TTL`]: their caller
/// gets the token itself, with no kubelet in between.
#[cfg(test)] // the figure the CRD's rule embeds (`min_token_ttl!`), checked against this one
pub(crate) const MIN_TOKEN_TTL: Duration = MIN_RENEW_BEFORE.saturating_add(MIN_RENEWAL_INTERVAL);

/// The earliest renewal after `iat`: [`MIN_RENEWAL_INTERVAL`] plus a second, because `iat` is
/// the signing time rounded down to the second, so that renewal comes at least the minimum after
/// the moment the token was really signed.
const RENEWAL_FLOOR: Duration = MIN_RENEWAL_INTERVAL.saturating_add(Duration::from_secs(1));

/// How long before expiry to renew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RenewBefore {
    /// When a third of the lifetime is left, as cert-manager does for certificates.
    #[default]
    Default,
    /// This long before expiry (`spec.renewBefore`).
    Duration(Duration),
    /// When this percentage of the lifetime is left (`spec.renewBeforePercentage`, 1–99).
    Percentage(u8),
}

/// Why a renewal time cannot be computed. Messages name the field to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Both `renewBefore` and `renewBeforePercentage` are set.
    #[error(
        "spec.renewBefore and spec.renewBeforePercentage are mutually exclusive: set at most one"
    )]
    BothRenewBefore,
    /// `spec.renewBefore` is not a positive Go duration.
    #[error("spec.renewBefore: {0}")]
    RenewBefore(#[source] DurationError),
    /// `spec.renewBeforePercentage` is outside 1–99.
    #[error("spec.renewBeforePercentage must be between 1 and 99, got {0}")]
    PercentageOutOfRange(i32),
    /// The renew window leaves less than [`MIN_RENEWAL_INTERVAL`] between issuance and renewal.
    #[error(
        "{field} {value} leaves {lead} between issuance and renewal of a {ttl} token, less than the minimum of 10s: renew at most ttl − 10s before expiry"
    )]
    WindowTooLong {
        /// `spec.renewBefore` or `spec.renewBeforePercentage`.
        field: &'static str,
        /// The field's value as written.
        value: String,
        /// The time left between issuance and renewal, in Go's notation.
        lead: String,
        /// The ttl, in Go's notation.
        ttl: String,
    },
    /// The renew window is shorter than the operator's minimum (`run --min-renew-before`, at
    /// least [`MIN_RENEW_BEFORE`]): pods that mount the Secret could read an expired token.
    #[error(
        "{asked} gives a renew window of {window}, shorter than the minimum of {minimum} (run --min-renew-before): \
         the kubelet may update a mounted Secret 90s after a re-sign, and the old token must stay valid until then; {fix}"
    )]
    WindowTooShort {
        /// The fields that set the window, as written.
        asked: String,
        /// The window they give, in Go's notation.
        window: String,
        /// The operator's minimum, in Go's notation.
        minimum: String,
        /// What to write instead.
        fix: String,
    },
    /// The token expires at (or within a nanosecond of) its issuance, so no time lies strictly
    /// between the two; such a token must be re-signed at once.
    #[error("the token expires at or before it is issued: re-sign it now")]
    EmptyLifetime,
}

impl RenewBefore {
    /// The policy a `VideoSdkToken` spec asks for.
    ///
    /// Refuses a window that leaves less than [`MIN_RENEWAL_INTERVAL`] between issuance and
    /// renewal of the spec's `ttl` (when the ttl parses; a bad ttl is reported on its own). A
    /// `renewBefore` at least as long as the ttl is not refused here: [`renewal_time`] falls back
    /// to the default for it, and the CRD refuses it at admission with its own message.
    pub fn from_spec(spec: &VideoSdkTokenSpec) -> Result<Self, ScheduleError> {
        let policy = Self::from_fields(spec)?;
        let Ok(ttl) = parse_positive(&spec.ttl) else {
            return Ok(policy);
        };
        let lifetime = ttl.as_nanos();
        let lead = lifetime - policy.window(lifetime);
        if lead >= MIN_RENEWAL_INTERVAL.as_nanos() {
            return Ok(policy);
        }
        let (field, value) = match policy {
            RenewBefore::Percentage(p) => ("spec.renewBeforePercentage", p.to_string()),
            _ => (
                "spec.renewBefore",
                spec.renew_before.clone().unwrap_or_default(),
            ),
        };
        let go = |nanos: u128| GoDuration::from_nanos(i64::try_from(nanos).unwrap_or(i64::MAX));
        Err(ScheduleError::WindowTooLong {
            field,
            value,
            lead: go(lead).to_string(),
            ttl: go(lifetime).to_string(),
        })
    }

    fn from_fields(spec: &VideoSdkTokenSpec) -> Result<Self, ScheduleError> {
        match (&spec.renew_before, spec.renew_before_percentage) {
            (Some(_), Some(_)) => Err(ScheduleError::BothRenewBefore),
            (Some(text), None) => parse_positive(text)
                .map(RenewBefore::Duration)
                .map_err(ScheduleError::RenewBefore),
            (None, Some(percent)) => u8::try_from(percent)
                .ok()
                .filter(|p| (1..=99).contains(p))
                .map(RenewBefore::Percentage)
                .ok_or(ScheduleError::PercentageOutOfRange(percent)),
            (None, None) => Ok(RenewBefore::Default),
        }
    }

    /// The renew window of a token of lifetime `ttl`: `renewBefore`, `ttl × percentage / 100`
    /// or a third of `ttl` (the default, and the fallback for an asked window that is empty or
    /// not shorter than `ttl`).
    pub(crate) fn window_for(self, ttl: Duration) -> Duration {
        nanos(self.window(ttl.as_nanos()))
    }

    /// Refuses a renew window shorter than `minimum` (`run --min-renew-before`, never below
    /// [`MIN_RENEW_BEFORE`]) for a token of lifetime `ttl`, with a message that names the field
    /// and what to write instead. Checked at every reconcile for specs that passed an older CRD,
    /// or a CRD floor below a raised `--min-renew-before`.
    pub fn check_window(self, ttl: Duration, minimum: Duration) -> Result<(), ScheduleError> {
        let window = self.window_for(ttl);
        if window >= minimum {
            return Ok(());
        }
        let go = go_duration::format_human;
        let (min, ttl_text) = (go(minimum), go(ttl));
        let with_renew_before = format!(
            "spec.renewBefore to at least {min} (with a ttl of at least {})",
            go(minimum.saturating_add(MIN_RENEWAL_INTERVAL))
        );
        let (asked, fix) = match self {
            RenewBefore::Duration(d) if d == window => (
                format!("spec.renewBefore {}", go(d)),
                format!("set {with_renew_before}"),
            ),
            RenewBefore::Percentage(p)
                if window.as_nanos() > 0
                    && u128::from(p) * ttl.as_nanos() / 100 == window.as_nanos() =>
            {
                let least = (minimum.as_nanos() * 100).div_ceil(ttl.as_nanos().max(1));
                let leaves_interval =
                    |p: u128| ttl.as_nanos() * (100 - p) / 100 >= MIN_RENEWAL_INTERVAL.as_nanos();
                let fix = if least <= 99 && leaves_interval(least) {
                    format!(
                        "set spec.renewBeforePercentage to at least {least}, or {with_renew_before}"
                    )
                } else {
                    format!("set {with_renew_before}")
                };
                (
                    format!("spec.renewBeforePercentage {p} of ttl {ttl_text}"),
                    fix,
                )
            }
            _ => (
                format!("no spec.renewBefore (a third of ttl {ttl_text})"),
                format!(
                    "set spec.ttl to at least {}, or {with_renew_before}",
                    go(minimum.saturating_mul(3))
                ),
            ),
        };
        Err(ScheduleError::WindowTooShort {
            asked,
            window: go(window),
            minimum: min,
            fix,
        })
    }

    /// The renew window, in nanoseconds, for a lifetime of `lifetime` nanoseconds. A window that
    /// is empty or not shorter than the lifetime (a `renewBefore` ≥ ttl given anyway, a
    /// percentage outside 1–99) falls back to the default, as cert-manager does when renewBefore
    /// exceeds a certificate's duration.
    fn window(self, lifetime: u128) -> u128 {
        let default = lifetime / 3;
        let asked = match self {
            RenewBefore::Default => default,
            RenewBefore::Duration(d) => d.as_nanos(),
            RenewBefore::Percentage(p) => lifetime * u128::from(p) / 100,
        };
        if asked == 0 || asked >= lifetime {
            default
        } else {
            asked
        }
    }
}

/// When to re-sign a token issued at `issued_at` that expires at `expires_at`: `expires_at −
/// renew window − jitter`, where the jitter is a fraction of [`JITTER_DIVISOR`]'s bound chosen by
/// hashing `uid` (the same UID gives the same time in every process and every version, so a
/// restarted operator computes what it computed before).
///
/// The result is never less than [`MIN_RENEWAL_INTERVAL`] plus one second after `issued_at` (a
/// spec that asks for less, having bypassed admission, or a jitter that would take it below,
/// gets that floor; the second covers `iat`'s rounding down), and always strictly after `issued_at` and strictly before `expires_at`, to the
/// nanosecond (a lifetime shorter than the minimum, which no valid spec has, renews a
/// nanosecond before expiry). Callers pass the `iat` actually signed, so that the interval is
/// measured from the second the token says it was issued.
pub fn renewal_time(
    issued_at: SystemTime,
    expires_at: SystemTime,
    renew_before: RenewBefore,
    uid: &str,
) -> Result<SystemTime, ScheduleError> {
    let lifetime = expires_at
        .duration_since(issued_at)
        .map_err(|_| ScheduleError::EmptyLifetime)?
        .as_nanos();
    if lifetime < 2 {
        return Err(ScheduleError::EmptyLifetime);
    }
    let window = renew_before.window(lifetime);
    let lead = lifetime - window;
    let jitter = scale(window.min(lead) / JITTER_DIVISOR, uid_fraction(uid));
    let offset = lead
        .saturating_sub(jitter)
        .max(RENEWAL_FLOOR.as_nanos())
        .clamp(1, lifetime - 1);
    Ok(issued_at + nanos(offset))
}

/// A number in `[0, 2^64)` that depends only on `uid`: the first 8 bytes of its SHA-256, read
/// big-endian. SHA-256 rather than `std`'s `DefaultHasher`, whose output may change between
/// Rust releases and is seeded per process.
fn uid_fraction(uid: &str) -> u64 {
    let hash = digest(&SHA256, uid.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_ref()[..8]);
    u64::from_be_bytes(first)
}

/// `span × fraction / 2^64`, without overflowing for any span (a lifetime between two
/// `SystemTime`s can exceed 2^64 ns).
fn scale(span: u128, fraction: u64) -> u128 {
    let fraction = u128::from(fraction);
    let (high, low) = (span >> 64, span & u128::from(u64::MAX));
    high * fraction + ((low * fraction) >> 64)
}

/// `n` nanoseconds as a `Duration`; `n` is at most a lifetime that came from a `Duration`.
fn nanos(n: u128) -> Duration {
    const PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(n / PER_SEC).unwrap_or(u64::MAX);
    Duration::new(secs, (n % PER_SEC) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Permission;
    use crate::token::test_spec;
    use std::collections::HashMap;
    use std::time::UNIX_EPOCH;

    const HOUR: Duration = Duration::from_secs(3600);
    const MINUTE: Duration = Duration::from_secs(60);

    fn issued() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_795_824_000)
    }

    /// The renewal time of a token of lifetime `ttl`, as an offset from issuance.
    fn offset(ttl: Duration, policy: RenewBefore, uid: &str) -> Duration {
        let at = renewal_time(issued(), issued() + ttl, policy, uid).unwrap();
        let offset = at.duration_since(issued()).unwrap();
        assert!(
            offset > Duration::ZERO && offset < ttl,
            "{offset:?} not inside {ttl:?}"
        );
        offset
    }

    /// Asserts renewal lies within the window `[lead - lead_or_window/10, lead]`.
    fn assert_near(ttl: Duration, policy: RenewBefore, want_lead: Duration) {
        let window = ttl - want_lead;
        let max_jitter = window.min(want_lead) / 10;
        for uid in ["a", "b", "c", "d", "e", "f", "g", "h"] {
            let got = offset(ttl, policy, uid);
            assert!(
                got <= want_lead && got + max_jitter >= want_lead,
                "{policy:?} ttl {ttl:?}: renews {got:?} after issuance, want {want_lead:?} minus at most {max_jitter:?}"
            );
        }
    }

    #[test]
    fn default_renews_with_a_third_left() {
        assert_near(24 * HOUR, RenewBefore::Default, 16 * HOUR);
        assert_near(MINUTE, RenewBefore::Default, Duration::from_secs(40));
    }

    #[test]
    fn duration_and_percentage_windows() {
        assert_near(24 * HOUR, RenewBefore::Duration(HOUR), 23 * HOUR);
        assert_near(24 * HOUR, RenewBefore::Percentage(50), 12 * HOUR);
        // 1%: renew with 14m24s left of 24h.
        assert_near(
            24 * HOUR,
            RenewBefore::Percentage(1),
            24 * HOUR - Duration::from_secs(864),
        );
        // 99% of 24h: renew 14m24s after issuance.
        assert_near(
            24 * HOUR,
            RenewBefore::Percentage(99),
            Duration::from_secs(864),
        );
    }

    #[test]
    fn tiny_ttl_edges_keep_sub_second_resolution() {
        // 1m at 1%: the window is 600ms, and renewal still lands before expiry.
        assert_near(
            MINUTE,
            RenewBefore::Percentage(1),
            Duration::from_millis(59_400),
        );
        // 1m at 83%: 10.2s, which the jitter would take below the minimum interval; it may not
        // (the floor adds the second that `iat` may have lost to rounding).
        for uid in ["a", "b", "c", "d"] {
            assert_eq!(
                offset(MINUTE, RenewBefore::Percentage(83), uid),
                RENEWAL_FLOOR
            );
        }
    }

    #[test]
    fn a_window_close_to_the_lifetime_still_renews_no_sooner_than_the_minimum() {
        // What admission refuses, given anyway (an object that bypassed it).
        for policy in [
            RenewBefore::Percentage(99),
            RenewBefore::Duration(Duration::from_secs(59)),
            RenewBefore::Duration(MINUTE - Duration::from_nanos(1)),
        ] {
            for uid in ["a", "b", "c", "d"] {
                assert_eq!(offset(MINUTE, policy, uid), RENEWAL_FLOOR);
            }
        }
        // 99% of 24h leaves 14m24s: far above the minimum, so the policy holds as asked.
        assert_near(
            24 * HOUR,
            RenewBefore::Percentage(99),
            Duration::from_secs(864),
        );
    }

    #[test]
    fn specs_that_leave_less_than_the_minimum_are_refused_with_the_field() {
        let mut s = spec();
        s.ttl = "1m".to_owned();
        s.renew_before_percentage = Some(99);
        assert_eq!(
            RenewBefore::from_spec(&s),
            Err(ScheduleError::WindowTooLong {
                field: "spec.renewBeforePercentage",
                value: "99".to_owned(),
                lead: "600ms".to_owned(),
                ttl: "1m0s".to_owned(),
            })
        );
        s.renew_before_percentage = Some(83);
        assert_eq!(RenewBefore::from_spec(&s), Ok(RenewBefore::Percentage(83)));
        s.renew_before_percentage = Some(84);
        assert!(RenewBefore::from_spec(&s).is_err());
        s.renew_before_percentage = None;
        s.renew_before = Some("59s".to_owned());
        let error = RenewBefore::from_spec(&s).unwrap_err();
        assert_eq!(
            error.to_string(),
            "spec.renewBefore 59s leaves 1s between issuance and renewal of a 1m0s token, less than the minimum of 10s: renew at most ttl − 10s before expiry"
        );
        s.renew_before = Some("50s".to_owned());
        assert_eq!(
            RenewBefore::from_spec(&s),
            Ok(RenewBefore::Duration(Duration::from_secs(50)))
        );
        // The default window of the shortest ttl leaves 40s.
        s.renew_before = None;
        assert_eq!(RenewBefore::from_spec(&s), Ok(RenewBefore::Default));
    }

    #[test]
    fn renew_windows_below_the_minimum_are_refused_with_the_field_and_the_fix() {
        let check = |policy: RenewBefore, ttl: Duration| {
            policy
                .check_window(ttl, MIN_RENEW_BEFORE)
                .map_err(|e| e.to_string())
        };
        // The shortest legal schedule of each kind passes, one step shorter does not.
        assert_eq!(
            check(RenewBefore::Duration(2 * MINUTE), MIN_TOKEN_TTL),
            Ok(())
        );
        assert_eq!(check(RenewBefore::Default, 6 * MINUTE), Ok(()));
        assert_eq!(check(RenewBefore::Percentage(40), 5 * MINUTE), Ok(()));
        assert_eq!(
            check(RenewBefore::Duration(Duration::from_secs(119)), HOUR),
            Err("spec.renewBefore 1m59s gives a renew window of 1m59s, shorter than the minimum of 2m (run --min-renew-before): \
                 the kubelet may update a mounted Secret 90s after a re-sign, and the old token must stay valid until then; \
                 set spec.renewBefore to at least 2m (with a ttl of at least 2m10s)".to_owned())
        );
        // The spec: ttl 2m, the default window of 40s.
        assert_eq!(
            check(RenewBefore::Default, 2 * MINUTE),
            Err("no spec.renewBefore (a third of ttl 2m) gives a renew window of 40s, shorter than the minimum of 2m (run --min-renew-before): \
                 the kubelet may update a mounted Secret 90s after a re-sign, and the old token must stay valid until then; \
                 set spec.ttl to at least 6m, or spec.renewBefore to at least 2m (with a ttl of at least 2m10s)".to_owned())
        );
        assert!(check(RenewBefore::Default, 6 * MINUTE - Duration::from_nanos(3)).is_err());
        // A percentage: the least one that reaches the minimum for this ttl, when there is one.
        let error = check(RenewBefore::Percentage(39), 5 * MINUTE).unwrap_err();
        assert!(
            error.starts_with("spec.renewBeforePercentage 39 of ttl 5m gives a renew window of 1m57s")
                && error.ends_with("set spec.renewBeforePercentage to at least 40, or spec.renewBefore to at least 2m (with a ttl of at least 2m10s)"),
            "{error}"
        );
        // 2m of 2m5s is 96%, which leaves less than 10s before renewal: only renewBefore can help.
        let error = check(RenewBefore::Percentage(50), Duration::from_secs(125)).unwrap_err();
        assert!(
            error.ends_with("; set spec.renewBefore to at least 2m (with a ttl of at least 2m10s)"),
            "{error}"
        );
        // A renewBefore not shorter than the ttl falls back to the default window, and says so.
        let error = check(RenewBefore::Duration(5 * MINUTE), 3 * MINUTE).unwrap_err();
        assert!(
            error.starts_with("no spec.renewBefore (a third of ttl 3m) gives a renew window of 1m"),
            "{error}"
        );
        // A raised minimum (kubelets that sync every 2m: up to 3m) refuses what the CRD admits.
        let raised = 4 * MINUTE;
        let error = RenewBefore::Duration(2 * MINUTE)
            .check_window(HOUR, raised)
            .unwrap_err()
            .to_string();
        assert!(error.contains("shorter than the minimum of 4m"), "{error}");
        assert_eq!(
            RenewBefore::Default.check_window(12 * MINUTE, raised),
            Ok(())
        );
    }

    #[test]
    fn window_not_shorter_than_the_lifetime_falls_back_to_the_default() {
        for policy in [
            RenewBefore::Duration(MINUTE),
            RenewBefore::Duration(2 * MINUTE),
            RenewBefore::Duration(Duration::MAX),
            RenewBefore::Duration(Duration::ZERO),
            RenewBefore::Percentage(0),
            RenewBefore::Percentage(100),
            RenewBefore::Percentage(u8::MAX),
        ] {
            assert_near(MINUTE, policy, Duration::from_secs(40));
        }
    }

    #[test]
    fn always_strictly_inside_the_lifetime() {
        let lifetimes = [
            Duration::from_nanos(2),
            Duration::from_nanos(3),
            Duration::from_nanos(10),
            Duration::from_secs(1),
            MINUTE,
            24 * HOUR,
            Duration::from_secs(u64::from(u32::MAX)),
            Duration::from_secs(1 << 62),
        ];
        let policies = [
            RenewBefore::Default,
            RenewBefore::Duration(Duration::from_nanos(1)),
            RenewBefore::Duration(Duration::from_secs(1)),
            RenewBefore::Duration(Duration::MAX),
            RenewBefore::Percentage(0),
            RenewBefore::Percentage(1),
            RenewBefore::Percentage(50),
            RenewBefore::Percentage(99),
            RenewBefore::Percentage(200),
        ];
        for ttl in lifetimes {
            for policy in policies {
                for uid in ["", "x", "some-uid", "0b1d3f0e-9c5a-4c1e-8d2b-7f6a5e4d3c2b"] {
                    offset(ttl, policy, uid); // asserts the bounds
                }
            }
        }
    }

    #[test]
    fn empty_or_inverted_lifetimes_are_refused() {
        let t = issued();
        for expires in [t, t + Duration::from_nanos(1), t - Duration::from_secs(1)] {
            assert_eq!(
                renewal_time(t, expires, RenewBefore::Default, "uid"),
                Err(ScheduleError::EmptyLifetime)
            );
        }
    }

    #[test]
    fn same_uid_same_time_and_the_hash_is_pinned() {
        let ttl = 24 * HOUR;
        let a = offset(ttl, RenewBefore::Default, "abc");
        assert_eq!(a, offset(ttl, RenewBefore::Default, "abc"));
        // Pinned, so that a change of hash (which would move every token's renewal after an
        // upgrade) fails here: SHA-256("abc") begins ba7816bf8f01cfea (FIPS 180-2, B.1).
        let window: u128 = (8 * HOUR).as_nanos();
        let jitter = (window / 10 * 0xba78_16bf_8f01_cfea_u128) >> 64;
        assert_eq!(a, 16 * HOUR - nanos(jitter));
        assert!(jitter > 0);
    }

    #[test]
    fn ten_thousand_tokens_created_together_spread_out() {
        let ttl = 24 * HOUR;
        let mut per_second: HashMap<u64, usize> = HashMap::new();
        // Near-identical UIDs (a counter) are the harshest input for the hash's spread, and keep
        // the test deterministic.
        for i in 0..10_000u32 {
            let uid = format!("{i:08x}-0000-4000-8000-000000000000");
            let at = renewal_time(issued(), issued() + ttl, RenewBefore::Default, &uid).unwrap();
            let second = at.duration_since(UNIX_EPOCH).unwrap().as_secs();
            *per_second.entry(second).or_default() += 1;
        }
        let busiest = per_second.values().copied().max().unwrap();
        // The window is 8h, the jitter up to 48 minutes: ~3.5 a second on average.
        assert!(
            per_second.len() > 2_000,
            "only {} distinct seconds",
            per_second.len()
        );
        assert!(busiest <= 20, "{busiest} tokens renew in the same second");
    }

    fn spec() -> VideoSdkTokenSpec {
        test_spec(vec![Permission::AllowJoin])
    }

    #[test]
    fn policy_from_spec() {
        assert_eq!(RenewBefore::from_spec(&spec()), Ok(RenewBefore::Default));
        let mut s = spec();
        s.renew_before = Some("1h30m".to_owned());
        assert_eq!(
            RenewBefore::from_spec(&s),
            Ok(RenewBefore::Duration(Duration::from_secs(5400)))
        );
        s.renew_before_percentage = Some(20);
        assert_eq!(
            RenewBefore::from_spec(&s),
            Err(ScheduleError::BothRenewBefore)
        );
        s.renew_before = None;
        assert_eq!(RenewBefore::from_spec(&s), Ok(RenewBefore::Percentage(20)));
        for bad in [0, 100, -5, 1_000] {
            s.renew_before_percentage = Some(bad);
            assert_eq!(
                RenewBefore::from_spec(&s),
                Err(ScheduleError::PercentageOutOfRange(bad))
            );
        }
        let mut s = spec();
        s.renew_before = Some("-1h".to_owned());
        assert!(matches!(
            RenewBefore::from_spec(&s),
            Err(ScheduleError::RenewBefore(DurationError::Negative { .. }))
        ));
        s.renew_before = Some("1d".to_owned());
        let err = RenewBefore::from_spec(&s).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("spec.renewBefore: unknown unit"),
            "{err}"
        );
    }
}
