//! The `videosdk-token-operator` binary: argument parsing and exit codes only; the commands live
//! in `videosdk_token_operator::cli`.

use std::process::ExitCode;
use videosdk_token_operator::cli::{self, Cli, Command};

fn main() -> ExitCode {
    let cli: Cli = cli::plugin::parse(std::env::args_os().collect());
    let result = match &cli.command {
        Command::Run(args) => cli::run::run(args).map(|()| true),
        #[cfg(feature = "dev")]
        Command::Dev(args) => cli::dev::run(args).map(|()| true),
        Command::Crd(args) => cli::crd::run(args).map(|()| true),
        Command::Sign(args) => cli::sign::run(args).map(|()| true),
        Command::Inspect(args) => cli::inspect::run(args),
        Command::Status(args) => cli::status::run(args).map(|()| true),
        Command::Renew(args) => cli::renew::run(args).map(|()| true),
        Command::Completion(args) => cli::completion::run(args).map(|()| true),
        Command::Request(args) => cli::request::run(args).map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(cli::EXIT_INVALID),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(cli::EXIT_BAD_INPUT)
        }
    }
}
