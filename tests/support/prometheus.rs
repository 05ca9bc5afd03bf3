//! A real Prometheus server (Debian `prometheus`) on a free loopback port, with its own
//! temporary storage and a scrape configuration pointing at one target scraped every
//! second, stopped (killed) when dropped; and `promtool`, which ships with it. Missing
//! binary → the test fails naming `scripts/test`, which installs it.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BINARY: &str = "/usr/bin/prometheus";
pub const PROMTOOL: &str = "/usr/bin/promtool";

fn require(binary: &str) {
    assert!(
        Path::new(binary).exists(),
        "{binary} is missing: run the tests with `scripts/test`, which installs the Debian \
         package prometheus"
    );
}

/// `promtool` with `args`, `stdin` fed in; (success, stdout + stderr).
pub fn promtool(args: &[&str], stdin: &str) -> (bool, String) {
    use std::io::Write;
    require(PROMTOOL);
    let mut child = Command::new(PROMTOOL)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.as_bytes())
            .expect("write to promtool");
    }
    let out = child.wait_with_output().expect("promtool finishes");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A port free right now (bound then released; the server binds it next).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

pub struct Prometheus {
    child: Child,
    pub url: String,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Scrapes `target` (`127.0.0.1:PORT`) at `path` every second, as job `probity`, with
    /// `bearer` as its token when given.
    pub async fn start(target: &str, path: &str, bearer: Option<&str>) -> Prometheus {
        require(BINARY);
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("prometheus.yml");
        let auth = bearer
            .map(|t| format!("    authorization:\n      credentials: \"{t}\"\n"))
            .unwrap_or_default();
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: probity\n    metrics_path: {path}\n{auth}\
                 \x20   static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .expect("write the configuration");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new(BINARY)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let mut prometheus = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        prometheus.wait_ready().await;
        prometheus
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited with {status}:\n{}", self.log());
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
                "prometheus not ready after 30 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `GET /api/v1/query?query=...`: the whole JSON answer (`status`, `data` or `error`).
    pub async fn query(&self, promql: &str) -> serde_json::Value {
        reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", promql)])
            .send()
            .await
            .expect("GET /api/v1/query")
            .json()
            .await
            .expect("the query's answer as JSON")
    }

    /// The result vector of an instant query that must succeed.
    pub async fn vector(&self, promql: &str) -> Vec<serde_json::Value> {
        let answer = self.query(promql).await;
        assert_eq!(answer["status"], "success", "{promql}: {answer}");
        answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until `promql` returns at least one series.
    pub async fn wait_for(&self, promql: &str) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let result = self.vector(promql).await;
            if !result.is_empty() {
                return result;
            }
            assert!(
                Instant::now() < deadline,
                "no data for `{promql}` after 60 s; targets: {}\n{}",
                self.targets().await,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// `GET /api/v1/targets`, for failure messages (last scrape error of each target).
    pub async fn targets(&self) -> serde_json::Value {
        match reqwest::get(format!("{}/api/v1/targets", self.url)).await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(e) => serde_json::Value::String(e.to_string()),
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
