//! The `videosdk-token-operator` binary: argument parsing and exit codes only; the commands live
//! in `videosdk_token_operator::cli`.

use std::error::Error;
use std::process::ExitCode;
use videosdk_token_operator::cli::{self, Cli, Command};

fn main() -> ExitCode {
    let cli: Cli = cli::plugin::parse(std::env::args_os().collect());
    let result = match &cli.command {
        Command::Run(args) => done(cli::run::run(args)),
        #[cfg(feature = "dev")]
        Command::Dev(args) => done(cli::dev::run(args)),
        Command::Crd(args) => done(cli::crd::run(args)),
        Command::Sign(args) => done(cli::sign::run(args)),
        Command::Inspect(args) => cli::inspect::run(args).map_err(Into::into),
        Command::Status(args) => done(cli::status::run(args)),
        Command::Renew(args) => done(cli::renew::run(args)),
        Command::Completion(args) => done(cli::completion::run(args)),
        Command::Request(args) => done(cli::request::run(args)),
        Command::Probe(args) => done(cli::probe::run(args)),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(cli::EXIT_INVALID),
        // Each command's error says what went wrong with its cause in one line, so only the
        // top-level message is printed (not the `source()` chain, which would repeat it).
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(cli::EXIT_BAD_INPUT)
        }
    }
}

/// A command that succeeds or fails, as one that answers yes or no (`inspect`): success is yes.
fn done<E: Error + 'static>(result: Result<(), E>) -> Result<bool, Box<dyn Error>> {
    result.map(|()| true).map_err(Into::into)
}
