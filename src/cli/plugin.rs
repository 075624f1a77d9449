//! The binary as a kubectl plugin: kubectl runs an executable named `kubectl-NAME` found on
//! `PATH` for `kubectl NAME ...`, passing the rest of the command line unchanged (see
//! <https://kubernetes.io/docs/tasks/extend-kubectl/kubectl-plugins/>). Installed as (or
//! symlinked to) `kubectl-videosdk`, `kubectl videosdk status NAME` runs `status NAME`; help and
//! errors then name the command as the user typed it.

use super::Cli;
use clap::{CommandFactory, FromArgMatches};
use std::ffi::OsString;
use std::path::Path;

/// The executable name kubectl looks for on `PATH` for `kubectl videosdk`.
pub const EXECUTABLE: &str = "kubectl-videosdk";

/// How the user invokes the plugin.
pub const INVOCATION: &str = "kubectl videosdk";

/// Whether `argv0` (the path the binary was started as) is the plugin's executable name, with
/// or without `.exe`.
pub(crate) fn is_plugin(argv0: &Path) -> bool {
    argv0
        .file_stem()
        .is_some_and(|stem| stem == EXECUTABLE && argv0.extension().is_none_or(|e| e == "exe"))
}

/// Parses the command line, naming the command `kubectl videosdk` in help and errors when the
/// binary runs as the plugin; exits on `--help` or bad flags as clap does.
pub fn parse(args: Vec<OsString>) -> Cli {
    let plugin = args.first().is_some_and(|a| is_plugin(Path::new(a)));
    let mut command = Cli::command();
    if plugin {
        command = command.name(INVOCATION).bin_name(INVOCATION);
    }
    let matches = command.get_matches_from(args);
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_by_the_file_name_alone() {
        assert!(is_plugin(Path::new("kubectl-videosdk")));
        assert!(is_plugin(Path::new("/usr/local/bin/kubectl-videosdk")));
        assert!(is_plugin(Path::new("C:/bin/kubectl-videosdk.exe")));
        assert!(!is_plugin(Path::new("/usr/bin/videosdk-token-operator")));
        assert!(!is_plugin(Path::new("kubectl-videosdk.sh")));
        assert!(!is_plugin(Path::new("kubectl-videosdk-status")));
    }
}
