//! What needs another language's runtime: tokens made by `sign` verify with PyJWT and Node's
//! `jsonwebtoken` (the libraries VideoSDK's own samples use), and the client examples of
//! `deploy/examples/clients/` get a token from the token request endpoint.
//!
//! `.ci/run` installs both libraries (`tests/interop/requirements.txt`, `package.json`). This
//! harness (libtest-mimic) looks for each runtime before it lists the tests: outside CI a test
//! whose runtime is missing is listed as ignored, so the summary counts it (`1 ignored`) and a
//! line on standard error says what to install; under CI (`CI` set) it runs, and fails, so a
//! green CI always means the tokens verified in Python and Node and both examples ran.

// A test binary exports nothing: its `pub` items are shared between its own modules.
#![allow(unreachable_pub, missing_docs)]

mod clients;

use e2e_support::interop::{VERIFIERS, available, verify_with};
use libtest_mimic::{Arguments, Failed, Trial};
use std::process::{Command, Stdio};

/// API key used by the `sign` tests.
const API_KEY: &str = "test-api-key-1234";
/// API secret used by the `sign` tests.
const SECRET: &str = "test-secret-5f3c2a9e8d7b6a5f4e3d2c1b0a998877";

fn main() {
    let args = Arguments::from_args();
    let python = available(VERIFIERS[0]);
    let node = available(VERIFIERS[1]);
    let trials = vec![
        needs(
            python,
            "python3 with PyJWT (pip install -r tests/interop/requirements.txt)",
            Trial::test("tokens_verify_with_pyjwt", || {
                verify_signed_tokens(VERIFIERS[0])
            }),
        ),
        needs(
            node,
            "node with jsonwebtoken (cd tests/interop && npm ci)",
            Trial::test("tokens_verify_with_node_jsonwebtoken", || {
                verify_signed_tokens(VERIFIERS[1])
            }),
        ),
        needs(
            runs("python3", &["--version"]) && runs("openssl", &["version"]),
            "python3 and openssl",
            Trial::test(
                "the_python_client_example_gets_a_participant_token",
                clients::python,
            ),
        ),
        needs(
            clients::node_has_fetch() && runs("openssl", &["version"]),
            "node 18 or later (its built-in fetch) and openssl",
            Trial::test(
                "the_node_client_example_gets_a_participant_token",
                clients::node,
            ),
        ),
    ];
    libtest_mimic::run(&args, trials).exit();
}

/// `trial`, listed as ignored when what it needs (`present`) is missing, outside CI: with a line
/// on standard error naming what to install (not standard output, which `--list` answers on).
fn needs(present: bool, what: &str, trial: Trial) -> Trial {
    if present || std::env::var_os("CI").is_some() {
        return trial;
    }
    eprintln!("ignored {}: needs {what}", trial.name());
    trial.with_ignored_flag(true)
}

/// Whether `program` runs here and succeeds with `args`.
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Tokens of several shapes, from `sign --output json`, each verified by `verifier`.
fn verify_signed_tokens(verifier: (&str, &str, &[&str])) -> Result<(), Failed> {
    let specs: [&[&str]; 4] = [
        &["--permissions", "allow_join"],
        &["--permissions", "ask_join,allow_mod", "--ttl", "90m"],
        &[
            "--permissions",
            "allow_join,allow_mod",
            "--roles",
            "rtc,crawler",
            "--room-id",
            "abcd-efgh-ijkl",
            "--participant-id",
            "participant-ü-1",
        ],
        &["--permissions", "allow_join", "--roles", "crawler"],
    ];
    for args in specs {
        let out = Command::new(env!("CARGO_BIN_EXE_videosdk-token-operator"))
            .args(["sign", "--output", "json"])
            .args(args)
            .env("VIDEOSDK_API_KEY", API_KEY)
            .env("VIDEOSDK_SECRET", SECRET)
            .output()
            .map_err(|e| format!("sign did not run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "sign {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("sign --output json printed no JSON: {e}"))?;
        let token = doc["token"].as_str().ok_or("no token in sign's JSON")?;
        // Missing under CI, or refused: verify_with panics, which fails the trial.
        verify_with(verifier, token, &doc["claims"], SECRET);
    }
    Ok(())
}
