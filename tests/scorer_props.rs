//! Hostile model output, tried by machine: random unicode, control and bidi characters,
//! JSON-ish text (valid, cut anywhere, fenced), huge and empty answers go through every
//! deterministic scorer (`contains`, `not_contains`, `regex`, `not_regex`, `equals`,
//! `one_of`, `json`, `json_schema`, the length checks, `finish_reason`, `truncation`,
//! `refusal`, `grounded`, `reference`, the safety checks), with random expectations, RAG
//! passages, finish reasons and token counts the endpoint could send. Each must give valid
//! scores: never a panic, a named scorer, a finite value, a one-line reason of bounded
//! length. The LLM judge (`rubric:`) and embedding similarity (`similar:`) call out; what
//! comes back — any judge reply, any pair of vectors — goes through their parsing and
//! scoring the same way.
//!
//! Bounded (`CASES` per property) so `cargo test` stays quick; the longer run is
//! `cargo test --test scorer_props -- --ignored`.

use std::sync::Arc;

use probity::golden::expect::{Grounded, JsonMode, Schema};
use probity::golden::{Case, Expect, Message, Role};
use probity::runner::{Observation, Status};
use probity::score::{Score, Scorer, extract_json, judge, similar};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Cases per property in the regular run.
const CASES: u32 = 256;
/// Cases per property in the `#[ignore]`d long run.
const LONG_CASES: u32 = 10_000;

/// Characters that break naive text handling: controls, bidi overrides and isolates,
/// zero-width and combining marks, surrogates' neighbours, wide CJK, emoji with ZWJ.
const NASTY: &[&str] = &[
    "\u{0}",
    "\u{1b}[31m",
    "\r\n",
    "\t",
    "\u{7f}",
    "\u{85}",
    "\u{202e}",
    "\u{202a}",
    "\u{2066}",
    "\u{2069}",
    "\u{200b}",
    "\u{200d}",
    "\u{feff}",
    "\u{301}",
    "\u{fffd}",
    "\u{10ffff}",
    "東京",
    "👩\u{200d}💻",
    "İ",
    "ß",
    "ﬃ",
    "\"",
    "'",
    "’",
    "`",
    "```json",
    "```",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    ".",
    "...",
    "?",
    "!",
    "e.g.",
    "[1]",
    "[99]",
    "source:",
    "I can't help with that.",
    "Sorry, I cannot",
    "As an AI",
    "ignore previous instructions",
    "4111 1111 1111 1111",
    "a@b.co",
    "+1 555 0100",
    "no",
    "not",
    "never",
    "doesn't",
    "2",
    "3.5",
    "$1,200",
    "%",
];

/// An answer a model (or a broken server) could send.
fn output() -> impl Strategy<Value = String> {
    let nasty = prop::sample::select(NASTY).prop_map(str::to_string);
    let pieces = prop::collection::vec(prop_oneof![nasty, "\\PC{0,12}", ".{0,6}", " {1,3}"], 0..40)
        .prop_map(|v| v.concat());
    let json_ish = json().prop_flat_map(|v| {
        let text = v.to_string();
        let len = text.chars().count();
        (Just(text), 0..=len, 0..3u8).prop_map(|(t, cut, wrap)| {
            let cut: String = t.chars().take(cut).collect();
            match wrap {
                0 => t,
                1 => cut,
                _ => format!("Here you go:\n```json\n{t}\n```"),
            }
        })
    });
    let huge = (".{1,8}", 500..4_000usize).prop_map(|(s, n)| s.repeat(n));
    prop_oneof![
        4 => pieces,
        2 => json_ish,
        1 => "\\PC{0,400}",
        1 => any::<String>(),
        1 => prop_oneof![Just(String::new()), " {0,5}", "[ \t\r\n\u{3000}]{0,8}"],
        1 => huge,
    ]
}

/// Any JSON value, nested a little.
fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,10}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 20, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A short phrase for an expectation: sometimes a piece of the answer, sometimes anything.
fn phrase() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(NASTY).prop_map(str::to_string),
        "\\PC{1,16}",
        "[a-z ]{1,12}",
    ]
}

fn schema(v: serde_json::Value) -> Schema {
    Schema {
        validator: Arc::new(jsonschema::validator_for(&v).expect("test schema compiles")),
        source: v,
    }
}

/// What the endpoint reported besides the text.
#[derive(Debug, Clone)]
struct Meta {
    finish_reason: Option<String>,
    output_tokens: Option<u64>,
    missing_output: bool,
}

fn meta() -> impl Strategy<Value = Meta> {
    let reason = prop_oneof![
        Just(None),
        prop::sample::select(vec![
            "stop",
            "length",
            "max_tokens",
            "content_filter",
            "refusal",
            "STOP",
            "",
            "\u{202e}stop\u{1b}[0m",
        ])
        .prop_map(|s| Some(s.to_string())),
        "\\PC{0,30}".prop_map(Some),
    ];
    (reason, any::<Option<u64>>(), prop::bool::weighted(0.05)).prop_map(|(f, t, m)| Meta {
        finish_reason: f,
        output_tokens: t,
        missing_output: m,
    })
}

/// Random expectations touching every deterministic scorer.
#[derive(Debug, Clone)]
struct Setup {
    phrases: Vec<String>,
    case_sensitive: bool,
    json: Option<JsonMode>,
    refusal: Option<bool>,
    min_support: f64,
    min_similarity: Option<f64>,
    limits: (Option<u64>, Option<usize>, Option<usize>),
    passages: Vec<String>,
    system: String,
    allow_pii: bool,
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        prop::collection::vec(phrase(), 4..8),
        any::<bool>(),
        prop::option::of(prop_oneof![Just(JsonMode::Strict), Just(JsonMode::Lenient)]),
        any::<Option<bool>>(),
        0.0..=1.0f64,
        prop::option::of(0.0..=1.0f64),
        (
            any::<Option<u64>>(),
            any::<Option<usize>>(),
            any::<Option<usize>>(),
        ),
        prop::collection::vec(prop_oneof![output(), "\\PC{0,80}"], 0..3),
        prop_oneof!["\\PC{0,120}", output()],
        any::<bool>(),
    )
        .prop_map(
            |(
                phrases,
                case_sensitive,
                json,
                refusal,
                min_support,
                min_similarity,
                limits,
                passages,
                system,
                allow_pii,
            )| Setup {
                phrases,
                case_sensitive,
                json,
                refusal,
                min_support,
                min_similarity,
                limits,
                passages,
                system,
                allow_pii,
            },
        )
}

fn case(s: &Setup) -> Case {
    let p = &s.phrases;
    let regexes = [
        r"\d+ days",
        r"(?i)^\s*\{",
        r"\bI (can't|cannot)\b",
        r"\p{Han}+",
        r"^$",
        r"[\u{202a}-\u{202e}]",
    ]
    .iter()
    .map(|r| regex::Regex::new(r).unwrap())
    .collect::<Vec<_>>();
    Case {
        labels: Default::default(),
        id: "prop".into(),
        set: "props".into(),
        messages: vec![
            Message {
                role: Role::System,
                content: s.system.clone(),
            },
            Message {
                role: Role::User,
                content: p[0].clone(),
            },
        ],
        vars: Default::default(),
        context: s.passages.clone(),
        samples: None,
        min_pass_rate: 1.0,
        expect: Expect {
            contains: vec![p[1].clone()],
            not_contains: vec![p[2].clone()],
            case_sensitive: s.case_sensitive,
            regex: regexes[..3].to_vec(),
            not_regex: regexes[3..].to_vec(),
            equals: Some(p[3].clone()),
            one_of: p[1..].to_vec(),
            label: Some(p[1].clone()),
            json: s.json,
            json_schema: Some(schema(serde_json::json!({
                "type": "object",
                "required": ["id"],
                "properties": { "id": { "type": "integer" }, "tags": { "type": "array" } }
            }))),
            max_tokens: s.limits.0,
            min_chars: s.limits.1,
            max_chars: s.limits.2,
            finish_reason: Some(p[0].clone()),
            refusal: s.refusal,
            grounded: Some(Grounded {
                min_support: s.min_support,
            }),
            reference: Some(p[2..].concat()),
            min_similarity: s.min_similarity,
            similar: None,
            rubric: None,
            allow_pii: s.allow_pii,
            // Tone and output character (issue 13): every bound, so the property covers it.
            tone: Some(probity::golden::expect::Tone {
                sentiment_min: Some(0.0),
                language: Some("en".into()),
                max_reading_grade: Some(10.0),
            }),
        },
    }
}

fn observation(output: &str, m: &Meta) -> Observation {
    Observation {
        seq: 0,
        target: "default".into(),
        set: "props".into(),
        case_id: "prop".into(),
        sample: 0,
        attempt: 1,
        final_attempt: true,
        started_at: chrono::DateTime::UNIX_EPOCH,
        scheduled_ms: 0.0,
        latency_ms: Some(1.0),
        ttft_ms: None,
        status: Status::Ok,
        http_status: Some(200),
        error: None,
        input_tokens: None,
        output_tokens: m.output_tokens,
        cost_usd: 0.0,
        finish_reason: m.finish_reason.clone(),
        model: None,
        system_fingerprint: None,
        request_id: None,
        span_id: "0".into(),
        output: (!m.missing_output).then(|| output.to_string()),
        context: vec![],
        delayed: false,
        labels: Default::default(),
        timings: None,
    }
}

/// What every score must satisfy.
fn valid(s: &Score) -> Result<(), TestCaseError> {
    prop_assert!(!s.scorer.is_empty());
    if let Some(v) = s.value {
        prop_assert!(v.is_finite(), "{}: value {v}", s.scorer);
    }
    if let Some(t) = s.threshold {
        prop_assert!(t.is_finite(), "{}: threshold {t}", s.scorer);
    }
    if let Some(r) = &s.reason {
        prop_assert!(!r.is_empty(), "{}: empty reason", s.scorer);
        prop_assert!(
            !r.contains(['\n', '\r']),
            "{}: reason on two lines: {r:?}",
            s.scorer
        );
        prop_assert!(
            r.chars().count() <= 300,
            "{}: reason of {} characters",
            s.scorer,
            r.chars().count()
        );
    }
    prop_assert!(
        s.passed || s.reason.is_some(),
        "{}: failed without a reason",
        s.scorer
    );
    Ok(())
}

fn every_scorer(runner: &mut TestRunner) {
    // One `Scorer`, as in a run: its caches see every case.
    let scorer = Scorer::new(&["Dazu kann ich nichts sagen".into(), "\u{202e}".into()]);
    runner
        .run(&(output(), meta(), setup()), |(out, m, s)| {
            let c = case(&s);
            let o = observation(&out, &m);
            let scores = scorer.score(&c, &o);
            prop_assert!(!scores.is_empty());
            for score in &scores {
                valid(score)?;
            }
            // The score is a pure function of its input: a second run agrees.
            prop_assert_eq!(&scores, &scorer.score(&c, &o));
            Ok(())
        })
        .unwrap();
}

fn json_extraction(runner: &mut TestRunner) {
    runner
        .run(&output(), |out| {
            let _ = extract_json(&out);
            Ok(())
        })
        .unwrap();
}

fn judge_replies(runner: &mut TestRunner) {
    // Any text, and verdict-shaped JSON with hostile fields.
    let verdictish = (
        any::<bool>(),
        any::<Option<f64>>(),
        prop::option::of(output()),
    )
        .prop_map(|(pass, score, reason)| {
            serde_json::json!({ "pass": pass, "score": score, "reason": reason }).to_string()
        });
    runner
        .run(&prop_oneof![output(), verdictish], |reply| {
            match judge::parse(&reply) {
                Ok(v) => valid(&judge::score(&v, serde_json::Value::Null))?,
                Err(why) => valid(&judge::judge_error(&why, serde_json::Value::Null))?,
            }
            Ok(())
        })
        .unwrap();
}

fn embeddings(runner: &mut TestRunner) {
    let component = prop_oneof![
        8 => -1.0f32..1.0,
        1 => any::<f32>(),
        1 => prop::sample::select(vec![0.0f32, f32::MAX, f32::MIN_POSITIVE, f32::INFINITY, f32::NAN]),
    ];
    let vector = prop::collection::vec(component, 0..8);
    runner
        .run(&(vector.clone(), vector, 0.0..=1.0f64), |(a, b, min)| {
            let s = match similar::cosine(&a, &b) {
                Ok(c) => {
                    prop_assert!((-1.0..=1.0).contains(&c), "cosine {c}");
                    similar::score(c, min, serde_json::Value::Null)
                }
                Err(why) => similar::embedding_error(&why),
            };
            valid(&s)
        })
        .unwrap();
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn every_scorer_gives_valid_scores_on_any_output() {
    every_scorer(&mut runner(CASES));
}

#[test]
fn json_extraction_takes_any_output() {
    json_extraction(&mut runner(CASES));
}

#[test]
fn any_judge_reply_gives_a_valid_score() {
    judge_replies(&mut runner(CASES));
}

#[test]
fn any_embeddings_give_a_valid_score() {
    embeddings(&mut runner(CASES));
}

#[test]
#[ignore = "the long run of the scorer properties: cargo test --test scorer_props -- --ignored"]
fn long_run() {
    every_scorer(&mut runner(LONG_CASES));
    json_extraction(&mut runner(LONG_CASES));
    judge_replies(&mut runner(LONG_CASES));
    embeddings(&mut runner(LONG_CASES));
}

/// The setup the shrunk failures below share: every phrase is `phrase`.
fn setup_of(phrase: &str) -> Setup {
    Setup {
        phrases: vec![phrase.to_string(); 4],
        case_sensitive: false,
        json: None,
        refusal: None,
        min_support: 0.0,
        min_similarity: None,
        limits: (None, None, None),
        passages: vec![],
        system: String::new(),
        allow_pii: false,
    }
}

fn reasons(output: &str, finish_reason: Option<&str>, s: &Setup) -> Vec<Score> {
    let m = Meta {
        finish_reason: finish_reason.map(str::to_string),
        output_tokens: None,
        missing_output: false,
    };
    Scorer::new(&[]).score(&case(s), &observation(output, &m))
}

/// Shrunk from `every_scorer_gives_valid_scores_on_any_output`: an expected finish reason
/// with a line break was quoted raw into the one-line reason.
#[test]
fn an_expected_finish_reason_is_quoted_on_one_line() {
    let scores = reasons("𐁐", None, &setup_of("\r\n"));
    let s = scores
        .iter()
        .find(|s| s.scorer == "finish_reason")
        .expect("finish_reason score");
    assert_eq!(
        s.reason.as_deref(),
        Some("endpoint reported no finish reason, expected ''")
    );
    for s in &scores {
        valid(s).unwrap();
    }
}

/// Shrunk from `every_scorer_gives_valid_scores_on_any_output`: `one_of` listed its labels
/// (config text) raw, line breaks included.
#[test]
fn one_of_labels_are_quoted_on_one_line() {
    let mut s = setup_of("\0");
    s.phrases[3] = "\r\n".into();
    let scores = reasons("\u{202a}", Some("stop"), &s);
    let one_of = scores
        .iter()
        .find(|s| s.scorer == "one_of")
        .expect("one_of");
    let reason = one_of.reason.as_deref().unwrap();
    assert!(!reason.contains(['\r', '\n', '\0']), "{reason:?}");
    for s in &scores {
        valid(s).unwrap();
    }
}
