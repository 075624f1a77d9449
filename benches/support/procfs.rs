//! Memory and CPU of a process, from `/proc` (Linux).

/// Resident memory now and its peak (`VmRSS`, `VmHWM` of `/proc/self/status`), and the live
/// heap now and its peak (see [`super::heap`]), in MiB.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    pub rss_mib: f64,
    pub peak_mib: f64,
    pub heap_mib: f64,
    pub peak_heap_mib: f64,
}

pub fn memory() -> Memory {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
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
        heap_mib: super::heap::live_mib(),
        peak_heap_mib: super::heap::peak_mib(),
    }
}

/// Gives memory that was freed back to the system and restarts the peak (`VmHWM`) from the
/// current RSS (and the heap's peak from the live heap), so that the next [`memory`] tells what happened since.
pub fn fresh_peak() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            /// glibc: returns free heap memory to the system.
            safe fn malloc_trim(pad: usize) -> i32;
        }
        malloc_trim(0);
    }
    // "5" resets the peak resident set size (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    super::heap::reset_peak();
}

/// CPU seconds (user + system) that process `pid` (`None`: this one) has used, all threads.
pub fn cpu_seconds(pid: Option<u32>) -> f64 {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_owned(),
        |p| format!("/proc/{p}/stat"),
    );
    super::cpu::stat_cpu_seconds(&path)
}
