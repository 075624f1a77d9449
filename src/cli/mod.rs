//! The command line: `run` (the operator), `dev` (the operator on an in-memory API server),
//! `crd`, `sign`, `inspect`, `status`, `renew`, `completion`, `request` (a token from the
//! operator's token request endpoint) and `probe` (one HTTP GET, for the chart's `helm test`); also a kubectl plugin (see [`plugin`]).
//!
//! Each command is a small module with a pure core that tests call directly, and an `Error` enum
//! of its own whose variants name what went wrong (the shared parts have theirs:
//! [`input::Error`], [`credentials::Error`], [`connect::Error`], [`connect::ReadError`],
//! [`listen::Error`], [`logging::Error`]); `main.rs` only parses arguments, prints an error's
//! message and maps it to [`EXIT_BAD_INPUT`].

pub mod completion;
pub(crate) mod connect;
pub mod crd;
pub(crate) mod credentials;
#[cfg(feature = "dev")]
pub mod dev;
pub(crate) mod input;
pub mod inspect;
pub(crate) mod listen;
pub(crate) mod logging;
pub mod plugin;
pub mod probe;
pub mod renew;
pub mod request;
pub mod run;
pub(crate) mod runtime;
pub mod server_version;
pub mod sign;
pub mod status;
pub mod token_requests;

use clap::{Parser, Subcommand};

/// Exit code of `inspect` for a token that is expired or whose signature does not match.
pub const EXIT_INVALID: u8 = 1;

/// Exit code for bad input: an unreadable file, a malformed manifest, an unknown permission.
pub const EXIT_BAD_INPUT: u8 = 2;

/// Issues VideoSDK access tokens into Kubernetes Secrets and keeps them fresh.
#[derive(Parser, Debug)]
#[command(name = "videosdk-token-operator", version, about)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands. Each variant's help is its arguments type's doc comment (clap reads doc
/// comments as help, and one here would replace that one).
#[allow(missing_docs, reason = "clap reads doc comments as help")]
#[derive(Subcommand, Debug)]
pub enum Command {
    Run(run::RunArgs),
    #[cfg(feature = "dev")]
    Dev(dev::DevArgs),
    Crd(crd::CrdArgs),
    Sign(sign::SignArgs),
    Inspect(inspect::InspectArgs),
    Status(status::StatusArgs),
    Renew(renew::RenewArgs),
    Completion(completion::CompletionArgs),
    Request(request::RequestArgs),
    Probe(probe::ProbeArgs),
}
