//! Hostile baseline files, tried by machine: random bytes, random JSON, and random mutations
//! of a real baseline (made from a simulator run, as `baseline promote` makes one) go into
//! the loader. Each must come back as an error that names the file, or as a baseline the
//! comparison can use — never a panic, and never one whose tests come out with p-values
//! outside [0, 1] (what a count that does not add up does to a chi-square).
//!
//! Bounded (`CASES` per property) so `cargo test` stays quick; the longer run is
//! `cargo test --test baseline_props -- --ignored`.

#[path = "support/project.rs"]
mod project;

use std::sync::OnceLock;

use probity::compare::{Baseline, BaselineError, compare};
use probity::config::Drift;
use probity::pipeline::{PipelineError, Quiet, RunOptions, run_probe};
use probity::sim::Profile;
use probity::store::Store;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Cases per property in the regular run.
const CASES: u32 = 256;
/// Cases per property in the `#[ignore]`d long run.
const LONG_CASES: u32 = 20_000;

/// A real baseline document: a simulator run with refusals and broken JSON, so every
/// section (rates, reservoirs, finish reasons, vocabulary, cases) has content.
fn real_baseline() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let profile = Profile {
                refusal: 0.2,
                json_break: 0.3,
                length_scale: 0.6,
                seed: 5,
                ..Profile::default()
            };
            let (project, sim) = project::Project::with_sim("samples: 6\n", profile).await;
            let probe = project.probe("k");
            let store = Store::open(&project.db()).unwrap();
            let outcome = project::run(&probe, &store, &RunOptions::default()).await;
            sim.shutdown().await.unwrap();
            let target = &outcome.targets[0];
            let b = Baseline::new(
                &outcome.probe,
                &outcome.run_id,
                &target.summary.target,
                Default::default(),
                outcome.started_at,
                target.evidence.clone(),
            );
            serde_json::to_string_pretty(&b).unwrap()
        })
    })
}

/// Loads `text` and checks the outcome is one of the two allowed.
fn check(text: &str) -> Result<(), TestCaseError> {
    match Baseline::from_json(text, "b.json") {
        Ok(b) => {
            // A baseline the loader accepts must make a sound comparison, both ways round.
            let real = Baseline::from_json(real_baseline(), "real.json").unwrap();
            for (base, cur) in [(&b.evidence, &real.evidence), (&real.evidence, &b.evidence)] {
                let c = compare(base, cur, None, &Drift::default(), "default", 7);
                for t in &c.tests {
                    prop_assert!(
                        t.p.is_nan() || (0.0..=1.0).contains(&t.p),
                        "{} p = {}",
                        t.metric,
                        t.p
                    );
                }
            }
        }
        Err(e) => {
            let msg = e.to_string();
            prop_assert!(msg.starts_with("b.json"), "{msg}");
            if let BaselineError::Invalid { field, .. } = &e {
                prop_assert!(field.starts_with("evidence"), "{msg}");
            }
        }
    }
    Ok(())
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Any JSON value, nested a few levels.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON pointers of every node of `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(x, format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                pointers(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// One edit of a document.
#[derive(Debug, Clone)]
enum Edit {
    Replace(Value),
    /// Adds to a number (or sets one where there was none).
    Nudge(i64),
    Scale(f64),
    Negate,
    Remove,
    Insert(String, Value),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        json().prop_map(Edit::Replace),
        (-3i64..=3).prop_map(Edit::Nudge),
        prop_oneof![Just(0.0), Just(1e300), Just(-1.0), Just(1000.0), Just(0.5)]
            .prop_map(Edit::Scale),
        Just(Edit::Negate),
        Just(Edit::Remove),
        (".{0,8}", json()).prop_map(|(k, v)| Edit::Insert(k, v)),
    ]
}

fn apply(doc: &mut Value, pointer: &str, edit: &Edit) {
    let (parent, last) = pointer.rsplit_once('/').unwrap_or(("", ""));
    if let Edit::Remove = edit {
        match doc.pointer_mut(parent) {
            Some(Value::Object(m)) => {
                m.remove(&last.replace("~1", "/").replace("~0", "~"));
            }
            Some(Value::Array(a)) => {
                if let Ok(i) = last.parse::<usize>()
                    && i < a.len()
                {
                    a.remove(i);
                }
            }
            _ => {}
        }
        return;
    }
    let Some(node) = doc.pointer_mut(pointer) else {
        return;
    };
    let number = node.as_f64();
    *node = match edit {
        Edit::Replace(v) => v.clone(),
        Edit::Nudge(d) => match node.as_u64() {
            Some(u) => Value::from(u as i128 as i64 + d),
            None => Value::from(number.unwrap_or(0.0) + *d as f64),
        },
        Edit::Scale(f) => Value::from(number.unwrap_or(1.0) * f),
        Edit::Negate => match node.as_u64() {
            Some(u) => Value::from(-(u.min(i64::MAX as u64) as i64)),
            None => Value::from(-number.unwrap_or(1.0)),
        },
        Edit::Insert(k, v) => {
            let mut n = node.clone();
            if let Value::Object(m) = &mut n {
                m.insert(k.clone(), v.clone());
            }
            n
        }
        Edit::Remove => unreachable!("handled above"),
    };
}

fn mutations(runner: &mut TestRunner) {
    let doc: Value = serde_json::from_str(real_baseline()).unwrap();
    let mut all = Vec::new();
    pointers(&doc, String::new(), &mut all);
    let strategy = prop::collection::vec((any::<prop::sample::Index>(), edit()), 1..4);
    runner
        .run(&strategy, |edits| {
            let mut d = doc.clone();
            for (i, e) in &edits {
                apply(&mut d, &all[i.index(all.len())], e);
            }
            check(&d.to_string())
        })
        .unwrap();
}

fn random_bytes(runner: &mut TestRunner) {
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..512), |bytes| {
            check(&String::from_utf8_lossy(&bytes))
        })
        .unwrap();
}

fn random_json(runner: &mut TestRunner) {
    // Random documents, and random evidence inside a valid envelope (so the loader gets
    // past `format` and `version`).
    let envelope = |e: Value| {
        let mut d: Value = serde_json::from_str(real_baseline()).unwrap();
        d["evidence"] = e;
        d
    };
    runner
        .run(&(json(), any::<bool>()), |(v, wrap)| {
            let d = if wrap { envelope(v) } else { v };
            check(&d.to_string())
        })
        .unwrap();
}

#[test]
fn the_real_baseline_loads() {
    let b = Baseline::from_json(real_baseline(), "real.json").unwrap();
    assert!(b.answered() >= 20, "{}", b.answered());
    assert!(!b.evidence.vocabulary.top.is_empty());
}

#[test]
fn mutated_real_baselines_are_refused_or_sound() {
    mutations(&mut runner(CASES));
}

#[test]
fn random_bytes_are_refused() {
    random_bytes(&mut runner(CASES));
}

#[test]
fn random_json_is_refused_or_sound() {
    random_json(&mut runner(CASES));
}

#[test]
#[ignore = "the long run of the baseline properties: cargo test --test baseline_props -- --ignored"]
fn long_run() {
    mutations(&mut runner(LONG_CASES));
    random_bytes(&mut runner(LONG_CASES));
    random_json(&mut runner(LONG_CASES));
}

/// A run whose probe points at a hand-edited baseline file stops with an error naming the
/// file and the field, before any comparison is made.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_refuses_a_corrupt_baseline_file() {
    let (project, sim) = project::Project::with_sim(
        "samples: 2\nbaseline: baselines/bot.json\n",
        Profile::default(),
    )
    .await;
    let mut doc: Value = serde_json::from_str(real_baseline()).unwrap();
    doc["evidence"]["rates"]["error"]["events"] = Value::from(10_000);
    let file = project.root().join("baselines/bot.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, doc.to_string()).unwrap();
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let err = run_probe(
        &probe,
        &store,
        &RunOptions::default(),
        &Quiet,
        CancellationToken::new(),
    )
    .await
    .err()
    .unwrap_or_else(|| panic!("the run stops"));
    let msg = err.to_string();
    assert!(
        matches!(err, PipelineError::Baseline(BaselineError::Invalid { .. })),
        "{msg}"
    );
    assert!(msg.contains("bot.json"), "{msg}");
    assert!(
        msg.contains("`evidence.rates.error.events` is 10000, more than its n"),
        "{msg}"
    );
    sim.shutdown().await.unwrap();
}

/// Shrunk from `mutated_real_baselines_are_refused_or_sound` before the loader checked
/// evidence: one vocabulary word counted once more than the file's `words` made the
/// vocabulary test subtract past zero (a panic in debug, a wrapped count in release).
#[test]
fn one_more_vocabulary_word_than_words_is_refused() {
    let mut doc: Value = serde_json::from_str(real_baseline()).unwrap();
    let top = doc["evidence"]["vocabulary"]["top"]
        .as_object_mut()
        .unwrap();
    let (word, n) = top.iter_mut().next().unwrap();
    let word = word.clone();
    *n = Value::from(n.as_u64().unwrap() + 1);
    let err = Baseline::from_json(&doc.to_string(), "b.json").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("b.json: `evidence.vocabulary.words` is "),
        "{word}: {msg}"
    );
    assert!(msg.contains("but top and other add up to"), "{msg}");
}
