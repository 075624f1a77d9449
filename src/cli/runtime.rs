//! The async runtime the commands run on, and the allocator settings it starts with.
//!
//! glibc's malloc gives each thread that allocates concurrently an arena of its own, up to 8
//! per core, and keeps what is freed in each: the operator's bursts (listing 10,000 tokens at
//! start, re-signing them all on a credential rotation) run on every Tokio worker, and the
//! freed memory stayed resident in several arenas. Measured with the operator benchmark at
//! 10,000 tokens (`BENCH_TOKENS=10000 cargo bench --bench operator`), RSS after a restart:
//! 67 MiB with glibc's defaults, 54 MiB with two arenas and a fixed 128 KiB mmap threshold
//! (buffers larger than that, such as list pages and `/metrics` bodies, go back to the system
//! when freed instead of raising the threshold and staying in an arena); the live heap is
//! about 30 MiB either way. mimalloc was tried and kept more (104 MiB).
//!
//! `MALLOC_ARENA_MAX` and `MALLOC_MMAP_THRESHOLD_` in the environment still win, for whoever
//! wants to tune it differently.
//!
//! `run` without the token request endpoint runs on one worker thread ([`Workers::One`]): its
//! tasks spend their time waiting on the API server (10,000 tokens issued used 12% of a core
//! over the 70 s they took on a real kube-apiserver), and a second worker mostly woke up to
//! steal a task and parked again: 11% of the operator's CPU was the kernel switching threads.
//! Side by side on a real API server, 1,000 tokens, three rounds alternating: 0.67–0.79 s of CPU
//! with one worker against 0.79–0.89 s with two, all Ready within the same noise
//! (`docs/src/development/benchmarks.md` has every figure). Tokio's default, a worker per core,
//! would also start 32 threads on a 32-core node for the same work. The token request endpoint
//! serves callers on every core it has ([`Workers::PerCore`]), as do `dev` (its in-memory API
//! server runs in the same process) and the short commands. `TOKIO_WORKER_THREADS` in the
//! environment wins.

/// The operating system refused the threads or I/O driver of the async runtime.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the async runtime: {0}")]
pub struct RuntimeError(#[source] std::io::Error);

/// How many worker threads a command's runtime has (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workers {
    /// One: a process that waits on the API server.
    One,
    /// Tokio's default: one per core the process may use (its CPU quota counts).
    PerCore,
}

/// A multi-threaded Tokio runtime with a worker per core, the allocator tuned as above.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, RuntimeError> {
    runtime_with(Workers::PerCore)
}

/// A multi-threaded Tokio runtime with `workers` (`TOKIO_WORKER_THREADS` wins where set), the
/// allocator tuned (before its threads start) as above. Multi-threaded even with one worker, so
/// that blocking sections (`block_in_place`) work the same either way.
pub(crate) fn runtime_with(workers: Workers) -> Result<tokio::runtime::Runtime, RuntimeError> {
    tune_allocator();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    // Tokio reads TOKIO_WORKER_THREADS only when no count is given.
    if workers == Workers::One && std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        builder.worker_threads(1);
    }
    builder.enable_all().build().map_err(RuntimeError)
}

/// At most this many malloc arenas (two Tokio workers on a 2-core pod share them well).
const ARENAS: i32 = 2;
/// Allocations at least this large are mapped and unmapped on their own.
const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Applies the settings above where the environment does not set them; returns how many were
/// applied (none on a C library other than glibc).
fn tune_allocator() -> usize {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // glibc's <malloc.h>.
        const M_MMAP_THRESHOLD: i32 = -3;
        const M_ARENA_MAX: i32 = -8;
        unsafe extern "C" {
            /// glibc: sets a malloc parameter; returns 1 on success. Safe to call at any time.
            safe fn mallopt(param: i32, value: i32) -> i32;
        }
        [
            ("MALLOC_ARENA_MAX", M_ARENA_MAX, ARENAS),
            ("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        ]
        .into_iter()
        .filter(|(variable, _, _)| std::env::var_os(variable).is_none())
        .filter(|&(_, param, value)| mallopt(param, value) == 1)
        .count()
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    0
}

#[cfg(test)]
mod tests {
    use super::{Workers, runtime_with};

    /// The workers the runtime starts: `workers`' count, or TOKIO_WORKER_THREADS where set.
    fn expected(workers: Workers) -> usize {
        match std::env::var("TOKIO_WORKER_THREADS") {
            Ok(count) => count.parse().expect("TOKIO_WORKER_THREADS is a number"),
            Err(_) if workers == Workers::One => 1,
            Err(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    #[test]
    fn a_runtime_starts_the_workers_asked_for() {
        for workers in [Workers::One, Workers::PerCore] {
            let runtime = runtime_with(workers).expect("a runtime starts");
            assert_eq!(
                runtime.metrics().num_workers(),
                expected(workers),
                "{workers:?}"
            );
        }
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_both_settings() {
        let unset = ["MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_"]
            .iter()
            .filter(|v| std::env::var_os(v).is_none())
            .count();
        assert_eq!(super::tune_allocator(), unset);
    }
}
