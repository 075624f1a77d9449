//! Test support of this workspace, for tests and benchmarks only (every user lists it under
//! `[dev-dependencies]`, so nothing here reaches the operator's binary), in one place:
//!
//! - where a test runs ([`cluster::TestCluster`]: the in-memory API server, or a real cluster
//!   named by `VIDEOSDK_E2E_KUBECONFIG`), deadlines on every wait, the server's release and what
//!   a test requires of it ([`release`]), the operator's CRDs as test data ([`operator_crds`]),
//!   what kstatus makes of a status ([`kstatus`]);
//! - talking to the operator: `dev`'s banner ([`dev_banner`]), the `/metrics` scraper ([`scrape`]), an HTTP/1.1 client for the
//!   token request endpoint ([`http`]), a self-signed server certificate ([`certificate`]), the
//!   other languages' JWT verifiers ([`interop`]), the RBAC files and what an install binds
//!   ([`rbac`]);
//! - the benchmarks' processes: the in-memory API server ([`server_process`]) and the operator's
//!   binary ([`operator_process`]) each in a child process, and their memory and CPU time from
//!   `/proc` ([`procfs`]).
//!
//! It must not depend on the operator's crate (the in-memory API server's tests use it, and the
//! operator's must not be among their dependencies): what needs the operator's code stays with its
//! test crate (`tests/operator`'s `Env`), and the operator's binary is handed in by path.

pub mod certificate;
pub mod cluster;
pub mod dev_banner;
pub mod http;
pub mod interop;
pub mod kstatus;
pub mod operator_crds;
pub mod operator_process;
pub mod procfs;
pub mod rbac;
pub mod release;
pub mod scrape;
pub mod server_process;

/// The workspace's root directory (the operator's repository), which the files read as test
/// data (`deploy/`, `tests/interop/`) are relative to.
pub const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Where the benchmarks write their results, logs and kubeconfigs: the workspace's `target/` (or
/// `CARGO_TARGET_DIR`).
pub fn target_dir() -> std::path::PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").to_owned());
    std::fs::create_dir_all(&target).expect("the target directory");
    target.into()
}
