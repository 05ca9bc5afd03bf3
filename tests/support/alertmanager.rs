//! A real Prometheus Alertmanager (Debian `prometheus-alertmanager`) on a free loopback
//! port with its own temporary storage and a one-receiver configuration, stopped (killed)
//! when dropped. Missing binary → the test fails naming `scripts/test`, which installs it.

#![allow(dead_code)]

use crate::process;

use std::time::Duration;

#[allow(unused_imports)]
pub use process::free_port;

pub const BINARY: &str = "/usr/bin/prometheus-alertmanager";

pub struct Alertmanager {
    server: process::Process,
    pub url: String,
}

impl Alertmanager {
    pub async fn start() -> Alertmanager {
        let server = process::Process::start(
            "alertmanager",
            BINARY,
            "prometheus-alertmanager",
            Duration::from_secs(20),
            |dir, port| {
                let config = dir.join("alertmanager.yml");
                std::fs::write(
                    &config,
                    "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
                )
                .expect("write the configuration");
                vec![
                    format!("--config.file={}", config.display()),
                    format!("--storage.path={}", dir.join("data").display()),
                    format!("--web.listen-address=127.0.0.1:{port}"),
                    "--cluster.listen-address=".into(),
                ]
            },
        )
        .await;
        Alertmanager {
            url: server.url.clone(),
            server,
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
