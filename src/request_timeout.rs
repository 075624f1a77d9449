//! A deadline on every request the operator sends to the Kubernetes API, but its watches.
//!
//! kube 5 sets no read timeout on its client (`kube::Config::read_timeout` is `None`, so that
//! exec and port-forward sessions can last), so a request whose answer never comes waits for
//! ever: on a half-open connection (the API server's node gone without a reset, a load balancer
//! that dropped the flow, a proxy that stopped forwarding), a reconcile hangs, kube-runtime does
//! not reconcile that object again while it is in flight, and the token's renewal never comes.
//! client-go has the same default and notices a dead connection through HTTP/2 pings within
//! about 45 s (`ReadIdleTimeout` 30 s + `PingTimeout` 15 s); kube speaks HTTP/1.1, which has no
//! ping, so each request gets a deadline instead. Watches are left alone: kube-runtime's watcher
//! has its own idle timeout (the server's `timeoutSeconds` and a margin).

use kube::Client;
use kube::client::Body;
use std::time::Duration;

/// How long a request may take, from sending it to the last byte of its answer: half of
/// kube-apiserver's own limit on a request (`--request-timeout`, 60 s by default), past which
/// the server answers 504 itself, so that a live but slow server's answers still arrive, and
/// within the 2 minutes of the shortest renew window (`rules::lifetime`) a retry still fits.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A request got no complete answer within its deadline.
#[derive(Debug, thiserror::Error)]
#[error("the Kubernetes API did not answer within {0:?}")]
pub struct TimedOut(pub Duration);

/// `client` with every request but a watch cut at `timeout`: the answer's body is read in full
/// within it. A cut request fails with a [`TimedOut`] inside `kube::Error::Service`; an answer
/// that arrives, whatever its status, is passed on as it came.
pub fn bounded(client: Client, timeout: Duration) -> Client {
    let namespace = client.default_namespace().to_owned();
    let service = tower::service_fn(move |request: http::Request<Body>| {
        let client = client.clone();
        async move {
            if is_watch(request.uri()) {
                return client.send(request).await.map_err(tower::BoxError::from);
            }
            let answer = async {
                let (parts, body) = client.send(request).await?.into_parts();
                let body = body.collect_bytes().await?;
                Ok::<_, kube::Error>(http::Response::from_parts(parts, Body::from(body)))
            };
            match tokio::time::timeout(timeout, answer).await {
                Ok(answer) => answer.map_err(tower::BoxError::from),
                Err(_) => Err(TimedOut(timeout).into()),
            }
        }
    });
    Client::new(service, namespace)
}

/// The deadline that cut the request of `error`, if [`bounded`] cut it.
pub fn timed_out(error: &kube::Error) -> Option<&TimedOut> {
    match error {
        kube::Error::Service(source) => source.downcast_ref::<TimedOut>(),
        _ => None,
    }
}

/// Whether the request is a watch (`watch=true` or `watch=1` in its query, as kube-apiserver
/// reads it), which streams for minutes by design.
fn is_watch(uri: &http::Uri) -> bool {
    uri.query().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| matches!(pair, "watch=true" | "watch=1"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[test]
    fn watches_are_told_by_their_query() {
        let watch = |uri: &str| is_watch(&uri.parse().unwrap());
        assert!(watch("/api/v1/secrets?watch=true&resourceVersion=5"));
        assert!(watch("/api/v1/secrets?labelSelector=a%3Db&watch=1"));
        assert!(!watch("/api/v1/secrets?labelSelector=watch%3Dtrue"));
        assert!(!watch("/api/v1/secrets?watch=false"));
        assert!(!watch("/api/v1/namespaces/a/secrets/watch"));
    }

    /// A server on loopback that hands each connection to `serve`; its URL.
    async fn server<F: Future<Output = ()> + Send + 'static>(
        serve: fn(tokio::net::TcpStream) -> F,
    ) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((connection, _)) = listener.accept().await {
                tokio::spawn(serve(connection));
            }
        });
        url
    }

    /// Reads what comes and never answers.
    async fn silent(mut connection: tokio::net::TcpStream) {
        let mut buffer = [0; 4096];
        while connection.read(&mut buffer).await.is_ok_and(|n| n > 0) {}
    }

    /// Answers the request with the start of a body that never ends.
    async fn dribbling(mut connection: tokio::net::TcpStream) {
        let mut buffer = [0; 4096];
        let _ = connection.read(&mut buffer).await;
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{";
        let _ = connection.write_all(head.as_bytes()).await;
        std::future::pending::<()>().await;
    }

    fn client(url: &str) -> Client {
        Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap()
    }

    #[tokio::test]
    async fn a_request_without_an_answer_fails_at_the_deadline() {
        for url in [server(silent).await, server(dribbling).await] {
            let client = bounded(client(&url), Duration::from_millis(300));
            let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
                kube::Api::namespaced(client, "default");
            let started = std::time::Instant::now();
            let error = secrets.get("web").await.expect_err("no answer");
            assert!(timed_out(&error).is_some(), "{url}: {error}");
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{url}: cut at the deadline"
            );
            assert_eq!(
                error.to_string(),
                "ServiceError: the Kubernetes API did not answer within 300ms"
            );
        }
    }

    #[tokio::test]
    async fn a_watch_is_not_cut() {
        let client = bounded(client(&server(silent).await), Duration::from_millis(100));
        let request = http::Request::get("/api/v1/secrets?watch=true")
            .body(Body::from(Vec::new()))
            .unwrap();
        let waited = tokio::time::timeout(Duration::from_millis(600), client.send(request)).await;
        assert!(waited.is_err(), "the watch still waits for its answer");
    }
}
