//! A minimal HTTP/1.1 client for the token request endpoint (one request per connection), so
//! that the tests see the exact status, headers and body the endpoint sends. Shared by the
//! operator tests and the token request benchmark.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An HTTP response: status code, headers (names lower-cased) and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// The first header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics, showing it, when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {}", self.body))
    }
}

/// Sends `POST path` with `body` to `address`, with `Authorization: Bearer {bearer}` when given.
pub async fn post(
    address: std::net::SocketAddr,
    path: &str,
    bearer: Option<&str>,
    body: &[u8],
) -> std::io::Result<Answer> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    post_over(stream, path, bearer, body).await
}

/// [`post`] with `Authorization: {authorization}` as given (any scheme, any spelling).
pub async fn post_authorized(
    address: std::net::SocketAddr,
    path: &str,
    authorization: &str,
    body: &[u8],
) -> std::io::Result<Answer> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    exchange(stream, path, Some(authorization), body).await
}

/// [`post`] over an open connection (e.g. a TLS stream), closed after the answer.
pub async fn post_over<S>(
    stream: S,
    path: &str,
    bearer: Option<&str>,
    body: &[u8],
) -> std::io::Result<Answer>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let authorization = bearer.map(|b| format!("Bearer {b}"));
    exchange(stream, path, authorization.as_deref(), body).await
}

async fn exchange<S>(
    mut stream: S,
    path: &str,
    authorization: Option<&str>,
    body: &[u8],
) -> std::io::Result<Answer>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let authorization = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: operator\r\nConnection: close\r\nContent-Type: application/json\r\n{authorization}Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut response = Vec::new();
    // A TLS peer may close without close_notify once the answer is complete.
    if let Err(e) = stream.read_to_end(&mut response).await
        && (response.is_empty() || e.kind() != std::io::ErrorKind::UnexpectedEof)
    {
        return Err(e);
    }
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:?}")))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line: {head:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: body.to_owned(),
    })
}
