//! `probity demo`: the example probes and golden sets (embedded in the binary, so it works
//! from any folder) run against the simulator started in-process on a free port. No network,
//! no key, no setup: the quickest way to see what probity reports.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::run::write_json;
use super::{CommandError, open_store};
use crate::config::{Probe, ProviderKind, display_path, load_paths};
use crate::exit;
use crate::pipeline::{RunOptions, run_probe};
use crate::report::json::run_document;
use crate::report::terminal::{Bar, Style, write_outcome};
use crate::sim::{self, Errors, Latency, Profile};

/// The shipped examples, as the demo writes them out.
const EXAMPLES: [(&str, &str); 7] = [
    ("probes/support-bot.yaml", include_str!("../../probes/support-bot.yaml")),
    ("probes/claude-assistant.yaml", include_str!("../../probes/claude-assistant.yaml")),
    ("probes/rag-service.yaml", include_str!("../../probes/rag-service.yaml")),
    ("probes/alerts.yaml", include_str!("../../probes/alerts.yaml")),
    ("golden-sets/support.yaml", include_str!("../../golden-sets/support.yaml")),
    ("golden-sets/triage.yaml", include_str!("../../golden-sets/triage.yaml")),
    ("golden-sets/warranty-rag.yaml", include_str!("../../golden-sets/warranty-rag.yaml")),
];

/// A production-like endpoint: some latency, a long tail, the odd 429 and 500, and JSON that
/// is occasionally fenced.
pub fn demo_profile() -> Profile {
    Profile {
        latency: Latency { median: Duration::from_millis(120), p99: Some(Duration::from_millis(600)) },
        ttft: Latency { median: Duration::from_millis(60), p99: Some(Duration::from_millis(300)) },
        tokens_per_second: 400.0,
        errors: Errors { rate_429: 0.02, rate_500: 0.01, ..Errors::default() },
        json_break: 0.05,
        seed: 7,
        ..Profile::default()
    }
}

/// Environment for the examples: the real one, with harmless stand-ins for what is unset.
fn demo_env(name: &str) -> Option<String> {
    std::env::var(name).ok().or_else(|| {
        Some(if name.ends_with("_URL") { format!("http://127.0.0.1:9/{name}") } else { format!("demo-{name}") })
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

/// Points every target of a probe at the simulator and keeps the demo quick.
fn aim_at(probe: &mut Probe, base_url: &str, db: &Path) {
    let targets = std::iter::once(&mut probe.target)
        .chain(probe.targets.values_mut())
        .chain(probe.judge.iter_mut());
    for target in targets {
        match target.provider {
            ProviderKind::OpenAi | ProviderKind::Anthropic => target.base_url = base_url.to_string(),
            ProviderKind::Http => {
                if let Some(http) = target.http.as_mut() {
                    http.url = format!("{base_url}/rag/ask");
                }
            }
        }
    }
    probe.requests_per_second = None;
    probe.store.path = db.to_path_buf();
}

pub async fn demo(out: &Path) -> Result<i32, CommandError> {
    let project_dir: PathBuf = out.join("demo-project");
    let mut probes = load_examples(&project_dir)?;
    let golden: Vec<_> = probes.iter().flat_map(|p| p.golden_sets.iter().cloned()).collect();
    let handle = sim::start(demo_profile(), sim::cases_from_golden(&golden), SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let db = out.join("demo.db");
    let store = open_store(&db)?;
    let style = Style::detect();
    println!(
        "{} running the example probes against a simulated endpoint at {}\n",
        style.bold("probity demo:"),
        handle.base_url()
    );
    let mut written = Vec::new();
    for probe in probes.iter_mut() {
        aim_at(probe, &handle.base_url(), &db);
        if probe.target.provider == ProviderKind::Http {
            // The simulator speaks OpenAI and Anthropic; a team's own RAG API is theirs.
            continue;
        }
        let outcome = run_probe(probe, &store, &RunOptions::default(), &Bar::new(), CancellationToken::new()).await?;
        let mut stdout = std::io::stdout().lock();
        write_outcome(&mut stdout, &outcome, &style).map_err(|e| CommandError::io(Path::new("<stdout>"), e))?;
        let _ = writeln!(stdout);
        let path = out.join(format!("{}-{}.json", outcome.probe, outcome.run_id));
        write_json(&path, &run_document(&outcome))?;
        written.push(path);
    }
    let stats = handle.stats();
    handle.shutdown().await?;
    println!("simulator served {} requests", stats.requests);
    for path in &written {
        println!("wrote {}", display_path(path));
    }
    println!("runs are stored in {} (try `probity --db {} export latest --jsonl`)", display_path(&db), display_path(&db));
    Ok(exit::PASSED)
}
