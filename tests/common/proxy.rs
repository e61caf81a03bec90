//! A round-robin load balancer on loopback, in front of several `prflow
//! serve` replicas: each request goes to the next backend that accepts a
//! connection (a killed replica is skipped), on a connection of its own
//! (`Connection: close` both ways), so keep-alive does not pin a sender to
//! one replica.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running proxy; stops when dropped.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Which backend (index) each request went to, in order.
    pub routed: Arc<Mutex<Vec<usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Balance over `backends` (`127.0.0.1:PORT` each).
pub async fn start(backends: Vec<String>) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routed = Arc::new(Mutex::new(vec![]));
    let next = Arc::new(AtomicUsize::new(0));
    let backends = Arc::new(backends);
    let r = routed.clone();
    let task = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (backends, next, routed) = (backends.clone(), next.clone(), r.clone());
            tokio::spawn(async move {
                let _ = relay(client, &backends, &next, &routed).await;
            });
        }
    });
    Proxy { base, routed, task }
}

/// One request: read it whole, send it to the next live backend, copy the answer back.
async fn relay(
    mut client: TcpStream,
    backends: &[String],
    next: &AtomicUsize,
    routed: &Mutex<Vec<usize>>,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(64 * 1024);
    let head_end = loop {
        let mut chunk = [0u8; 16 * 1024];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let mut chunk = [0u8; 64 * 1024];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut request: Vec<u8> = head
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .flat_map(|l| [l, "\r\n"])
        .collect::<String>()
        .into_bytes();
    request.extend_from_slice(b"Connection: close\r\n\r\n");
    request.extend_from_slice(&buf[head_end..head_end + length]);
    for _ in 0..backends.len() {
        let i = next.fetch_add(1, Ordering::SeqCst) % backends.len();
        let Ok(mut backend) = TcpStream::connect(&backends[i]).await else {
            continue; // a dead replica: the next one
        };
        routed.lock().unwrap().push(i);
        backend.write_all(&request).await?;
        let mut answer = vec![];
        backend.read_to_end(&mut answer).await?;
        client.write_all(&answer).await?;
        return client.shutdown().await;
    }
    client
        .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await
}
