//! Baselines, drift and the rollout gate, end to end: promote a run, catch a degraded
//! endpoint, export a baseline file and gate on it without the database, gate a canary
//! against the current target probed in the same run, and refuse to pass on too little data.

#[path = "support/project.rs"]
mod project;

use std::process::Output;
use std::time::Duration;

use probity::compare::{FindingKind, Severity, Verdict};
use probity::pipeline::{BaselineChoice, RunOptions};
use probity::sim::{self, Latency, Profile};
use probity::store::Store;
use project::{PLACEHOLDER, Project, start_sim, text};

fn healthy(seed: u64) -> Profile {
    Profile {
        latency: Latency {
            median: Duration::from_millis(20),
            p99: Some(Duration::from_millis(60)),
        },
        ttft: Latency {
            median: Duration::from_millis(20),
            p99: Some(Duration::from_millis(60)),
        },
        seed,
        ..Profile::default()
    }
}

fn degraded(seed: u64) -> Profile {
    Profile {
        latency: Latency {
            median: Duration::from_millis(60),
            p99: Some(Duration::from_millis(180)),
        },
        ttft: Latency {
            median: Duration::from_millis(60),
            p99: Some(Duration::from_millis(180)),
        },
        refusal: 0.3,
        ..healthy(seed)
    }
}

/// A project whose `default` target is one simulator and whose `canary` is another.
async fn project_with_two_sims(
    current: Profile,
    canary: Profile,
    body: &str,
) -> (Project, sim::SimHandle, sim::SimHandle) {
    let project = Project::new(PLACEHOLDER, body);
    let golden = project.golden();
    let (a, b) = (
        start_sim(&golden, current).await,
        start_sim(&golden, canary).await,
    );
    project.aim(PLACEHOLDER, &a.base_url());
    project.aim("CANARY_URL", &b.base_url());
    (project, a, b)
}

const TWO_TARGETS: &str = "targets:\n  canary: { base_url: CANARY_URL, model: canary-model, labels: { model_version: \"2\" } }\nsamples: 15\nconcurrency: 8\n";

async fn probity(project: &Project, args: &[&str]) -> Output {
    project::probity_in(project.root(), &[("PROBITY_TEST_KEY", "k")], args).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_promoted_baseline_catches_a_degraded_endpoint() {
    let (project, a, b) = project_with_two_sims(healthy(1), degraded(2), TWO_TARGETS).await;
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let first = project::run(&probe, &store, &RunOptions::default()).await;
    assert!(
        first.notes.iter().any(|n| n.starts_with("no baseline yet")),
        "{:?}",
        first.notes
    );

    let out = probity(&project, &["baseline", "promote", &first.run_id]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("is now the baseline of `bot`"));

    // The same endpoint again: no drift.
    let same = project::run(&probe, &store, &RunOptions::default()).await;
    assert_eq!(same.verdict, Verdict::Pass, "{:#?}", same.findings);
    let report = same.comparison.as_ref().unwrap();
    assert_eq!(report.run_id.as_deref(), Some(first.run_id.as_str()));
    assert!(!report.comparison.tests.is_empty());

    // The canary is slower and refuses: critical drift, exit 1.
    let canary = RunOptions {
        targets: vec!["canary".into()],
        ..RunOptions::default()
    };
    let worse = project::run(&probe, &store, &canary).await;
    assert_eq!(worse.verdict, Verdict::Fail);
    assert_eq!(worse.exit_code, probity::exit::VERDICT_FAILED);
    let drifted: Vec<&str> = worse
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Drift)
        .map(|f| f.metric.as_str())
        .collect();
    assert!(drifted.contains(&"latency_median"), "{drifted:?}");
    assert!(drifted.contains(&"over_refusal"), "{drifted:?}");
    let latency = worse
        .findings
        .iter()
        .find(|f| f.metric == "latency_median")
        .unwrap();
    assert!(
        latency.message.starts_with("median latency "),
        "{}",
        latency.message
    );
    assert!(
        latency.p_adjusted.unwrap() <= 0.01 && latency.effect.unwrap() >= 1.2,
        "{latency:?}"
    );

    // compare RUN_A RUN_B says the same from the store.
    let out = probity(
        &project,
        &["compare", &first.run_id, &worse.run_id, "--format", "json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["verdict"], "fail");
    for f in doc["findings"].as_array().unwrap() {
        for key in [
            "metric",
            "baseline",
            "current",
            "test",
            "statistic",
            "p",
            "p_adjusted",
            "effect",
            "min_effect",
            "severity",
            "message",
        ] {
            assert!(f.get(key).is_some(), "finding misses {key}: {f}");
        }
    }
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_baseline_file_gates_without_the_database() {
    let (project, a, b) = project_with_two_sims(healthy(3), degraded(4), TWO_TARGETS).await;
    let out = probity(&project, &["run"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(
        probity(&project, &["baseline", "promote", "latest"])
            .await
            .status
            .code(),
        Some(0)
    );
    let out = probity(
        &project,
        &["baseline", "export", "bot", "--to", "baselines/bot.json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.root().join("baselines/bot.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(file["format"], "probity-baseline");
    assert_eq!(file["version"], 1);
    assert!(
        file["evidence"]["continuous"]["latency_ms"]["values"]
            .as_array()
            .unwrap()
            .len()
            >= 50
    );

    // A fresh database: the file is all the gate has.
    std::fs::remove_dir_all(project.root().join(".probity")).unwrap();
    let out = probity(
        &project,
        &[
            "gate",
            "bot",
            "--candidate",
            "canary",
            "--baseline",
            "baselines/bot.json",
            "--junit",
            "out/junit.xml",
            "--markdown",
            "out/summary.md",
            "--json",
            "out/gate.json",
        ],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let junit = std::fs::read_to_string(project.root().join("out/junit.xml")).unwrap();
    assert!(junit.starts_with("<?xml"));
    assert!(
        junit.contains("<testcase name=\"drift: latency_median\"") && junit.contains("<failure"),
        "{junit}"
    );
    let md = std::fs::read_to_string(project.root().join("out/summary.md")).unwrap();
    assert!(md.starts_with("## ❌ probity · bot · fail"), "{md}");
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.root().join("out/gate.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(doc["verdict"], "fail");
    assert_eq!(doc["baseline"]["source"], "file baselines/bot.json");

    // The same file, the healthy target: nothing drifted, but at 15 samples a case some
    // metrics (the tail of similarity, the median length) cannot be shown to be within their
    // minimum effect, so the gate does not open on them: insufficient data, exit 1, with the
    // samples that would decide each (issue 9). Never a fail.
    let out = probity(
        &project,
        &[
            "gate",
            "bot",
            "--candidate",
            "default",
            "--baseline",
            "baselines/bot.json",
            "--format",
            "json",
        ],
    )
    .await;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let undecided = doc["baseline"]["undecided"].as_array().unwrap();
    if undecided.is_empty() {
        assert_eq!(doc["verdict"], "pass", "{doc:#}");
        assert_eq!(out.status.code(), Some(0));
    } else {
        assert_eq!(doc["verdict"], "insufficient_data", "{doc:#}");
        assert_eq!(out.status.code(), Some(1));
        assert!(
            undecided.iter().all(|u| u["moved"] == false),
            "{undecided:#?}"
        );
    }
    assert!(
        !doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "drift"),
        "{doc:#}"
    );
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canary_is_gated_against_the_current_target_in_one_run() {
    let (project, a, b) = project_with_two_sims(healthy(5), degraded(6), TWO_TARGETS).await;
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let options = RunOptions {
        targets: vec!["canary".into(), "default".into()],
        baseline: BaselineChoice::Target("default".into()),
        ..RunOptions::default()
    };
    let outcome = project::run(&probe, &store, &options).await;
    assert_eq!(outcome.targets.len(), 2);
    assert_eq!(outcome.verdict, Verdict::Fail, "{:#?}", outcome.findings);
    let report = outcome.comparison.unwrap();
    assert_eq!(report.source, "target default");
    // Paired tests: both targets answered the same case and sample, interleaved.
    let tests: Vec<&str> = report
        .comparison
        .tests
        .iter()
        .map(|t| t.test.as_str())
        .collect();
    assert!(
        tests.iter().any(|t| t.starts_with("wilcoxon_signed_rank")),
        "{tests:?}"
    );
    assert!(tests.contains(&"mcnemar_exact_one_sided"), "{tests:?}");
    // Interleaved case by case: the two targets' requests alternate through the run.
    let rows = store.observations(&outcome.run_id).unwrap();
    let first_half: Vec<&str> = rows
        .iter()
        .take(20)
        .map(|r| r.observation.target.as_str())
        .collect();
    assert!(first_half.contains(&"canary") && first_half.contains(&"default"));

    // And through the binary, with --fail-on warning.
    let out = probity(
        &project,
        &[
            "gate",
            "bot",
            "--candidate",
            "canary",
            "--baseline",
            "default",
            "--fail-on",
            "warning",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    // The stored run says the same exit code as the process (`show` reads it back).
    let shown = probity(&project, &["show", "latest", "--format", "json"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(doc["exit_code"], 1, "{doc}");
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn too_little_data_is_never_a_pass() {
    let (project, a, b) = project_with_two_sims(healthy(7), healthy(8), TWO_TARGETS).await;
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let first = project::run(&probe, &store, &RunOptions::default()).await;
    assert_eq!(
        probity(&project, &["baseline", "promote", &first.run_id])
            .await
            .status
            .code(),
        Some(0)
    );
    let tiny = RunOptions {
        samples: Some(1),
        ..RunOptions::default()
    };
    let outcome = project::run(&probe, &store, &tiny).await;
    assert_eq!(outcome.verdict, Verdict::InsufficientData);
    assert_eq!(outcome.exit_code, probity::exit::VERDICT_FAILED);
    let why = outcome.comparison.unwrap().comparison.insufficient.unwrap();
    assert!(
        why.starts_with("insufficient data: 4 answered samples now vs 60 in the baseline"),
        "{why}"
    );
    assert!(why.contains("could be detected"), "{why}");
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

/// `failures="N"` of the JUnit report's root.
fn junit_failures(xml: &str) -> u64 {
    let at = xml.find("<testsuites").expect("a JUnit report");
    let root = &xml[at..at + xml[at..].find('>').unwrap()];
    let from = root.find("failures=\"").unwrap() + "failures=\"".len();
    root[from..from + root[from..].find('"').unwrap()]
        .parse()
        .unwrap()
}

#[tokio::test]
async fn junit_markdown_json_and_exit_code_agree_with_the_verdict() {
    // An endpoint that refuses everything: the cases expecting an answer fail every sample.
    // The gate's JUnit once said failures="2" of a job that exited 0; whatever the verdict,
    // JUnit (at either gate level), Markdown, JSON and the exit code must all say the same.
    let profile = Profile {
        refusal: 1.0,
        ..healthy(4)
    };
    let (project, sim) = Project::with_sim("samples: 4\nconcurrency: 4\n", profile).await;
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;
    let failing = outcome
        .primary()
        .unwrap()
        .cases
        .iter()
        .filter(|c| c.status == probity::summary::CaseStatus::Fail)
        .count();
    assert!(failing > 0, "the endpoint was meant to fail some case");
    // A case failing every sample is part of the verdict: a failure, exit 1.
    assert_eq!(outcome.verdict, Verdict::Fail);
    assert_eq!(outcome.exit_code, probity::exit::VERDICT_FAILED);

    for level in [Severity::Warning, Severity::Critical] {
        let xml = probity::report::junit::junit(&outcome, level);
        assert_eq!(
            junit_failures(&xml) > 0,
            outcome.verdict.fails_at(level),
            "verdict {} at {level:?}: {xml}",
            outcome.verdict.as_str()
        );
    }
    let doc = probity::report::json::run_document(&outcome);
    assert_eq!(doc["verdict"], outcome.verdict.as_str());
    assert_eq!(doc["exit_code"], outcome.exit_code);
    let md = probity::report::markdown::markdown(&outcome);
    assert!(
        md.lines()
            .next()
            .unwrap()
            .ends_with(&format!("· {}", outcome.verdict.as_str())),
        "{md}"
    );
    let expected_exit = if outcome.verdict.fails_at(Severity::Critical) {
        probity::exit::VERDICT_FAILED
    } else {
        probity::exit::PASSED
    };
    assert_eq!(outcome.exit_code, expected_exit);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_inconclusive_jump_is_shown_and_a_gate_does_not_pass_on_it() {
    // Over-refusal goes from 0% to about 15% at a sample size that cannot tell it from
    // noise: "0 drift" would read as health. The run shows the metric as inconclusive with
    // what would decide it, and a gate's verdict (and every report of it) is not a pass.
    let (project, sim) = Project::with_sim("samples: 10\nconcurrency: 8\n", healthy(21)).await;
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let first = project::run(&probe, &store, &RunOptions::default()).await;
    let path = project.root().join("baseline.json");
    probity::compare::Baseline::new(
        &probe.name,
        &first.run_id,
        "default",
        Default::default(),
        first.started_at,
        first.primary().unwrap().evidence.clone(),
    )
    .write(&path)
    .unwrap();
    sim.shutdown().await.unwrap();
    let refusing = project::start_sim(
        &project.golden(),
        Profile {
            refusal: 0.15,
            ..healthy(22)
        },
    )
    .await;
    let mut probe = probe;
    probe.target.base_url = refusing.base_url();
    let options = RunOptions {
        baseline: BaselineChoice::File(path),
        ..RunOptions::default()
    };
    let mut outcome = project::run(&probe, &store, &options).await;
    refusing.shutdown().await.unwrap();
    let comparison = &outcome.comparison.as_ref().unwrap().comparison;
    let over = comparison
        .undecided
        .iter()
        .find(|u| u.metric == "over_refusal")
        .unwrap_or_else(|| panic!("{:#?}", comparison.tests));
    assert!(over.moved, "{over:?}");

    let mut shown = Vec::new();
    let style = probity::report::terminal::Style { color: false };
    probity::report::terminal::write_outcome(&mut shown, &outcome, &style).unwrap();
    let shown = String::from_utf8(shown).unwrap();
    let line = shown
        .lines()
        .find(|l| l.contains("INCONCLUSIVE") && l.contains("over-refusal"))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(line.contains("would decide it"), "{line}");
    assert!(shown.contains("inconclusive"), "{shown}");

    // As a gate: not a pass, and JUnit, Markdown and JSON say so.
    outcome.verdict = outcome.verdict.for_gate(Some(comparison));
    // (The refused answers also fail their cases, so it may well be a failure outright.)
    assert!(
        matches!(outcome.verdict, Verdict::InsufficientData | Verdict::Fail),
        "{}",
        outcome.verdict.as_str()
    );
    let xml = probity::report::junit::junit(&outcome, Severity::Critical);
    assert!(junit_failures(&xml) > 0, "{xml}");
    let md = probity::report::markdown::markdown(&outcome);
    assert!(md.contains(r"| inconclusive | over\_refusal |"), "{md}");
    assert!(
        md.lines()
            .next()
            .unwrap()
            .ends_with(outcome.verdict.as_str()),
        "{md}"
    );
}
