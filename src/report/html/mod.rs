//! The HTML run report and history report (issue 11): one self-contained file per run
//! (inline CSS, inline SVG charts, no script, nothing fetched), rendered with Handlebars
//! from a view model built out of the store alone, so `probity report RUN` re-renders a
//! stored run exactly as `run` wrote it, and the daemon's dashboard renders the same page.
//!
//! For the dashboard and any other caller:
//!
//! - [`render_run`]`(store, run, &Options)` → the run report of a stored run (an id, a
//!   unique prefix or suffix, or `latest`) as a `String`;
//! - [`render_history`]`(store, probe, n, &Options)` → the trend of the probe's last `n`
//!   finished runs, each point linking to `<run_id>.html` beside it;
//! - [`write_run_report`] writes `reports/<probe>/<run_id>.html` and the copy
//!   `reports/<probe>/latest.html` (what `run` and `gate` do through `pipeline::publish`).
//!
//! Templates (`templates/*.hbs`) are embedded in the binary; a project overrides any of
//! them by a file of the same name in the `templates/` folder of the reports folder
//! (`reports/templates/` under the project folder, or `<--report-dir>/templates/`;
//! [`Options::templates`]): `run.hbs`, `history.hbs`, `style.hbs` (the CSS partial). Every
//! value is escaped by the engine (HTML metacharacters, and the invisible and bidi
//! characters of [`crate::inert`] shown as `\u{..}`); only the SVG charts, which our own
//! code draws and escapes, are inserted raw (`{{{charts.*}}}`, nothing else).

mod by_label;
mod charts;
mod engine;
mod history;
pub mod svg;
mod view;

use std::path::{Path, PathBuf};

pub use by_label::{LabelRow, rows as by_label_rows};
pub use engine::{embedded as embedded_template, escape_html};
pub use history::{HistoryView, Point, history_view, points};
pub use view::{RunView, run_view};

use crate::store::{Store, StoreError};

/// How a report is rendered.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A folder whose `run.hbs`, `history.hbs` or `style.hbs` replace the embedded
    /// template of that name (`reports/templates/` under the project folder). A missing
    /// folder or file keeps the embedded one.
    pub templates: Option<PathBuf>,
    /// How many earlier runs the run report's trend shows (default 30).
    pub trend_runs: Option<usize>,
}

impl Options {
    /// The options of reports written to `dir` (`reports/` under the project folder by
    /// default): the templates in its `templates/` folder override the embedded ones.
    pub fn for_reports(dir: &Path) -> Options {
        Options {
            templates: Some(dir.join("templates")),
            trend_runs: None,
        }
    }
}

/// Why a report could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "run {run} has no stored document: it is still going, or its process was killed \
         before it finished (`probity export {run}` shows what it stored)"
    )]
    Unfinished { run: String },
    #[error("run {run}: its stored document cannot be read: {detail}")]
    Corrupt { run: String, detail: String },
    #[error("no finished run of probe `{probe}` is stored{hint}")]
    NoHistory { probe: String, hint: String },
    #[error("template {path}: {detail}")]
    Template { path: String, detail: String },
    #[error("rendering {template}: {detail}")]
    Render { template: String, detail: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The run report of a stored run, as one self-contained HTML page.
pub fn render_run(store: &Store, run: &str, options: &Options) -> Result<String, HtmlError> {
    let view = run_view(store, run, options.trend_runs.unwrap_or(30))?;
    engine::Engine::new(options)?.render("run.hbs", &view)
}

/// The history report of a probe: its last `n` finished runs, oldest first.
pub fn render_history(
    store: &Store,
    probe: &str,
    n: usize,
    options: &Options,
) -> Result<String, HtmlError> {
    let view = history_view(store, probe, n)?;
    engine::Engine::new(options)?.render("history.hbs", &view)
}

/// A probe's folder name under the reports folder: its name with anything that is not a
/// letter, digit, `-`, `_` or `.` replaced, so no name can leave the folder.
pub fn probe_folder(probe: &str) -> String {
    let name: String = probe
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match name.trim_matches('.') {
        "" => "_".to_string(),
        _ => name,
    }
}

/// Where the report of `run_id` of `probe` goes under `dir`: `<dir>/<probe>/<run_id>.html`.
pub fn report_path(dir: &Path, probe: &str, run_id: &str) -> PathBuf {
    dir.join(probe_folder(probe))
        .join(format!("{}.html", probe_folder(run_id)))
}

/// Renders the stored run `run_id` and writes it to [`report_path`], then copies it to
/// `latest.html` beside it. Returns the report's path.
pub fn write_run_report(
    store: &Store,
    probe: &str,
    run_id: &str,
    dir: &Path,
    options: &Options,
) -> Result<PathBuf, HtmlError> {
    let html = render_run(store, run_id, options)?;
    let path = report_path(dir, probe, run_id);
    write_file(&path, &html)?;
    let latest = path.with_file_name("latest.html");
    write_file(&latest, &html)?;
    Ok(path)
}

/// Writes `text` to `path` through a temporary file and a rename, so a reader (a browser,
/// the e-mail summary) never sees half a report.
pub fn write_file(path: &Path, text: &str) -> Result<(), HtmlError> {
    let io = |source| HtmlError::Io {
        path: crate::config::display_path(path),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let tmp = path.with_extension("html.tmp");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
