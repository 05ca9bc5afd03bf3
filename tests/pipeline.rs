//! A whole run, in-process, against the simulator: observations stored as they arrive,
//! summary figures that match what the simulator was told to do, budget, pacing and
//! the JSON document's shape.

#[path = "support/project.rs"]
mod project;

use std::time::Duration;

use probity::pipeline::{RunOptions, RunOutcome, RunStatus};
use probity::report::json::run_document;
use probity::sim::{Latency, Profile};
use probity::store::{ObservationRow, Store};
use project::Project;

#[tokio::test]
async fn a_run_is_summarised_stored_and_documented() {
    let profile = Profile {
        latency: Latency::fixed(Duration::from_millis(20)),
        ttft: Latency::fixed(Duration::from_millis(10)),
        seed: 3,
        ..Profile::default()
    };
    let (project, sim) = Project::with_sim("samples: 4\nconcurrency: 4\n", profile).await;
    let probe = project.probe("sk-test-key");
    let store = Store::open(&project.db()).unwrap();
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;
    assert_eq!(outcome.status, RunStatus::Complete);
    assert_eq!(outcome.exit_code, probity::exit::PASSED);
    let summary = &outcome.primary().unwrap().summary;
    assert_eq!(summary.figures.samples, 16);
    assert_eq!(summary.figures.answered, 16);
    assert_eq!(summary.figures.requests, 16);
    let ttft = summary.figures.ttft_ms;
    assert!(
        ttft.p50.unwrap() >= 10.0 && ttft.p50.unwrap() < 200.0,
        "{ttft:?}"
    );
    assert!(summary.figures.tokens.output > 0);
    assert_eq!(sim.stats().requests, 16);

    // Every attempt is in the store, scored where answered, and the run is finished.
    let rows = store.observations(&outcome.run_id).unwrap();
    assert_eq!(rows.len(), 16);
    assert!(rows.iter().all(|r| r.scores.is_some()));
    let record = store.run(&outcome.run_id).unwrap();
    assert!(record.is_finished());
    assert_eq!(record.status, "complete");

    // The documented JSON shape.
    let doc = run_document(&outcome);
    for key in [
        "run_id", "probe", "status", "summary", "cases", "verdict", "findings",
    ] {
        assert!(doc.get(key).is_some(), "missing {key}");
    }
    let s = &doc["summary"];
    for key in [
        "requests",
        "errors",
        "error_rate",
        "latency_ms",
        "ttft_ms",
        "tokens",
        "cost_usd",
    ] {
        assert!(s.get(key).is_some(), "summary misses {key}");
    }
    for key in ["p50", "p95", "p99", "mean", "max"] {
        assert!(s["latency_ms"][key].is_number(), "latency_ms.{key}");
        assert!(s["ttft_ms"][key].is_number(), "ttft_ms.{key}");
    }
    assert!(s["tokens"]["input"].is_u64() && s["tokens"]["output"].is_u64());
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        for key in [
            "id",
            "requests",
            "errors",
            "error_rate",
            "latency_ms",
            "ttft_ms",
            "tokens",
            "cost_usd",
            "pass_rate",
            "ci",
            "status",
            "scores",
        ] {
            assert!(case.get(key).is_some(), "case misses {key}");
        }
    }
    sim.shutdown().await.unwrap();
}

/// A non-streaming run of `body` against a simulator that answers in exactly 100 ms: the
/// outcome and its stored observations.
async fn against_a_100ms_endpoint(body: &str) -> (RunOutcome, Vec<ObservationRow>) {
    let profile = Profile {
        latency: Latency::fixed(Duration::from_millis(100)),
        ..Profile::default()
    };
    let (project, sim) = Project::with_sim(body, profile).await;
    let mut probe = project.probe("k");
    probe.target.stream = false;
    let store = Store::open(&project.db()).unwrap();
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;
    let rows = store.observations(&outcome.run_id).unwrap();
    sim.shutdown().await.unwrap();
    (outcome, rows)
}

#[tokio::test]
async fn latency_is_measured_from_the_intended_start() {
    // One slot and a schedule of 20 requests per second against a 100 ms endpoint: requests
    // queue, and their latency must include the queueing (no coordinated omission).
    let (outcome, rows) = against_a_100ms_endpoint(
        "samples: 5\nconcurrency: 1\nrate_limit: { requests_per_second: 20 }\n",
    )
    .await;
    assert_eq!(rows.len(), 20);
    let mut scheduled: Vec<f64> = rows.iter().map(|r| r.observation.scheduled_ms).collect();
    scheduled.sort_by(f64::total_cmp);
    // The schedule is absolute: request i is due at i × 50 ms.
    for (i, s) in scheduled.iter().enumerate() {
        assert!(
            (s - i as f64 * 50.0).abs() < 15.0,
            "request {i} scheduled at {s} ms"
        );
    }
    // The endpoint takes 100 ms but one slot serves a request every 50 ms of schedule: the
    // last requests wait about a second in the queue, and that shows.
    let max = outcome
        .primary()
        .unwrap()
        .summary
        .figures
        .latency_ms
        .max
        .unwrap();
    assert!(max > 800.0, "max latency {max} ms hides the queueing");
}

#[tokio::test]
async fn without_a_schedule_the_wait_for_a_slot_is_not_latency() {
    // One slot, no rate: requests run back to back against a 100 ms endpoint. Each took
    // about 100 ms; counting the wait for the slot would make the k-th look k times slower.
    let (_, rows) = against_a_100ms_endpoint("samples: 2\nconcurrency: 1\n").await;
    assert!(rows.len() >= 4, "{} observations", rows.len());
    for row in rows {
        let latency = row.observation.latency_ms.unwrap();
        assert!(
            (99.0..190.0).contains(&latency),
            "latency {latency} ms: the endpoint takes 100 ms, and the wait for the slot is not the endpoint's"
        );
    }
}

#[tokio::test]
async fn the_budget_is_never_overspent() {
    // $100 per million tokens and at most 20 output tokens: each request reserves about
    // $0.0035 and costs a little less, so only about half of the 40 samples fit in $0.05.
    let body = "samples: 10\nconcurrency: 4\nbudget: { max_cost_usd: 0.05 }\npricing: { input_per_mtok: 100, output_per_mtok: 100 }\n";
    let (project, sim) = Project::with_sim(body, Profile::default()).await;
    let mut probe = project.probe("k");
    probe.target.params.insert("max_tokens".into(), 20.into());
    let store = Store::open(&project.db()).unwrap();
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;
    let f = &outcome.primary().unwrap().summary.figures;
    assert!(
        outcome.runner.spent_usd <= 0.05 + 1e-9,
        "spent {}",
        outcome.runner.spent_usd
    );
    assert!((f.cost_usd - outcome.runner.spent_usd).abs() < 1e-9);
    assert!(f.skipped_budget > 0 && f.answered > 0, "{f:?}");
    assert_eq!(f.skipped_budget + f.samples, 40);
    let rows = store.observations(&outcome.run_id).unwrap();
    let skipped = rows
        .iter()
        .filter(|r| r.observation.status.as_str() == "skipped_budget")
        .count() as u64;
    assert_eq!(
        skipped, f.skipped_budget,
        "work not sent is recorded as skipped"
    );
    assert_eq!(
        sim.stats().requests,
        f.requests,
        "skipped work never reaches the endpoint"
    );
    // Samples go round the cases, so every case got some before the money ran out.
    assert_eq!(
        outcome.status,
        RunStatus::BudgetExhausted,
        "{:?}",
        outcome.status_reason
    );
    assert_eq!(outcome.exit_code, probity::exit::PASSED);

    // Asking for more samples per case than the budget allows is "could not probe".
    probe.min_samples = 8;
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;
    assert_eq!(outcome.status, RunStatus::CouldNotProbe);
    assert!(
        outcome
            .status_reason
            .as_deref()
            .unwrap()
            .starts_with("the budget ran out before case"),
        "{:?}",
        outcome.status_reason
    );
    assert_eq!(outcome.exit_code, probity::exit::COULD_NOT_PROBE);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn thresholds_fail_the_run() {
    let profile = Profile {
        latency: Latency::fixed(Duration::from_millis(30)),
        ttft: Latency::fixed(Duration::from_millis(30)),
        ..Profile::default()
    };
    let (project, sim) = Project::with_sim(
        "samples: 2\nthresholds: { latency_p95: { warning: 1ms, critical: 5ms } }\n",
        profile,
    )
    .await;
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;
    assert_eq!(outcome.exit_code, probity::exit::VERDICT_FAILED);
    let finding = &outcome.findings[0];
    assert_eq!(finding.metric, "latency_p95");
    assert!(
        finding.message.starts_with("p95 latency "),
        "{}",
        finding.message
    );
    assert!(
        finding
            .message
            .ends_with("is above the critical limit 5 ms — critical"),
        "{}",
        finding.message
    );
    // The terminal marks the line CRITICAL already, and does not say it twice.
    let mut shown = Vec::new();
    let style = probity::report::terminal::Style { color: false };
    probity::report::terminal::write_outcome(&mut shown, &outcome, &style).unwrap();
    let shown = String::from_utf8(shown).unwrap();
    let line = shown
        .lines()
        .find(|l| l.contains("CRITICAL") && l.contains("p95 latency"))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(line.ends_with("is above the critical limit 5 ms"), "{line}");
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn min_samples_holds_whatever_the_cause() {
    // Half the answers are malformed (not retried): some case is left with fewer answered
    // samples than `min_samples` without the budget having anything to do with it. That run
    // did not probe enough to count, and says which case.
    let profile = Profile {
        errors: probity::sim::Errors {
            rate_malformed: 0.5,
            ..Default::default()
        },
        seed: 11,
        ..Profile::default()
    };
    let (project, sim) =
        Project::with_sim("samples: 6\nmin_samples: 6\nconcurrency: 4\n", profile).await;
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;
    let reason = outcome.status_reason.as_deref().unwrap_or_default();
    assert_eq!(outcome.status, RunStatus::CouldNotProbe, "{reason}");
    assert_eq!(outcome.exit_code, probity::exit::COULD_NOT_PROBE);
    assert!(reason.starts_with("case `support/"), "{reason}");
    assert!(
        reason.contains("fewer than the 6 needed (min_samples)")
            && reason.contains("malformed_response"),
        "{reason}"
    );
    assert_eq!(
        store.run(&outcome.run_id).unwrap().status,
        "could_not_probe"
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_cancelled_run_is_stored_as_cancelled_and_never_passes() {
    // One slow slot and a cancel part-way: what came back is summarised, the run is stored
    // as cancelled with its exit code 130, and its verdict is not a pass.
    let profile = Profile {
        latency: Latency::fixed(Duration::from_millis(60)),
        ttft: Latency::fixed(Duration::from_millis(30)),
        ..Profile::default()
    };
    let (project, sim) = Project::with_sim("samples: 10\nconcurrency: 1\n", profile).await;
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let later = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        later.cancel();
    });
    let outcome = probity::pipeline::run_probe(
        &probe,
        &store,
        &RunOptions::default(),
        &probity::pipeline::Quiet,
        cancel,
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, RunStatus::Interrupted);
    assert_eq!(outcome.status.as_str(), "cancelled");
    assert_eq!(outcome.exit_code, probity::exit::INTERRUPTED);
    assert_ne!(outcome.verdict, probity::compare::Verdict::Pass);
    let f = &outcome.primary().unwrap().summary.figures;
    assert!(f.answered > 0 && f.samples < 40, "{f:?}");
    let reason = outcome.status_reason.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with(&format!("cancelled after {} of 40 samples", f.samples)),
        "{reason}"
    );
    let record = store.run(&outcome.run_id).unwrap();
    assert_eq!(record.status, "cancelled");
    let doc = run_document(&outcome);
    assert_eq!(doc["status"], "cancelled");
    assert_eq!(doc["exit_code"], 130);
    assert_eq!(doc["summary"]["answered"], f.answered);
    sim.shutdown().await.unwrap();
}
