//! `probe URL`: one HTTP GET, success when the answer is 2xx. The image has no shell or HTTP
//! client (distroless), so the chart's `helm test` Pod runs the operator's own binary to ask a
//! replica's `/readyz` through the metrics Service.

use axum::http::Request;
use clap::Args;
use std::time::Duration;

/// How long the probe waits to connect and for the answer: `/readyz` answers at once, so a
/// replica that takes longer is as good as not ready.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Ask an HTTP endpoint (e.g. `http://videosdk-token-operator-metrics.videosdk-system:8080/readyz`)
/// once: exit 0 when it answers 2xx, else print its status and answer and exit 2.
#[derive(Args, Debug, Clone)]
pub struct ProbeArgs {
    /// The URL to GET (http://HOST:PORT/PATH).
    pub(crate) url: String,
}

/// Why a probe failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL is not an http URL with a host.
    #[error("{url:?} is not an http://HOST[:PORT]/PATH URL")]
    Url {
        /// The URL given.
        url: String,
    },
    /// The endpoint answered, but not 2xx.
    #[error("{url} answered {code}: {message}")]
    NotReady {
        /// The URL asked.
        url: String,
        /// The HTTP status.
        code: u16,
        /// Its answer, trimmed.
        message: String,
    },
    /// No answer: no connection, or none within the timeout.
    #[error("{url} did not answer within {}s: {source}", TIMEOUT.as_secs())]
    NoAnswer {
        /// The URL asked.
        url: String,
        /// What the client said.
        source: kube::Error,
    },
    /// The runtime could not start.
    #[error(transparent)]
    Runtime(#[from] super::runtime::RuntimeError),
}

/// The origin (`http://host:port`) and path of `url`.
fn split(url: &str) -> Option<(axum::http::Uri, String)> {
    let uri: axum::http::Uri = url.parse().ok()?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return None;
    }
    let path = uri
        .path_and_query()
        .map_or("/".to_owned(), |p| p.as_str().to_owned());
    let origin = format!("http://{}", uri.authority()?).parse().ok()?;
    Some((origin, path))
}

/// Runs `probe`.
pub fn run(args: &ProbeArgs) -> Result<(), Error> {
    let url = args.url.clone();
    let (origin, path) = split(&url).ok_or_else(|| Error::Url { url: url.clone() })?;
    super::runtime::runtime()?.block_on(async {
        let mut config = kube::Config::new(origin);
        config.connect_timeout = Some(TIMEOUT);
        config.read_timeout = Some(TIMEOUT);
        // One GET: kube's default retries a 503 (what /readyz answers when not ready) up to 15
        // times with a growing backoff.
        config.default_retry = false;
        let client = kube::Client::try_from(config).map_err(|source| Error::NoAnswer {
            url: url.clone(),
            source,
        })?;
        let request = Request::get(path)
            .body(Vec::new())
            .expect("a GET of a parsed path");
        match client.request_text(request).await {
            Ok(text) => {
                println!("{url}: {}", text.trim());
                Ok(())
            }
            Err(kube::Error::Api(status)) => Err(Error::NotReady {
                url,
                code: status.code,
                message: status.message.trim().to_owned(),
            }),
            Err(source) => Err(Error::NoAnswer { url, source }),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host() {
        let (origin, path) = split("http://svc.ns:8080/readyz").unwrap();
        assert_eq!(
            (origin.to_string(), path.as_str()),
            ("http://svc.ns:8080/".to_owned(), "/readyz")
        );
        assert!(split("https://svc:8443/readyz").is_none());
        assert!(split("svc:8080/readyz").is_none());
        let error = run(&ProbeArgs {
            url: "readyz".into(),
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "\"readyz\" is not an http://HOST[:PORT]/PATH URL"
        );
    }

    /// The whole exchange against a server answering 200 and one answering 503.
    #[test]
    fn a_2xx_passes_and_anything_else_names_the_status() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let app = axum::Router::new()
            .route("/readyz", axum::routing::get(|| async { "ok" }))
            .route(
                "/notready",
                axum::routing::get(|| async {
                    (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        "not ready: the token request listener cannot accept connections",
                    )
                }),
            );
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await });
        let probe = |path: &str| {
            run(&ProbeArgs {
                url: format!("http://{address}{path}"),
            })
        };
        probe("/readyz").unwrap();
        let error = probe("/notready").unwrap_err().to_string();
        assert!(
            error.ends_with(
                "/notready answered 503: not ready: the token request listener cannot accept connections"
            ),
            "{error}"
        );
        drop(runtime);
        let closed = probe("/readyz").unwrap_err().to_string();
        assert!(closed.contains("did not answer within 5s"), "{closed}");
    }
}
