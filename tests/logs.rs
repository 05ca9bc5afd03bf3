//! Structured logs (issue 12): `probity run --log-format json` against the simulator with
//! injected faults. Every stderr line is a JSON object (the command's own notes too); every
//! event of the run carries its run id and probe; every request event its case, sample and
//! traceparent, which match the stored observations (`probity export`); every failed
//! attempt is logged, successes only as sampled (deterministically, by traceparent);
//! prompts and outputs only with `--log-content`; hostile model text is escaped in both
//! formats.

#[path = "support/project.rs"]
mod project;

use std::collections::{BTreeMap, BTreeSet};

use probity::sim::{Errors, Profile};
use project::{PLACEHOLDER, Project, probity_in, start_sim, text};
use serde_json::Value;

const KEY: &str = "sk-test-LOGS-4242";

/// The simulator answers with the reference: this one carries what a hostile model could
/// send (an ANSI escape that would turn a terminal red, a bidi override, a forged line).
const GOLDEN: &str = r#"name: support
cases:
  - id: refund-window
    messages:
      - { role: system, content: "You are the support assistant of Acme." }
      - { role: user, content: "How long do I have to ask for a refund?" }
    expect:
      contains: ["30 days"]
      reference: "You can ask for a refund within 30 days of purchase."
  - id: hostile
    messages: [{ role: user, content: "Say something nasty to the terminal." }]
    expect:
      reference: "EVIL\u001b[31mRED \u202eREVERSED\nERROR forged=line"
  - id: shipping
    messages: [{ role: user, content: "How long does standard shipping take?" }]
    expect:
      contains: ["5 business days"]
      reference: "Standard shipping takes 3 to 5 business days."
"#;

const PROMPTS: [&str; 3] = [
    "How long do I have to ask for a refund?",
    "Say something nasty to the terminal.",
    "How long does standard shipping take?",
];

/// A project aimed at a simulator failing a third of its requests with a 500.
async fn faulty_project() -> (Project, probity::sim::SimHandle) {
    let probe = format!(
        "name: bot\ntarget:\n  provider: openai\n  base_url: {PLACEHOLDER}\n  model: sim-model\n  api_key: ${{PROBITY_TEST_KEY}}\n  stream: true\ngolden_sets: [golden-sets/support.yaml]\nsamples: 6\nconcurrency: 4\nretries: {{ max: 1, base_delay: 1ms, max_delay: 5ms }}\n"
    );
    let project = Project::with_files(&[
        ("probes/bot.yaml", &probe),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    let profile = Profile {
        errors: Errors {
            rate_500: 0.3,
            ..Errors::default()
        },
        seed: 7,
        ..Profile::default()
    };
    let sim = start_sim(&project.golden(), profile).await;
    project.aim(PLACEHOLDER, &sim.base_url());
    (project, sim)
}

async fn probity(project: &Project, args: &[&str]) -> std::process::Output {
    probity_in(project.root(), &[("PROBITY_TEST_KEY", KEY)], args).await
}

/// Every stderr line, parsed; a line that is not a JSON object fails the test.
fn json_lines(stderr: &[u8]) -> Vec<serde_json::Map<String, Value>> {
    text(stderr)
        .lines()
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => map,
            other => panic!("not a JSON object: {line:?} ({other:?})"),
        })
        .collect()
}

/// The stored observations of the latest run, by span id.
async fn observations(project: &Project) -> BTreeMap<String, Value> {
    let out = probity(project, &["export", "latest"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|o| o["span_id"] != "")
        .map(|o| (o["span_id"].as_str().unwrap().to_string(), o))
        .collect()
}

fn s<'a>(event: &'a serde_json::Map<String, Value>, key: &str) -> &'a str {
    event
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string `{key}` in {}", Value::Object(event.clone())))
}

fn is_request(event: &serde_json::Map<String, Value>) -> bool {
    event["target"] == "probity::request"
}

/// The span id of a well-formed traceparent of the run's trace.
fn span_of(traceparent: &str, trace_id: &str) -> String {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!((parts[0], parts[1], parts[3]), ("00", trace_id, "01"));
    assert_eq!(parts[2].len(), 16, "{traceparent}");
    parts[2].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_line_is_json_and_every_request_event_says_which_request() {
    let (project, sim) = faulty_project().await;
    let out = probity(
        &project,
        &[
            "run",
            "--log-format",
            "json",
            "--log-sample-successes",
            "1",
            "--format",
            "json",
        ],
    )
    .await;
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    let (run_id, trace_id) = (
        doc["run_id"].as_str().unwrap(),
        doc["trace_id"].as_str().unwrap(),
    );
    let events = json_lines(&out.stderr);
    assert!(!events.is_empty());
    for e in &events {
        assert!(e.contains_key("timestamp") && e.contains_key("level"));
        // The command's own lines (where the report went) are JSON too, outside the run.
        if e["target"] == "probity::note" {
            assert!(s(e, "message").contains(run_id), "{e:?}");
            continue;
        }
        assert_eq!(s(e, "run_id"), run_id);
        assert_eq!(s(e, "probe"), "bot");
    }
    assert!(events.iter().any(|e| e["target"] == "probity::note"));
    let stored = observations(&project).await;
    let requests: Vec<_> = events.iter().filter(|e| is_request(e)).collect();
    let mut logged_spans = BTreeSet::new();
    for e in &requests {
        let span = span_of(s(e, "traceparent"), trace_id);
        let obs = stored
            .get(&span)
            .unwrap_or_else(|| panic!("no stored observation for {span}"));
        assert_eq!(s(e, "case_id"), obs["case_id"]);
        assert_eq!(s(e, "set"), "support");
        assert_eq!(e["sample"], obs["sample"]);
        assert_eq!(e["attempt"], obs["attempt"]);
        match obs["status"].as_str().unwrap() {
            "ok" => assert_eq!(s(e, "message"), "request answered"),
            class => {
                assert_eq!(s(e, "error_class"), class);
                assert_eq!(e["http_status"], 500);
                assert!(s(e, "error").contains("HTTP 500"), "{e:?}");
                let final_attempt = obs["final_attempt"].as_bool().unwrap();
                assert_eq!(s(e, "level"), if final_attempt { "ERROR" } else { "WARN" });
            }
        }
        assert!(logged_spans.insert(span), "one event per attempt");
    }
    // At a sampling rate of 1 every attempt is logged: failed ones always, answered ones
    // all; and the faults did happen.
    assert_eq!(logged_spans.len(), stored.len());
    let failed = stored.values().filter(|o| o["status"] != "ok").count();
    assert!(failed >= 3, "a third of ~25 attempts fail: {failed}");
    let ends: Vec<_> = events
        .iter()
        .filter(|e| e["message"] == "run finished")
        .collect();
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0]["verdict"], doc["verdict"]);

    // No prompt and no output without --log-content.
    let raw = text(&out.stderr);
    for prompt in PROMPTS {
        assert!(!raw.contains(prompt), "a prompt was logged: {prompt}");
    }
    for obs in stored.values() {
        if let Some(output) = obs["output"].as_str() {
            assert!(!raw.contains(output), "an output was logged: {output}");
        }
    }
    assert!(!raw.contains("REVERSED") && !raw.contains("\"output\""));
    assert!(!raw.contains(KEY), "the API key was logged");
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_always_logged_and_successes_as_sampled() {
    let (project, sim) = faulty_project().await;
    let args = ["run", "--log-format", "json", "--format", "json"];

    // The default rate is 0: no success, every failure.
    let out = probity(&project, &args).await;
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let events = json_lines(&out.stderr);
    let stored = observations(&project).await;
    let failed: BTreeSet<&String> = stored
        .iter()
        .filter(|(_, o)| o["status"] != "ok")
        .map(|(span, _)| span)
        .collect();
    let logged: BTreeSet<String> = events
        .iter()
        .filter(|e| is_request(e))
        .map(|e| span_of(s(e, "traceparent"), doc["trace_id"].as_str().unwrap()))
        .collect();
    assert!(!failed.is_empty());
    assert_eq!(logged.iter().collect::<BTreeSet<_>>(), failed);
    assert!(!events.iter().any(|e| e["message"] == "request answered"));

    // At 0.5, exactly the answered attempts whose traceparent the rate picks: a replay of
    // the same requests would log the same ones.
    let mut half = args.to_vec();
    half.extend(["--log-sample-successes", "0.5"]);
    let out = probity(&project, &half).await;
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let trace_id = doc["trace_id"].as_str().unwrap();
    let stored = observations(&project).await;
    let expected: BTreeSet<String> = stored
        .iter()
        .filter(|(span, o)| {
            o["status"] == "ok" && probity::logs::sampled(&format!("00-{trace_id}-{span}-01"), 0.5)
        })
        .map(|(span, _)| span.clone())
        .collect();
    let answered: BTreeSet<String> = json_lines(&out.stderr)
        .iter()
        .filter(|e| e["message"] == "request answered")
        .map(|e| span_of(s(e, "traceparent"), trace_id))
        .collect();
    assert_eq!(answered, expected);
    let ok = stored.values().filter(|o| o["status"] == "ok").count();
    assert!(
        !answered.is_empty() && answered.len() < ok,
        "{} of {ok}",
        answered.len()
    );

    let bad = probity(&project, &["run", "--log-sample-successes", "1.5"]).await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("between 0 and 1"));
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn content_only_when_asked_and_hostile_text_stays_inert() {
    let (project, sim) = faulty_project().await;
    let out = probity(
        &project,
        &[
            "run",
            "--log-format",
            "json",
            "--log-content",
            "--log-sample-successes",
            "1",
            "--case",
            "hostile",
        ],
    )
    .await;
    let raw = text(&out.stderr);
    // The raw line holds neither the escape nor the override: a terminal showing the log
    // shows text. Parsed, the value is the model's output exactly.
    assert!(
        !raw.contains('\u{1b}') && !raw.contains('\u{202e}'),
        "{raw:?}"
    );
    let events = json_lines(&out.stderr);
    let answered: Vec<_> = events
        .iter()
        .filter(|e| e["message"] == "request answered")
        .collect();
    assert!(!answered.is_empty(), "{raw}");
    let stored = observations(&project).await;
    for e in &answered {
        assert_eq!(s(e, "prompt"), PROMPTS[1]);
        let output = s(e, "output");
        assert!(output.contains("EVIL\u{1b}[31mRED \u{202e}REVERSED\nERROR forged=line"));
        assert!(stored.values().any(|o| o["output"] == output));
    }

    // The text format escapes the same output for the terminal, on one line.
    let out = probity(
        &project,
        &[
            "run",
            "--log-content",
            "--log-sample-successes",
            "1",
            "--case",
            "hostile",
        ],
    )
    .await;
    let raw = text(&out.stderr);
    assert!(
        !raw.contains('\u{1b}') && !raw.contains('\u{202e}'),
        "{raw:?}"
    );
    let line = raw
        .lines()
        .find(|l| l.contains("request answered"))
        .unwrap_or_else(|| panic!("{raw}"));
    assert!(
        line.contains("run_id=") && line.contains("probe=bot"),
        "{line}"
    );
    assert!(line.contains("case_id=hostile") && line.contains("traceparent=00-"));
    assert!(
        line.contains(r#"EVIL\u{1b}[31mRED \u{202e}REVERSED\nERROR forged=line"#),
        "{line}"
    );
    assert!(!raw.lines().any(|l| l.starts_with("ERROR forged")));
    sim.shutdown().await.unwrap();
}
