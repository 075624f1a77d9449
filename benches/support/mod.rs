//! Helpers of the operator benchmark: the in-memory API server in a child process, and what
//! `/proc` says about a process's memory and CPU.

pub mod procfs;
pub mod server;
