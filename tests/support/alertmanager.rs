//! A real Prometheus Alertmanager (Debian `prometheus-alertmanager`) on a free loopback
//! port with its own temporary storage and a one-receiver configuration, stopped (killed)
//! when dropped. Missing binary → the test fails naming `scripts/test`, which installs it.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BINARY: &str = "/usr/bin/prometheus-alertmanager";

pub struct Alertmanager {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

/// A port free right now (bound then released; the server binds it next).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

impl Alertmanager {
    pub async fn start() -> Alertmanager {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} is missing: run the tests with `scripts/test`, which installs \
             prometheus-alertmanager"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
        )
        .expect("write the configuration");
        let storage = dir.path().join("data");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("alertmanager.log")).expect("log file");
        let child = Command::new(BINARY)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", storage.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus-alertmanager");
        let mut am = Alertmanager {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        am.wait_ready().await;
        am
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self._dir.path().join("alertmanager.log"))
                    .unwrap_or_default();
                panic!("alertmanager exited with {status}:\n{log}");
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
                "alertmanager not ready after 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `GET /api/v2/alerts` (active, silenced and inhibited alike, unless filtered).
    pub async fn alerts(&self, query: &str) -> Vec<serde_json::Value> {
        reqwest::get(format!("{}/api/v2/alerts{query}", self.url))
            .await
            .expect("GET /api/v2/alerts")
            .json()
            .await
            .expect("alerts as JSON")
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
