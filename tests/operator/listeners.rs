//! Every listener's limits (issue 20 §1, §2), end to end: the token request endpoint over HTTPS
//! and the metrics and health port close a silent connection, a request whose headers trickle in
//! a byte at a time and a half-sent body within their timeouts (short ones here; the defaults are
//! in `listener::limits`), close a connection beyond their cap at once, and `/readyz` names a
//! listener that has stopped or (HTTPS) has no usable certificate; one client holding the metrics
//! port's whole cap gets only its share, so the kubelet's probes are still answered.

use super::token_requests::{
    AUDIENCE, apply_self_signed_tls, connect_tls, mint, request, serve_https, setup,
};
use super::*;
use axum::response::IntoResponse;
use e2e_support::http;
use std::net::SocketAddr;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use videosdk_token_operator::endpoints;
use videosdk_token_operator::listener::{self, Limits, ListenerStatus};
use videosdk_token_operator::operator::Health;
use videosdk_token_operator::token_requests;

/// The timeouts of these tests.
const TIMEOUT: Duration = Duration::from_secs(2);

fn limits(max_connections: usize) -> Limits {
    Limits {
        max_connections,
        max_connections_per_ip: max_connections,
        handshake_timeout: TIMEOUT,
        header_read_timeout: TIMEOUT,
        request_timeout: TIMEOUT,
        write_timeout: TIMEOUT,
    }
}

/// Reads until the server closes; what was read. Fails unless it closes between `at_least` and
/// three timeouts.
async fn closed_by_server<S: AsyncRead + Unpin>(stream: &mut S, at_least: Duration) -> String {
    let started = Instant::now();
    let mut read = Vec::new();
    let result = tokio::time::timeout(3 * TIMEOUT, stream.read_to_end(&mut read)).await;
    let took = started.elapsed();
    assert!(result.is_ok(), "still open after {took:?}");
    assert!(
        took >= at_least,
        "closed after {took:?}, before {at_least:?}"
    );
    String::from_utf8_lossy(&read).into_owned()
}

/// Sends `head` a byte every 100 ms, until the server closes or 3 timeouts; whether it closed
/// before the whole head was sent.
async fn slowloris<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, head: &[u8]) -> bool {
    let started = Instant::now();
    for byte in head {
        if stream.write_all(&[*byte]).await.is_err() || stream.flush().await.is_err() {
            return true;
        }
        let mut probe = [0; 1];
        if let Ok(read) =
            tokio::time::timeout(Duration::from_millis(100), stream.read(&mut probe)).await
        {
            // EOF or a reset: closed. (An answer before the head is complete cannot come.)
            return read.is_err() || read.is_ok_and(|n| n == 0);
        }
        if started.elapsed() > 3 * TIMEOUT {
            return false;
        }
    }
    false
}

/// A request head longer than the timeout at 10 bytes a second.
fn long_head(path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: operator\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(60)
    )
    .into_bytes()
}

#[tokio::test]
async fn the_https_token_endpoint_closes_slow_and_silent_connections_and_refuses_past_its_cap() {
    let _cpu = CPU_HEAVY.lock().await;
    let Some(env) = setup("listeners-tls", json!({})).await else {
        return;
    };
    let cert = apply_self_signed_tls(&env, "listeners-tls").await;
    let address = serve_https(&env, "listeners-tls", limits(3), |address| {
        Arc::new(ListenerStatus::new("token requests", address))
    })
    .await;
    let path = token_requests::PATH.replace("{namespace}", env.namespace());
    let bearer = mint(&env, "backend", AUDIENCE, 3600).await.unwrap();
    let body = request("videosdk").to_string();
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok((stream, _)) = connect_tls(address, &[&cert]).await {
            let answer = http::post_over(stream, &path, Some(&bearer), body.as_bytes())
                .await
                .unwrap();
            if answer.status == 200 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the endpoint never answered 200");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let at_least = TIMEOUT - Duration::from_millis(200);

    // No ClientHello: closed at the handshake timeout.
    let mut silent = tokio::net::TcpStream::connect(address).await.unwrap();
    closed_by_server(&mut silent, at_least).await;
    // A handshake, then nothing: closed at the header timeout.
    let (mut quiet, _) = connect_tls(address, &[&cert]).await.unwrap();
    closed_by_server(&mut quiet, at_least).await;
    // Headers a byte at a time.
    let (mut slow, _) = connect_tls(address, &[&cert]).await.unwrap();
    assert!(
        slowloris(&mut slow, &long_head(&path)).await,
        "a trickling request head was not cut"
    );
    // Half a body: the endpoint's own 503, then the connection closes.
    let (mut half, _) = connect_tls(address, &[&cert]).await.unwrap();
    half.write_all(
        format!("POST {path} HTTP/1.1\r\nHost: operator\r\nAuthorization: Bearer {bearer}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"issuer\":")
            .as_bytes(),
    )
    .await
    .unwrap();
    let answer = closed_by_server(&mut half, at_least).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.contains("\"reason\":\"ServiceUnavailable\"")
            && answer.contains("not received and answered within 2 s"),
        "{answer}"
    );

    // The cap: three open connections, the fourth closed at once; a slot frees when one closes.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_tls(address, &[&cert]).await.unwrap().0);
    }
    let mut beyond = tokio::net::TcpStream::connect(address).await.unwrap();
    let started = Instant::now();
    let mut read = Vec::new();
    let _ = tokio::time::timeout(TIMEOUT, beyond.read_to_end(&mut read)).await;
    assert!(
        read.is_empty() && started.elapsed() < TIMEOUT / 2,
        "a connection beyond the cap was kept for {:?}",
        started.elapsed()
    );
    held.pop();
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok((stream, _)) = connect_tls(address, &[&cert]).await
            && let Ok(answer) = http::post_over(stream, &path, Some(&bearer), body.as_bytes()).await
            && answer.status == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot was not served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    env.cleanup().await;
}

/// `GET path` on a new connection; the status line and body.
async fn get(address: SocketAddr, path: &str) -> (String, String) {
    get_from([127, 0, 0, 1], address, path).await
}

/// `GET path` on a new connection from the loopback address `source` (any of 127.0.0.0/8).
async fn get_from(source: [u8; 4], address: SocketAddr, path: &str) -> (String, String) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((source, 0).into()).unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: operator\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut read = String::new();
    stream.read_to_string(&mut read).await.unwrap();
    let (head, body) = read.split_once("\r\n\r\n").unwrap_or((&read, ""));
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

#[tokio::test]
async fn the_metrics_port_closes_slow_and_silent_connections_and_readyz_names_a_stopped_listener() {
    // Needs no API server: the metrics port serves what the process holds.
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = tcp.local_addr().unwrap();
    // A standby replica: ready whatever its caches, so that only the listeners decide.
    let health = Arc::new(Health::default());
    let metrics = Arc::new(Metrics::default());
    tokio::spawn(endpoints::serve_with(
        tcp,
        metrics,
        health.clone(),
        None,
        limits(3),
    ));
    let (status, body) = get(address, "/readyz").await;
    assert!(status.ends_with("200 OK"), "{status} {body}");
    let at_least = TIMEOUT - Duration::from_millis(200);

    let mut silent = tokio::net::TcpStream::connect(address).await.unwrap();
    closed_by_server(&mut silent, at_least).await;
    let mut slow = tokio::net::TcpStream::connect(address).await.unwrap();
    assert!(
        slowloris(&mut slow, &long_head("/metrics")).await,
        "a trickling request head was not cut"
    );
    let mut half = tokio::net::TcpStream::connect(address).await.unwrap();
    half.write_all(
        b"POST /metrics HTTP/1.1\r\nHost: operator\r\nContent-Length: 100\r\n\r\n0123456789",
    )
    .await
    .unwrap();
    closed_by_server(&mut half, Duration::ZERO).await;

    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tokio::net::TcpStream::connect(address).await.unwrap());
    }
    let mut beyond = tokio::net::TcpStream::connect(address).await.unwrap();
    let started = Instant::now();
    let mut read = Vec::new();
    let _ = tokio::time::timeout(TIMEOUT, beyond.read_to_end(&mut read)).await;
    assert!(
        read.is_empty() && started.elapsed() < TIMEOUT / 2,
        "a connection beyond the cap was kept for {:?}",
        started.elapsed()
    );
    drop(held);

    // Another listener of the process stops: /readyz names it.
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_address = other.local_addr().unwrap();
    let status = health.listeners.register("token requests", other_address);
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(listener::serve(
        other,
        listener::Service {
            router: axum::Router::new(),
            tls: None,
            timed_out: |_| axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
        },
        limits(3),
        status,
        async move {
            let _ = stopped.await;
        },
    ));
    let deadline = Instant::now() + WAIT;
    let (status, body) = loop {
        let (status, body) = get(address, "/readyz").await;
        if status.ends_with("200 OK") || Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.ends_with("200 OK"), "{status} {body}");
    stop.send(()).unwrap();
    serving.await.unwrap();
    let (status, body) = get(address, "/readyz").await;
    assert!(status.ends_with("503 Service Unavailable"), "{status}");
    assert_eq!(
        body,
        format!("the token requests listener on {other_address} has stopped")
    );
}

#[tokio::test]
async fn readyz_fails_while_the_https_listener_has_no_usable_certificate() {
    let _cpu = CPU_HEAVY.lock().await;
    let Some(env) = setup("listeners-cert", json!({})).await else {
        return;
    };
    let health = Arc::new(Health::default());
    let metrics_tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_address = metrics_tcp.local_addr().unwrap();
    tokio::spawn(endpoints::serve_with(
        metrics_tcp,
        Arc::new(Metrics::default()),
        health.clone(),
        None,
        limits(8),
    ));
    let address = serve_https(&env, "listeners-cert", limits(8), |address| {
        health.listeners.register("token requests", address)
    })
    .await;
    // No Secret yet: handshakes fail, and /readyz says why.
    let expected = format!(
        "the token requests listener on {address} has no usable certificate: TLS Secret {}/listeners-cert does not exist",
        env.namespace()
    );
    let readyz_until = move |done: fn(&str, &str) -> bool| async move {
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, body) = get(metrics_address, "/readyz").await;
            if done(&status, &body) || Instant::now() > deadline {
                return (status, body);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let (status, body) = readyz_until(|_, body| body.contains("no usable certificate")).await;
    assert!(
        status.ends_with("503 Service Unavailable"),
        "{status} {body}"
    );
    assert!(body.contains(&expected), "{body}");
    // The Secret appears: served, and ready again.
    let cert = apply_self_signed_tls(&env, "listeners-cert").await;
    let (status, body) = readyz_until(|status, _| status.ends_with("200 OK")).await;
    assert!(status.ends_with("200 OK"), "{status} {body}");
    assert!(connect_tls(address, &[&cert]).await.is_ok());
    env.cleanup().await;
}

#[tokio::test]
async fn one_client_holding_the_metrics_ports_connections_leaves_the_probes_served() {
    // Needs no API server. The metrics port with its default limits: 64 connections, 8 a client.
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = tcp.local_addr().unwrap();
    tokio::spawn(endpoints::serve(
        tcp,
        Arc::new(Metrics::default()),
        Arc::new(Health::default()),
    ));
    // One client (127.0.0.1) opens the whole cap and sends nothing.
    let mut held = Vec::new();
    for _ in 0..listener::limits::METRICS_MAX_CONNECTIONS {
        held.push(tokio::net::TcpStream::connect(address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The kubelet, from another address (127.0.0.2), is still answered.
    let (status, body) = get_from([127, 0, 0, 2], address, "/readyz").await;
    assert!(status.ends_with("200 OK"), "{status} {body}");
    // Only the client's share is kept: the rest were closed at once.
    let mut open = 0;
    for stream in &mut held {
        let mut byte = [0; 1];
        if tokio::time::timeout(Duration::from_millis(20), stream.read(&mut byte))
            .await
            .is_err()
        {
            open += 1;
        }
    }
    assert_eq!(open, listener::limits::METRICS_MAX_CONNECTIONS_PER_IP);
}
