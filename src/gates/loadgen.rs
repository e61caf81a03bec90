//! A small closed-loop HTTP/1.1 load generator for the performance gate.
//!
//! `concurrency` workers each keep one keep-alive connection and send GET requests back
//! to back until the time or the request budget runs out (like `wrk`). Latency is measured
//! per request from send to the end of the body. Only loopback addresses are accepted:
//! the gate loads services it started itself, never someone else's server.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one load run measured.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LoadStats {
    /// Requests that completed (successful or not).
    pub requests: u64,
    /// Requests that failed: transport errors or a status of 400 or more.
    pub errors: u64,
    /// Successful requests per second over the whole run.
    pub rps: f64,
    /// Latency percentiles of the successful requests, milliseconds.
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Wall time of the run, milliseconds.
    pub elapsed_ms: u64,
    /// The first error seen, or why nothing ran (a non-loopback URL, say).
    pub first_error: Option<String>,
}

/// Loads `url` (http, loopback only) with `concurrency` connections for at most
/// `duration` and at most `max_requests` requests, and reports throughput and latency.
pub async fn run(
    url: &str,
    concurrency: usize,
    duration: Duration,
    max_requests: u64,
) -> LoadStats {
    let target = match Target::parse(url) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            return LoadStats {
                first_error: Some(e),
                ..LoadStats::default()
            }
        }
    };
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (target, issued) = (target.clone(), issued.clone());
        workers.push(tokio::spawn(async move {
            worker(&target, &issued, max_requests, deadline).await
        }));
    }
    let mut latencies: Vec<u32> = Vec::new();
    let mut stats = LoadStats::default();
    for w in workers {
        if let Ok(r) = w.await {
            stats.requests += r.ok + r.errors;
            stats.errors += r.errors;
            if stats.first_error.is_none() {
                stats.first_error = r.first_error;
            }
            latencies.extend(r.latencies_us);
        }
    }
    let elapsed = started.elapsed();
    stats.elapsed_ms = elapsed.as_millis() as u64;
    stats.rps = (stats.requests - stats.errors) as f64 / elapsed.as_secs_f64().max(1e-9);
    latencies.sort_unstable();
    stats.p50_ms = percentile(&latencies, 50.0);
    stats.p95_ms = percentile(&latencies, 95.0);
    stats.p99_ms = percentile(&latencies, 99.0);
    stats
}

/// One GET to a loopback `url`: its status code, or why it failed. Used to wait for a
/// service to become ready before loading it.
pub async fn probe(url: &str, timeout: Duration) -> Result<u16, String> {
    let t = Target::parse(url)?;
    tokio::time::timeout(timeout, async {
        let mut s = connect(&t).await?;
        let req = http::Request::get(t.path.as_str())
            .header(http::header::HOST, t.host.as_str())
            .header(http::header::USER_AGENT, "prflow-loadgen")
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let resp = s
            .send_request(req)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = resp.status().as_u16();
        let _ = resp.into_body().collect().await;
        Ok(status)
    })
    .await
    .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
}

/// Nearest-rank percentile of sorted microsecond samples, in milliseconds.
fn percentile(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    sorted_us[rank.clamp(1, sorted_us.len()) - 1] as f64 / 1000.0
}

struct Target {
    addr: SocketAddr,
    host: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, String> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!(
                "`{url}`: the load generator speaks plain http only"
            ));
        }
        let host = uri.host().ok_or_else(|| format!("`{url}` has no host"))?;
        let ip: IpAddr = match host {
            "localhost" => IpAddr::from([127, 0, 0, 1]),
            h => h
                .trim_matches(['[', ']'])
                .parse()
                .map_err(|_| format!("`{url}`: use a loopback IP address (127.0.0.1)"))?,
        };
        if !ip.is_loopback() {
            return Err(format!(
                "`{url}` is not a loopback address; the load generator only loads local services"
            ));
        }
        let port = uri.port_u16().unwrap_or(80);
        Ok(Target {
            addr: SocketAddr::new(ip, port),
            host: format!("{host}:{port}"),
            path: uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "/".into()),
        })
    }
}

#[derive(Default)]
struct WorkerResult {
    ok: u64,
    errors: u64,
    latencies_us: Vec<u32>,
    first_error: Option<String>,
}

async fn connect(t: &Target) -> Result<http1::SendRequest<Empty<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(t.addr)
        .await
        .map_err(|e| format!("connect {}: {e}", t.addr))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn worker(
    t: &Target,
    issued: &AtomicU64,
    max_requests: u64,
    deadline: Instant,
) -> WorkerResult {
    let mut r = WorkerResult::default();
    let mut sender: Option<http1::SendRequest<Empty<Bytes>>> = None;
    let fail = |r: &mut WorkerResult, e: String| {
        r.errors += 1;
        if r.first_error.is_none() {
            r.first_error = Some(e);
        }
    };
    while Instant::now() < deadline {
        // Get a ready connection first; a connection the server closed is replaced silently.
        let reuse = match sender.take() {
            Some(mut s) => s.ready().await.is_ok().then_some(s),
            None => None,
        };
        let mut s = match reuse {
            Some(s) => s,
            None => match tokio::time::timeout_at(deadline.into(), connect(t)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    if issued.fetch_add(1, Ordering::Relaxed) >= max_requests {
                        break;
                    }
                    fail(&mut r, e);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                Err(_) => break,
            },
        };
        if issued.fetch_add(1, Ordering::Relaxed) >= max_requests {
            break;
        }
        let req = http::Request::get(t.path.as_str())
            .header(http::header::HOST, t.host.as_str())
            .header(http::header::USER_AGENT, "prflow-loadgen")
            .body(Empty::<Bytes>::new())
            .expect("static request parts are valid");
        let sent = Instant::now();
        let outcome = tokio::time::timeout_at(deadline.into(), async {
            let resp = s
                .send_request(req)
                .await
                .map_err(|e| format!("request: {e}"))?;
            let status = resp.status();
            resp.into_body()
                .collect()
                .await
                .map_err(|e| format!("body: {e}"))?;
            Ok::<_, String>(status)
        })
        .await;
        match outcome {
            Ok(Ok(status)) if status.as_u16() < 400 => {
                r.ok += 1;
                r.latencies_us
                    .push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                sender = Some(s);
            }
            Ok(Ok(status)) => {
                fail(&mut r, format!("HTTP {status}"));
                sender = Some(s);
            }
            Ok(Err(e)) => fail(&mut r, e),
            Err(_) => break, // the run ended while this request was in flight: not counted
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 95.0), 95.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[], 99.0), 0.0);
    }

    #[test]
    fn only_loopback_is_accepted() {
        assert!(Target::parse("http://127.0.0.1:8080/health").is_ok());
        assert!(Target::parse("http://localhost:1/").is_ok());
        assert!(Target::parse("http://10.0.0.1/").is_err());
        assert!(Target::parse("https://127.0.0.1/").is_err());
    }
}
