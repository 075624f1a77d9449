//! What one connection may cost and how many a listener keeps: the bounds that keep a client
//! that opens connections and sends nothing (or a byte at a time) from holding the operator's
//! file descriptors and memory for ever (issue 20: 8,000 idle TLS connections took 200 MiB and
//! a client holding 1,974 of them exhausted a 2,048 file limit).

use std::time::Duration;

/// How long a client may take to complete the TLS handshake.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send a request's line and headers, counted from the moment
/// the server waits for them: the connection's start (after the TLS handshake) or the end of the
/// previous answer. hyper counts both in its one timer, so this is also the idle keep-alive
/// timeout: a connection that sends no request for this long is closed. Go's HTTP client keeps
/// idle connections up to 90 s and opens a new one when the server has closed one; Node's keeps
/// them 5 s.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a request may take from the end of its headers to the end of its answer: the body
/// (at most 16 KiB for the token endpoint, one TCP round trip for a client that sends it) and
/// the answer, API server reviews included. Past it the answer is 503 and the connection closed.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long writing one answer may stay blocked: from the first write the client's TCP window
/// refuses (it stopped reading) until the answer is all handed to the kernel. A client that
/// never reads a large answer (`/metrics`) would otherwise hold its connection, and the answer's
/// buffers, for ever; past it the connection is closed.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The most bytes hyper buffers while reading a request's line and headers (and a body chunk):
/// a request whose headers do not fit is answered 431 and the connection closed. A bearer token
/// is at most 8 KiB (the token endpoint's own limit); hyper's default is some 400 KiB per
/// connection, 400 MiB at a cap of 1,024, and its minimum is 8 KiB.
pub(crate) const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The token request listener's connection cap, by default (`--token-requests-max-connections`):
/// well above what a few hundred keep-alive callers hold, and at 19 KiB an idle TLS connection
/// (`cargo bench --bench token_requests`), some 19 MiB at the cap, inside the chart's 128 Mi
/// memory limit.
pub(crate) const TOKEN_REQUESTS_MAX_CONNECTIONS: u32 = 1024;

/// The token request listener's connections from one client IP address, by default
/// (`--token-requests-max-connections-per-ip`): an eighth of the cap, so that one client cannot
/// hold the whole listener. Clients behind one NAT address share it.
pub(crate) const TOKEN_REQUESTS_MAX_CONNECTIONS_PER_IP: u32 = 128;

/// The metrics and health listener's connection cap: Prometheus scrapers and the kubelet's
/// probes hold a few connections each.
pub const METRICS_MAX_CONNECTIONS: usize = 64;

/// The metrics and health listener's connections from one client IP address: the kubelet's
/// probes come from the node's address, a scraper from its pod's, so that one client holding
/// its share leaves the rest of the cap to the probes.
pub const METRICS_MAX_CONNECTIONS_PER_IP: usize = 8;

/// No listener's cap exceeds this fraction (1/N) of the process's open-file limit, so that
/// listeners at their caps leave descriptors for the API server connections, watches and logs.
pub(crate) const FILE_LIMIT_SHARE: u64 = 4;

/// The bounds of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once; one more is accepted and closed at once.
    pub max_connections: usize,
    /// Connections open at once from one client IP address; one more from it is accepted and
    /// closed at once.
    pub max_connections_per_ip: usize,
    /// See [`HANDSHAKE_TIMEOUT`].
    pub handshake_timeout: Duration,
    /// See [`HEADER_READ_TIMEOUT`] (also the idle keep-alive timeout).
    pub header_read_timeout: Duration,
    /// See [`REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// See [`WRITE_TIMEOUT`].
    pub write_timeout: Duration,
}

impl Limits {
    /// The documented timeouts, with a cap of `max_connections` lowered to a
    /// [`FILE_LIMIT_SHARE`] of the open-file limit (at least 1), and at most
    /// `max_connections_per_ip` of them from one address.
    pub fn new(max_connections: usize, max_connections_per_ip: usize) -> Limits {
        Limits {
            max_connections: capped(max_connections, open_file_limit()),
            max_connections_per_ip: max_connections_per_ip.max(1),
            handshake_timeout: HANDSHAKE_TIMEOUT,
            header_read_timeout: HEADER_READ_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
        }
    }
}

/// `wanted`, at most `file_limit / FILE_LIMIT_SHARE` (at least 1); `wanted` when the limit is
/// unknown.
fn capped(wanted: usize, file_limit: Option<u64>) -> usize {
    match file_limit {
        Some(limit) => {
            let share = usize::try_from(limit / FILE_LIMIT_SHARE).unwrap_or(usize::MAX);
            wanted.min(share).max(1)
        }
        None => wanted,
    }
}

/// The process's soft open-file limit (`RLIMIT_NOFILE`, getrlimit(2)); `None` when unlimited
/// or unknown.
pub(crate) fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one `rlimit` through a pointer to a valid one.
        let read = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
        (read && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
    }
    #[cfg(not(unix))]
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cap_is_at_most_a_quarter_of_the_file_limit() {
        assert_eq!(capped(1024, Some(1_048_576)), 1024);
        assert_eq!(capped(1024, Some(2048)), 512);
        assert_eq!(capped(64, Some(2)), 1);
        assert_eq!(capped(1024, None), 1024);
    }

    #[test]
    fn the_file_limit_is_read() {
        assert!(open_file_limit().is_some_and(|l| l > 0));
    }
}
