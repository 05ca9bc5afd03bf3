//! What the verdict means (issue 9): cases are part of it — a case below its
//! `min_pass_rate` is a finding, a case whose every sample fails ends the run `fail` — and a
//! gate passes only when every metric is decided, so a change too noisy to call is
//! `insufficient_data`, never a quiet pass. Runs against the built-in simulator.

#[path = "support/project.rs"]
mod project;

use std::time::Duration;

use probity::compare::{FindingKind, Severity, Verdict};
use probity::pipeline::RunOptions;
use probity::sim::{Latency, Profile};
use probity::store::Store;
use project::{PLACEHOLDER, Project, start_sim};

const BIN: &str = env!("CARGO_BIN_EXE_probity");

fn profile(seed: u64, refusal: f64) -> Profile {
    let fixed = Latency {
        median: Duration::from_millis(5),
        p99: Some(Duration::from_millis(10)),
    };
    Profile {
        latency: fixed,
        ttft: fixed,
        refusal,
        seed,
        ..Profile::default()
    }
}

/// One case always passes, one can never pass: the simulator answers from `SIM_CASES`, where
/// the second case expects nothing, so the phrase the probe expects is never said.
const CASES: &str = r#"name: support
cases:
  - id: refund-window
    messages: [{ role: user, content: "How long do I have to ask for a refund?" }]
    expect:
      contains: ["30 days"]
      reference: "You can ask for a refund within 30 days of purchase."
  - id: impossible
    messages: [{ role: user, content: "How long does standard shipping take?" }]
    expect:
      contains: ["zz-never-said-zz"]
      reference: "Standard shipping takes 3 to 5 business days."
"#;

const SIM_CASES: &str = r#"name: support
cases:
  - id: refund-window
    messages: [{ role: user, content: "How long do I have to ask for a refund?" }]
    expect:
      contains: ["30 days"]
      reference: "You can ask for a refund within 30 days of purchase."
  - id: impossible
    messages: [{ role: user, content: "How long does standard shipping take?" }]
    expect:
      reference: "Standard shipping takes 3 to 5 business days."
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_case_whose_every_sample_fails_fails_the_run() {
    let probe_text = format!(
        "name: bot\ntarget:\n  provider: openai\n  base_url: {PLACEHOLDER}\n  model: sim-model\n  api_key: ${{PROBITY_TEST_KEY}}\ngolden_sets: [golden-sets/support.yaml]\nsamples: 3\nbaseline: none\n"
    );
    let project = Project::with_files(&[
        ("probes/bot.yaml", &probe_text),
        ("golden-sets/support.yaml", CASES),
    ]);
    let answers = Project::with_files(&[("golden-sets/support.yaml", SIM_CASES)]);
    let sim = start_sim(&answers.golden(), profile(1, 0.0)).await;
    project.aim(PLACEHOLDER, &sim.base_url());
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let run = project::run(&probe, &store, &RunOptions::default()).await;
    assert_eq!(run.verdict, Verdict::Fail, "{:#?}", run.findings);
    assert_eq!(run.exit_code, probity::exit::VERDICT_FAILED);
    let cases: Vec<_> = run
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Case)
        .collect();
    assert_eq!(cases.len(), 1, "{cases:#?}");
    let f = cases[0];
    assert_eq!(f.case.as_deref(), Some("support/impossible"));
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.current.unwrap().value, 0.0);
    assert!(
        f.message
            .starts_with("case support/impossible passed 0/3 (0.0%, 95% CI 0.0%–56.1%)"),
        "{}",
        f.message
    );
    assert!(f.message.contains("zz-never-said-zz"), "{}", f.message);
    sim.shutdown().await.unwrap();
}

/// Three cases that must never be refused, 10 samples each: the baseline target never
/// refuses, the canary refuses 15% of the time (seeded). At 30 answers a side that is not
/// significant at α = 0.01 (Fisher's exact test, one-sided), yet far beyond the 2-point
/// minimum effect: inconclusive, and a gate cannot pass on it.
const NEVER_REFUSE: &str = r#"name: support
cases:
  - id: refund-window
    messages: [{ role: user, content: "How long do I have to ask for a refund?" }]
    expect: { refusal: false }
  - id: shipping
    messages: [{ role: user, content: "How long does standard shipping take?" }]
    expect: { refusal: false }
  - id: hours
    messages: [{ role: user, content: "When is the support line open?" }]
    expect: { refusal: false }
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_gate_on_an_inconclusive_over_refusal_jump_is_not_a_pass() {
    let probe_text = format!(
        "name: bot\ntarget:\n  provider: openai\n  base_url: {PLACEHOLDER}\n  model: sim-model\n  api_key: ${{PROBITY_TEST_KEY}}\ntargets:\n  canary: {{ base_url: CANARY_URL, model: canary-model }}\ngolden_sets: [golden-sets/support.yaml]\nsamples: 10\n"
    );
    // Stochastic cases: a refused sample fails its case, so the bar is lowered (issue 9's
    // advice) to keep the case findings out of this test's way.
    let golden = NEVER_REFUSE.replace("cases:\n", "min_pass_rate: 0.5\ncases:\n");
    let project = Project::with_files(&[
        ("probes/bot.yaml", &probe_text),
        ("golden-sets/support.yaml", &golden),
    ]);
    let (a, b) = (
        start_sim(&project.golden(), profile(1, 0.0)).await,
        start_sim(&project.golden(), profile(3, 0.15)).await,
    );
    project.aim(PLACEHOLDER, &a.base_url());
    project.aim("CANARY_URL", &b.base_url());
    let out = tokio::process::Command::new(BIN)
        .args([
            "gate",
            "bot",
            "--candidate",
            "canary",
            "--baseline",
            "default",
            "--format",
            "json",
        ])
        .current_dir(project.root())
        .env("PROBITY_TEST_KEY", "k")
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(doc["verdict"], "insufficient_data", "{doc:#}");
    assert_eq!(out.status.code(), Some(1));
    let undecided = doc["baseline"]["undecided"].as_array().unwrap();
    let refusal = undecided
        .iter()
        .find(|u| u["metric"] == "over_refusal")
        .unwrap_or_else(|| panic!("{undecided:#?}"));
    assert_eq!(refusal["moved"], true);
    assert_eq!(refusal["baseline"]["value"], 0.0);
    let now = refusal["current"]["value"].as_f64().unwrap();
    assert!((0.1..=0.2).contains(&now), "{refusal:#}");
    assert!(
        refusal["p_adjusted"].as_f64().unwrap() > 0.01,
        "{refusal:#}"
    );
    // It says how many samples would decide it: more than the 30 a side it had.
    let needed = refusal["samples_needed"].as_u64().unwrap();
    assert!(needed > 30, "{refusal:#}");
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .contains(&format!("about {needed} answered samples a side")),
        "{refusal:#}"
    );
    // And the findings carry it as an informational `inconclusive` finding.
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "inconclusive" && f["metric"] == "over_refusal"),
        "{doc:#}"
    );
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
