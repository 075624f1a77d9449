# syntax=docker/dockerfile:1
#
# videosdk-token-operator's container image:
#   podman build -t localhost/videosdk-token-operator:0.1.0 .   # or docker build, buildah bud
# No container engine is available on the machines that build this project, so CI does not
# build this image; the build stage runs the same cargo command as a release build of the binary
# without the `dev` feature (cargo build --release --locked --no-default-features --bin
# videosdk-token-operator; CI lints that build), so what CI compiles and tests is what ships.
# The image has no `dev` command: it has no in-memory API server (crates/kube-apiserver-memory).

# --- build: the Rust toolchain on Debian 12 (bookworm), the same Debian as the runtime image, so
# the binary links against the glibc it runs with.
FROM rust:1-bookworm AS build
WORKDIR /src
# The git commit for the videosdk_build_info metric (the build context has no .git):
#   docker build --build-arg VIDEOSDK_GIT_COMMIT=$(git rev-parse HEAD) -t localhost/videosdk-token-operator:0.1.0 .
ARG VIDEOSDK_GIT_COMMIT=unknown
COPY . .
# The shipped binary is optimised across crates (fat LTO, one codegen unit) and for size
# (opt-level "s"): 14 MB instead of 24 (18 MB at opt-level 3), so about 5.5 MiB less resident
# code, and no more CPU on a real API server (see the book's Benchmarks). Set here rather than
# in Cargo.toml's release profile, so that `cargo bench` builds stay fast; the benchmarks run
# this build with BENCH_OPERATOR_BINARY.
ENV CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_OPT_LEVEL=s
# The cargo registry and target directory are cache mounts: a rebuild after a source change
# recompiles the crate, not its dependencies.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --no-default-features --bin videosdk-token-operator \
    && install -D -m 0755 target/release/videosdk-token-operator /out/videosdk-token-operator

# --- runtime: distroless with glibc, libgcc and CA certificates, no shell, no package manager;
# the :nonroot variant runs as uid/gid 65532, which the Deployment also requires.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/videosdk-token-operator /usr/local/bin/videosdk-token-operator
USER 65532:65532
# /metrics, /healthz, /readyz
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/videosdk-token-operator"]
CMD ["run", "--log-format", "json"]
