//! End-to-end test support of this workspace, for tests and benchmarks only (every user lists it
//! under `[dev-dependencies]`, so nothing here reaches the operator's binary): where a test runs
//! ([`cluster::TestCluster`]: the in-memory API server, or a real cluster named by
//! `VIDEOSDK_E2E_KUBECONFIG`), deadlines on every wait, the server's release and what a test
//! requires of it ([`release`]), the operator's CRDs as test data, the
//! metrics scraper, `/proc` CPU time and what kstatus makes of a status ([`kstatus`]).

pub mod cluster;
pub mod cpu;
pub mod kstatus;
pub mod operator_crds;
pub mod release;
pub mod scrape;
