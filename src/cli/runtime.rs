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

/// The operating system refused the threads or I/O driver of the async runtime.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the async runtime: {0}")]
pub struct RuntimeError(#[source] std::io::Error);

/// A multi-threaded Tokio runtime, with the allocator tuned (before its threads start) as above.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, RuntimeError> {
    tune_allocator();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RuntimeError)
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
