//! A real Prometheus server (Debian `prometheus`) on a free loopback port, with its own
//! temporary storage and a scrape configuration pointing at one target scraped every
//! second, stopped (killed) when dropped; and `promtool`, which ships with it. Missing
//! binary → the test fails naming `scripts/test`, which installs it.

#![allow(dead_code)]

use crate::process;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const BINARY: &str = "/usr/bin/prometheus";
pub const PROMTOOL: &str = "/usr/bin/promtool";

/// `promtool` with `args`, `stdin` fed in; (success, stdout + stderr).
pub fn promtool(args: &[&str], stdin: &str) -> (bool, String) {
    use std::io::Write;
    process::require(PROMTOOL, "prometheus");
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

pub struct Prometheus {
    server: process::Process,
    pub url: String,
}

impl Prometheus {
    /// Scrapes `target` (`127.0.0.1:PORT`) at `path` every second, as job `probity`, with
    /// `bearer` as its token when given.
    pub async fn start(target: &str, path: &str, bearer: Option<&str>) -> Prometheus {
        let auth = bearer
            .map(|t| format!("    authorization:\n      credentials: \"{t}\"\n"))
            .unwrap_or_default();
        let server = process::Process::start(
            "prometheus",
            BINARY,
            "prometheus",
            Duration::from_secs(30),
            |dir, port| {
                let config = dir.join("prometheus.yml");
                std::fs::write(
                    &config,
                    format!(
                        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                         scrape_configs:\n  - job_name: probity\n    metrics_path: {path}\n{auth}\
                         \x20   static_configs:\n      - targets: [\"{target}\"]\n"
                    ),
                )
                .expect("write the configuration");
                vec![
                    format!("--config.file={}", config.display()),
                    format!("--storage.tsdb.path={}", dir.join("data").display()),
                    format!("--web.listen-address=127.0.0.1:{port}"),
                ]
            },
        )
        .await;
        Prometheus {
            url: server.url.clone(),
            server,
        }
    }

    pub fn log(&self) -> String {
        self.server.log()
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
