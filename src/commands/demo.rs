//! `probity demo`: the example probes and golden sets (embedded in the binary, so it works
//! from any folder) run against the simulator started in-process on a free port. No network,
//! no key, no setup: the quickest way to see what probity reports. It ends with alerting:
//! a "model update" degrades the endpoint, the next run opens incidents on the console
//! channel (the demo's only channel), and a healthy run resolves them.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::run::write_json;
use super::{CommandError, open_store};
use crate::config::{Probe, ProviderKind, display_path, load_paths};
use crate::exit;
use crate::pipeline::{Outputs, RunOptions, publish, run_probe};
use crate::report::json::run_document;
use crate::report::terminal::{Bar, Style, write_outcome};
use crate::sim::{self, Errors, Latency, Profile};

/// The shipped examples, as the demo writes them out.
const EXAMPLES: [(&str, &str); 7] = [
    (
        "probes/support-bot.yaml",
        include_str!("../../probes/support-bot.yaml"),
    ),
    (
        "probes/claude-assistant.yaml",
        include_str!("../../probes/claude-assistant.yaml"),
    ),
    (
        "probes/rag-service.yaml",
        include_str!("../../probes/rag-service.yaml"),
    ),
    (
        "probes/alerts.yaml",
        include_str!("../../probes/alerts.yaml"),
    ),
    (
        "golden-sets/support.yaml",
        include_str!("../../golden-sets/support.yaml"),
    ),
    (
        "golden-sets/triage.yaml",
        include_str!("../../golden-sets/triage.yaml"),
    ),
    (
        "golden-sets/warranty-rag.yaml",
        include_str!("../../golden-sets/warranty-rag.yaml"),
    ),
];

/// A production-like endpoint: some latency, a long tail, the odd 429 and 500, and JSON that
/// is occasionally fenced.
pub fn demo_profile() -> Profile {
    Profile {
        latency: Latency {
            median: Duration::from_millis(120),
            p99: Some(Duration::from_millis(600)),
        },
        ttft: Latency {
            median: Duration::from_millis(60),
            p99: Some(Duration::from_millis(300)),
        },
        tokens_per_second: 400.0,
        errors: Errors {
            rate_429: 0.02,
            rate_500: 0.01,
            ..Errors::default()
        },
        json_break: 0.05,
        seed: 7,
        ..Profile::default()
    }
}

/// Environment for the examples: the real one, with harmless stand-ins for what is unset.
fn demo_env(name: &str) -> Option<String> {
    std::env::var(name).ok().or_else(|| {
        Some(if name.ends_with("_URL") {
            format!("http://127.0.0.1:9/{name}")
        } else {
            format!("demo-{name}")
        })
    })
}

/// Writes the examples under `dir` and loads them.
fn load_examples(dir: &Path) -> Result<Vec<Probe>, CommandError> {
    for (relative, text) in EXAMPLES {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| CommandError::io(parent, e))?;
        }
        std::fs::write(&path, text).map_err(|e| CommandError::io(&path, e))?;
    }
    let project = load_paths(&[dir.join("probes"), dir.join("golden-sets")], &demo_env)
        .map_err(CommandError::Config)?;
    Ok(project.probes)
}

/// The canary the demo's gate rejects: slower, refusing more, breaking more JSON.
pub fn canary_profile() -> Profile {
    Profile {
        latency: Latency {
            median: Duration::from_millis(200),
            p99: Some(Duration::from_millis(900)),
        },
        ttft: Latency {
            median: Duration::from_millis(110),
            p99: Some(Duration::from_millis(500)),
        },
        refusal: 0.15,
        json_break: 0.25,
        seed: 8,
        ..demo_profile()
    }
}

/// The endpoint after a "model update": a new model that breaks one answer in four
/// (malformed JSON, which is not retried), refuses one in five and answers slower.
pub fn model_update_profile() -> Profile {
    Profile {
        latency: Latency {
            median: Duration::from_millis(260),
            p99: Some(Duration::from_millis(1200)),
        },
        ttft: Latency {
            median: Duration::from_millis(150),
            p99: Some(Duration::from_millis(700)),
        },
        errors: Errors {
            rate_malformed: 0.25,
            ..demo_profile().errors
        },
        refusal: 0.2,
        seed: 9,
        ..demo_profile()
    }
}

/// The demo's alert routing: every severity to the console, and nothing else (no page,
/// no chat, no mail leaves the machine from a demo).
const DEMO_ALERTS: &str = "# probity demo: every alert goes to the console only.\n\
channels:\n  console: { type: console }\n\
routes:\n  default: { critical: [console], warning: [console], info: [console] }\n";

/// Writes the demo's routing file beside the examples (not under `probes/`, whose
/// shipped alerts.yaml names real services) and loads it.
fn demo_routing(project_dir: &Path) -> Result<crate::config::AlertRouting, CommandError> {
    let dir = project_dir.join("demo-alerts");
    std::fs::create_dir_all(&dir).map_err(|e| CommandError::io(&dir, e))?;
    let path = dir.join("alerts.yaml");
    std::fs::write(&path, DEMO_ALERTS).map_err(|e| CommandError::io(&path, e))?;
    load_paths(&[path], &demo_env)
        .map_err(CommandError::Config)?
        .alerts
        .ok_or_else(|| CommandError::Usage("the demo's alert routing did not load".into()))
}

/// Points every target of a probe at `base_url` and keeps the demo quick.
fn aim_at(probe: &mut Probe, base_url: &str, db: &Path) {
    let targets = std::iter::once(&mut probe.target)
        .chain(probe.targets.values_mut())
        .chain(probe.judge.iter_mut());
    for target in targets {
        match target.provider {
            ProviderKind::OpenAi | ProviderKind::Anthropic => {
                target.base_url = base_url.to_string()
            }
            ProviderKind::Http => {
                if let Some(http) = target.http.as_mut() {
                    http.url = format!("{base_url}/rag/ask");
                }
            }
        }
    }
    probe.requests_per_second = None;
    probe.store.path = db.to_path_buf();
    // The demo notifies the console only: the examples' e-mailed summaries would need a
    // mail server.
    probe.report = Default::default();
}

fn print_outcome(outcome: &crate::pipeline::RunOutcome, style: &Style) -> Result<(), CommandError> {
    let mut stdout = std::io::stdout().lock();
    write_outcome(&mut stdout, outcome, style)
        .map_err(|e| CommandError::io(Path::new("<stdout>"), e))?;
    let _ = writeln!(stdout);
    Ok(())
}

/// Removes the demo's database of an earlier demo (with SQLite's WAL files).
fn fresh_database(db: &Path) -> Result<(), CommandError> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let path = PathBuf::from(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CommandError::io(&path, e)),
        }
    }
    Ok(())
}

pub async fn demo(out: &Path) -> Result<i32, CommandError> {
    let project_dir: PathBuf = out.join("demo-project");
    let mut probes = load_examples(&project_dir)?;
    let golden: Vec<_> = probes
        .iter()
        .flat_map(|p| p.golden_sets.iter().cloned())
        .collect();
    let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let current = sim::start(demo_profile(), sim::cases_from_golden(&golden), any_port).await?;
    let canary = sim::start(canary_profile(), sim::cases_from_golden(&golden), any_port).await?;
    // Every demo starts from an empty database: a second demo must not silently compare
    // with the runs and the baseline the first one left.
    let db = out.join("demo.db");
    fresh_database(&db)?;
    let store = open_store(&db)?;
    let style = Style::detect();
    println!(
        "{} the example probes against a simulated endpoint at {}, stored in a fresh database ({})\n",
        style.bold("probity demo:"),
        current.base_url(),
        display_path(&db)
    );
    let mut written = Vec::new();
    let mut support_run = None;
    // Every run writes its HTML report, as `probity run` does in a project.
    let reports = Outputs {
        report_dir: Some(project_dir.join("reports")),
        ..Outputs::default()
    };
    let mut last_report = None;
    for probe in probes.iter_mut() {
        aim_at(probe, &current.base_url(), &db);
        let outcome = run_probe(
            probe,
            &store,
            &RunOptions::default(),
            &Bar::new(),
            CancellationToken::new(),
        )
        .await?;
        publish(&store, probe, &outcome, &reports).await?;
        print_outcome(&outcome, &style)?;
        let path = out.join(format!("{}-{}.json", outcome.probe, outcome.run_id));
        write_json(&path, &run_document(&outcome))?;
        written.push(path);
        if probe.name == "support-bot" {
            support_run = Some(outcome.run_id.clone());
        }
    }

    // The rollout gate: a canary of support-bot on a second, degraded endpoint, probed in
    // the same run as the current target, interleaved case by case, with paired tests.
    if let (Some(probe), Some(run_id)) = (
        probes.iter_mut().find(|p| p.name == "support-bot"),
        support_run,
    ) {
        if let Some(canary_target) = probe.targets.get_mut("canary") {
            canary_target.base_url = canary.base_url();
        }
        println!(
            "{} promoting run {run_id} as the baseline of support-bot, then gating the canary (a degraded endpoint at {}) against the current target\n",
            style.bold("probity demo:"),
            canary.base_url()
        );
        let record = store.run(&run_id)?;
        if let Some(evidence) = store
            .evidence(&run_id)?
            .and_then(|e| crate::pipeline::target_evidence(&e, "default"))
        {
            let labels = probe.target.labels.clone();
            let baseline = crate::compare::Baseline::new(
                &probe.name,
                &run_id,
                "default",
                labels.clone(),
                record.started_at,
                evidence,
            );
            let data = serde_json::to_value(&baseline).unwrap_or_default();
            store.promote(&probe.name, &run_id, &labels, &data)?;
        }
        let gate = RunOptions {
            samples: Some(10),
            targets: vec!["canary".into(), "default".into()],
            baseline: crate::pipeline::BaselineChoice::Target("default".into()),
            ..RunOptions::default()
        };
        let outcome =
            run_probe(probe, &store, &gate, &Bar::new(), CancellationToken::new()).await?;
        publish(&store, probe, &outcome, &reports).await?;
        print_outcome(&outcome, &style)?;
        let stem = out.join(format!("gate-{}-{}", outcome.probe, outcome.run_id));
        write_json(&stem.with_extension("json"), &run_document(&outcome))?;
        let junit = stem.with_extension("xml");
        std::fs::write(
            &junit,
            crate::report::junit::junit(&outcome, crate::compare::Severity::Critical),
        )
        .map_err(|e| CommandError::io(&junit, e))?;
        let md = stem.with_extension("md");
        std::fs::write(&md, crate::report::markdown::markdown(&outcome))
            .map_err(|e| CommandError::io(&md, e))?;
        written.extend([stem.with_extension("json"), junit, md]);
        println!(
            "the gate's verdict is {}: `probity gate support-bot --candidate canary --baseline default` would exit {}\n",
            outcome.verdict.as_str(),
            if outcome.verdict.fails_at(crate::compare::Severity::Critical) {
                1
            } else {
                0
            }
        );
    }

    // Alerting: the endpoint gets a "model update" that degrades it, the next run opens
    // incidents (printed by the console channel), a healthy run afterwards resolves them.
    let mut served = 0;
    if let Some(probe) = probes.iter_mut().find(|p| p.name == "support-bot") {
        let routing = demo_routing(&project_dir)?;
        let updated = sim::start(
            model_update_profile(),
            sim::cases_from_golden(&golden),
            any_port,
        )
        .await?;
        // The rollback: the old model again, on an endpoint as fresh as the baseline's.
        let rolled_back =
            sim::start(demo_profile(), sim::cases_from_golden(&golden), any_port).await?;
        println!(
            "{} a model update: support-bot's endpoint now serves a degraded model (at {}); \
             its alerts go to the console (stderr) only\n",
            style.bold("probity demo:"),
            updated.base_url()
        );
        // The update is a new model version: the reports' trend shows it as a deployment
        // marker, and the rollback as another.
        let old_version = probe.target.labels.get("model_version").cloned();
        for (step, base_url, version) in [
            (
                "degraded",
                updated.base_url(),
                Some("2024-08-06".to_string()),
            ),
            ("healthy", rolled_back.base_url(), old_version),
        ] {
            aim_at(probe, &base_url, &db);
            match version {
                Some(v) => probe.target.labels.insert("model_version".into(), v),
                None => probe.target.labels.remove("model_version"),
            };
            let outcome = run_probe(
                probe,
                &store,
                &RunOptions::default(),
                &Bar::new(),
                CancellationToken::new(),
            )
            .await?;
            let path = out.join(format!("{}-{}.json", outcome.probe, outcome.run_id));
            write_json(&path, &run_document(&outcome))?;
            let outputs = Outputs {
                alerts: Some(&routing),
                link: Some(display_path(&path)),
                report_dir: reports.report_dir.clone(),
                ..Outputs::default()
            };
            // The run first, then its alerts (the console channel prints as it delivers).
            if step == "degraded" {
                print_outcome(&outcome, &style)?;
            } else {
                println!(
                    "{} the update is rolled back: run {} on the old model, verdict {}\n",
                    style.bold("probity demo:"),
                    outcome.run_id,
                    outcome.verdict.as_str()
                );
            }
            let _ = std::io::stdout().flush();
            let published = publish(&store, probe, &outcome, &outputs).await?;
            last_report = published.report.clone();
            if let Some(activity) = &published.alerts {
                super::alert::print_activity(activity);
                let e = &activity.evaluation;
                println!(
                    "alerts after the {step} run: {} incident{} opened, {} resolved\n",
                    e.fired.len(),
                    if e.fired.len() == 1 { "" } else { "s" },
                    e.resolved.len()
                );
            }
            written.push(path);
        }
        served += updated.stats().requests + rolled_back.stats().requests;
        updated.shutdown().await?;
        rolled_back.shutdown().await?;
    }

    // The provider's books (issue 13): the simulator's organisation report, imported as
    // `probity usage import` would, next to the probes' own spend.
    demo_usage(&store, &current.base_url(), &db).await;

    served += current.stats().requests + canary.stats().requests;
    current.shutdown().await?;
    canary.shutdown().await?;
    println!("the simulators served {served} requests");
    for path in &written {
        println!("wrote {}", display_path(path));
    }
    println!(
        "runs are stored in {} (try `probity --db {} history`)",
        display_path(&db),
        display_path(&db)
    );
    if let Some(report) = last_report {
        println!(
            "report: {} (support-bot's last run; its trend shows the baseline run, the \
             model update and the rollback, with the deployment markers between them)",
            display_path(&report)
        );
    }
    Ok(exit::PASSED)
}

/// Imports the simulated organisation's last 7 days of OpenAI usage and costs into the
/// demo's database and says what share of that bill the probes were. A failure is a note,
/// not the demo's end: the rest of the demo does not depend on it.
async fn demo_usage(store: &crate::store::Store, base_url: &str, db: &Path) {
    use crate::usage::{self, Fetcher, Provider, show};
    let now = chrono::Utc::now();
    let start = usage::window_since(now, Duration::from_secs(7 * 86_400));
    let key = crate::config::Secret::new("sk-admin-demo");
    let imported = async {
        let fetcher = Fetcher::new(Provider::Openai, base_url, key)?;
        let summary = usage::fetch_window(&fetcher, start, now, false).await?;
        usage::import(store, &summary, chrono::Utc::now())?;
        Ok::<_, usage::UsageError>(summary)
    }
    .await;
    match imported.and_then(|s| Ok((s, show::load(store, Some("openai"), start, now)?))) {
        Ok((summary, books)) => println!(
            "the provider's books: {} usage and {} cost results of the simulated organisation \
             (7 days); the probes were {} of its bill (try `probity --db {} usage show`)",
            summary.usage_rows,
            summary.cost_rows,
            books
                .probe_share_of_cost
                .map_or("—".to_string(), |s| format!("{:.2}%", s * 100.0)),
            display_path(db)
        ),
        Err(e) => println!("the provider's books could not be imported: {e}"),
    }
}
