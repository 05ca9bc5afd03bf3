//! `probity report RUN` re-renders the HTML report of a stored run from the store;
//! `probity report --history PROBE` writes the trend of the probe's last runs beside the
//! run reports its points link to. Also where `run` and `gate` learn where reports go.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{CommandError, database, open_for_reading};
use crate::cli::{Cli, ReportArgs, ReportFlags};
use crate::config::display_path;
use crate::exit;
use crate::pipeline::Published;
use crate::report::html::{self, HtmlError, Options};

/// The reports folder: `--report-dir`, else `reports/` under the project folder.
pub fn reports_folder(cli: &Cli, flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .unwrap_or_else(|| cli.root.join("reports"))
}

/// Where `run` and `gate` write reports: `None` with `--no-report`.
pub fn report_dir(cli: &Cli, flags: &ReportFlags) -> Option<PathBuf> {
    (!flags.no_report).then(|| reports_folder(cli, flags.report_dir.as_deref()))
}

/// Prints where the report of a published run went, or why it could not be written: on
/// stderr, beside the alert activity, so stdout stays what `show` reprints (or the JSON).
pub fn print_report(published: &Published) {
    if let Some(path) = &published.report {
        crate::logs::note(
            tracing::Level::INFO,
            &format!("report: {}", display_path(path)),
        );
    }
    if let Some(e) = &published.report_error {
        crate::logs::note(
            tracing::Level::WARN,
            &format!("warning: no HTML report written: {e}"),
        );
    }
}

fn html_error(e: HtmlError) -> CommandError {
    match e {
        HtmlError::Store(e) => CommandError::Store(e),
        HtmlError::Io { path, source } => CommandError::Io { path, source },
        other => CommandError::Usage(other.to_string()),
    }
}

pub fn report(cli: &Cli, args: &ReportArgs) -> Result<i32, CommandError> {
    let store = open_for_reading(&database(cli, &[])?)?;
    let folder = reports_folder(cli, args.report_dir.as_deref());
    let options = Options::for_reports(&folder);
    let (page, default_path) = match (&args.history, &args.run) {
        (Some(probe), _) => {
            let page = html::render_history(&store, probe, args.limit as usize, &options)
                .map_err(html_error)?;
            let path = folder.join(html::probe_folder(probe)).join("history.html");
            (page, path)
        }
        (None, Some(run)) => {
            let record = store.run(run)?;
            let page = html::render_run(&store, &record.id, &options).map_err(html_error)?;
            (page, html::report_path(&folder, &record.probe, &record.id))
        }
        (None, None) => {
            return Err(CommandError::Usage(
                "name a run (an id, a unique prefix or suffix, or `latest`) or --history PROBE"
                    .to_string(),
            ));
        }
    };
    match args.out.as_deref() {
        Some(p) if p == Path::new("-") => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(page.as_bytes())
                .map_err(|e| CommandError::io(Path::new("<stdout>"), e))?;
        }
        out => {
            let path = out.map(Path::to_path_buf).unwrap_or(default_path);
            html::write_file(&path, &page).map_err(html_error)?;
            println!("{}", display_path(&path));
        }
    }
    Ok(exit::PASSED)
}
