//! Conversions between the clock, JWT times (Unix seconds) and the RFC 3339 timestamps that
//! Kubernetes objects and people read.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A JWT time (seconds since the Unix epoch) as a clock time.
pub fn from_unix(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// A clock time as whole seconds since the Unix epoch (0 before it).
pub fn to_unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A Unix time in seconds as RFC 3339 UTC (`2026-11-28T04:30:00Z`); a value out of range prints
/// as the raw number, so that a strange token is still shown rather than refused.
pub fn rfc3339(unix_seconds: u64) -> String {
    i64::try_from(unix_seconds)
        .ok()
        .and_then(|s| Timestamp::from_second(s).ok())
        .map_or_else(
            || unix_seconds.to_string(),
            |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}

/// A clock time as a Kubernetes `Time` (whole seconds, as the API serialises it).
pub fn to_k8s(time: SystemTime) -> Time {
    let seconds = i64::try_from(to_unix(time)).unwrap_or(i64::MAX);
    Time(Timestamp::from_second(seconds).unwrap_or(Timestamp::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_utc_with_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_839_522), "2026-11-28T04:18:42Z");
        assert_eq!(rfc3339(u64::MAX), u64::MAX.to_string());
    }

    #[test]
    fn unix_round_trips_and_k8s_time_truncates_to_seconds() {
        let t = from_unix(1_795_839_522) + Duration::from_millis(900);
        assert_eq!(to_unix(t), 1_795_839_522);
        assert_eq!(to_k8s(t).0.as_second(), 1_795_839_522);
    }
}
