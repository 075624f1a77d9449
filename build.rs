//! Build script: the git commit of the build, for the `videosdk_build_info` metric and
//! `--version`. `VIDEOSDK_GIT_COMMIT` from the environment wins (a container build, whose
//! context has no `.git`, passes it as a build argument); else `git rev-parse HEAD`; else
//! `unknown`.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=VIDEOSDK_GIT_COMMIT");
    let commit = std::env::var("VIDEOSDK_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            let out = Command::new("git")
                .args(["rev-parse", "HEAD"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    // Rebuild when HEAD moves (a commit, a checkout), so the commit is never stale.
    if let Ok(out) = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .output()
    {
        if out.status.success() {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            println!("cargo:rerun-if-changed={dir}/HEAD");
            println!("cargo:rerun-if-changed={dir}/logs/HEAD");
        }
    }
    println!("cargo:rustc-env=VIDEOSDK_GIT_COMMIT={commit}");
}
