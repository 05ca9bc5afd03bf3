//! The two local channels: the console (each notification printed to stderr, untrusted
//! text made inert) and a file of JSON lines (one notification a line, appended and
//! flushed per notification, so a reader sees whole lines only).

use std::io::Write;
use std::path::PathBuf;

use futures_util::future::BoxFuture;

use super::{Action, Notification, Notifier, NotifyError};
use crate::report::terminal::sanitize;

/// Prints notifications to stderr.
pub struct ConsoleChannel {
    pub name: String,
}

/// The console's text of a notification (one line per detail, every field sanitised).
pub fn console_text(n: &Notification) -> String {
    let head = match (n.action, n.test) {
        (Action::Trigger, false) => format!("[{}]", n.severity.as_str().to_uppercase()),
        (Action::Resolve, false) => "[RESOLVED]".to_string(),
        (Action::Trigger, true) => format!("[TEST {}]", n.severity.as_str().to_uppercase()),
        (Action::Resolve, true) => "[TEST RESOLVED]".to_string(),
    };
    let mut out = format!("alert {head} {}\n", sanitize(&n.summary, 400));
    for (k, v) in &n.details {
        out.push_str(&format!("  {}: {}\n", sanitize(k, 40), sanitize(v, 400)));
    }
    out
}

impl Notifier for ConsoleChannel {
    fn name(&self) -> &str {
        &self.name
    }
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let text = console_text(n);
            let mut err = std::io::stderr().lock();
            err.write_all(text.as_bytes()).map_err(|e| NotifyError {
                retryable: true,
                retry_after: None,
                message: format!("cannot write to stderr: {e}"),
            })
        })
    }
}

/// Appends notifications to a file as JSON lines.
pub struct FileChannel {
    pub name: String,
    pub path: PathBuf,
}

impl Notifier for FileChannel {
    fn name(&self) -> &str {
        &self.name
    }
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let fail = |e: std::io::Error| NotifyError {
                // A full disk or a missing folder may be fixed by the next run.
                retryable: true,
                retry_after: None,
                message: format!("cannot append to {}: {e}", self.path.display()),
            };
            let mut line = serde_json::to_string(n).map_err(|e| NotifyError {
                retryable: false,
                retry_after: None,
                message: format!("cannot encode the notification: {e}"),
            })?;
            line.push('\n');
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(fail)?;
            // One write of the whole line: concurrent appenders never interleave lines.
            file.write_all(line.as_bytes()).map_err(fail)?;
            file.flush().map_err(fail)
        })
    }
}
