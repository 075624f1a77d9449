//! Helpers of the operator benchmark: the in-memory API server in a child process, and what
//! `/proc` says about a process's memory and CPU, and a counting allocator for its live heap.

pub mod cpu;
pub mod heap;

pub mod procfs;
pub mod server;
