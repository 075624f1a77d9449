//! Helpers of the operator benchmark: the in-memory API server and the operator, each in a child
//! process of its own, and what `/proc` says about a process's memory and CPU.

pub mod operator;
pub mod procfs;
pub use e2e_support::{cpu, scrape};
pub mod server;

/// Where the benchmark writes its results, log and kubeconfig: `target/` (or `CARGO_TARGET_DIR`).
pub fn target_dir() -> std::path::PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").to_owned());
    std::fs::create_dir_all(&target).expect("the target directory");
    target.into()
}
