//! Diagnostics: one configuration problem each, with where it is (`file:line:col` and the
//! key path), what is wrong and how to fix it. Validation gathers all of them before
//! reporting, so a user fixes every mistake in one pass.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub col: usize,
    /// Dotted key path, e.g. `cases[2].expect.json_schema`; empty for the whole file.
    pub key_path: String,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(file: &Path, line: usize, col: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line,
            col,
            key_path: String::new(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn at_key(mut self, key_path: impl Into<String>) -> Self {
        self.key_path = key_path.into();
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    /// `probes/bot.yaml:7:3: target.modle: unknown key `modle``, then an indented hint.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: ",
            display_path(&self.file),
            self.line,
            self.col
        )?;
        if !self.key_path.is_empty() {
            write!(f, "{}: ", self.key_path)?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Paths are shown relative to the working directory when they are inside it, so they can
/// be pasted and clicked.
pub fn display_path(path: &Path) -> String {
    // A database may be a PostgreSQL URL: shown without its password, like every secret.
    if let Some(text) = path.to_str().filter(|t| crate::store::is_postgres_url(t)) {
        return crate::store::display_name(text);
    }
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf));
    let shown = relative.unwrap_or_else(|| path.to_path_buf());
    // `./probes/x.yaml` reads better as `probes/x.yaml`.
    let tidy: PathBuf = shown
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    if tidy.as_os_str().is_empty() {
        // The working directory itself: an empty string would read as a missing path.
        return ".".to_string();
    }
    tidy.display().to_string()
}

/// Every problem found, in file and line order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.0.extend(other);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Sorted by file, line and column, without exact duplicates.
    pub fn sorted(mut self) -> Self {
        self.0.sort();
        self.0.dedup();
        self
    }

    /// `Ok(value)` when nothing was found, else every diagnostic.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self.sorted())
        }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        let files: std::collections::BTreeSet<_> = self.0.iter().map(|d| &d.file).collect();
        write!(
            f,
            "{} error{} in {} file{}",
            self.0.len(),
            if self.0.len() == 1 { "" } else { "s" },
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for Diagnostics {}
