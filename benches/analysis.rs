//! The analysis side of probity at scale, measured (not asserted): scoring 100,000 stored
//! observations (issue 3: under 2 s), comparing two runs of 100,000 observations each
//! (issue 4: under 1 s), and the statistics on their largest inputs — the bootstrap, the rank
//! tests and the Wilcoxon test on 100,000 values per side, which were wall-clock assertions in
//! `tests/stats_reference.rs` until they flaked on a loaded machine (issue 8). Run:
//! `cargo bench --bench analysis`. Figures go to BENCHMARKS.md.
//!
//! The observations are realistic: the example golden sets of this repository, answered the
//! way the simulator answers them (references with variation, JSON, labels, refusals, RAG
//! sentences), with latencies drawn from a log-normal, written to a real SQLite file.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use probity::compare::compare;
use probity::config::{Drift, load_golden_dir};
use probity::golden::Case;
use probity::runner::{Observation, Status};
use probity::score::Scorer;
use probity::stats::{self, Alternative, Statistic};
use probity::store::{NewRun, Store};
use probity::summary::Accumulator;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, LogNormal};

const N: usize = 100_000;

fn answer(case: &Case, rng: &mut StdRng, slower: f64) -> (String, f64) {
    let e = &case.expect;
    let text = if e.refusal == Some(true) {
        "I'm sorry, but I can't help with that request.".to_string()
    } else if let Some(label) = &e.label {
        label.clone()
    } else if e.json_schema.is_some() {
        format!(
            "{{\"id\": {}, \"status\": \"open\"}}",
            rng.random_range(1000..9999)
        )
    } else if let Some(r) = &e.reference {
        let openings = ["", "Sure — ", "Good question. ", "Happy to help: "];
        format!("{}{r}", openings[rng.random_range(0..openings.len())])
    } else if let Some(p) = case.context.first() {
        p.clone()
    } else {
        format!(
            "{} Let me know if you need anything else.",
            e.contains.join(" and ")
        )
    };
    let latency = LogNormal::new((300.0f64 * slower).ln(), 0.4)
        .map(|d| d.sample(rng))
        .unwrap_or(300.0);
    (text, latency)
}

fn observations(cases: &[Case], seed: u64, slower: f64) -> Vec<Observation> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..N)
        .map(|i| {
            let case = &cases[i % cases.len()];
            let (text, latency) = answer(case, &mut rng, slower);
            Observation {
                seq: i as u64,
                target: "default".into(),
                set: case.set.clone(),
                case_id: case.id.clone(),
                sample: (i / cases.len()) as u32,
                attempt: 1,
                final_attempt: true,
                started_at: Utc::now(),
                scheduled_ms: i as f64,
                delayed: false,
                latency_ms: Some(latency),
                ttft_ms: Some(latency * 0.3),
                status: Status::Ok,
                http_status: Some(200),
                error: None,
                input_tokens: Some(40),
                output_tokens: Some(text.len() as u64 / 4),
                cost_usd: 0.00002,
                finish_reason: Some("stop".into()),
                model: Some("sim".into()),
                system_fingerprint: None,
                request_id: Some(format!("req-{i}")),
                span_id: format!("{i:016x}"),
                output: Some(text),
                context: case.context.clone(),
                labels: Default::default(),
                timings: None,
            }
        })
        .collect()
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let out = f();
        best = best.min(start.elapsed());
        last = Some(out);
    }
    (best, last.expect("at least one run"))
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sets = load_golden_dir(&root.join("golden-sets")).expect("the example golden sets load");
    let cases: Vec<Case> = sets.iter().flat_map(|s| s.cases.iter().cloned()).collect();
    let dir = std::env::temp_dir().join(format!("probity-bench-{}", std::process::id()));
    let store = Store::open(&dir.join("bench.db")).expect("a store");
    let scorer = Scorer::new(&[]);

    // 1. Scoring 100,000 stored observations: read them back from SQLite and score each.
    store
        .begin_run(&NewRun {
            id: "a".into(),
            probe: "bench".into(),
            started_at: Utc::now(),
            targets: serde_json::json!([]),
            trace_id: "0".repeat(32),
        })
        .expect("a run");
    let writer = store.writer().expect("a writer");
    for o in observations(&cases, 1, 1.0) {
        writer.observation("a", o);
    }
    writer.finish().expect("written");
    let by_key: BTreeMap<(String, String), &Case> = cases
        .iter()
        .map(|c| ((c.set.clone(), c.id.clone()), c))
        .collect();
    let (read_and_score, scored) = best_of(3, || {
        let mut scores = 0usize;
        store
            .for_each_observation("a", |row| {
                let o = row.observation;
                if let Some(case) = by_key.get(&(o.set.clone(), o.case_id.clone())) {
                    scores += scorer.score(case, &o).len();
                }
                Ok::<(), probity::store::StoreError>(())
            })
            .expect("read");
        scores
    });
    let stored = observations(&cases, 1, 1.0);
    let (score_only, _) = best_of(3, || {
        stored
            .iter()
            .map(|o| by_key[&(o.set.clone(), o.case_id.clone())])
            .zip(&stored)
            .map(|(c, o)| scorer.score(c, o).len())
            .sum::<usize>()
    });

    // 2. Comparing two runs of 100,000 observations: fold each into evidence (what a run
    //    does as it goes), then run every drift test on the two.
    let current = observations(&cases, 2, 1.3);
    let fold = |obs: &[Observation], seed: u64| {
        let mut acc = Accumulator::new(&cases, &["default".to_string()], 1, seed);
        for o in obs {
            let case = by_key[&(o.set.clone(), o.case_id.clone())];
            let scores = scorer.score(case, o);
            acc.add(o, Some(&scores));
        }
        acc.finish(Duration::from_secs(60)).0.remove(0).evidence
    };
    let (fold_time, baseline) = best_of(1, || fold(&stored, 1));
    let current = fold(&current, 2);
    let (compare_time, comparison) = best_of(3, || {
        compare(&baseline, &current, None, &Drift::default(), "default", 7)
    });
    // `probity compare` reads the stored evidence: measure that round trip too.
    let (json_time, _) = best_of(3, || {
        let text = serde_json::to_string(&current).expect("json");
        serde_json::from_str::<probity::summary::Evidence>(&text).expect("evidence")
    });

    println!(
        "probity analysis benchmark ({N} observations per run, {} cases from golden-sets/)",
        cases.len()
    );
    println!("| measurement | time | target |");
    println!("|---|---:|---|");
    println!(
        "| read {N} stored observations and score them ({scored} scores) | {:.2} s | < 2 s |",
        read_and_score.as_secs_f64()
    );
    println!(
        "| score {N} observations in memory | {:.2} s | |",
        score_only.as_secs_f64()
    );
    println!(
        "| fold {N} observations into evidence (scoring included) | {:.2} s | (during the run) |",
        fold_time.as_secs_f64()
    );
    println!(
        "| compare two runs of {N} ({} tests, {} drift findings) | {:.3} s | < 1 s |",
        comparison.tests.len(),
        comparison.findings.len(),
        compare_time.as_secs_f64()
    );
    println!(
        "| load stored evidence (JSON round trip) | {:.3} s | |",
        json_time.as_secs_f64()
    );
    statistics();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The statistics on their largest inputs (100,000 values per side), with the bounds they
/// are meant to stay under in a release build: O(n log n) methods, where a quadratic one
/// (10^10 pairs) would take minutes.
fn statistics() {
    let scrambled = |step: u64, modulus: u64, offset: f64| -> Vec<f64> {
        (0..100_000u64)
            .map(|i| ((i * step) % modulus) as f64 + offset)
            .collect()
    };
    let (x, y) = (
        scrambled(7919, 100_003, 1.0),
        scrambled(104_729, 100_019, 1.1),
    );
    let (bootstrap, _) = best_of(3, || {
        stats::bootstrap_ratio(&x, &y, Statistic::Quantile(0.95), 2000, 0.95, 1)
    });
    let (even, odd) = (scrambled(7919, 100_000, 0.0), scrambled(4657, 100_000, 0.5));
    let (ranks, _) = best_of(3, || {
        (
            stats::mann_whitney_u(&even, &odd, Alternative::TwoSided).p,
            stats::ks_2samp(&even, &odd, Alternative::TwoSided).p,
            stats::cliffs_delta(&even, &odd),
        )
    });
    let (paired, _) = best_of(3, || {
        stats::wilcoxon_signed_rank(&x, &y, Alternative::TwoSided).p
    });
    let zeros = [0.0; 50];
    let (exact, _) = best_of(3, || {
        (0..300usize)
            .map(|k| {
                let d: Vec<f64> = (0..50usize)
                    .map(|j| {
                        let size = (j + 1) as f64;
                        if (k * 7 + j * 13) % 5 < 2 {
                            -size
                        } else {
                            size
                        }
                    })
                    .collect();
                stats::wilcoxon_signed_rank(&d, &zeros, Alternative::TwoSided).p
            })
            .sum::<f64>()
    });
    for (what, took, target) in [
        (
            "bootstrap p95 ratio, 2,000 resamples of 100,000 a side",
            bootstrap,
            "< 0.5 s",
        ),
        (
            "Mann–Whitney + KS + Cliff's delta, 100,000 a side",
            ranks,
            "< 1 s",
        ),
        ("Wilcoxon signed-rank, 100,000 pairs", paired, "< 0.5 s"),
        (
            "Wilcoxon exact branch, 300 calls of 50 pairs",
            exact,
            "< 0.5 s",
        ),
    ] {
        println!("| {what} | {:.3} s | {target} |", took.as_secs_f64());
    }
}
