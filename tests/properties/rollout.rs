//! Rollout-restart targets and the renewal schedule: for every legal renew window, restart
//! interval and run of renew-nows, replayed through the operator's own restart rule
//! (`rollout::plan`) and renewal schedule (`token::renewal_time`), a workload's pods never wait
//! for their next restart longer past their token's expiry than `rollout::restart_lag` says, the
//! figure its `RolloutRestartLagsRenewal` Warning names (none when it posts none).

use proptest::prelude::*;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use videosdk_token_operator::controller::Settings;
use videosdk_token_operator::controller::rollout::{
    MIN_RESTART_INTERVAL, RESTART_ON_RENEWAL, Step, plan, record_key, restart_lag,
};
use videosdk_token_operator::time;
use videosdk_token_operator::token::{MIN_RENEW_BEFORE, RenewBefore, renewal_time};

const UID: &str = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
const START: u64 = 1_800_000_000;

/// The operator's default restart debounce (`run --rollout-debounce`).
fn default_debounce() -> Duration {
    Settings::new("videosdk").rollout_debounce
}

/// A token in the Secret: its id, `iat` and `exp` (whole seconds, as in its claims) and when the
/// operator re-signs it.
#[derive(Clone, Copy)]
struct Token {
    id: u32,
    iat: u64,
    exp: u64,
    renewal: SystemTime,
}

fn sign(id: u32, now: SystemTime, ttl: u64, policy: RenewBefore) -> Token {
    let iat = time::to_unix(now);
    let exp = iat + ttl;
    let renewal = renewal_time(time::from_unix(iat), time::from_unix(exp), policy, UID)
        .expect("a legal spec has a renewal time");
    Token {
        id,
        iat,
        exp,
        renewal,
    }
}

/// Replays `horizon` seconds of a token with `ttl` and `policy`, renew-nows at `renew_nows`
/// (seconds after the first issuance, increasing), and a workload restarted at most every
/// `interval`; checks every time the pods hold an expired token against the bound computed,
/// as the operator does at each restart, from the figures of the token the pods read.
fn replay(
    ttl: u64,
    policy: RenewBefore,
    interval: u64,
    renew_nows: &[u64],
    horizon: u64,
) -> Result<(), TestCaseError> {
    let key = record_key("t");
    let mut workload = BTreeMap::from([
        (RESTART_ON_RENEWAL.to_owned(), "t".to_owned()),
        (MIN_RESTART_INTERVAL.to_owned(), format!("{interval}s")),
    ]);
    let mut current = sign(0, time::from_unix(START), ttl, policy);
    // First sight: recorded, not restarted; the pods started with the first token, and the
    // operator's bound for them is that of a restart at issuance.
    workload.insert(key.clone(), "0".to_owned());
    let bound = |token: &Token| {
        let lifetime = Duration::from_secs(token.exp - token.iat);
        let window = time::from_unix(token.exp)
            .duration_since(token.renewal)
            .unwrap();
        restart_lag(
            Duration::from_secs(interval),
            default_debounce(),
            lifetime,
            window,
        )
        .unwrap_or(Duration::ZERO)
    };
    let mut pods = current;
    let mut last_resign = time::from_unix(START);
    let mut wake: Option<SystemTime> = None;
    let mut renew_nows = renew_nows
        .iter()
        .map(|s| time::from_unix(START + s))
        .peekable();
    let end = time::from_unix(START + horizon);
    loop {
        let now = [Some(current.renewal), renew_nows.peek().copied(), wake]
            .into_iter()
            .flatten()
            .min()
            .unwrap();
        let expired_for = now
            .min(end)
            .duration_since(time::from_unix(pods.exp))
            .unwrap_or(Duration::ZERO);
        prop_assert!(
            expired_for <= bound(&pods),
            "pods holding token {} (iat {}, exp {}, renewal {:?}) still ran {expired_for:?} after its expiry; bound {:?}",
            pods.id,
            pods.iat - START,
            pods.exp - START,
            pods.renewal.duration_since(time::from_unix(START)).unwrap(),
            bound(&pods),
        );
        if now >= end {
            return Ok(());
        }
        // A renew-now within the debounce window of the last re-sign is left out (see below).
        let renew_now =
            renew_nows.next_if_eq(&now).is_some() && now > last_resign + default_debounce();
        if renew_now || now == current.renewal {
            last_resign = now;
            current = sign(current.id + 1, now, ttl, policy);
        }
        wake = None;
        match plan(
            &workload,
            "t",
            &current.id.to_string(),
            time::from_unix(current.iat),
            now,
            default_debounce(),
        ) {
            Step::Restart(_) => {
                pods = current;
                workload.insert(
                    key.clone(),
                    format!("{}@{}", current.id, time::rfc3339(time::to_unix(now))),
                );
            }
            Step::WaitUntil(at) => wake = Some(at),
            Step::Nothing => {}
            other => return Err(TestCaseError::fail(format!("unexpected step {other:?}"))),
        }
    }
}

/// Lifetimes from the shortest legal one (2m10s) to a day, biased towards those near the
/// restart intervals, where the rule changes.
fn ttl() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => 130u64..=1_800,
        1 => 1_800u64..=86_400,
    ]
}

proptest! {
    /// Users rely on `RolloutRestartLagsRenewal` meaning what it says: whenever a restart
    /// target's pods can hold an expired token, the Warning is posted with at least that long,
    /// and when it is not posted they never do. Renew-nows come at any time, each more than the
    /// debounce window after the one before (a run of closer ones postpones the restart until it
    /// stops, which only whoever edits the token can do).
    #[test]
    fn pods_never_wait_past_expiry_longer_than_the_reported_lag(
        ttl in ttl(),
        window_share in 0.0f64..1.0,
        percentage in prop::option::of(1u8..=99),
        interval in prop_oneof![2 => 0u64..=900, 1 => 900u64..=7_200],
        gaps in prop::collection::vec(11u64..=900, 0..12),
    ) {
        // A renewBefore from the CRD's floor (2m) to 10 s short of the ttl, or a percentage
        // whose window is at least the floor, as admission requires.
        let floor = MIN_RENEW_BEFORE.as_secs();
        let policy = match percentage {
            Some(p) if ttl * u64::from(100 - p) / 100 >= 10 && ttl * u64::from(p) / 100 >= floor => {
                RenewBefore::Percentage(p)
            }
            _ => {
                let longest = ttl - 10;
                let window = floor + ((longest - floor) as f64 * window_share) as u64;
                RenewBefore::Duration(Duration::from_secs(window))
            }
        };
        let mut at = 0;
        let renew_nows: Vec<u64> = gaps.iter().map(|gap| { at += gap; at }).collect();
        replay(ttl, policy, interval, &renew_nows, at + 3 * ttl + 2 * interval)?;
    }
}
