//! Tokens made by `sign` verify with independent JWT libraries in other languages: PyJWT and
//! Node's `jsonwebtoken`, the libraries VideoSDK's own samples use. Each checks the signature
//! (HS256 only), the header, every claim, and that a wrong secret is refused
//! (`tests/interop/verify.py`, `tests/interop/verify.js`).
//!
//! `.ci/run` installs both (`tests/interop/requirements.txt`, `tests/interop/package.json`).
//! Outside CI a missing runtime skips that library with a message saying so; under CI (`CI` set)
//! it fails, so the check can never silently stop running there.

use super::{SECRET, sign_json};
#[path = "../support/interop.rs"]
mod support;
use support::{VERIFIERS, verify_with};

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
        let token = doc["token"].as_str().expect("token");
        if !verify_with(VERIFIERS[0], token, &doc["claims"], SECRET) {
            return;
        }
    }
}

#[test]
fn tokens_verify_with_node_jsonwebtoken() {
    for doc in specs() {
        let token = doc["token"].as_str().expect("token");
        if !verify_with(VERIFIERS[1], token, &doc["claims"], SECRET) {
            return;
        }
    }
}
