//! Log set-up of the long-running commands (`run`, `dev`).

use clap::{Args, ValueEnum};
use tracing_subscriber::EnvFilter;

/// Why a long-running command could not set up its logger or its runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--log-level` (`$VIDEOSDK_LOG_LEVEL`) is not a filter `tracing-subscriber` reads.
    #[error("--log-level {filter:?} is not a valid filter: {source}")]
    Filter {
        /// The filter given.
        filter: String,
        /// What is wrong with it.
        source: tracing_subscriber::filter::ParseError,
    },
    /// A logger is already installed in this process.
    #[error("cannot install the logger: {0}")]
    Install(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The async runtime could not start.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// The operating system refused the threads or I/O driver of the async runtime.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the async runtime: {0}")]
pub struct RuntimeError(#[source] std::io::Error);

/// Log flags.
#[derive(Args, Debug, Clone)]
pub struct LogArgs {
    /// Log format: `text` for people, `json` for log pipelines.
    #[arg(long, env = "VIDEOSDK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log level or filter (`info`, `debug`, `videosdk_token_operator=debug,kube=warn`). The
    /// default leaves out kube-runtime's per-reconcile span, so that each issuance is one line.
    #[arg(
        long,
        env = "VIDEOSDK_LOG_LEVEL",
        default_value = "info,kube_runtime=warn",
        value_name = "FILTER"
    )]
    pub log_level: String,
}

/// Log formats.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogArgs {
    /// Installs the global subscriber; an invalid filter is bad input.
    fn init(&self) -> Result<(), Error> {
        let filter = EnvFilter::try_new(&self.log_level).map_err(|source| Error::Filter {
            filter: self.log_level.clone(),
            source,
        })?;
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
        let installed = match self.log_format {
            LogFormat::Text => builder.try_init(),
            // Fields at the top level of each line (`{"level":…,"message":…,"token":…}`), where
            // log pipelines (Loki, Elasticsearch, Cloud Logging) index them, rather than nested
            // under "fields".
            LogFormat::Json => builder.json().flatten_event(true).try_init(),
        };
        installed.map_err(Error::Install)
    }
}

/// Sets up a long-running command (`run`, `dev`): installs the logger `args` describe, then
/// starts the runtime it runs on.
pub fn start(args: &LogArgs) -> Result<tokio::runtime::Runtime, Error> {
    args.init()?;
    Ok(runtime()?)
}

/// Completes on Ctrl-C or SIGTERM (what Kubernetes sends to stop a pod).
pub async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing reconciles in flight");
}

/// A multi-threaded Tokio runtime for a long-running command, with the allocator tuned for one
/// (before its threads start).
pub fn runtime() -> Result<tokio::runtime::Runtime, RuntimeError> {
    super::memory::tune_allocator();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RuntimeError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_filter_is_named() {
        let args = LogArgs {
            log_format: LogFormat::Text,
            log_level: "a=[".to_owned(),
        };
        let error = args.init().unwrap_err().to_string();
        assert!(
            error.starts_with("--log-level \"a=[\" is not a valid filter: "),
            "{error}"
        );
    }
}
