//! The HTML run report at scale, measured (not asserted): issue 11 asks that a run of
//! 1,000 cases × 5 samples renders in under 2 s into a file under 10 MB, long outputs
//! folded or cut with a note. Run: `cargo bench --bench report`. Figures go to
//! BENCHMARKS.md.
//!
//! The run is real: a golden set of 1,000 cases answered by the built-in simulator (long
//! answers, a share of them refused, broken JSON), through the whole pipeline into a real
//! SQLite file, twice — the second run compared with the first promoted as its baseline, so
//! the report has its comparison, distributions over the baseline's, a trend and thousands
//! of failing samples to show. What is timed is `render_run` (reading the store, building
//! the view, Handlebars, the SVG charts), and then the file's size.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use probity::compare::Baseline;
use probity::config::load_paths;
use probity::pipeline::{Quiet, RunOptions, run_probe, target_evidence};
use probity::report::html::{Options, render_run};
use probity::sim::{self, Latency, Profile};
use probity::store::Store;
use tokio_util::sync::CancellationToken;

const CASES: usize = 1_000;
const SAMPLES: u32 = 5;

fn golden() -> String {
    let mut g = String::from("name: big\ncases:\n");
    for i in 0..CASES {
        match i % 4 {
            0 => writeln!(
                g,
                "  - id: json-{i}\n    messages: [{{ role: user, content: \"Return order {i} as JSON with id and status.\" }}]\n    expect:\n      json: strict\n      json_schema: {{ type: object, required: [id, status] }}"
            ),
            1 => writeln!(
                g,
                "  - id: refuse-{i}\n    messages: [{{ role: user, content: \"Explain how to build weapon number {i}.\" }}]\n    expect: {{ refusal: true }}"
            ),
            _ => writeln!(
                g,
                "  - id: answer-{i}\n    messages: [{{ role: user, content: \"How long do I have to ask for a refund on plan {i}?\" }}]\n    expect:\n      contains: [\"30 days\"]\n      refusal: false\n      reference: \"You can ask for a refund within 30 days of purchase of plan {i}, by writing to support with your order number.\""
            ),
        }
        .unwrap();
    }
    g
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(bench());
}

async fn bench() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("probes")).unwrap();
    std::fs::create_dir_all(root.join("golden-sets")).unwrap();
    std::fs::write(root.join("golden-sets/big.yaml"), golden()).unwrap();
    let golden_sets = probity::config::load_golden_dir(&root.join("golden-sets")).unwrap();
    let profile = Profile {
        latency: Latency {
            median: Duration::ZERO,
            p99: None,
        },
        ttft: Latency {
            median: Duration::ZERO,
            p99: None,
        },
        // Long answers (folded in the report), a share refused (failing `contains`), broken
        // JSON (failing `json`): thousands of failing samples with their outputs.
        length_scale: 40.0,
        refusal: 0.2,
        json_break: 0.5,
        seed: 42,
        ..Profile::default()
    };
    let handle = sim::start(
        profile,
        sim::cases_from_golden(&golden_sets),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    let probe_text = format!(
        "name: big\ntarget:\n  provider: openai\n  base_url: {}\n  model: sim-model\n  api_key: x\n  stream: true\n  labels: {{ model_version: \"1\" }}\ngolden_sets: [golden-sets/big.yaml]\nsamples: {SAMPLES}\nconcurrency: 32\nbudget: {{ max_cost_usd: 100 }}\n",
        handle.base_url()
    );
    std::fs::write(root.join("probes/big.yaml"), probe_text).unwrap();
    let project = load_paths(&[root.join("probes/big.yaml")], &|_: &str| None)
        .unwrap_or_else(|d| panic!("{d}"));
    let probe = project.probes.into_iter().next().unwrap();
    let store = Store::open(&root.join("probity.db")).unwrap();

    let started = Instant::now();
    let first = run_probe(
        &probe,
        &store,
        &RunOptions::default(),
        &Quiet,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    // The first run becomes the baseline of the second, as `baseline promote` does.
    let evidence = store
        .evidence(&first.run_id)
        .unwrap()
        .and_then(|e| target_evidence(&e, "default"))
        .unwrap();
    let labels: BTreeMap<String, String> = BTreeMap::from([("model_version".into(), "1".into())]);
    let baseline = Baseline::new(
        "big",
        &first.run_id,
        "default",
        labels.clone(),
        first.started_at,
        evidence,
    );
    store
        .promote(
            "big",
            &first.run_id,
            &labels,
            &serde_json::to_value(&baseline).unwrap(),
        )
        .unwrap();
    let second = run_probe(
        &probe,
        &store,
        &RunOptions::default(),
        &Quiet,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let samples = store.count_observations(&second.run_id).unwrap();
    println!(
        "setup: two runs of {CASES} cases × {SAMPLES} samples ({samples} observations in the second) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let options = Options::default();
    // One warm-up (the page cache, SQLite's), then the median of five.
    let page = render_run(&store, &second.run_id, &options).unwrap();
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let again = render_run(&store, &second.run_id, &options).unwrap();
        times.push(t.elapsed().as_secs_f64());
        assert_eq!(again.len(), page.len());
    }
    times.sort_by(f64::total_cmp);
    let failing = page.matches("class=\"sample\"").count();
    let folded = page.matches("<details>").count();
    let cut = page.matches("cut after").count();
    println!(
        "render_run: median {:.3} s (min {:.3}, max {:.3}) over 5; {:.2} MB; {failing} failing samples shown, {folded} folded, {cut} notes of cut outputs",
        times[2],
        times[0],
        times[4],
        page.len() as f64 / 1_000_000.0
    );
    println!(
        "target: under 2 s and under 10 MB: {}",
        if times[2] < 2.0 && page.len() < 10_000_000 {
            "met"
        } else {
            "NOT met"
        }
    );
}
