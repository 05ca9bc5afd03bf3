//! After the verdict, every output of a run is a sink fed the same finished outcome
//! (DESIGN.md): the text `probity show` reprints, the alerts (incidents, outbox, channels),
//! the HTML report, the metrics (the daemon's registry, a Pushgateway push) and the e-mail
//! summary, in that order (alerts link to the report; the summary attaches it). One place,
//! so `run`, `gate`, `demo` and the daemon publish a run alike; each prints or logs the
//! [`Published`] it gets back. A sink reads the outcome and the store and never reaches
//! back into the run.

use chrono::Utc;

use super::{PipelineError, RunOutcome, RunStatus};
use crate::alert::after_run::{Activity, after_run};
use crate::config::{AlertRouting, Probe};
use crate::report::html;
use crate::report::terminal::{Style, write_outcome};
use crate::store::Store;

/// Which outputs a command wants for its runs.
#[derive(Debug, Clone, Default)]
pub struct Outputs<'a> {
    /// The project's alert routing, when this command alerts (`run` without
    /// `--no-alerts`, `gate --alert`, the daemon); `None` sends nothing.
    pub alerts: Option<&'a AlertRouting>,
    /// Where the run's details are for people following an alert (the JSON document's
    /// path when one was written).
    pub link: Option<String>,
    /// Where the HTML report goes (`reports/` under the project folder, `--report-dir`):
    /// `<dir>/<probe>/<run_id>.html`, copied to `<dir>/<probe>/latest.html`. `None` writes
    /// none (`--no-report`). When set, alerts link to the report, and the templates in its
    /// `templates/` folder (`reports/templates/`) replace the embedded ones.
    pub report_dir: Option<std::path::PathBuf>,
    /// The daemon's metrics registry, which every run it publishes feeds (`/metrics`).
    pub metrics: Option<&'a crate::metrics::Metrics>,
    /// `probity run --pushgateway URL`: push each probe's run to this Pushgateway.
    pub pushgateway: Option<&'a str>,
}

/// What publishing a run did.
#[derive(Debug, Clone, Default)]
pub struct Published {
    /// What alerting did, when the probe alerts and this command asked for it.
    pub alerts: Option<Activity>,
    /// The HTML report written for this run, which the e-mail summary attaches.
    pub report: Option<std::path::PathBuf>,
    /// What pushing the run's metrics did (`--pushgateway`); a failed push is a warning.
    pub pushed: Option<crate::metrics::PushReport>,
    /// What the e-mailed summary did (`report.email`), when the probe has one and this
    /// command notifies (the same `alerts` routing: `--no-alerts` sends no summary either).
    pub summary: Option<crate::report::email::SummaryActivity>,
    /// Why the HTML report asked for could not be written. Not fatal: the verdict, the
    /// stored run and the alerts stand, and `probity report RUN` writes it again.
    pub report_error: Option<String>,
}

/// Feeds `outcome` to every output `outputs` asks for. An interrupted run says nothing
/// about the endpoint: it changes no incident.
pub async fn publish(
    store: &Store,
    probe: &Probe,
    outcome: &RunOutcome,
    outputs: &Outputs<'_>,
) -> Result<Published, PipelineError> {
    keep_for_show(store, outcome);
    let mut published = Published::default();
    // The report's path is known before it is written: alerts link to it, and it is
    // written after them so that it shows the alerts this run opened or resolved.
    let report_path = outputs
        .report_dir
        .as_deref()
        .map(|dir| html::report_path(dir, &outcome.probe, &outcome.run_id));
    let link = report_path
        .as_deref()
        .map(crate::config::display_path)
        .or_else(|| outputs.link.clone());
    if let Some(routing) = outputs.alerts
        && outcome.status != RunStatus::Interrupted
    {
        published.alerts =
            after_run(store, routing, probe, outcome, link.as_deref(), Utc::now()).await?;
    }
    if let Some(dir) = &outputs.report_dir {
        let options = html::Options::for_reports(dir);
        match html::write_run_report(store, &outcome.probe, &outcome.run_id, dir, &options) {
            Ok(path) => published.report = Some(path),
            Err(e) => {
                tracing::warn!("could not write the report of run {}: {e}", outcome.run_id);
                published.report_error = Some(e.to_string());
            }
        }
    }
    published.pushed =
        crate::metrics::after_run(store, probe, outcome, outputs.metrics, outputs.pushgateway)
            .await;
    published.summary = email_summary(store, probe, outcome, outputs, &published).await?;
    Ok(published)
}

/// The e-mailed summary (`report.email`): it goes through the routing's e-mail channel, so
/// it is sent by the commands that notify, after the HTML report it attaches is written.
async fn email_summary(
    store: &Store,
    probe: &Probe,
    outcome: &RunOutcome,
    outputs: &Outputs<'_>,
    published: &Published,
) -> Result<Option<crate::report::email::SummaryActivity>, PipelineError> {
    let Some(routing) = outputs.alerts else {
        return Ok(None);
    };
    if outcome.status == RunStatus::Interrupted {
        return Ok(None);
    }
    Ok(crate::report::email::send_summary(
        store,
        routing,
        probe,
        outcome,
        published.report.as_deref(),
        Utc::now(),
    )
    .await?)
}

/// Keeps the text summary (uncoloured) that `probity show` reprints beside the pipeline's
/// record. Failing to keep it loses no result, so it is logged, not fatal.
fn keep_for_show(store: &Store, outcome: &RunOutcome) {
    let mut text = Vec::new();
    if write_outcome(&mut text, outcome, &Style { color: false }).is_ok() {
        let text = String::from_utf8_lossy(&text);
        if let Err(e) = store.set_report_text(&outcome.run_id, &text) {
            tracing::warn!("could not keep the summary of run {}: {e}", outcome.run_id);
        }
    }
}
