//! The `Dockerfile` builds what CI builds and runs as non-root.

use super::*;

#[test]
fn dockerfile_builds_what_ci_builds_and_runs_as_nonroot() {
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("FROM rust:1-bookworm AS build"));
    assert!(dockerfile.contains(
        "cargo build --release --locked --no-default-features --bin videosdk-token-operator"
    ));
    // The shipped binary is the lean one the README's memory figures name.
    assert!(
        dockerfile
            .contains("ENV CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1")
    );
    assert!(dockerfile.contains("FROM gcr.io/distroless/cc-debian12:nonroot"));
    assert!(dockerfile.contains("USER 65532:65532"));
    // The dev command embeds deploy/examples/dev/ (include_str!): the build context needs it.
    let ignore = read(".dockerignore");
    let lines: Vec<&str> = ignore.lines().map(str::trim).collect();
    assert!(lines.contains(&"target/"));
    if lines.contains(&"deploy/") {
        assert!(
            lines.contains(&"!deploy/examples/dev/"),
            ".dockerignore must keep deploy/examples/dev/, which src/cli/dev.rs embeds"
        );
    }
}
