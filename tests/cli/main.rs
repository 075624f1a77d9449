//! Tests that run the `videosdk-token-operator` binary as a user does: `status`, `renew` and `run`
//! against the in-memory API server (`cluster`, `status`), `dev`, the offline commands
//! (`sign`, `inspect`). The interoperability of the tokens with other languages' JWT libraries is
//! checked by `tests/interop` (a harness of its own).

// A test or benchmark binary exports nothing: its `pub` items are shared between its own
// modules, and are not the crate's public API that `missing_docs` is about.
#![allow(unreachable_pub, missing_docs)]

mod cluster;
mod dev;
mod offline;
mod schemas;
mod status;

use std::io::Write;
use std::process::{Command, Stdio};

/// API key used by these tests.
pub const API_KEY: &str = "test-api-key-1234";
/// API secret used by these tests; no output may ever contain it.
pub const SECRET: &str = "test-secret-5f3c2a9e8d7b6a5f4e3d2c1b0a998877";

/// What a run of the binary left behind.
pub struct Run {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs the binary with `args`, the test credentials in the environment (`None` for the secret
/// to leave it out), and `stdin` piped in.
pub fn run_with(args: &[&str], secret: Option<&str>, stdin: &str) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_videosdk-token-operator"));
    command
        .args(args)
        .env("VIDEOSDK_API_KEY", API_KEY)
        .env_remove("VIDEOSDK_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(secret) = secret {
        command.env("VIDEOSDK_SECRET", secret);
    }
    let mut child = command.spawn().expect("the binary starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("stdin is writable");
    let out = child.wait_with_output().expect("the binary finishes");
    let run = Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    };
    assert!(
        !run.stdout.contains(SECRET) && !run.stderr.contains(SECRET),
        "the API secret appeared in the output of {args:?}"
    );
    run
}

/// Runs the binary with the test credentials and no stdin.
pub fn run(args: &[&str]) -> Run {
    run_with(args, Some(SECRET), "")
}

/// Signs with `args` and `--output json`; returns the parsed document.
pub fn sign_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["sign", "--output", "json"];
    all.extend_from_slice(args);
    let run = run(&all);
    assert_eq!(run.code, 0, "sign {args:?} failed: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("sign --output json prints JSON")
}

/// Whether every program of `programs` runs here (`PROGRAM --help`). Where one does not, the test
/// named `test` says SKIPPED and returns; under CI (`CI` set) that is a failure instead: CI has
/// them all, and a skip there would hide a test that never runs.
pub fn have_all(test: &str, programs: &[&str]) -> bool {
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|program| {
            Command::new(program)
                .arg("--help")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_err()
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} needs {missing:?}, which CI must have"
    );
    println!("SKIPPED {test}: needs {}", missing.join(", "));
    false
}
