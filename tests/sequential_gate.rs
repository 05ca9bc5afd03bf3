//! The sequential gate end to end (issue 15): two simulators as the candidate (`canary`) and
//! the baseline target (`default`), probed in one run, interleaved; after every round every
//! metric is tested with an anytime-valid method. A plainly broken canary stops early with
//! a failure, a plainly equal one stops early with a pass, an ambiguous one runs to
//! `samples` and is `insufficient_data`; the JSON, Markdown and JUnit outputs say where it
//! stopped and why.

#[path = "support/project.rs"]
mod project;

use std::time::Duration;

use probity::compare::Verdict;
use probity::compare::sequential::{MetricDecision, SequentialDecision, StopReason};
use probity::pipeline::{BaselineChoice, RunOptions, RunStatus};
use probity::sim::{self, Latency, Profile};
use probity::store::Store;
use project::{PLACEHOLDER, Project, start_sim, text};

/// Latency with little spread (p99 10% above the median), so "equal" is plain early.
fn steady(seed: u64, median_ms: u64) -> Profile {
    let latency = Latency {
        median: Duration::from_millis(median_ms),
        p99: Some(Duration::from_millis(median_ms * 11 / 10)),
    };
    Profile {
        latency,
        ttft: latency,
        seed,
        ..Profile::default()
    }
}

/// A project whose `default` target is one simulator and whose `canary` is another.
async fn two_sims(
    baseline: Profile,
    canary: Profile,
    body: &str,
) -> (Project, sim::SimHandle, sim::SimHandle) {
    let project = Project::new(PLACEHOLDER, body);
    let golden = project.golden();
    let (a, b) = (
        start_sim(&golden, baseline).await,
        start_sim(&golden, canary).await,
    );
    project.aim(PLACEHOLDER, &a.base_url());
    project.aim("CANARY_URL", &b.base_url());
    (project, a, b)
}

const BODY: &str = "targets:\n  canary: { base_url: CANARY_URL, model: canary-model }\nsamples: 40\nconcurrency: 4\n";

fn sequential_gate() -> RunOptions {
    RunOptions {
        targets: vec!["canary".into(), "default".into()],
        baseline: BaselineChoice::Target("default".into()),
        gate: true,
        sequential: true,
        ..RunOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plainly_broken_canary_stops_early_with_a_failure() {
    let broken = Profile {
        refusal: 0.6,
        ..steady(2, 150)
    };
    let (project, _a, _b) = two_sims(steady(1, 50), broken, BODY).await;
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let out = project::run(&probe, &store, &sequential_gate()).await;
    let seq = out.sequential.as_ref().expect("a sequential block");
    assert_eq!(out.verdict, Verdict::Fail, "{:#?}", out.findings);
    assert_eq!(out.status, RunStatus::Complete, "{:?}", out.status_reason);
    assert_eq!(seq.decision, SequentialDecision::Fail);
    assert_eq!(seq.reason, StopReason::Drift);
    assert!(
        seq.stopped_early && seq.round < seq.rounds_planned,
        "{seq:#?}"
    );
    // 4 cases × 40 samples × 2 targets planned; far fewer sent.
    assert_eq!(seq.calls_planned, 320);
    assert!(seq.calls_saved > 160, "{seq:#?}");
    assert!(out.runner.sent < 160, "{}", out.runner.sent);
    let latency = seq.metrics.iter().find(|m| m.metric == "latency").unwrap();
    assert_eq!(latency.decision, MetricDecision::Drift, "{latency:#?}");
    assert!(latency.cs[0] > 1.0 && latency.effect > 2.0, "{latency:#?}");
    assert!(
        out.findings
            .iter()
            .any(|f| f.metric == "latency" && f.message.contains("sequential gate, round")),
        "{:#?}",
        out.findings
    );
    // Everything that was sent is stored, stragglers included.
    let stored = store.observations(&out.run_id).unwrap();
    assert_eq!(stored.len() as u64, out.runner.sent);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plainly_equal_canary_stops_early_with_a_pass() {
    // The same endpoint behind both names (same seed: the same answers, the same simulated
    // latency); only this machine's timing noise differs between the two.
    let (project, _a, _b) = two_sims(steady(1, 60), steady(1, 60), BODY).await;
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let out = project::run(&probe, &store, &sequential_gate()).await;
    let seq = out.sequential.as_ref().expect("a sequential block");
    assert_eq!(out.verdict, Verdict::Pass, "{seq:#?} {:#?}", out.findings);
    assert_eq!(out.exit_code, probity::exit::PASSED);
    assert_eq!(seq.reason, StopReason::BelowMinEffect, "{seq:#?}");
    assert!(
        seq.round < seq.rounds_planned && seq.calls_saved > 0,
        "{seq:#?}"
    );
    for m in &seq.metrics {
        assert!(
            matches!(
                m.decision,
                MetricDecision::BelowMinEffect | MetricDecision::NoSignal
            ),
            "{m:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ambiguous_canary_runs_to_samples_and_is_insufficient() {
    // Noisy latency, the canary 20% slower: exactly the minimum effect, too noisy to tell
    // in 6 rounds of 4 cases either way.
    let noisy = |seed, median| Profile {
        latency: Latency {
            median: Duration::from_millis(median),
            p99: Some(Duration::from_millis(median * 6)),
        },
        ttft: Latency {
            median: Duration::from_millis(median),
            p99: Some(Duration::from_millis(median * 6)),
        },
        seed,
        ..Profile::default()
    };
    let body = BODY.replace("samples: 40", "samples: 6");
    let (project, _a, _b) = two_sims(noisy(1, 50), noisy(2, 60), &body).await;
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let out = project::run(&probe, &store, &sequential_gate()).await;
    let seq = out.sequential.as_ref().expect("a sequential block");
    assert_eq!(out.verdict, Verdict::InsufficientData, "{seq:#?}");
    assert_eq!(seq.reason, StopReason::Samples);
    assert!(!seq.stopped_early);
    assert_eq!(seq.round, 6);
    assert_eq!(seq.calls_saved, 0);
    assert_eq!(out.runner.sent, 48);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gate_command_writes_where_it_stopped_into_every_output() {
    let broken = Profile {
        refusal: 0.6,
        ..steady(2, 150)
    };
    let (project, _a, _b) = two_sims(steady(1, 50), broken, BODY).await;
    let dir = project.root();
    let (json, junit, md) = (
        dir.join("out/gate.json"),
        dir.join("out/junit.xml"),
        dir.join("out/summary.md"),
    );
    let out = project::probity_in(
        dir,
        &[("PROBITY_TEST_KEY", "k")],
        &[
            "gate",
            "bot",
            "--candidate",
            "canary",
            "--baseline",
            "default",
            "--sequential",
            "--json",
            json.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let seq = &doc["sequential"];
    assert_eq!(seq["decision"], "fail", "{seq:#}");
    assert_eq!(seq["reason"], "drift");
    assert_eq!(seq["stopped_early"], true);
    assert!(seq["calls_saved"].as_u64().unwrap() > 0);
    assert!(
        seq["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["metric"] == "latency"
                && m["method"] == "normal_mixture"
                && m["cs"].as_array().unwrap().len() == 2)
    );
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.contains("### Sequential gate"), "{md}");
    assert!(md.contains("sequential gate stopped after round"), "{md}");
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert!(junit.contains("sequential: latency"), "{junit}");
    assert!(junit.contains("sequential: stop"), "{junit}");
    // The HTML report the gate wrote (under reports/ by default) has the block too.
    let html = std::fs::read_to_string(dir.join("reports/bot/latest.html")).unwrap();
    assert!(
        html.contains("<h2>Sequential gate</h2>"),
        "no sequential block"
    );
    assert!(html.contains("sequential gate stopped after round"));
    assert!(html.contains("normal_mixture"));

    // Against a stored baseline there is nothing to pair with: told so, before any call.
    let out = project::probity_in(
        dir,
        &[("PROBITY_TEST_KEY", "k")],
        &["gate", "bot", "--candidate", "canary", "--sequential"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--sequential needs --baseline TARGET"),
        "{}",
        text(&out.stderr)
    );
}
