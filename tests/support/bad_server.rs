#![allow(dead_code)]
//! Servers that misbehave below HTTP: a connection reset, a body cut short, a closed port.
//! axum cannot do these on purpose, so they are raw `tokio::net` sockets speaking just
//! enough HTTP/1.1 to read a request and (maybe) answer it.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Reads one whole request (headers and `Content-Length` body). Reading it all matters:
/// closing a socket with unread input makes the kernel send a reset instead of a clean end.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut piece = [0u8; 4096];
    loop {
        let n = stream.read(&mut piece).await?;
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(&piece[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return Ok(buf);
            }
        }
    }
}

/// Accepts connections, reads the request, then resets the connection (SO_LINGER 0) before
/// any status line: the client sees `connection reset by peer`.
pub async fn resetting() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = read_request(&mut stream).await;
            let _ = stream.set_zero_linger();
            drop(stream);
        }
    });
    addr
}

/// Answers every request with exactly `response` (status line, headers and whatever body),
/// then closes the connection; a `Content-Length` larger than what follows makes a cut body.
pub async fn raw(response: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = read_request(&mut stream).await;
                let _ = stream.write_all(response).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

/// An address nothing listens on (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// Serves `body` as a chunked event stream on kept-alive connections, sending the final
/// zero-length chunk 10 ms after the events, and counts the connections it accepted: a
/// client that drops the body at its end marker instead of reading to the end cannot reuse
/// its connection.
pub async fn keep_alive_stream(
    body: &'static [u8],
) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = std::sync::Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                loop {
                    match read_request(&mut stream).await {
                        Ok(request) if !request.is_empty() => {}
                        _ => return,
                    }
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                                transfer-encoding: chunked\r\n\r\n";
                    let chunk = format!("{:x}\r\n", body.len());
                    let sent = async {
                        stream.write_all(head.as_bytes()).await?;
                        stream.write_all(chunk.as_bytes()).await?;
                        stream.write_all(body).await?;
                        stream.write_all(b"\r\n").await?;
                        stream.flush().await?;
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        stream.write_all(b"0\r\n\r\n").await
                    };
                    if sent.await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, connections)
}
