//! The clock: the time now, as Kubernetes writes timestamps (RFC 3339, UTC, whole seconds,
//! `metav1.Time`) and as Unix seconds (for token expiry).

use std::time::{SystemTime, UNIX_EPOCH};

/// The current time as Kubernetes writes timestamps.
pub(crate) fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A Unix time in seconds as Kubernetes writes timestamps (RFC 3339, UTC, whole seconds); a
/// time out of range as the raw number.
pub(crate) fn rfc3339(unix_seconds: u64) -> String {
    i64::try_from(unix_seconds)
        .ok()
        .and_then(|s| k8s_openapi::jiff::Timestamp::from_second(s).ok())
        .map_or_else(
            || unix_seconds.to_string(),
            |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}

/// Seconds since the Unix epoch (0 for a clock set before it).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
