//! Tone end to end: `expect.tone` in golden sets (validation with file:line:col, did-you-mean
//! and ISO code checks; set defaults merged key by key), and a real run against a local
//! endpoint answering chosen texts — the descriptors in the JSON document's
//! `summary.quality.tone`, `expect.tone` failing with its reason, and a comparison with a
//! cheerful English baseline flagging the sentiment drop of a glum German candidate.

#[path = "support/project.rs"]
mod project;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use probity::golden::load_golden_set;
use probity::pipeline::RunOptions;
use probity::store::Store;
use project::{Project, probity_in, text};
use serde_json::{Value, json};

fn load(yaml: &str) -> Result<probity::golden::GoldenSet, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tone.yaml");
    std::fs::write(&path, yaml).unwrap();
    load_golden_set(&path).map_err(|ds| {
        ds.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })
}

#[test]
fn expect_tone_is_validated_where_it_is_written() {
    let err = load(
        "name: t\ncases:\n  - id: a\n    messages: [{ role: user, content: hi }]\n    expect:\n      tone: { sentiment_mn: 0 }\n",
    )
    .unwrap_err();
    assert!(err.contains("tone.yaml:6:"), "{err}");
    assert!(err.contains("did you mean `sentiment_min`?"), "{err}");

    let err = load(
        "name: t\ncases:\n  - id: a\n    messages: [{ role: user, content: hi }]\n    expect:\n      tone:\n        language: eng\n        sentiment_min: 2\n        max_reading_grade: -1\n",
    )
    .unwrap_err();
    assert!(
        err.contains("tone.yaml:7:") && err.contains("unknown language code `eng`"),
        "{err}"
    );
    assert!(err.contains("did you mean `en`?"), "{err}");
    assert!(
        err.contains("tone.yaml:8:") && err.contains("must be between -1 and 1, found 2"),
        "{err}"
    );
    assert!(err.contains("tone.yaml:9:"), "{err}");

    let err = load(
        "name: t\nexpect:\n  tone: { language: xq }\ncases:\n  - id: a\n    messages: [{ role: user, content: hi }]\n",
    )
    .unwrap_err();
    assert!(
        err.contains("tone.yaml:3:") && err.contains("unknown language code `xq`"),
        "{err}"
    );
}

#[test]
fn set_defaults_apply_key_by_key() {
    let set = load(
        "name: t\nexpect:\n  tone: { language: en, max_reading_grade: 10 }\ncases:\n  - id: a\n    messages: [{ role: user, content: hi }]\n  - id: b\n    messages: [{ role: user, content: hi }]\n    expect: { tone: { language: de, sentiment_min: 0 } }\n",
    )
    .unwrap();
    let a = set.cases[0].expect.tone.clone().unwrap();
    assert_eq!(a.language.as_deref(), Some("en"));
    assert_eq!(a.max_reading_grade, Some(10.0));
    assert_eq!(a.sentiment_min, None);
    let b = set.cases[1].expect.tone.clone().unwrap();
    assert_eq!(b.language.as_deref(), Some("de"));
    assert_eq!(b.max_reading_grade, Some(10.0));
    assert_eq!(b.sentiment_min, Some(0.0));
    let none =
        load("name: t\ncases:\n  - id: a\n    messages: [{ role: user, content: hi }]\n").unwrap();
    assert!(none.cases[0].expect.tone.is_none());
}

/// An OpenAI-compatible endpoint answering the next of `answers`, in turn.
#[derive(Clone, Default)]
struct Answers {
    texts: Arc<Mutex<(Vec<String>, usize)>>,
}

impl Answers {
    fn set(&self, texts: &[&str]) {
        *self.texts.lock().unwrap() = (texts.iter().map(|t| t.to_string()).collect(), 0);
    }
}

async fn chat(State(a): State<Answers>, Json(_body): Json<Value>) -> Json<Value> {
    let content = {
        let mut g = a.texts.lock().unwrap();
        let (texts, i) = &mut *g;
        let t = texts[*i % texts.len()].clone();
        *i += 1;
        t
    };
    Json(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "tone-model",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42 }
    }))
}

async fn serve(answers: Answers) -> SocketAddr {
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(answers);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

const GOLDEN: &str = r#"name: support
expect:
  tone: { language: en }
cases:
  - id: warranty
    messages: [{ role: user, content: "What does the warranty cover?" }]
    expect:
      tone: { sentiment_min: 0, max_reading_grade: 12 }
  - id: shipping
    messages: [{ role: user, content: "How long does shipping take?" }]
"#;

const CHEERFUL: &[&str] = &[
    "Great question! The warranty covers manufacturing defects for two years, and we are happy to help you with a claim.",
    "Good news: standard shipping takes three to five business days, and you can track your parcel online.",
    "Thanks for asking! Our friendly team will gladly replace any item with a manufacturing defect within two years.",
];

const GLUM_GERMAN: &[&str] = &[
    "Leider deckt die Garantie keine Wasserschäden ab, und der Versand dauert oft sehr lange.",
    "Das ist ein schlechtes Problem. Der Versand ist langsam und die Lieferung kommt spät.",
    "Unfortunately this is terrible: the parcel was lost, the item was broken and nobody will help you.",
];

#[tokio::test(flavor = "multi_thread")]
async fn tone_in_the_document_expectation_failures_and_a_sentiment_drift() {
    let answers = Answers::default();
    answers.set(CHEERFUL);
    let addr = serve(answers.clone()).await;
    let probe = format!(
        "name: bot\ntarget:\n  provider: openai\n  base_url: http://{addr}/v1\n  model: tone-model\n  api_key: ${{PROBITY_TEST_KEY}}\n  stream: false\ngolden_sets: [golden-sets/support.yaml]\nsamples: 15\nconcurrency: 1\n"
    );
    let project = Project::with_files(&[
        ("probes/bot.yaml", &probe),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    let store = Store::open(&project.db()).unwrap();

    // The cheerful English baseline passes its tone bounds.
    let first = project::run(&project.probe("k"), &store, &RunOptions::default()).await;
    let doc = probity::report::json::run_document(&first);
    let tone = &doc["summary"]["quality"]["tone"];
    assert_eq!(tone["answers"], 30, "{tone}");
    let sentiment = tone["sentiment"]["value"].as_f64().unwrap();
    assert!(sentiment > 0.5, "{tone}");
    let ci = tone["sentiment"]["ci"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() <= sentiment && sentiment <= ci[1].as_f64().unwrap());
    assert_eq!(tone["languages"]["en"], 30, "{tone}");
    assert_eq!(tone["language_mismatch"]["value"], 0.0, "{tone}");
    // The set's default (`language: en`) covers both cases.
    assert_eq!(tone["expect_fail"]["n"], 30, "{tone}");
    assert_eq!(tone["expect_fail"]["count"], 0, "{tone}");
    assert!(
        tone["reading_grade"]["value"].as_f64().unwrap() > 3.0,
        "{tone}"
    );
    assert!(
        tone["exclaiming_answers"]["value"].as_f64().unwrap() > 0.0,
        "{tone}"
    );
    for key in [
        "hedging",
        "caps",
        "markdown",
        "list",
        "code_fence",
        "hedged_answers",
    ] {
        assert!(!tone[key].is_null(), "{key}: {tone}");
    }
    let warranty = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "warranty")
        .unwrap();
    assert_eq!(warranty["status"], "pass", "{warranty}");

    let out = probity_in(
        project.root(),
        &[("PROBITY_TEST_KEY", "k")],
        &["baseline", "promote", "latest"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // The candidate turns glum and German: `expect.tone` fails with its reasons and the
    // comparison flags the sentiment drop and the wrong-language answers.
    answers.set(GLUM_GERMAN);
    let second = project::run(&project.probe("k"), &store, &RunOptions::default()).await;
    let doc = probity::report::json::run_document(&second);
    let tone = &doc["summary"]["quality"]["tone"];
    assert!(tone["sentiment"]["value"].as_f64().unwrap() < 0.0, "{tone}");
    // Two answers in three are German, and the English one fails `sentiment_min: 0`.
    assert_eq!(tone["languages"]["de"], 20, "{tone}");
    assert_eq!(tone["language_mismatch"]["count"], 20, "{tone}");
    assert!(
        tone["expect_fail"]["count"].as_u64().unwrap() >= 20,
        "{tone}"
    );
    let warranty = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "warranty")
        .unwrap();
    assert_eq!(warranty["status"], "fail", "{warranty}");
    let reason = warranty["scores"]["tone"]["failing_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("language de, expected en") || reason.contains("sentiment -"),
        "{warranty}"
    );
    let reasons: Vec<String> = second.targets[0]
        .cases
        .iter()
        .filter_map(|c| c.failing_reason.clone())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("tone: ") && r.contains("language de, expected en")),
        "{reasons:?}"
    );

    let messages: Vec<&str> = second.findings.iter().map(|f| f.message.as_str()).collect();
    let sentiment = messages
        .iter()
        .find(|m| m.starts_with("median sentiment "))
        .unwrap_or_else(|| panic!("no sentiment finding in {messages:#?}"));
    assert!(sentiment.contains(" vs 0."), "{sentiment}");
    assert!(sentiment.contains(" in baseline"), "{sentiment}");
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("wrong-language answer rate ")),
        "{messages:#?}"
    );
    assert_ne!(second.exit_code, 0);
}
