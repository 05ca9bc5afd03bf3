//! One server binary a test starts (Prometheus, Alertmanager, Pushgateway): on a free
//! loopback port, with its own temporary folder and log file, waited for through its
//! `/-/ready` endpoint, killed when dropped. A missing binary fails the test naming
//! `scripts/test`, which installs it. Each server's own helper says only how to start it
//! (a test that includes one of them includes this file as `mod process` too).

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port free right now (bound then released; the server binds it next).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// Fails the test when `binary` is missing, naming the Debian `package` `scripts/test`
/// installs.
pub fn require(binary: &str, package: &str) {
    assert!(
        Path::new(binary).exists(),
        "{binary} is missing: run the tests with `scripts/test`, which installs the Debian \
         package {package}"
    );
}

pub struct Process {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The server's own folder (configuration, storage, `server.log`).
    pub dir: tempfile::TempDir,
    name: &'static str,
}

impl Process {
    /// Starts `binary` (from Debian `package`) with the arguments `args(dir, port)` gives,
    /// its stderr in `dir/server.log`, and waits up to `ready_within` for `/-/ready`.
    pub async fn start(
        name: &'static str,
        binary: &str,
        package: &str,
        ready_within: Duration,
        args: impl FnOnce(&Path, u16) -> Vec<String>,
    ) -> Process {
        require(binary, package);
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let child = Command::new(binary)
            .args(args(dir.path(), port))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {binary}: {e}"));
        let mut process = Process {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
            name,
        };
        process.wait_ready(ready_within).await;
        process
    }

    /// What the server wrote on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    async fn wait_ready(&mut self, within: Duration) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited with {status}:\n{}", self.name, self.log());
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
                "{} not ready after {within:?}:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
