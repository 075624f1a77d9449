//! Log set-up of the long-running commands (`run`, `dev`).

use super::runtime::{RuntimeError, runtime};
use clap::{Args, ValueEnum};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::SubscriberInitExt;

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

/// Log flags.
#[derive(Args, Debug, Clone)]
pub(crate) struct LogArgs {
    /// Log format: `text` for people, `json` for log pipelines.
    #[arg(long, env = "VIDEOSDK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
    /// Log level or filter (`info`, `debug`, `videosdk_token_operator=debug,kube=warn`). The
    /// default leaves out kube-runtime's per-reconcile span, so that each issuance is one line.
    #[arg(
        long,
        env = "VIDEOSDK_LOG_LEVEL",
        default_value = "info,kube_runtime=warn",
        value_name = "FILTER"
    )]
    pub(crate) log_level: String,
}

/// Log formats.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogArgs {
    /// Installs the global subscriber; an invalid filter is bad input.
    fn init(&self) -> Result<(), Error> {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        subscriber(self, std::io::stderr, ansi)?
            .try_init()
            .map_err(|e| Error::Install(e.into()))
    }
}

/// The subscriber `args` describe, writing to `writer`.
///
/// A JSON line carries its target (`"target":"videosdk_token_operator::token_requests::audit"`),
/// which is how a log pipeline finds the token request audit lines the book names (docs/src/token-requests/api.md); a text
/// line leaves it out, to stay short for people.
fn subscriber<W>(
    args: &LogArgs,
    writer: W,
    ansi: bool,
) -> Result<Box<dyn tracing::Subscriber + Send + Sync>, Error>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(&args.log_level).map_err(|source| Error::Filter {
        filter: args.log_level.clone(),
        source,
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    Ok(match args.log_format {
        LogFormat::Text => Box::new(builder.with_target(false).finish()),
        // Fields at the top level of each line (`{"level":…,"target":…,"message":…,"token":…}`),
        // where log pipelines (Loki, Elasticsearch, Cloud Logging) index them, rather than
        // nested under "fields".
        LogFormat::Json => Box::new(
            builder
                .json()
                .with_target(true)
                .flatten_event(true)
                .finish(),
        ),
    })
}

/// Sets up a long-running command (`run`, `dev`): installs the logger `args` describe, then
/// starts the runtime it runs on.
pub(crate) fn start(args: &LogArgs) -> Result<tokio::runtime::Runtime, Error> {
    args.init()?;
    Ok(runtime()?)
}

/// A future that completes on Ctrl-C (SIGINT) or SIGTERM (what Kubernetes sends to stop a pod).
///
/// The handlers are installed by this call, not when the future is first polled: a signal that
/// comes between the two (right after `dev` prints its banner, which a caller may take as the
/// moment to stop it) would otherwise end the process by the default action, without its
/// cleanup (`dev` leaves its kubeconfig behind). Must be called inside the Tokio runtime.
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    // A handler that cannot be installed never fires; the other still does.
    let mut interrupt = signal(SignalKind::interrupt()).ok();
    let mut terminate = signal(SignalKind::terminate()).ok();
    async move {
        tokio::select! {
            _ = received(interrupt.as_mut()) => {},
            _ = received(terminate.as_mut()) => {},
        }
        tracing::info!("shutting down: finishing reconciles in flight");
    }
}

/// Completes when `signal` is received; never, when its handler could not be installed.
async fn received(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
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

    /// A log line in memory, for reading what a subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `format` writes for one audit event.
    fn audit_line(format: LogFormat) -> String {
        let args = LogArgs {
            log_format: format,
            log_level: "info".to_owned(),
        };
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = subscriber(&args, move || writer.clone(), false).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            // The target of src/token_requests/audit.rs, which the book names.
            tracing::info!(target: "videosdk_token_operator::token_requests::audit", code = 200, "token request");
        });
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_json_line_carries_its_target() {
        let line = audit_line(LogFormat::Json);
        let json: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
        assert_eq!(
            json["target"], "videosdk_token_operator::token_requests::audit",
            "{line}"
        );
        assert_eq!(json["code"], 200, "{line}");
        assert_eq!(json["message"], "token request", "{line}");
    }

    #[test]
    fn a_text_line_leaves_the_target_out() {
        let line = audit_line(LogFormat::Text);
        assert!(line.contains("token request code=200"), "{line}");
        assert!(!line.contains("token_requests::audit"), "{line}");
    }
}
