//! A real Prometheus Pushgateway (Debian `prometheus-pushgateway`) on a free loopback port,
//! keeping its metrics in memory, stopped (killed) when dropped. Missing binary → the test
//! fails naming `scripts/test`, which installs it.

#![allow(dead_code)]

use crate::process;

use std::time::Duration;

pub const BINARY: &str = "/usr/bin/prometheus-pushgateway";

pub struct Pushgateway {
    server: process::Process,
    pub url: String,
}

impl Pushgateway {
    pub async fn start() -> Pushgateway {
        let server = process::Process::start(
            "pushgateway",
            BINARY,
            "prometheus-pushgateway",
            Duration::from_secs(20),
            |_, port| vec![format!("--web.listen-address=127.0.0.1:{port}")],
        )
        .await;
        Pushgateway {
            url: server.url.clone(),
            server,
        }
    }

    pub fn log(&self) -> String {
        self.server.log()
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
