//! Where log lines go: stderr, around the progress bar. A line written while the bar is
//! drawn would be cut into by its next redraw, so the bar is hidden for the write and
//! redrawn after it (`ProgressBar::suspend`). The bar is held weakly: once the command
//! drops it, lines go straight to stderr.

use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{ProgressBar, WeakProgressBar};

static BAR: Mutex<Option<WeakProgressBar>> = Mutex::new(None);

/// Makes log lines go around `bar` while it lives (the terminal's progress bar).
pub fn hold_bar(bar: &ProgressBar) {
    let mut held = BAR.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    *held = Some(bar.downgrade());
}

fn bar() -> Option<ProgressBar> {
    let held = BAR.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    held.as_ref().and_then(WeakProgressBar::upgrade)
}

/// Whether text lines may be coloured: stderr is a terminal and `NO_COLOR` is unset.
pub fn colour() -> bool {
    io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// stderr; the formatter writes each event with one `write_all`.
pub struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match bar() {
            Some(bar) if !bar.is_hidden() => bar.suspend(|| io::stderr().lock().write_all(buf)),
            _ => io::stderr().lock().write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}
