//! A real SMTP server (PyPI `aiosmtpd`, in the virtualenv `target/py` that `scripts/test`
//! creates) on a free loopback port, storing what it receives in a maildir in its own
//! temporary directory; killed when dropped. Messages are read back with Python's own
//! `email` package, so the MIME decoding checked is an independent one, not lettre's.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Smtp {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// `target/py/bin/python`, next to the crate's manifest (CI and `scripts/test` put it there).
pub fn python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/py/bin/python")
}

/// One received message, decoded.
#[derive(Debug, serde::Deserialize)]
pub struct Received {
    pub subject: String,
    pub from: String,
    pub to: String,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    /// (content type, decoded text) of each leaf part, in order.
    pub parts: Vec<(String, String)>,
}

const READER: &str = r#"
import email, email.policy, json, mailbox, sys
out = []
for key, msg in sorted(mailbox.Maildir(sys.argv[1], create=False).items()):
    m = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    parts = [(p.get_content_type(), p.get_content()) for p in m.walk() if not p.is_multipart()]
    out.append({
        "subject": str(m["subject"]), "from": str(m["from"]), "to": str(m["to"]),
        "content_type": m.get_content_type(),
        "headers": [(k, str(v)) for k, v in m.items()],
        "parts": parts,
    })
print(json.dumps(out))
"#;

impl Smtp {
    pub async fn start() -> Smtp {
        let py = python();
        assert!(
            py.exists(),
            "{} is missing: run the tests with `scripts/test`, which creates the virtualenv \
             with aiosmtpd",
            py.display()
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let mail = dir.path().join("mail");
        let port = super::alertmanager::free_port();
        let log = std::fs::File::create(dir.path().join("smtpd.log")).expect("log file");
        let child = Command::new(&py)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&mail)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start aiosmtpd");
        let mut smtp = Smtp { child, port, dir };
        smtp.wait_ready().await;
        smtp
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log =
                    std::fs::read_to_string(self.dir.path().join("smtpd.log")).unwrap_or_default();
                panic!(
                    "aiosmtpd exited with {status} (is aiosmtpd installed? run `scripts/test`):\n{log}"
                );
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd not listening after 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every message received so far, decoded by Python's `email` package.
    pub fn messages(&self) -> Vec<Received> {
        let mail = self.dir.path().join("mail");
        let out = Command::new(python())
            .args(["-c", READER])
            .arg(&mail)
            .output()
            .expect("run the maildir reader");
        assert!(
            out.status.success(),
            "maildir reader failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("reader output as JSON")
    }
}

impl Smtp {
    /// The maildir messages are stored in, for tests that read parts `messages` does not
    /// decode (attachment names, dispositions).
    pub fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
