//! A bare reqwest client: N tasks, each POSTing the golden request bodies in turn over one
//! shared `reqwest::Client` (built like probity's) and parsing every answer as JSON, for a
//! fixed time. Nothing else: no scoring, no store, no summary. Its requests per second are
//! the ceiling a reqwest-based client can reach on the machine, against which probity's
//! overhead can be read.
//!
//! Usage: reqwest-floor URL CONCURRENCY SECONDS BODIES_FILE

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: reqwest-floor URL CONCURRENCY SECONDS BODIES_FILE");
        std::process::exit(2);
    }
    let url = reqwest::Url::parse(&args[1]).expect("a valid URL");
    let concurrency: usize = args[2].parse().expect("a concurrency");
    let seconds: u64 = args[3].parse().expect("a number of seconds");
    let bodies: Arc<Vec<String>> = Arc::new(
        std::fs::read_to_string(&args[4])
            .expect("the bodies file")
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
    );
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent("reqwest-floor")
        .build()
        .expect("an HTTP client");
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let (client, url, bodies) = (client.clone(), url.clone(), bodies.clone());
        let (done, failed) = (done.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = t;
            while Instant::now() < deadline {
                let body = bodies[i % bodies.len()].clone();
                i += 1;
                let sent = client
                    .post(url.clone())
                    .header("content-type", "application/json")
                    .bearer_auth("dummy-key")
                    .body(body)
                    .send()
                    .await;
                let ok = match sent {
                    Ok(resp) if resp.status().is_success() => match resp.bytes().await {
                        Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
                            .is_ok_and(|v| v.get("choices").is_some()),
                        Err(_) => false,
                    },
                    _ => false,
                };
                if ok { &done } else { &failed }.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.expect("a client task");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let (n, f) = (done.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    println!(
        "{{\"requests\": {n}, \"failed\": {f}, \"seconds\": {elapsed:.3}, \"rps\": {:.1}}}",
        n as f64 / elapsed
    );
    if f > 0 {
        std::process::exit(1);
    }
}
