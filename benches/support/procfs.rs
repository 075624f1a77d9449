//! Memory and CPU of a process, from `/proc` (Linux).

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
    super::cpu::stat_cpu_seconds(&format!("/proc/{pid}/stat"))
}
