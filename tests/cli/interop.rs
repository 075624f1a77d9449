//! Tokens made by `sign` verify with independent JWT libraries in other languages: PyJWT and
//! Node's `jsonwebtoken`, the libraries VideoSDK's own samples use. Each checks the signature
//! (HS256 only), the header, every claim, and that a wrong secret is refused
//! (`tests/interop/verify.py`, `tests/interop/verify.js`).
//!
//! `.ci/run` installs both (`tests/interop/requirements.txt`, `tests/interop/package.json`).
//! Outside CI a missing runtime skips that library with a message saying so; under CI (`CI` set)
//! it fails, so the check can never silently stop running there.

use super::{SECRET, sign_json};
use std::path::Path;
use std::process::Command;

fn interop_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop"))
}

/// Runs one verifier over a token; `false` when its runtime or library is missing outside CI.
fn verify_with(program: &str, script: &str, probe: &[&str], doc: &serde_json::Value) -> bool {
    let available = Command::new(program)
        .args(probe)
        .current_dir(interop_dir())
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        let message = format!(
            "SKIPPED interop check with {script}: `{program}` or its JWT library is missing \
             (install with: pip install -r tests/interop/requirements.txt; cd tests/interop && npm ci)"
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "{message}; CI must have it"
        );
        eprintln!("{message}");
        return false;
    }
    let out = Command::new(program)
        .arg(script)
        .arg(doc["token"].as_str().expect("token"))
        .arg(doc["claims"].to_string())
        .env("VIDEOSDK_SECRET", SECRET)
        .current_dir(interop_dir())
        .output()
        .expect("verifier runs");
    assert!(
        out.status.success(),
        "{script} rejected the token: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&out.stdout).trim());
    true
}

fn specs() -> Vec<serde_json::Value> {
    [
        vec!["--permissions", "allow_join"],
        vec!["--permissions", "ask_join,allow_mod", "--ttl", "90m"],
        vec![
            "--permissions",
            "allow_join,allow_mod",
            "--roles",
            "rtc,crawler",
            "--room-id",
            "abcd-efgh-ijkl",
            "--participant-id",
            "participant-ü-1",
        ],
        vec!["--permissions", "allow_join", "--roles", "crawler"],
    ]
    .iter()
    .map(|args| sign_json(args))
    .collect()
}

#[test]
fn tokens_verify_with_pyjwt() {
    for doc in specs() {
        if !verify_with("python3", "verify.py", &["-c", "import jwt"], &doc) {
            return;
        }
    }
}

#[test]
fn tokens_verify_with_node_jsonwebtoken() {
    for doc in specs() {
        if !verify_with(
            "node",
            "verify.js",
            &["-e", "require('jsonwebtoken')"],
            &doc,
        ) {
            return;
        }
    }
}
