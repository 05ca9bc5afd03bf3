//! The daemon's dashboard (issue 12): server-rendered HTML, readable without JavaScript
//! (the pages carry none), behind the same token as `/metrics` once merged into the
//! daemon's router.
//!
//! - `/` every probe: a status colour, the next run, the last verdict (linking to its
//!   report), open incidents, and trend lines of error rate, p95 latency and cost per
//!   request over its last runs;
//! - `/probes/NAME` the history report (the HTML report's renderer), with its deployment
//!   markers, each run linking to `/runs/ID`;
//! - `/runs/ID` the run report rendered from the store, and a link from each case that did
//!   not pass down to its samples, `/runs/ID/cases/SET/CASE`: every attempt with its
//!   status, latency, traceparent, error and output.
//!
//! Every value from the store is escaped with the report's own escaping; the reports are
//! the report module's pages, with their links rewritten to the dashboard's paths and a
//! navigation line added. SQLite is blocking: each page is built off the async threads,
//! on its own store handle (the store is not `Sync`).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};

use super::SharedState;
use crate::report::html::{self, HtmlError, Options, escape_html as esc, svg};
use crate::store::{Store, StoreError};

/// What the dashboard reads.
#[derive(Clone)]
pub struct Dashboard {
    /// The daemon's store.
    pub store: PathBuf,
    /// The scheduler's state (next runs, runs going); `None` shows the store alone.
    pub daemon: Option<SharedState>,
    /// The reports' templates (`reports/templates/` overrides, as for written reports).
    pub options: Options,
    /// How many runs the trend lines and the history show.
    pub trend_runs: usize,
}

impl Dashboard {
    pub fn new(store: PathBuf, daemon: Option<SharedState>) -> Dashboard {
        Dashboard {
            store,
            daemon,
            options: Options::default(),
            trend_runs: 30,
        }
    }
}

/// The dashboard's routes, for any router state (merge them into the daemon's router).
pub fn router<S: Clone + Send + Sync + 'static>(dashboard: Dashboard) -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/probes/{name}", get(probe))
        .route("/runs/{id}", get(run))
        .route("/runs/{id}/cases/{set}/{case}", get(case))
        .with_state(Arc::new(dashboard))
}

/// Why a page could not be shown, and the HTTP status that says so.
#[derive(Debug, thiserror::Error)]
enum PageError {
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Html(#[from] HtmlError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the page could not be built: {0}")]
    Task(String),
}

impl PageError {
    fn status(&self) -> StatusCode {
        let missing = |e: &StoreError| {
            matches!(
                e,
                StoreError::RunNotFound { .. }
                    | StoreError::NoRuns { .. }
                    | StoreError::AmbiguousRun { .. }
            )
        };
        match self {
            PageError::NotFound(_) | PageError::Html(HtmlError::NoHistory { .. }) => {
                StatusCode::NOT_FOUND
            }
            PageError::Html(HtmlError::Store(e)) | PageError::Store(e) if missing(e) => {
                StatusCode::NOT_FOUND
            }
            PageError::Html(HtmlError::Unfinished { .. }) => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Builds a page on a blocking thread with its own store handle.
async fn page(
    dashboard: Arc<Dashboard>,
    build: impl FnOnce(&Dashboard, &Store) -> Result<String, PageError> + Send + 'static,
) -> Response {
    let built = tokio::task::spawn_blocking(move || {
        let store = Store::open(&dashboard.store)?;
        build(&dashboard, &store)
    })
    .await
    .unwrap_or_else(|e| Err(PageError::Task(e.to_string())));
    match built {
        Ok(body) => Html(body).into_response(),
        Err(e) => {
            if e.status() == StatusCode::INTERNAL_SERVER_ERROR {
                tracing::warn!("dashboard: {e}");
            }
            let body = shell(
                "probity · not shown",
                &nav(&[]),
                &format!("<p class=\"error\">{}</p>", esc(&e.to_string())),
            );
            (e.status(), Html(body)).into_response()
        }
    }
}

async fn index(State(dashboard): State<Arc<Dashboard>>) -> Response {
    page(dashboard, index_page).await
}

async fn probe(State(dashboard): State<Arc<Dashboard>>, Path(name): Path<String>) -> Response {
    page(dashboard, move |d, store| {
        let page = html::render_history(store, &name, d.trend_runs, &d.options)?;
        let runs: Vec<String> = html::points(store, &name, d.trend_runs, None)?
            .into_iter()
            .map(|p| p.run_id)
            .collect();
        let page = relink(&page, &runs);
        let page = insert_before_body_end(page, &by_label_section(store, &name)?);
        Ok(insert_nav(page, &nav(&[("all probes", "/".to_string())])))
    })
    .await
}

async fn run(State(dashboard): State<Arc<Dashboard>>, Path(id): Path<String>) -> Response {
    page(dashboard, move |d, store| {
        let record = store.run(&id)?;
        let page = html::render_run(store, &record.id, &d.options)?;
        let earlier: Vec<String> = store
            .runs(Some(&record.probe), 10_000)?
            .into_iter()
            .map(|r| r.id)
            .collect();
        let page = relink(&page, &earlier);
        let links = nav(&[
            ("all probes", "/".to_string()),
            (
                &format!("history of {}", record.probe),
                format!("/probes/{}", segment(&record.probe)),
            ),
        ]);
        let page = insert_nav(page, &links);
        Ok(insert_before_body_end(page, &drill_down(&record)))
    })
    .await
}

async fn case(
    State(dashboard): State<Arc<Dashboard>>,
    Path((id, set, case)): Path<(String, String, String)>,
) -> Response {
    page(dashboard, move |_, store| {
        case_page(store, &id, &set, &case)
    })
    .await
}

/// One probe's line on the index.
struct Row {
    name: String,
    status: &'static str,
    next_run: Option<DateTime<Utc>>,
    /// The schedule as written and its timezone, when the daemon schedules the probe.
    schedule: Option<String>,
    running_since: Option<DateTime<Utc>>,
    last: Option<(String, String, DateTime<Utc>)>,
    incidents: Vec<(String, String, bool)>,
    trends: [Vec<Option<f64>>; 3],
    last_error: Option<String>,
}

/// The trend lines of the index, by the history's metric keys.
const TRENDS: [(&str, &str); 3] = [
    ("error_rate", "error rate"),
    ("latency_p95", "p95 latency"),
    ("cost_per_request", "cost / request"),
];

fn index_page(d: &Dashboard, store: &Store) -> Result<String, PageError> {
    let snapshot = d.daemon.as_ref().map(|s| s.snapshot());
    let mut names: std::collections::BTreeSet<String> = store
        .runs(None, 10_000)?
        .into_iter()
        .map(|r| r.probe)
        .collect();
    if let Some(s) = &snapshot {
        names.extend(s.probes.iter().map(|p| p.name.clone()));
    }
    let mut rows = Vec::new();
    for name in names {
        let scheduled = snapshot.as_ref().and_then(|s| s.probe(&name));
        let last = store.finished_runs(&name, 1)?.into_iter().next();
        let last = last.map(|r| {
            let verdict = r.verdict.clone().unwrap_or_else(|| r.status.clone());
            (r.id, verdict, r.started_at)
        });
        let incidents = store
            .open_incidents(Some(&name))?
            .into_iter()
            .map(|i| (i.rule, i.severity, i.firing))
            .collect();
        let points = html::points(store, &name, d.trend_runs, None)?;
        let trends = TRENDS.map(|(key, _)| {
            points
                .iter()
                .map(|p| p.values.get(key).copied())
                .collect::<Vec<_>>()
        });
        let running_since = scheduled.and_then(|p| p.running_since);
        let status = match (&running_since, &last) {
            (Some(_), _) => "running",
            (None, Some((_, verdict, _))) => status_class(verdict),
            (None, None) => "none",
        };
        rows.push(Row {
            name,
            status,
            next_run: scheduled.and_then(|p| p.next_run),
            schedule: scheduled.map(|p| format!("{} · {}", p.schedule, p.timezone)),
            running_since,
            last,
            incidents,
            trends,
            last_error: scheduled.and_then(|p| p.last_error.clone()),
        });
    }
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>probity · {} probe{}</h1>",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
    match &snapshot {
        Some(s) => {
            let _ = write!(
                body,
                "<p class=\"muted\">daemon up since {} · {} running{} · {} config reload{} failed{}</p>",
                time(s.started_at),
                s.running,
                s.max_running
                    .map(|m| format!(" (at most {m})"))
                    .unwrap_or_default(),
                s.failed_reloads,
                if s.failed_reloads == 1 { "" } else { "s" },
                s.last_reload_error
                    .as_deref()
                    .map(|e| format!(": {}", esc(e)))
                    .unwrap_or_default()
            );
        }
        None => body.push_str("<p class=\"muted\">from the store alone: no scheduler</p>"),
    }
    if rows.is_empty() {
        body.push_str("<p>No probe has run yet.</p>");
    } else {
        body.push_str(
            "<table class=\"probes\"><tr><th>probe</th><th>status</th><th>next run</th>\
             <th>last verdict</th><th>open incidents</th>",
        );
        for (_, label) in TRENDS {
            let _ = write!(body, "<th>{label}</th>");
        }
        body.push_str("</tr>");
        for row in &rows {
            body.push_str(&index_row(row));
        }
        body.push_str("</table>");
    }
    Ok(shell("probity · probes", "", &body))
}

fn index_row(row: &Row) -> String {
    let mut out = String::new();
    let status = match row.running_since {
        Some(since) => format!("running since {}", time(since)),
        None => row.status.replace('_', " "),
    };
    let _ = write!(
        out,
        "<tr><td><a href=\"/probes/{}\">{}</a></td><td><span class=\"pill s-{}\">{}</span>{}</td><td>{}{}</td>",
        segment(&row.name),
        esc(&row.name),
        row.status,
        esc(&status),
        row.last_error
            .as_deref()
            .map(|e| format!("<div class=\"muted\">{}</div>", esc(e)))
            .unwrap_or_default(),
        row.next_run.map(time).unwrap_or_else(|| "—".into()),
        row.schedule
            .as_deref()
            .map(|s| format!("<div class=\"muted\">{}</div>", esc(s)))
            .unwrap_or_else(|| "<div class=\"muted\">not scheduled</div>".into()),
    );
    match &row.last {
        Some((id, verdict, started)) => {
            let _ = write!(
                out,
                "<td><a href=\"/runs/{}\"><span class=\"pill s-{}\">{}</span></a> {}</td>",
                segment(id),
                status_class(verdict),
                esc(&verdict.replace('_', " ")),
                time(*started)
            );
        }
        None => out.push_str("<td>—</td>"),
    }
    if row.incidents.is_empty() {
        out.push_str("<td>none</td>");
    } else {
        out.push_str("<td><ul class=\"incidents\">");
        for (rule, severity, firing) in &row.incidents {
            let _ = write!(
                out,
                "<li class=\"sev-{}\">{} {}{}</li>",
                severity_class(severity),
                esc(severity),
                esc(rule),
                if *firing { " (firing)" } else { " (pending)" }
            );
        }
        out.push_str("</ul></td>");
    }
    for values in &row.trends {
        let _ = write!(out, "<td class=\"spark\">{}</td>", svg::sparkline(values));
    }
    out.push_str("</tr>");
    out
}

/// The links from the run report down to the samples of each case that did not pass.
/// Cost by feature (issue 13): the probe's last finished run per label key and value,
/// under its history; nothing when the run had no labels.
fn by_label_section(store: &Store, probe: &str) -> Result<String, PageError> {
    let last = store.runs(Some(probe), 50)?.into_iter().find_map(|r| {
        let summary = r
            .summary
            .as_ref()
            .and_then(crate::compare::trend::stored_summary)?;
        Some((r.id, summary))
    });
    let Some((run_id, summary)) = last else {
        return Ok(String::new());
    };
    let rows = html::by_label_rows(&summary);
    if rows.is_empty() {
        return Ok(String::new());
    }
    let mut out = format!(
        "<section class=\"by-label\"><h2>Cost by feature · last run <a href=\"/runs/{}\">{}</a></h2>\
         <table><tr><th>label</th><th class=\"num\">requests</th><th class=\"num\">errors</th>\
         <th class=\"num\">p95 latency</th><th class=\"num\">pass rate</th><th class=\"num\">cost</th>\
         <th class=\"num\">cost / request</th></tr>",
        segment(&run_id),
        esc(&run_id)
    );
    for r in rows {
        let _ = write!(
            out,
            "<tr><td>{}={}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&r.key),
            esc(&r.value),
            r.requests,
            esc(&r.error_rate),
            esc(&r.latency_p95),
            esc(&r.pass_rate),
            esc(&r.cost),
            esc(&r.cost_per_request)
        );
    }
    out.push_str("</table></section>");
    Ok(out)
}

fn drill_down(record: &crate::store::RunRecord) -> String {
    let cases: Vec<&serde_json::Value> = record
        .summary
        .as_ref()
        .and_then(|d| d.get("cases"))
        .and_then(|c| c.as_array())
        .map(|a| {
            a.iter()
                .filter(|c| c.get("status").and_then(|s| s.as_str()) != Some("pass"))
                .collect()
        })
        .unwrap_or_default();
    let mut out =
        String::from("<section class=\"drill\"><h2>Samples of the cases that did not pass</h2>");
    if cases.is_empty() {
        out.push_str("<p class=\"muted\">Every case passed.</p>");
    } else {
        out.push_str("<ul>");
        for c in cases {
            let text = |k: &str| c.get(k).and_then(|v| v.as_str()).unwrap_or("");
            let _ = write!(
                out,
                "<li><a class=\"case-link\" href=\"/runs/{}/cases/{}/{}\">{}/{}</a> · <span class=\"pill s-{}\">{}</span> {}</li>",
                segment(&record.id),
                segment(text("set")),
                segment(text("id")),
                esc(text("set")),
                esc(text("id")),
                status_class(text("status")),
                esc(text("status")),
                esc(text("failing_reason"))
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
    out
}

fn case_page(store: &Store, id: &str, set: &str, case: &str) -> Result<String, PageError> {
    let record = store.run(id)?;
    let rows: Vec<_> = store
        .observations(&record.id)?
        .into_iter()
        .filter(|r| r.observation.set == set && r.observation.case_id == case)
        .collect();
    if rows.is_empty() {
        return Err(PageError::NotFound(format!(
            "run {} has no sample of case {set}/{case}",
            record.id
        )));
    }
    let mut body = format!(
        "<h1>{}/{} · run {}</h1><p class=\"muted\">{} attempts; the trace id of the run is {}</p>",
        esc(set),
        esc(case),
        esc(&record.id),
        rows.len(),
        esc(&record.trace_id)
    );
    for row in &rows {
        let o = &row.observation;
        let failed: Vec<String> = row
            .scores
            .iter()
            .flatten()
            .filter(|s| !s.passed && !s.informational)
            .map(|s| s.scorer.clone())
            .collect();
        let outcome = if !o.is_ok() {
            "fail"
        } else if failed.is_empty() {
            "pass"
        } else {
            "fail"
        };
        let _ = write!(
            body,
            "<div class=\"sample\" id=\"sample-{}-{}\"><div><strong>sample {}</strong> (attempt {}{}) · <span class=\"pill s-{outcome}\">{outcome}</span> {} · latency {} · TTFT {}{}</div>\
             <div class=\"muted\">traceparent 00-{}-{}-01{}</div>",
            o.sample,
            o.attempt,
            o.sample,
            o.attempt,
            if o.final_attempt { "" } else { ", retried" },
            esc(o.status.as_str()),
            ms(o.latency_ms),
            ms(o.ttft_ms),
            o.model
                .as_deref()
                .map(|m| format!(" · model {}", esc(m)))
                .unwrap_or_default(),
            esc(&record.trace_id),
            esc(&o.span_id),
            o.request_id
                .as_deref()
                .map(|r| format!(" · request id {}", esc(r)))
                .unwrap_or_default(),
        );
        if !failed.is_empty() {
            let _ = write!(
                body,
                "<div>failed scorers: {}</div>",
                esc(&failed.join(", "))
            );
        }
        if let Some(e) = &o.error {
            let _ = write!(body, "<pre class=\"error\">{}</pre>", esc(e));
        }
        if let Some(output) = &o.output {
            let _ = write!(
                body,
                "<details open><summary>output ({} characters)</summary><pre>{}</pre></details>",
                output.chars().count(),
                esc(output)
            );
        }
        body.push_str("</div>");
    }
    let links = nav(&[
        ("all probes", "/".to_string()),
        (
            &format!("history of {}", record.probe),
            format!("/probes/{}", segment(&record.probe)),
        ),
        (
            &format!("run {}", record.id),
            format!("/runs/{}", segment(&record.id)),
        ),
    ]);
    Ok(shell(
        &format!("{set}/{case} · run {}", record.id),
        &links,
        &body,
    ))
}

/// A page of the dashboard's own, in the reports' style.
fn shell(title: &str, nav: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{}{DASHBOARD_CSS}</style></head><body>{nav}{body}</body></html>",
        esc(title),
        html::embedded_template("style.hbs").unwrap_or_default(),
    )
}

const DASHBOARD_CSS: &str = "\
nav.dash { font-size: 13px; margin: 4px 0 8px; } nav.dash a { margin-right: 12px; }\n\
.pill { display: inline-block; border-radius: 9px; padding: 1px 8px; color: #fff; font-size: 12px; background: #6b7280; }\n\
.s-pass { background: #15803d; } .s-warn, .s-flaky { background: #b45309; } .s-fail, .s-error { background: #b91c1c; }\n\
.s-insufficient_data, .s-none, .s-cancelled { background: #6b7280; } .s-running { background: #1d4ed8; }\n\
ul.incidents { margin: 0; padding-left: 16px; } .sev-critical { color: #b91c1c; } .sev-warning { color: #b45309; }\n\
td.spark svg { display: block; } .sample { border-top: 1px solid #e5e7eb; padding: 8px 0; }\n\
pre { white-space: pre-wrap; word-break: break-word; background: #f9fafb; padding: 6px; } pre.error, p.error { color: #b91c1c; }\n";

/// The navigation line: `(label, href)` pairs; hrefs are ours (absolute paths).
fn nav(links: &[(&str, String)]) -> String {
    let mut out = String::from("<nav class=\"dash\">");
    if links.is_empty() {
        out.push_str("<a href=\"/\">all probes</a>");
    }
    for (label, href) in links {
        let _ = write!(out, "<a href=\"{}\">{}</a>", esc(href), esc(label));
    }
    out.push_str("</nav>");
    out
}

/// Adds the navigation line at the top of a report page (after its `<body>` tag).
fn insert_nav(page: String, nav: &str) -> String {
    match page.find("<body") {
        Some(at) => match page[at..].find('>') {
            Some(end) => {
                let at = at + end + 1;
                format!("{}{nav}{}", &page[..at], &page[at..])
            }
            None => page,
        },
        None => format!("{nav}{page}"),
    }
}

fn insert_before_body_end(page: String, html: &str) -> String {
    match page.rfind("</body>") {
        Some(at) => format!("{}{html}{}", &page[..at], &page[at..]),
        None => page + html,
    }
}

/// A report links to runs as files beside it (`<run_id>.html`); the dashboard serves them
/// at `/runs/<run_id>`. One pass over the page; only a quoted attribute value that is
/// exactly a known run's file name is rewritten (model text is escaped, so its quotes are
/// `&quot;` and never delimit one).
fn relink(page: &str, runs: &[String]) -> String {
    const SUFFIX: &str = ".html\"";
    let files: std::collections::HashMap<String, &str> = runs
        .iter()
        .map(|id| (html::probe_folder(id), id.as_str()))
        .collect();
    let mut out = String::with_capacity(page.len());
    let mut rest = page;
    while let Some(at) = rest.find(SUFFIX) {
        let end = at + SUFFIX.len();
        // The value's opening quote, looked for no further back than a run id can be long.
        let from = at.saturating_sub(128);
        let run = rest.as_bytes()[from..at]
            .iter()
            .rposition(|&b| b == b'"')
            .map(|q| from + q + 1)
            .and_then(|start| files.get(&rest[start..at]).map(|id| (start, *id)));
        match run {
            Some((start, id)) => {
                out.push_str(&rest[..start]);
                out.push_str("/runs/");
                out.push_str(&segment(id));
                out.push('"');
            }
            None => out.push_str(&rest[..end]),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A path segment, percent-encoded but for the unreserved characters.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The CSS class of a verdict or case status (a fixed set, never free text).
fn status_class(verdict: &str) -> &'static str {
    match verdict {
        "pass" => "pass",
        "warn" => "warn",
        "fail" => "fail",
        "flaky" => "flaky",
        "insufficient_data" => "insufficient_data",
        "cancelled" => "cancelled",
        "running" => "running",
        _ => "none",
    }
}

fn severity_class(severity: &str) -> &'static str {
    match severity {
        "critical" => "critical",
        "warning" => "warning",
        _ => "info",
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.0} ms"),
        _ => "—".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_links_cannot_leave_their_attribute() {
        assert_eq!(
            segment("support/ref und\"<x>"),
            "support%2Fref%20und%22%3Cx%3E"
        );
        assert_eq!(segment("20261201T230351Z-9804"), "20261201T230351Z-9804");
        let page =
            "<a href=\"20261201T230351Z-9804.html\">r</a> x&quot;20261201T230351Z-9804.html&quot;"
                .to_string();
        assert_eq!(
            relink(&page, &["20261201T230351Z-9804".into()]),
            "<a href=\"/runs/20261201T230351Z-9804\">r</a> x&quot;20261201T230351Z-9804.html&quot;"
        );
        // Another file, an unknown run, text with no quote near: left alone, whatever
        // characters come before.
        let other =
            "é<a href=\"latest.html\"> \"x-20261201T230351Z-9804.html\" ü.html\" a\"b.html\"";
        assert_eq!(relink(other, &["20261201T230351Z-9804".into()]), other);
        let with_nav = insert_nav(
            "<html><body class=\"x\"><h1>t</h1></body>".into(),
            "<nav></nav>",
        );
        assert_eq!(
            with_nav,
            "<html><body class=\"x\"><nav></nav><h1>t</h1></body>"
        );
    }
}
