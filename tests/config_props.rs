//! Hostile input, tried by machine: arbitrary YAML into `validate` — random documents, and
//! random mutations of the probes and golden sets this repository ships. Each must end in a
//! valid project or in diagnostics that each have a location in a file that was given
//! (`file:line:col`, a message), never a panic. Bounded (a few hundred cases per property,
//! seconds in all); `long_run` (`#[ignore]`d) runs many more.

use std::path::{Path, PathBuf};

use probity::config::{Diagnostics, load_paths, load_paths_without_secrets};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value};

/// Strings that mean something to some part of the configuration.
const WORDS: &[&str] = &[
    "",
    "name",
    "target",
    "targets",
    "provider",
    "openai",
    "anthropic",
    "http",
    "base_url",
    "model",
    "api_key",
    "stream",
    "params",
    "labels",
    "headers",
    "url",
    "method",
    "body",
    "response",
    "text",
    "context",
    "golden_sets",
    "samples",
    "min_samples",
    "concurrency",
    "rate_limit",
    "requests_per_second",
    "timeout",
    "retries",
    "max",
    "base_delay",
    "max_delay",
    "budget",
    "max_cost_usd",
    "pricing",
    "input_per_mtok",
    "output_per_mtok",
    "thresholds",
    "latency_p95",
    "error_rate",
    "pass_rate",
    "warning",
    "critical",
    "baseline",
    "latest",
    "none",
    "drift",
    "alpha",
    "min_effect",
    "critical_effect",
    "latency_ratio",
    "rate_delta",
    "divergence",
    "latency_floor",
    "store",
    "path",
    "redact",
    "retention_days",
    "judge",
    "refusal",
    "phrases",
    "alerts",
    "route",
    "default",
    "channels",
    "routes",
    "type",
    "slack",
    "webhook_url",
    "pagerduty",
    "routing_key",
    "email",
    "smtp",
    "to",
    "from",
    "webhook",
    "secret",
    "console",
    "cases",
    "id",
    "messages",
    "role",
    "user",
    "system",
    "assistant",
    "content",
    "expect",
    "contains",
    "not_contains",
    "regex",
    "json",
    "strict",
    "lenient",
    "json_schema",
    "one_of",
    "label",
    "grounded",
    "min_support",
    "similar",
    "reference",
    "min_cosine",
    "rubric",
    "max_tokens",
    "vars",
    "min_pass_rate",
    "schedule",
    "timezone",
    "jitter",
    "catch_up",
    "@every 30s",
    "*/10 * * * * *",
    "Europe/Berlin",
    "*/15 * * * *",
    "99 * * * *",
    "30s",
    "0s",
    "250ms",
    "1h 30m",
    "soon",
    "-1s",
    "99999999999999999999h",
    "${OPENAI_API_KEY}",
    "${UNSET}",
    "${",
    "$${x}",
    "https://${HOST}/v1",
    "http://127.0.0.1:9/v1",
    "http://[::1",
    "{{x}}",
    "{{#each}}",
    "{{",
    "[",
    "(?P<",
    "golden-sets/support.yaml",
    "golden-sets/triage.yaml",
    "../../etc",
    "/answer",
    "answer",
    "\u{202e}",
    "ünïcödé",
    "a\nb",
    "~1",
    "~0/",
    "NaN",
    "inf",
    "-0",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        proptest::sample::select(vec![
            0.0, -0.0, 1e-300, 1e300, -1.0, 0.5, 1.0, 1.5, 2.0, 1e-5, 1e7, 36501.0, 4e9, 1.8e19,
        ])
        .prop_map(Value::from),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        word().prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((word(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Values of every variable: set, empty, or a URL.
fn env(name: &str) -> Option<String> {
    match name.len() % 3 {
        0 => None,
        1 => Some(String::new()),
        _ => Some(format!("https://example.com/{name}")),
    }
}

const SERDE_FALLBACK: &[&str] = &[
    "invalid type:",
    "invalid value:",
    "invalid length",
    "missing field",
    "unknown field",
    "unknown variant",
    "data did not match",
];

/// Every diagnostic has a location in one of the given files.
fn check(result: Result<usize, Diagnostics>, files: &[PathBuf]) -> Result<(), TestCaseError> {
    let Err(d) = result else { return Ok(()) };
    prop_assert!(!d.is_empty(), "an error without any diagnostic");
    for diag in &d.0 {
        prop_assert!(diag.line >= 1 && diag.col >= 1, "{diag}");
        prop_assert!(!diag.message.is_empty(), "{diag}");
        // serde's own words mean a value got past the schema and failed to deserialise,
        // reported at the top of the file instead of at the value.
        prop_assert!(
            !SERDE_FALLBACK.iter().any(|w| diag.message.starts_with(w)),
            "unlocated: {diag}"
        );
        prop_assert!(
            files
                .iter()
                .any(|f| diag.file == *f || diag.file.starts_with(f)),
            "{diag} is in none of {files:?}"
        );
    }
    Ok(())
}

/// Writes `files` into a fresh project and validates it, looking variables up or not
/// (`--no-secrets`).
fn validate(files: &[(String, String)], no_secrets: bool) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        written.push(path);
    }
    let paths: Vec<PathBuf> = ["probes", "golden-sets"]
        .iter()
        .map(|d| dir.path().join(d))
        .filter(|p| p.is_dir())
        .collect();
    let mut allowed = written.clone();
    allowed.extend(paths.iter().cloned());
    let result = if no_secrets {
        load_paths_without_secrets(&paths)
    } else {
        load_paths(&paths, &env)
    };
    check(result.map(|p| p.probes.len()), &allowed)
}

fn yaml(value: &Value) -> String {
    serde_norway::to_string(value).unwrap_or_default()
}

/// The shipped examples, by their path in the project.
fn examples() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["probes", "golden-sets"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let name = format!("{dir}/{}", f.file_name().unwrap().to_string_lossy());
            out.push((name, std::fs::read_to_string(&f).unwrap()));
        }
    }
    out
}

/// One change to a parsed document: a node replaced, a key removed or added.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, Value),
    /// A scalar swapped for another: the densest way into the semantic checks.
    ReplaceLeaf(usize, Value),
    Remove(usize),
    Insert(usize, String, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        (any::<usize>(), leaf()).prop_map(|(i, v)| Mutation::ReplaceLeaf(i, v)),
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), word(), value()).prop_map(|(i, k, v)| Mutation::Insert(i, k, v)),
    ]
}

/// The nodes of a value, depth first, as JSON pointers.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pointers(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(item, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

fn apply(doc: &mut Value, m: &Mutation) {
    let mut all = Vec::new();
    pointers(doc, String::new(), &mut all);
    let pick = |i: usize| all[i % all.len()].clone();
    match m {
        Mutation::Replace(i, v) => {
            if let Some(node) = doc.pointer_mut(&pick(*i)) {
                *node = v.clone();
            }
        }
        Mutation::ReplaceLeaf(i, v) => {
            let leaves: Vec<&String> = all
                .iter()
                .filter(|p| {
                    doc.pointer(p)
                        .is_some_and(|n| !n.is_object() && !n.is_array())
                })
                .collect();
            if let Some(p) = leaves.get(i % leaves.len().max(1)).map(|p| p.to_string()) {
                if let Some(node) = doc.pointer_mut(&p) {
                    *node = v.clone();
                }
            }
        }
        Mutation::Remove(i) => {
            let p = pick(*i);
            if let Some((parent, key)) = p.rsplit_once('/') {
                let key = key.replace("~1", "/").replace("~0", "~");
                match doc.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&key);
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(i) = key.parse::<usize>() {
                            if i < items.len() {
                                items.remove(i);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Mutation::Insert(i, k, v) => match doc.pointer_mut(&pick(*i)) {
            Some(Value::Object(map)) => {
                map.insert(k.clone(), v.clone());
            }
            Some(Value::Array(items)) => items.push(v.clone()),
            _ => {}
        },
    }
}

/// A change to the text itself: bytes cut, inserted or a line duplicated.
#[derive(Debug, Clone)]
enum Edit {
    Cut(usize, usize),
    Insert(usize, String),
    DuplicateLine(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let snippet = prop_oneof![
        proptest::sample::select(vec![
            ":",
            "- ",
            "  ",
            "\t",
            "{",
            "}",
            "[",
            "]",
            "&a ",
            "*a",
            "!!binary ",
            "? ",
            "|",
            ">",
            "'",
            "\"",
            "#",
            ".nan",
            ".inf",
            "-.inf",
            "0x1F",
            "1e999",
            "~",
            "<<: *a\n",
            "\n",
            "---\n",
            "...\n",
            "%YAML 1.2\n",
        ])
        .prop_map(str::to_string),
        word(),
    ];
    prop_oneof![
        (any::<usize>(), 0usize..20).prop_map(|(a, n)| Edit::Cut(a, n)),
        (any::<usize>(), snippet).prop_map(|(a, s)| Edit::Insert(a, s)),
        any::<usize>().prop_map(Edit::DuplicateLine),
    ]
}

fn edit_text(text: &str, e: &Edit) -> String {
    let boundary = |i: usize| {
        let mut i = i % (text.len() + 1);
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    match e {
        Edit::Cut(a, n) => {
            let a = boundary(*a);
            let b = boundary(a + n);
            let b = b.max(a);
            format!("{}{}", &text[..a], &text[b..])
        }
        Edit::Insert(a, s) => {
            let a = boundary(*a);
            format!("{}{s}{}", &text[..a], &text[a..])
        }
        Edit::DuplicateLine(i) => {
            let lines: Vec<&str> = text.lines().collect();
            if lines.is_empty() {
                return text.to_string();
            }
            let i = i % lines.len();
            let mut out: Vec<&str> = lines[..=i].to_vec();
            out.extend(&lines[i..]);
            out.join("\n")
        }
    }
}

/// How many cases each property runs in `cargo test`: the example-based ones load seven
/// files a case (~30 ms in a debug build), so they run fewer.
const DOCUMENT_CASES: u32 = 256;
const EXAMPLE_CASES: u32 = 64;

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

fn random_documents(cases: u32) {
    runner(cases)
        .run(
            &(value(), value(), any::<bool>(), any::<bool>()),
            |(probe, golden, as_alerts, no_secrets)| {
                let probe_name = if as_alerts {
                    "probes/alerts.yaml"
                } else {
                    "probes/p.yaml"
                };
                validate(
                    &[
                        (probe_name.to_string(), yaml(&probe)),
                        ("golden-sets/support.yaml".to_string(), yaml(&golden)),
                    ],
                    no_secrets,
                )
            },
        )
        .unwrap();
}

fn mutated_examples(cases: u32) {
    let shipped = examples();
    runner(cases)
        .run(
            &(
                0..shipped.len(),
                proptest::collection::vec(mutation(), 1..4),
                any::<bool>(),
            ),
            |(which, mutations, no_secrets)| {
                let mut files = shipped.clone();
                let mut doc: Value = serde_norway::from_str(&files[which].1).unwrap();
                for m in &mutations {
                    apply(&mut doc, m);
                }
                files[which].1 = yaml(&doc);
                validate(&files, no_secrets)
            },
        )
        .unwrap();
}

fn edited_examples(cases: u32) {
    let shipped = examples();
    runner(cases)
        .run(
            &(
                0..shipped.len(),
                proptest::collection::vec(edit(), 1..4),
                any::<bool>(),
            ),
            |(which, edits, no_secrets)| {
                let mut files = shipped.clone();
                for e in &edits {
                    files[which].1 = edit_text(&files[which].1, e);
                }
                validate(&files, no_secrets)
            },
        )
        .unwrap();
}

#[test]
fn random_documents_validate_or_fail_with_a_location() {
    random_documents(DOCUMENT_CASES);
}

#[test]
fn mutated_examples_validate_or_fail_with_a_location() {
    mutated_examples(EXAMPLE_CASES);
}

#[test]
fn edited_example_text_validates_or_fails_with_a_location() {
    edited_examples(EXAMPLE_CASES);
}

#[test]
#[ignore = "long run: cargo test --test config_props -- --ignored"]
fn long_run() {
    // PROBITY_PROP_CASES=N sets the cases per property (default 5000).
    let cases = std::env::var("PROBITY_PROP_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000);
    random_documents(cases);
    mutated_examples(cases);
    edited_examples(cases);
}
