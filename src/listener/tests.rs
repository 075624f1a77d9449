//! The accept loop against clients that misbehave, on loopback, with short limits.

use super::*;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The size of `/large`'s answer: more than loopback's socket buffers hold (a few MiB).
const LARGE: usize = 64 << 20;

/// Limits short enough for a test; the cap given.
fn limits(max_connections: usize) -> Limits {
    Limits {
        max_connections,
        max_connections_per_ip: max_connections,
        handshake_timeout: Duration::from_millis(500),
        header_read_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_millis(500),
        write_timeout: Duration::from_millis(500),
    }
}

fn service() -> Service {
    Service {
        router: Router::new()
            .route(
                "/",
                get(|| async { "ok" }).post(|body: String| async move { body }),
            )
            .route("/large", get(|| async { vec![b'x'; LARGE] })),
        tls: None,
        timed_out: |_| (axum::http::StatusCode::SERVICE_UNAVAILABLE, "timed out").into_response(),
    }
}

use axum::response::IntoResponse;

/// Serves [`service`] on a loopback port with `limits`; its address and status.
async fn start(limits: Limits) -> (std::net::SocketAddr, Arc<ListenerStatus>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let status = Arc::new(ListenerStatus::new("test", address));
    tokio::spawn(serve(
        listener,
        service(),
        limits,
        status.clone(),
        std::future::pending(),
    ));
    (address, status)
}

/// Reads until the server closes the connection; how long that took, and what was read.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> (Duration, String) {
    let started = Instant::now();
    let mut read = Vec::new();
    let closed = tokio::time::timeout(within, stream.read_to_end(&mut read)).await;
    assert!(
        closed.is_ok(),
        "the connection was still open after {within:?}"
    );
    (
        started.elapsed(),
        String::from_utf8_lossy(&read).into_owned(),
    )
}

async fn get_ok(address: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    until_closed(&mut stream, Duration::from_secs(5)).await.1
}

#[tokio::test]
async fn a_connection_past_the_cap_is_closed_at_once_and_the_cap_frees_when_one_closes() {
    let (address, _) = start(Limits {
        header_read_timeout: Duration::from_secs(30),
        ..limits(2)
    })
    .await;
    let first = TcpStream::connect(address).await.unwrap();
    let mut second = TcpStream::connect(address).await.unwrap();
    // The server has taken both once the second answers a request.
    second
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0; 12];
    second.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    let mut third = TcpStream::connect(address).await.unwrap();
    let (took, read) = until_closed(&mut third, Duration::from_secs(2)).await;
    assert!(
        read.is_empty() && took < Duration::from_secs(1),
        "{took:?} {read:?}"
    );
    drop(first);
    // The first one's slot comes back once the server sees it closed.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if get_ok(address).await.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot was not reused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_slowloris_a_silent_connection_and_a_half_sent_body_are_closed_in_time() {
    let (address, _) = start(limits(16)).await;
    // Silent after connecting.
    let mut silent = TcpStream::connect(address).await.unwrap();
    let (took, _) = until_closed(&mut silent, Duration::from_secs(3)).await;
    assert!(took >= Duration::from_millis(400), "{took:?}");
    // Headers one byte at a time, a byte every 100 ms: never finished within the timeout.
    let mut slow = TcpStream::connect(address).await.unwrap();
    let started = Instant::now();
    let request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    for byte in request {
        if slow.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let (_, read) = until_closed(&mut slow, Duration::from_secs(3)).await;
    assert!(
        started.elapsed() < Duration::from_secs(3) && !read.contains("200 OK"),
        "{:?} {read:?}",
        started.elapsed()
    );
    // Half a body: 100 bytes announced, 10 sent.
    let mut half = TcpStream::connect(address).await.unwrap();
    half.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .unwrap();
    let (took, read) = until_closed(&mut half, Duration::from_secs(3)).await;
    assert!(read.starts_with("HTTP/1.1 503"), "{read:?}");
    assert!(
        read.contains("timed out") && took >= Duration::from_millis(400),
        "{took:?} {read}"
    );
    // An idle keep-alive connection is closed after its answer, within the same timeout.
    let mut idle = TcpStream::connect(address).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (took, read) = until_closed(&mut idle, Duration::from_secs(3)).await;
    assert!(
        read.starts_with("HTTP/1.1 200") && took >= Duration::from_millis(400),
        "{took:?} {read}"
    );
}

/// Accepts from a real listener, failing as a process out of file descriptors does first.
struct OutOfFiles {
    failures: usize,
    listener: tokio::net::TcpListener,
}

impl Accept for OutOfFiles {
    async fn accept(&mut self) -> io::Result<TcpStream> {
        if self.failures > 0 {
            self.failures -= 1;
            // EMFILE
            return Err(io::Error::from_raw_os_error(24));
        }
        Accept::accept(&mut self.listener).await
    }
}

#[tokio::test]
async fn an_accept_error_does_not_end_the_listener_and_shows_in_readiness_meanwhile() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let listeners = Listeners::default();
    let status = listeners.register("test", address);
    let served = tokio::spawn(serve(
        OutOfFiles {
            failures: 2,
            listener,
        },
        service(),
        limits(4),
        status,
        std::future::pending(),
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let problems = listeners.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(&format!(
            "the test listener on {address} cannot accept connections: Too many open files"
        )),
        "{problems:?}"
    );
    // After two back-offs it serves again, and says so.
    let answer = get_ok(address).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        listeners.problems().is_empty(),
        "{:?}",
        listeners.problems()
    );
    served.abort();
    let _ = served.await;
    assert_eq!(
        listeners.problems(),
        [format!("the test listener on {address} has stopped")]
    );
}

#[tokio::test]
async fn shutdown_stops_accepting_and_lets_a_request_finish() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let status = Arc::new(ListenerStatus::new("test", address));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(serve(
        listener,
        service(),
        Limits {
            request_timeout: Duration::from_secs(5),
            ..limits(4)
        },
        status,
        async move {
            let _ = stopped.await;
        },
    ));
    let mut busy = TcpStream::connect(address).await.unwrap();
    busy.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !served.is_finished(),
        "shutdown did not wait for the request"
    );
    assert!(
        TcpStream::connect(address).await.is_err(),
        "still accepting"
    );
    busy.write_all(b"cd").await.unwrap();
    let (_, read) = until_closed(&mut busy, Duration::from_secs(3)).await;
    assert!(
        read.starts_with("HTTP/1.1 200") && read.ends_with("abcd"),
        "{read}"
    );
    tokio::time::timeout(Duration::from_secs(3), served)
        .await
        .expect("serve returns once the last connection ends")
        .unwrap();
}

#[tokio::test]
async fn headers_beyond_the_buffer_limit_are_refused_with_431_and_closed() {
    let (address, _) = start(limits(4)).await;
    let mut big = TcpStream::connect(address).await.unwrap();
    let padding = "a".repeat(limits::MAX_HEADER_BYTES + 1024);
    // The server may close before it has read all of it.
    let _ = big
        .write_all(format!("GET / HTTP/1.1\r\nHost: x\r\nX-Padding: {padding}\r\n\r\n").as_bytes())
        .await;
    let (_, read) = until_closed(&mut big, Duration::from_secs(3)).await;
    assert!(
        read.starts_with("HTTP/1.1 431"),
        "{}",
        &read[..read.len().min(200)]
    );
    // A bearer's worth (8 KiB) of headers still fits.
    let mut fits = TcpStream::connect(address).await.unwrap();
    let bearer = "b".repeat(8192);
    fits.write_all(
        format!("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {bearer}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let (_, read) = until_closed(&mut fits, Duration::from_secs(3)).await;
    assert!(read.starts_with("HTTP/1.1 200"), "{read}");
}

#[tokio::test]
async fn one_address_gets_its_share_of_the_cap_and_another_address_still_gets_in() {
    let (address, _) = start(Limits {
        header_read_timeout: Duration::from_secs(30),
        max_connections_per_ip: 2,
        ..limits(8)
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut kept = TcpStream::connect(address).await.unwrap();
        kept.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = [0; 12];
        kept.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"HTTP/1.1 200");
        held.push(kept);
    }
    let mut third = TcpStream::connect(address).await.unwrap();
    let (took, read) = until_closed(&mut third, Duration::from_secs(3)).await;
    assert!(
        read.is_empty() && took < Duration::from_millis(400),
        "{took:?} {read}"
    );
    // 127.0.0.2 is loopback too (127.0.0.0/8), another client address.
    let other = tokio::net::TcpSocket::new_v4().unwrap();
    other.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = other.connect(address).await.unwrap();
    other
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (_, read) = until_closed(&mut other, Duration::from_secs(3)).await;
    assert!(read.starts_with("HTTP/1.1 200"), "{read}");
    // A connection closed gives its address a place back.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(get_ok(address).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_client_that_stops_reading_a_large_answer_is_closed_after_the_write_timeout() {
    let (address, _) = start(Limits {
        header_read_timeout: Duration::from_secs(30),
        request_timeout: Duration::from_secs(30),
        ..limits(4)
    })
    .await;
    let mut stalled = TcpStream::connect(address).await.unwrap();
    stalled
        .write_all(b"GET /large HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // Reads nothing for longer than the write timeout…
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // …then finds the answer cut and the connection closed (what the kernel held, then the end).
    let mut read = 0;
    let mut buffer = vec![0; 1 << 16];
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match stalled.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "still open after {read} bytes");
    assert!(read < LARGE, "the whole answer came: {read} bytes");
    // A client that reads takes the whole answer.
    let mut reader = TcpStream::connect(address).await.unwrap();
    reader
        .write_all(b"GET /large HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut all = Vec::new();
    reader.read_to_end(&mut all).await.unwrap();
    assert!(all.len() > LARGE, "{}", all.len());
}
