//! CPU time from `/proc` (Linux), shared by the operator and API server benchmarks.

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
