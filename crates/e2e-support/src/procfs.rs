//! Memory and CPU time of a process, from `/proc` (Linux), for the operator's and the API
//! server's benchmarks.

/// Resident memory of a process now and its peak since it started (`VmRSS`, `VmHWM` of
/// `/proc/PID/status`), in MiB, and what the resident memory is now: the process's own data
/// (`RssAnon`: heap, stacks) and mapped files (`RssFile`: mostly the binary's code, shared with
/// other processes running it and reclaimable, but charged to the container's memory too).
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    pub rss_mib: f64,
    pub peak_mib: f64,
    pub anon_mib: f64,
    pub file_mib: f64,
}

pub fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    Memory {
        rss_mib: field("VmRSS:"),
        peak_mib: field("VmHWM:"),
        anon_mib: field("RssAnon:"),
        file_mib: field("RssFile:"),
    }
}

/// CPU seconds (user + system) that process `pid` has used, all threads.
pub fn cpu_seconds(pid: u32) -> f64 {
    stat_cpu_seconds(&format!("/proc/{pid}/stat"))
}

/// CPU seconds (user + system) recorded in a `/proc/.../stat` file: `/proc/self/stat` for this
/// process, `/proc/PID/stat` for another, `/proc/thread-self/stat` for the calling thread.
pub fn stat_cpu_seconds(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Clock ticks are 1/100 s on Linux.
    (ticks(11) + ticks(12)) / 100.0
}
