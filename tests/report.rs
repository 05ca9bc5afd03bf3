//! What a person reads: the terminal summary and the Markdown of real runs — errors that
//! say what to fix, and nothing from a model or a committed file that can restyle a CI log.

#[path = "support/bad_server.rs"]
mod bad_server;
#[path = "support/project.rs"]
mod project;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use probity::compare::Baseline;
use probity::pipeline::{BaselineChoice, RunOptions, RunOutcome, RunStatus};
use probity::report::terminal::{Style, write_outcome};
use probity::sim::{Latency, Profile};
use probity::store::Store;
use project::Project;

fn text(outcome: &RunOutcome) -> String {
    let mut out = Vec::new();
    write_outcome(&mut out, outcome, &Style { color: false }).unwrap();
    String::from_utf8(out).unwrap()
}

/// A chat endpoint that refuses every key the way OpenAI does.
async fn refusing_every_key() -> String {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|| async {
            (
                StatusCode::UNAUTHORIZED,
                [("content-type", "application/json")],
                r#"{"error":{"message":"Incorrect API key provided: sk-wro****. You can find your API key at the dashboard.","type":"invalid_request_error","code":"invalid_api_key"}}"#,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    format!("http://{addr}/v1")
}

#[tokio::test]
async fn a_case_that_never_answers_shows_its_first_error() {
    // `no answer (http_4xx 2)` alone does not say the key is wrong; the server did.
    let url = refusing_every_key().await;
    let project = Project::new(&url, "samples: 2\nconcurrency: 2\n");
    let mut probe = project.probe("sk-wrong");
    probe.target.stream = false;
    let store = Store::open(&project.db()).unwrap();
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;
    assert_eq!(outcome.status, RunStatus::CouldNotProbe);
    let shown = text(&outcome);
    let line = shown
        .lines()
        .find(|l| l.contains("ERROR") && l.contains("support/refund-window"))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(line.contains("no answer (http_4xx 2)"), "{line}");
    assert!(line.contains("Incorrect API key provided"), "{line}");
    assert!(!shown.contains("sk-wrong"), "the key itself is never shown");
}

#[tokio::test]
async fn a_committed_baseline_cannot_restyle_the_terminal() {
    // A baseline file arrives with a pull request: its labels are attacker-chosen text.
    let profile = Profile {
        latency: Latency::fixed(Duration::from_millis(5)),
        ..Profile::default()
    };
    let (project, sim) = Project::with_sim("samples: 3\nconcurrency: 4\n", profile).await;
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let first = project::run(&probe, &store, &RunOptions::default()).await;
    let evidence = first.primary().unwrap().evidence.clone();
    let labels = [(
        "model\x1b[2J".to_string(),
        "v1\x1b]0;pwned\x07\u{202e}txt.exe".to_string(),
    )]
    .into_iter()
    .collect();
    let baseline = Baseline::new(
        &probe.name,
        "r\x1b[31m` [x](https://e.vil) `",
        "default",
        labels,
        first.started_at,
        evidence,
    );
    let path = project.root().join("baselines/evil\u{202e}.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    baseline.write(&path).unwrap();

    let options = RunOptions {
        baseline: BaselineChoice::File(path),
        ..RunOptions::default()
    };
    let outcome = project::run(&probe, &store, &options).await;
    assert!(outcome.comparison.is_some());
    let shown = text(&outcome);
    assert!(!shown.contains('\x1b'), "{shown:?}");
    assert!(!shown.contains('\u{202e}'), "{shown:?}");
    assert!(!shown.contains('\x07'), "{shown:?}");
    assert!(
        shown.contains(r"\u{1b}[2J"),
        "shown escaped, not dropped: {shown}"
    );
    assert!(shown.contains(r"\u{202e}"), "{shown}");
    // In the step summary the run id quoted from the file cannot close a code span and
    // make a link: its backtick is escaped and the URL-like word is in a span of its own.
    let md = probity::report::markdown::markdown(&outcome);
    let compared = md.lines().find(|l| l.starts_with("Compared with")).unwrap();
    assert!(
        compared.contains(r"\` `[x](https://e.vil)` \`"),
        "{compared}"
    );
    assert!(!compared.contains('\x1b'), "{compared}");
    // And the target header names the model (typed target info).
    assert!(shown.contains("target default openai sim-model"), "{shown}");
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn numbers_read_as_people_read_them() {
    // A baseline at 5 ms and an endpoint now at 250 ms: the latency ratio is about 50.
    let fast = Profile {
        latency: Latency::fixed(Duration::from_millis(5)),
        ttft: Latency::fixed(Duration::from_millis(5)),
        ..Profile::default()
    };
    let slow = Profile {
        latency: Latency::fixed(Duration::from_millis(250)),
        ttft: Latency::fixed(Duration::from_millis(250)),
        ..Profile::default()
    };
    let body =
        "samples: 6\nconcurrency: 8\npricing: { input_per_mtok: 0.1, output_per_mtok: 0.1 }\n";
    let (project, sim) = Project::with_sim(body, fast).await;
    let mut probe = project.probe("k");
    probe.target.stream = false;
    let store = Store::open(&project.db()).unwrap();
    let first = project::run(&probe, &store, &RunOptions::default()).await;
    let baseline = Baseline::new(
        &probe.name,
        &first.run_id,
        "default",
        Default::default(),
        first.started_at,
        first.primary().unwrap().evidence.clone(),
    );
    let path = project.root().join("baseline.json");
    baseline.write(&path).unwrap();
    sim.shutdown().await.unwrap();

    let slow_sim = project::start_sim(&project.golden(), slow).await;
    probe.target.base_url = slow_sim.base_url();
    let options = RunOptions {
        baseline: BaselineChoice::File(path),
        ..RunOptions::default()
    };
    let mut outcome = project::run(&probe, &store, &options).await;
    slow_sim.shutdown().await.unwrap();
    let shown = text(&outcome);

    // Effects: a multiplier, not `+4900%`.
    let latency = shown
        .lines()
        .find(|l| l.contains("median latency") && l.contains("vs"))
        .unwrap_or_else(|| panic!("no latency finding: {shown}"));
    assert!(latency.contains('×'), "{latency}");
    assert!(!latency.contains("00%"), "{latency}");
    // The severity is said once per line.
    for line in shown.lines() {
        for s in ["critical", "warning", "info"] {
            assert!(!line.ends_with(&format!("— {s}")), "{line}");
        }
    }
    // A cost of a fraction of a cent keeps its digits.
    let cost = shown.lines().find(|l| l.contains("cost $")).unwrap();
    let spent = outcome.primary().unwrap().summary.figures.cost_usd;
    let read: f64 = cost.split("cost $").nth(1).unwrap().trim().parse().unwrap();
    assert!(spent > 0.0 && spent < 0.001, "{spent}");
    assert!((read - spent).abs() <= spent * 0.01, "{cost} for ${spent}");

    // The comparison table says which effects are differences and which ratios, with units.
    let table = probity::report::terminal::comparison_table(
        &outcome.comparison.as_ref().unwrap().comparison,
    );
    let row = table
        .lines()
        .find(|l| l.trim_start().starts_with("latency_median"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains(" ms") && row.contains('×') && row.contains("ratio"),
        "{row}"
    );
    assert!(table.contains("rates as a difference in points"), "{table}");

    // An `http` target has no model: it is shown by its URL, not a trailing blank.
    let info = &mut outcome.target_info[0];
    info.provider = "http".into();
    info.model = String::new();
    let url = info.base_url.clone().unwrap();
    let shown = text(&outcome);
    assert!(
        shown.contains(&format!("target default http {url}")),
        "{shown}"
    );
    outcome.target_info[0].base_url = None;
    assert!(text(&outcome).contains("target default http -"));
}

#[tokio::test]
async fn nothing_listening_ends_the_run_with_the_cause() {
    // A closed port: the runner gives the target up after its first connect failures, and
    // the run could not probe, exit 3, saying it could not reach the URL.
    let addr = bad_server::closed_port().await;
    let project = Project::new(
        &format!("http://{addr}/v1"),
        "samples: 10\nconcurrency: 2\nretries: { max: 2, base_delay: 10ms, max_delay: 20ms }\n",
    );
    let mut probe = project.probe("k");
    probe.target.stream = false;
    let store = Store::open(&project.db()).unwrap();
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;
    assert_eq!(outcome.status, RunStatus::CouldNotProbe);
    assert_eq!(outcome.exit_code, probity::exit::COULD_NOT_PROBE);
    let reason = outcome.status_reason.as_deref().unwrap_or_default();
    assert!(reason.contains("could not reach"), "{reason}");
    assert!(reason.contains(&addr.to_string()), "{reason}");
    assert!(text(&outcome).contains("could not reach"));
}
