//! `probity gate`: probe a candidate target, compare it with a baseline (a promoted run, a
//! file, or another target probed alongside in the same run), and fail the CI job when the
//! verdict fails at the chosen level. Writes JUnit XML, Markdown and JSON for the pipeline.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::run::{
    cancel_on_ctrl_c, exit_code, interrupted_before_start, unknown_target, write_json,
};
use super::{CommandError, database, open_store};
use crate::cli::{Cli, FailOn, Format, GateArgs};
use crate::compare::Severity;
use crate::config::{load_probes, process_env};
use crate::pipeline::{BaselineChoice, Outputs, RunOptions, publish, run_probe};
use crate::report::json::run_document;
use crate::report::terminal::{Bar, Style, write_outcome};
use crate::report::{junit::junit, markdown::markdown};

fn write_text(path: &Path, text: &str, append: bool) -> Result<(), CommandError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| CommandError::io(dir, e))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path)
        .map_err(|e| CommandError::io(path, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| CommandError::io(path, e))
}

pub async fn gate(cli: &Cli, args: &GateArgs) -> Result<i32, CommandError> {
    // First thing: a Ctrl-C while the probe loads must not kill the process silently.
    let cancel = cancel_on_ctrl_c();
    let project = load_probes(std::slice::from_ref(&args.probe), &cli.root, &process_env)
        .map_err(CommandError::Config)?;
    let Some(probe) = project.probes.first() else {
        return Err(CommandError::Usage(format!("no probe `{}`", args.probe)));
    };
    if probe.target_named(&args.candidate).is_none() {
        return Err(unknown_target(probe, &args.candidate, "--candidate"));
    }
    let (baseline, targets) = match args.baseline.as_str() {
        "latest" => (BaselineChoice::Latest, vec![args.candidate.clone()]),
        name if probe.target_named(name).is_some() => {
            if name == args.candidate {
                return Err(CommandError::Usage(
                    "the baseline target is the candidate itself".into(),
                ));
            }
            (
                BaselineChoice::Target(name.to_string()),
                vec![args.candidate.clone(), name.to_string()],
            )
        }
        file => {
            let path = PathBuf::from(file);
            if !path.is_file() {
                return Err(CommandError::Usage(format!(
                    "--baseline `{file}` is neither `latest`, a target of `{}`, nor a file",
                    probe.name
                )));
            }
            (BaselineChoice::File(path), vec![args.candidate.clone()])
        }
    };
    // The sequential gate pairs the candidate with a baseline probed in the same run,
    // sample by sample: a stored baseline has no samples to pair with.
    if args.sequential && !matches!(baseline, BaselineChoice::Target(_)) {
        return Err(CommandError::Usage(format!(
            "--sequential needs --baseline TARGET (another target of `{}`, probed alongside the candidate); `{}` is a stored baseline",
            probe.name, args.baseline
        )));
    }
    let routing = if args.alert {
        super::alert::prepare(cli, &[probe])?
    } else {
        None
    };
    let store = open_store(&database(cli, &[probe])?)?;
    let options = RunOptions {
        samples: args.samples,
        concurrency: args.concurrency.map(|c| c as usize),
        targets,
        baseline,
        case: None,
        gate: true,
        fail_on_warning: args.fail_on == FailOn::Warning,
        sequential: args.sequential,
    };
    if cancel.is_cancelled() {
        return Ok(interrupted_before_start());
    }
    let outcome = run_probe(probe, &store, &options, &Bar::new(), cancel.clone()).await?;
    let outputs = Outputs {
        alerts: routing.as_ref(),
        link: args.json.as_deref().map(crate::config::display_path),
        report_dir: super::report::report_dir(cli, &args.report),
        ..Outputs::default()
    };
    let published = publish(&store, probe, &outcome, &outputs).await?;
    if let Some(activity) = &published.alerts {
        super::alert::print_activity(activity);
    }
    if let Some(summary) = &published.summary {
        super::alert::print_summary(summary);
    }

    let level = match args.fail_on {
        FailOn::Warning => Severity::Warning,
        FailOn::Critical => Severity::Critical,
    };
    // The pipeline's exit code already holds `--fail-on`; interrupted is 130 whatever was
    // gathered, so a cancelled CI job never reads as a pass.
    let code = exit_code(&cancel, outcome.exit_code);
    let mut document = run_document(&outcome);
    document["exit_code"] = code.into();
    if let Some(path) = &args.json {
        write_json(path, &document)?;
    }
    if let Some(path) = &args.junit {
        write_text(path, &junit(&outcome, level), false)?;
    }
    match (&args.markdown, std::env::var_os("GITHUB_STEP_SUMMARY")) {
        (Some(path), _) => write_text(path, &markdown(&outcome), false)?,
        (None, Some(summary)) => write_text(Path::new(&summary), &markdown(&outcome), true)?,
        (None, None) => {}
    }
    match args.format {
        Format::Text => {
            let mut stdout = std::io::stdout().lock();
            write_outcome(&mut stdout, &outcome, &Style::detect())
                .map_err(|e| CommandError::io(Path::new("<stdout>"), e))?;
        }
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&document).unwrap_or_default()
        ),
    }
    super::report::print_report(&published);
    Ok(exit_code(&cancel, code))
}
