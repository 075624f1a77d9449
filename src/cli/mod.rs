//! The command line: `run` (the operator), `dev` (the operator on an in-memory API server),
//! `crd`, `sign`, `inspect`, `completion` and `request` (a token from the operator's token
//! request endpoint).
//!
//! Each command is a small module with a pure core that tests call directly; `main.rs` only
//! parses arguments and maps errors to exit codes.

pub mod completion;
pub mod crd;
pub mod credentials;
pub mod dev;
mod input;
pub mod inspect;
pub mod logging;
mod memory;
pub mod request;
pub mod run;
pub mod sign;
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
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    Run(run::RunArgs),
    Dev(dev::DevArgs),
    Crd(crd::CrdArgs),
    Sign(sign::SignArgs),
    Inspect(inspect::InspectArgs),
    Completion(completion::CompletionArgs),
    Request(request::RequestArgs),
}
