//! `completion`: shell completion scripts, generated from the command definitions by
//! `clap_complete`, so they list every command and flag of this build.

use super::Cli;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

/// Print a shell completion script.
///
/// Examples:
///   videosdk-token-operator completion bash > /etc/bash_completion.d/videosdk-token-operator
///   videosdk-token-operator completion zsh > "${fpath[1]}/_videosdk-token-operator"
///   videosdk-token-operator completion fish > ~/.config/fish/completions/videosdk-token-operator.fish
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub(crate) shell: Shell,
}

/// Standard output could not take the completion script (a full disk, a closed file; a reader
/// that stops early is no error).
#[derive(Debug, thiserror::Error)]
#[error("cannot write the completion script: {0}")]
pub struct Error(#[source] std::io::Error);

/// Writes the script for the binary's own name to stdout. A reader that stops early
/// (`completion bash | head`) is not an error: the script is built in memory first, because
/// `clap_complete` panics on a failed write.
pub fn run(args: &CompletionArgs) -> Result<(), Error> {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    match std::io::Write::write_all(&mut std::io::stdout().lock(), &script) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error(e)),
        _ => Ok(()),
    }
}
