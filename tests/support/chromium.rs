//! A real headless Chromium (Debian `chromium`, `/usr/bin/chromium`) to look at pages the
//! way a reader's browser does: `--dump-dom` gives the DOM after the page loaded and its
//! scripts, if any ran, had time to (a virtual-time budget covers timers and `onerror`
//! handlers), `--screenshot` a PNG of it (see `png.rs` to read the pixels). Each call starts
//! its own browser with a fresh profile in this helper's temporary directory, under a
//! timeout, and is killed with its whole process group if it overruns. Host names other
//! than the loopback resolve to nothing, so a page that tries to fetch from the network gets
//! nothing, and the tests stay on 127.0.0.1.
//!
//! Missing binary → the test fails naming `scripts/test`, which installs it. The calls are
//! blocking (std::process); from an async test use `tokio::task::spawn_blocking`.

#![allow(dead_code)]

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const BINARY: &str = "/usr/bin/chromium";

/// Generous: seven developers share two cores, and a cold start of Chromium is seconds.
/// (A page whose server never answers keeps headless Chromium waiting for ever.)
const TIMEOUT: Duration = Duration::from_secs(120);

pub struct Chromium {
    dir: tempfile::TempDir,
    calls: Cell<u32>,
    timeout: Duration,
    /// The process id (and process group) of the last browser started.
    last_pid: Cell<Option<u32>>,
}

impl Chromium {
    pub fn new() -> Chromium {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} is missing: run the tests with `scripts/test`, which installs chromium"
        );
        Chromium {
            dir: tempfile::tempdir().expect("temp dir"),
            calls: Cell::new(0),
            timeout: TIMEOUT,
            last_pid: Cell::new(None),
        }
    }

    /// The same with another limit on each call (the default is 120 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Chromium {
        self.timeout = timeout;
        self
    }

    /// The process id, which is also the process group, of the last browser started.
    pub fn last_pid(&self) -> Option<u32> {
        self.last_pid.get()
    }

    /// This helper's temporary directory (screenshots land here; pages may be written here).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The serialized DOM of `url` (a `file://` or loopback `http://` URL) once loaded.
    pub fn dump_dom(&self, url: &str) -> String {
        let (out, _) = self.run(&["--dump-dom".to_string()], url, "dump-dom");
        let dom = std::fs::read_to_string(&out).expect("read the dumped DOM");
        assert!(
            !dom.trim().is_empty(),
            "chromium dumped an empty DOM for {url}"
        );
        dom
    }

    /// A PNG screenshot of `url` in a `width` × `height` window; returns the file's path.
    pub fn screenshot(&self, url: &str, width: u32, height: u32) -> PathBuf {
        let n = self.calls.get();
        let png = self.dir.path().join(format!("screenshot-{n}.png"));
        self.run(
            &[
                format!("--screenshot={}", png.display()),
                format!("--window-size={width},{height}"),
            ],
            url,
            "screenshot",
        );
        assert!(
            png.exists(),
            "chromium wrote no screenshot of {url} to {}",
            png.display()
        );
        png
    }

    /// Runs one browser to completion; returns the paths of its stdout and stderr files
    /// (files rather than pipes: a large DOM would fill a pipe while we wait).
    fn run(&self, extra: &[String], url: &str, what: &str) -> (PathBuf, PathBuf) {
        use std::os::unix::process::CommandExt;
        let n = self.calls.get();
        self.calls.set(n + 1);
        let profile = self.dir.path().join(format!("profile-{n}"));
        let stdout = self.dir.path().join(format!("{what}-{n}.out"));
        let stderr = self.dir.path().join(format!("{what}-{n}.err"));
        let mut child = Command::new(BINARY)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--disable-extensions",
                "--disable-sync",
                "--disable-domain-reliability",
                "--disable-client-side-phishing-detection",
                "--no-pings",
                "--mute-audio",
                "--hide-scrollbars",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
                // Time for a payload's timers and error handlers to fire before the dump or
                // the screenshot: a check that no script ran must give scripts every chance.
                "--virtual-time-budget=3000",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(url)
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            // Its own process group, so a timeout kills the renderers and the GPU process too.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {BINARY}: {e}"));
        self.last_pid.set(Some(child.id()));
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(None) => {
                    // `--`: procps' kill reads `-PGID` without it as an option.
                    let _ = Command::new("kill")
                        .args(["-s", "KILL", "--", &format!("-{}", child.id())])
                        .stderr(Stdio::null())
                        .status();
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "chromium --{what} {url} did not finish within {} s:\n{}",
                        self.timeout.as_secs(),
                        log_tail(&stderr)
                    );
                }
                Err(e) => panic!("wait for chromium: {e}"),
            }
        };
        assert!(
            status.success(),
            "chromium --{what} {url} exited with {status}:\n{}",
            log_tail(&stderr)
        );
        (stdout, stderr)
    }
}

impl Default for Chromium {
    fn default() -> Self {
        Chromium::new()
    }
}

/// The `file://` URL of an absolute path, bytes outside the unreserved set percent-encoded.
pub fn file_url(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mut url = String::from("file://");
    for &b in path.to_string_lossy().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// The last lines of Chromium's stderr, without the D-Bus complaints every headless start
/// makes in a container.
fn log_tail(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().filter(|l| !l.contains("dbus")).collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
