//! `probity run`: run probes now and print their summaries (or the JSON documents);
//! `--dry-run` prints what would be sent instead, and `--case` narrows a run to some cases.
//! Also what every command that runs a probe shares: Ctrl-C handling, the exit code of an
//! interrupted run, and the checks made before anything is sent.

use std::io::Write;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::{CommandError, database, open_store, worst};
use crate::cli::{Cli, Format, RunArgs};
use crate::config::{Probe, load_probes, process_env};
use crate::exit;
use crate::pipeline::{Outputs, RunOptions, cases_of, publish, run_probe};
use crate::report::json::run_document;
use crate::report::terminal::{Bar, Style, sanitize, write_outcome};
use crate::runner::{Redactor, estimate_cost, output_bound, plan};

/// Cancels on the first Ctrl-C (SIGINT): no new requests are sent, those in flight finish,
/// and the command prints what it got and exits 130. A second Ctrl-C quits at once.
///
/// The handler is installed before this returns (not when a task first polls it), so a
/// Ctrl-C that comes early is not the default "die silently".
pub fn cancel_on_ctrl_c() -> CancellationToken {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::interrupt()) {
            Ok(mut sigint) => {
                tokio::spawn(async move {
                    if sigint.recv().await.is_some() {
                        crate::logs::note(
                            tracing::Level::WARN,
                            "interrupted: finishing requests in flight (Ctrl-C again to quit at once)",
                        );
                        token.cancel();
                        if sigint.recv().await.is_some() {
                            std::process::exit(exit::INTERRUPTED);
                        }
                    }
                });
            }
            Err(e) => tracing::warn!("cannot handle Ctrl-C: {e}"),
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: finishing requests in flight (Ctrl-C again to quit at once)");
            token.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(exit::INTERRUPTED);
            }
        }
    });
    cancel
}

/// Ctrl-C came before the first request: nothing was sent or stored.
pub fn interrupted_before_start() -> i32 {
    crate::logs::note(
        tracing::Level::WARN,
        "interrupted before the run began: nothing was sent",
    );
    exit::INTERRUPTED
}

/// The exit code of a command whose run was `cancel`led or not: an interrupted command
/// exits 130 whatever its verdict, so a CI job never reads a Ctrl-C as a pass.
pub fn exit_code(cancel: &CancellationToken, code: i32) -> i32 {
    if cancel.is_cancelled() {
        exit::INTERRUPTED
    } else {
        code
    }
}

/// `--case` that selects nothing is a usage error, said before anything is sent.
pub fn check_selection(probe: &Probe, options: &RunOptions) -> Result<(), CommandError> {
    match &options.case {
        Some(pattern) if cases_of(probe, Some(pattern)).is_empty() => {
            let known: Vec<String> = cases_of(probe, None)
                .iter()
                .take(8)
                .map(|c| format!("{}/{}", c.set, c.id))
                .collect();
            Err(CommandError::Usage(format!(
                "--case `{pattern}` matches no case of probe `{}` (cases are named \
                 `set/case-id`, e.g. {})",
                probe.name,
                known.join(", ")
            )))
        }
        _ => Ok(()),
    }
}

pub async fn run(cli: &Cli, args: &RunArgs) -> Result<i32, CommandError> {
    // First thing: a Ctrl-C while the probes load must not kill the process silently.
    let cancel = cancel_on_ctrl_c();
    let mut project =
        load_probes(&args.probes, &cli.root, &process_env).map_err(CommandError::Config)?;
    if project.probes.is_empty() {
        return Err(CommandError::Usage("no probes to run".into()));
    }
    let options = RunOptions {
        samples: args.samples,
        concurrency: args.concurrency.map(|c| c as usize),
        targets: args.target.iter().cloned().collect(),
        case: args.case.clone(),
        ..RunOptions::default()
    };
    for probe in &project.probes {
        check_selection(probe, &options)?;
        for name in &options.targets {
            if probe.target_named(name).is_none() {
                return Err(unknown_target(probe, name, "--target"));
            }
        }
    }
    // A malformed gateway is a usage error said before anything is sent; an unreachable one
    // is a warning after the run (see `metrics::sink`).
    if let Some(url) = &args.pushgateway
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(CommandError::Usage(format!(
            "--pushgateway `{}`: expected the Pushgateway's base URL, e.g. http://pushgateway:9091",
            sanitize(url, 200)
        )));
    }
    if args.dry_run {
        let mut stdout = std::io::stdout().lock();
        for probe in &project.probes {
            dry_run(&mut stdout, probe, &options)
                .map_err(|e| CommandError::io(Path::new("<stdout>"), e))?;
        }
        return Ok(exit::PASSED);
    }
    // A route whose channels cannot be built is a configuration error before anything is
    // sent: an alerting tool must not find out at the first page that it cannot page.
    if !args.no_alerts {
        let probes: Vec<&Probe> = project.probes.iter().collect();
        project.alerts = super::alert::prepare(cli, &probes)?;
    }
    let loaded: Vec<&Probe> = project.probes.iter().collect();
    let store = open_store(&database(cli, &loaded)?)?;
    if cancel.is_cancelled() {
        return Ok(interrupted_before_start());
    }
    let style = Style::detect();
    let several = project.probes.len() > 1;
    let mut codes = Vec::new();
    let mut documents = Vec::new();
    for probe in &project.probes {
        let outcome = run_probe(probe, &store, &options, &Bar::new(), cancel.clone()).await?;
        let mut document = run_document(&outcome);
        let mut report_path = None;
        // The document says what this command exits with (130 when interrupted).
        document["exit_code"] = exit_code(&cancel, outcome.exit_code).into();
        if let Some(out) = &args.out {
            let path = if several || out.is_dir() {
                std::fs::create_dir_all(out).map_err(|e| CommandError::io(out, e))?;
                out.join(format!("{}-{}.json", outcome.probe, outcome.run_id))
            } else {
                out.clone()
            };
            write_json(&path, &document)?;
            report_path = Some(path);
        }
        if args.format == Format::Text {
            let mut stdout = std::io::stdout().lock();
            write_outcome(&mut stdout, &outcome, &style)
                .map_err(|e| CommandError::io(Path::new("<stdout>"), e))?;
            let _ = writeln!(stdout);
        }
        let outputs = Outputs {
            alerts: project.alerts.as_ref().filter(|_| !args.no_alerts),
            link: report_path.as_deref().map(crate::config::display_path),
            report_dir: super::report::report_dir(cli, &args.report),
            pushgateway: args.pushgateway.as_deref(),
            ..Outputs::default()
        };
        let published = publish(&store, probe, &outcome, &outputs).await?;
        if let Some(activity) = &published.alerts {
            super::alert::print_activity(activity);
        }
        if let Some(crate::metrics::PushReport {
            error: Some(why), ..
        }) = &published.pushed
        {
            eprintln!(
                "warning: metrics of probe `{}` not pushed: {why}",
                sanitize(&probe.name, 200)
            );
        }
        if let Some(summary) = &published.summary {
            super::alert::print_summary(summary);
        }
        super::report::print_report(&published);
        codes.push(exit_code(&cancel, outcome.exit_code));
        documents.push(document);
        if cancel.is_cancelled() {
            break;
        }
    }
    if args.format == Format::Json {
        let value = if documents.len() == 1 {
            documents.remove(0)
        } else {
            serde_json::Value::Array(documents)
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    }
    Ok(exit_code(&cancel, worst(&codes)))
}

/// A target asked for by name that the probe does not declare: say how to declare one.
pub fn unknown_target(probe: &Probe, name: &str, flag: &str) -> CommandError {
    let known: Vec<&str> = std::iter::once(probe.target.name.as_str())
        .chain(probe.targets.keys().map(String::as_str))
        .collect();
    CommandError::Usage(format!(
        "{flag} `{name}`: probe `{}` has no such target; known: {}\n  hint: declare it in {} \
         under `targets:`, e.g.\n    targets:\n      {name}: {{ base_url: https://canary.example.com/v1 }}\n  \
         (each named target is merged over `target`: give only what differs)",
        probe.name,
        known.join(", "),
        crate::config::display_path(&probe.file),
    ))
}

/// `--dry-run`: every prompt as it would be sent (redacted, control characters escaped),
/// then the plan: requests per target and the worst-case cost against the budget.
fn dry_run(out: &mut dyn Write, probe: &Probe, options: &RunOptions) -> std::io::Result<()> {
    let cases = crate::pipeline::planned_cases(probe, options);
    let samples = options.samples.unwrap_or(probe.samples);
    let per_case = |c: &crate::golden::Case| c.samples.unwrap_or(samples);
    let redactor = Redactor::for_probe(probe);
    writeln!(
        out,
        "probity {} · dry run: nothing is sent, nothing stored",
        probe.name
    )?;
    writeln!(out, "  prompts ({} cases)", cases.len())?;
    for case in &cases {
        writeln!(
            out,
            "    {}/{} × {} samples",
            case.set,
            case.id,
            per_case(case)
        )?;
        for m in &case.messages {
            writeln!(
                out,
                "      {:<9} {}",
                m.role.as_str(),
                sanitize(&redactor.apply(&m.content), 400)
            )?;
        }
    }
    let names: Vec<String> = if options.targets.is_empty() {
        vec![probe.target.name.clone()]
    } else {
        options.targets.clone()
    };
    writeln!(out, "  plan")?;
    let mut total_cost = 0.0;
    let mut total_requests = 0usize;
    for name in &names {
        let Some(target) = probe.target_named(name) else {
            continue;
        };
        let bound = output_bound(target, crate::pipeline::output_reservation(probe));
        let mut requests = 0usize;
        let mut cost = 0.0;
        for item in plan(&cases, samples, 1) {
            if let Some(case) = cases.get(item.case) {
                requests += 1;
                cost += estimate_cost(&case.messages, bound, &target.pricing);
            }
        }
        let retries = probe.retries.max as usize;
        writeln!(
            out,
            "    target {name:<12} {requests} requests (up to {} with {retries} retries each), \
             worst case ${cost:.4} at {bound} output tokens a request",
            requests * (1 + retries),
        )?;
        total_cost += cost;
        total_requests += requests;
    }
    match probe.max_cost_usd {
        Some(limit) => writeln!(
            out,
            "  budget    ${limit:.4}: worst case ${total_cost:.4} for {total_requests} requests{}",
            if total_cost > limit {
                " — over budget: requests that could overspend would not be sent"
            } else {
                " — within budget"
            }
        )?,
        None => writeln!(
            out,
            "  budget    none set (`budget: {{ max_cost_usd: ... }}`); worst case ${total_cost:.4}"
        )?,
    }
    writeln!(out)
}

/// Writes a JSON document, creating its folder.
pub fn write_json(path: &std::path::Path, value: &serde_json::Value) -> Result<(), CommandError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| CommandError::io(dir, e))?;
    }
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    std::fs::write(path, text + "\n").map_err(|e| CommandError::io(path, e))
}
