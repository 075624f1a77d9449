//! Reading the operator's HTTP endpoints (`/metrics`, `/healthz`, `/readyz`) the way Prometheus
//! and the kubelet do. Shared by the operator tests and the operator benchmark.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `GET path` over HTTP/1.1 to `address`; returns the status line and body.
pub async fn get(address: std::net::SocketAddr, path: &str) -> std::io::Result<(String, String)> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: operator\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:?}")))?;
    Ok((
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    ))
}

/// The value of the sample `name{labels}` in OpenMetrics `text` (labels in the order written).
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}
