//! The `Dockerfile` builds what CI builds and runs as non-root.

use super::*;

#[test]
fn dockerfile_builds_what_ci_builds_and_runs_as_nonroot() {
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("FROM rust:1-bookworm AS build"));
    assert!(dockerfile.contains(
        "cargo build --release --locked --no-default-features --bin videosdk-token-operator"
    ));
    // The shipped binary is the lean one the book's memory figures name.
    assert!(
        dockerfile
            .contains("ENV CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_OPT_LEVEL=s")
    );
    assert!(dockerfile.contains("FROM gcr.io/distroless/cc-debian12:nonroot"));
    assert!(dockerfile.contains("USER 65532:65532"));
    // The dev command embeds deploy/examples/dev/ (include_str!): the build context needs it.
    let ignore = read(".dockerignore");
    let lines: Vec<&str> = ignore.lines().map(str::trim).collect();
    assert!(lines.contains(&"target/"));
    // The workspace's build settings (aws-lc without its start-up jitter entropy collector)
    // reach the image's build with the sources.
    assert!(
        read(".cargo/config.toml").contains("AWS_LC_SYS_NO_JITTER_ENTROPY = \"1\""),
        ".cargo/config.toml must build aws-lc without its jitter entropy collector"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with(".cargo")),
        ".dockerignore must keep .cargo/config.toml in the build context"
    );
    if lines.contains(&"deploy/") {
        assert!(
            lines.contains(&"!deploy/examples/dev/"),
            ".dockerignore must keep deploy/examples/dev/, which src/cli/dev.rs embeds"
        );
    }
}

/// The book's build and import commands (docs/src/install/container-image.md) name the image both installs run, spelt so that
/// containerd reads it as the local build: a name whose first component is not a registry host
/// (no `.` or `:`, not `localhost`) is a Docker Hub path to containerd (the reference grammar of
/// github.com/distribution/reference, `ParseNormalizedNamed`), so an image imported as
/// `videosdk-token-operator:0.1.0` is `docker.io/library/…`, not what buildah and podman tag.
#[test]
fn the_readme_builds_and_imports_the_image_both_installs_run() {
    let base = super::kustomize::assembled_base();
    let image =
        find(&base, "Deployment", NAME)["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .expect("an image")
            .to_owned();
    let (domain, _) = image
        .split_once('/')
        .unwrap_or_else(|| panic!("{image} is Docker Hub's to containerd"));
    assert!(
        domain == "localhost" || domain.contains('.') || domain.contains(':'),
        "{image}: {domain} is a Docker Hub namespace to containerd, not a registry"
    );
    let section = read("docs/src/install/container-image.md");
    for command in [
        format!("podman build -t {image} ."),
        format!("podman save {image} | sudo ctr -n k8s.io images import -"),
        // `kind load docker-image` asks Docker's daemon, which a podman or buildah build is not in.
        format!("podman save -o videosdk-token-operator.tar {image}"),
        "kind load image-archive videosdk-token-operator.tar".to_owned(),
    ] {
        assert!(
            section.contains(&command),
            "docs/src/install/container-image.md lacks `{command}`"
        );
    }
    assert!(read("Dockerfile").contains(&format!("build -t {image} .")));
}

/// The book says which commands the image has: every command of "Command line" but `dev`,
/// which the image's build (`--no-default-features`) leaves out.
#[test]
fn the_readme_lists_every_command_the_image_has() {
    let table = page_between("reference/command-line.md", "# Command line", "\nBad input")
        .expect("docs/src/reference/command-line.md has a Command line table");
    let commands: Vec<String> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split(['`', ' ']).next())
        .filter(|c| *c != "dev")
        .map(str::to_owned)
        .collect();
    assert!(commands.len() >= 9, "{commands:?}");
    let image = page_between(
        "install/container-image.md",
        "What the image lacks:",
        "is there.",
    )
    .expect("docs/src/install/container-image.md says what the image lacks and has");
    for command in commands {
        assert!(
            image.contains(&format!("`{command}`")),
            "docs/src/install/container-image.md does not list `{command}` among the image's commands"
        );
    }
}
