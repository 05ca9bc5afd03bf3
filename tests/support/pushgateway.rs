//! A real Prometheus Pushgateway (Debian `prometheus-pushgateway`) on a free loopback port,
//! keeping its metrics in memory, stopped (killed) when dropped. Missing binary → the test
//! fails naming `scripts/test`, which installs it.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BINARY: &str = "/usr/bin/prometheus-pushgateway";

pub struct Pushgateway {
    child: Child,
    pub url: String,
    dir: tempfile::TempDir,
}

impl Pushgateway {
    pub async fn start() -> Pushgateway {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} is missing: run the tests with `scripts/test`, which installs \
             prometheus-pushgateway"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let log = std::fs::File::create(dir.path().join("pushgateway.log")).expect("log file");
        let child = Command::new(BINARY)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus-pushgateway");
        let mut gateway = Pushgateway {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        gateway.wait_ready().await;
        gateway
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pushgateway.log")).unwrap_or_default()
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("pushgateway exited with {status}:\n{}", self.log());
            }
            let ready = client
                .get(format!("{}/-/ready", self.url))
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "pushgateway not ready after 20 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What a Prometheus scraping the gateway gets (`GET /metrics`, text format).
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.url))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("the gateway's metrics")
    }

    /// `GET /api/v1/metrics`: every group with its metrics, as JSON.
    pub async fn groups(&self) -> serde_json::Value {
        reqwest::get(format!("{}/api/v1/metrics", self.url))
            .await
            .expect("GET /api/v1/metrics")
            .json()
            .await
            .expect("the gateway's groups as JSON")
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
