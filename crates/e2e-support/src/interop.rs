//! Verifying a token with independent JWT libraries in other languages: PyJWT and Node's
//! `jsonwebtoken`, the libraries VideoSDK's own samples use. Each checks the signature (HS256
//! only), the header, every claim (no more, no fewer), and that a wrong secret is refused
//! (`tests/interop/verify.py`, `tests/interop/verify.js`). Shared by the interop and operator
//! tests.
//!
//! `.ci/run` installs both (`tests/interop/requirements.txt`, `tests/interop/package.json`).
//! Outside CI [`verify_with`] skips a missing runtime with a line saying so (`tests/interop` lists
//! such a test as ignored before it runs, with [`available`]); under CI (`CI` set) it fails, so
//! the check can never silently stop running there.

use std::path::Path;
use std::process::Command;

fn interop_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/interop"))
}

/// The two verifiers: program, script, and the probe that tells whether its library is there.
pub const VERIFIERS: [(&str, &str, &[&str]); 2] = [
    ("python3", "verify.py", &["-c", "import jwt"]),
    ("node", "verify.js", &["-e", "require('jsonwebtoken')"]),
];

/// Whether the verifier's runtime and library are installed (its probe runs).
pub fn available((program, _, probe): (&str, &str, &[&str])) -> bool {
    Command::new(program)
        .args(probe)
        .current_dir(interop_dir())
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs one verifier over `token`, expecting exactly `claims`, signed with `secret`; `false`
/// when its runtime or library is missing outside CI. Panics when the verifier refuses.
pub fn verify_with(
    verifier: (&str, &str, &[&str]),
    token: &str,
    claims: &serde_json::Value,
    secret: &str,
) -> bool {
    let (program, script, _) = verifier;
    if !available(verifier) {
        let message = format!(
            "the interop check with {script} cannot run: `{program}` or its JWT library is missing \
             (install with: pip install -r tests/interop/requirements.txt; cd tests/interop && npm ci)"
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "{message}; CI must have it"
        );
        eprintln!("SKIPPED {message}");
        return false;
    }
    let out = Command::new(program)
        .arg(script)
        .arg(token)
        .arg(claims.to_string())
        .env("VIDEOSDK_SECRET", secret)
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
