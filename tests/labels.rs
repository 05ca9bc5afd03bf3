//! Cost by feature (issue 13), end to end through the binary against the simulator: labels
//! of the probe, a golden set and its cases are merged into every stored observation (the
//! case's win), `summary.by_label` adds up to the run's totals, only the keys listed under
//! `metrics.labels` become Prometheus labels (in the daemon's registry, lint-clean for
//! `promtool`, and in what a real Pushgateway receives), and a cost-per-request spike over
//! the probe's history is a trend finding that opens an incident.

#[path = "support/process.rs"]
mod process;
#[path = "support/project.rs"]
mod project;
#[path = "support/prometheus.rs"]
mod prometheus;
#[path = "support/pushgateway.rs"]
mod pushgateway;

use std::collections::BTreeMap;

use probity::metrics::{Metrics, to_prometheus_text};
use probity::pipeline::RunOptions;
use probity::sim::{Profile, SimHandle};
use probity::store::Store;
use project::{PLACEHOLDER, Project, probity_in, text};
use prometheus::promtool;
use pushgateway::Pushgateway;
use serde_json::Value;

const KEY: &str = "sk-test";

/// A set with its own `feature`; one case adds a `segment`, one overrides the feature.
const DOCS: &str = r#"name: docs
labels: { feature: document-analysis }
cases:
  - id: summary
    labels: { segment: enterprise }
    messages: [{ role: user, content: "What is the refund window of the Pro plan?" }]
    expect: { contains: ["30 days"] }
  - id: extract
    labels: { feature: extraction }
    messages: [{ role: user, content: "Return order 1234 as JSON with id and status." }]
    expect: { json: strict }
  - id: plain
    messages: [{ role: user, content: "How long does standard shipping take?" }]
"#;

/// A set without labels: its cases carry the probe's.
const CHAT: &str = r#"name: chat
cases:
  - id: refund
    messages: [{ role: user, content: "How long do I have to ask for a refund?" }]
    expect: { refusal: false }
"#;

fn probe_yaml(base_url: &str, pricing: (f64, f64), extra: &str) -> String {
    format!(
        "name: bot\ntarget:\n  provider: openai\n  base_url: {base_url}\n  model: sim-model\n  \
         api_key: ${{PROBITY_TEST_KEY}}\n  stream: true\n  labels: {{ model_version: \"7\" }}\n\
         golden_sets: [golden-sets/docs.yaml, golden-sets/chat.yaml]\nsamples: 3\n\
         pricing: {{ input_per_mtok: {}, output_per_mtok: {} }}\n\
         labels: {{ feature: support-chat, tier: free }}\n{extra}",
        pricing.0, pricing.1
    )
}

async fn project(extra: &str) -> (Project, SimHandle) {
    let project = Project::with_files(&[
        (
            "probes/bot.yaml",
            &probe_yaml(PLACEHOLDER, (0.15, 0.60), extra),
        ),
        ("golden-sets/docs.yaml", DOCS),
        ("golden-sets/chat.yaml", CHAT),
    ]);
    let sim = project::start_sim(&project.golden(), Profile::default()).await;
    project.aim(PLACEHOLDER, &sim.base_url());
    (project, sim)
}

async fn run_json(project: &Project, args: &[&str]) -> Value {
    let mut all = vec!["run", "bot", "--format", "json"];
    all.extend_from_slice(args);
    let out = probity_in(project.root(), &[("PROBITY_TEST_KEY", KEY)], &all).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn labels_flow_into_observations_the_summary_and_only_listed_keys_into_metrics() {
    let (project, _sim) = project("metrics: { labels: [feature] }\n").await;
    let gateway = Pushgateway::start().await;
    let doc = run_json(&project, &["--pushgateway", &gateway.url]).await;
    let run_id = doc["run_id"].as_str().expect("run id").to_string();

    // The store: every observation carries probe ∪ set ∪ case, the case's win.
    let store = Store::open(&project.db()).expect("open the store");
    let mut seen: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    store
        .for_each_observation(&run_id, |row| {
            let o = row.observation;
            seen.insert(format!("{}/{}", o.set, o.case_id), o.labels);
            Ok::<(), probity::store::StoreError>(())
        })
        .expect("read the observations");
    let expected = BTreeMap::from([
        (
            "docs/summary".to_string(),
            labels(&[
                ("feature", "document-analysis"),
                ("segment", "enterprise"),
                ("tier", "free"),
            ]),
        ),
        (
            "docs/extract".to_string(),
            labels(&[("feature", "extraction"), ("tier", "free")]),
        ),
        (
            "docs/plain".to_string(),
            labels(&[("feature", "document-analysis"), ("tier", "free")]),
        ),
        (
            "chat/refund".to_string(),
            labels(&[("feature", "support-chat"), ("tier", "free")]),
        ),
    ]);
    assert_eq!(seen, expected);

    // summary.by_label: a key every case carries adds up to the run's totals.
    let summary = &doc["summary"];
    let by = &summary["by_label"];
    for key in ["feature", "tier"] {
        let values = by[key].as_object().unwrap_or_else(|| panic!("{by}"));
        for field in ["requests", "samples", "answered"] {
            let sum: u64 = values.values().map(|v| u(&v[field])).sum();
            assert_eq!(sum, u(&summary[field]), "{key}.{field}: {by}");
        }
        for (field, total) in [
            ("input", &summary["tokens"]["input"]),
            ("output", &summary["tokens"]["output"]),
        ] {
            let sum: u64 = values.values().map(|v| u(&v["tokens"][field])).sum();
            assert_eq!(sum, u(total), "{key}.tokens.{field}");
        }
        let cost: f64 = values
            .values()
            .map(|v| v["cost_usd"].as_f64().unwrap())
            .sum();
        let total = summary["cost_usd"].as_f64().unwrap();
        assert!(
            total > 0.0 && (cost - total).abs() < 1e-12,
            "{cost} vs {total}"
        );
    }
    let features: Vec<&str> = by["feature"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        features,
        ["document-analysis", "extraction", "support-chat"]
    );
    // `segment` only where a case has it: one case × 3 samples.
    let enterprise = &by["segment"]["enterprise"];
    assert_eq!(u(&enterprise["samples"]), 3, "{by}");
    let docs = &by["feature"]["document-analysis"];
    assert_eq!(u(&docs["samples"]), 6);
    let per_request = docs["cost_per_request_usd"].as_f64().unwrap();
    let expected = docs["cost_usd"].as_f64().unwrap() / u(&docs["requests"]) as f64;
    assert!((per_request - expected).abs() < 1e-15);
    assert!(docs["latency_ms"]["p95"].as_f64().is_some(), "{docs}");
    assert!(docs["pass_rate"]["value"].as_f64().is_some(), "{docs}");
    assert_eq!(u(&by["feature"]["extraction"]["format_compliance"]["n"]), 3);

    // The Pushgateway got the per-feature series, and nothing of the unlisted keys.
    let scraped = gateway.metrics().await;
    let cost_line = scraped
        .lines()
        .find(|l| {
            l.starts_with("probity_labelled_cost_usd_total{")
                && l.contains("feature=\"document-analysis\"")
        })
        .unwrap_or_else(|| panic!("{scraped}"));
    assert!(cost_line.contains("probe=\"bot\""), "{cost_line}");
    for family in [
        "probity_labelled_requests_total",
        "probity_labelled_tokens_total",
        "probity_labelled_request_duration_seconds_count",
        "probity_labelled_error_ratio",
        "probity_labelled_sample_pass_ratio",
    ] {
        assert!(
            scraped
                .lines()
                .any(|l| l.starts_with(family) && l.contains("feature=\"support-chat\"")),
            "{family}: {scraped}"
        );
    }
    assert!(
        !scraped.contains("segment=") && !scraped.contains("tier="),
        "{scraped}"
    );

    // The daemon's registry, fed the same way: lint-clean, the same keys only.
    let probe = project.probe(KEY);
    let metrics = Metrics::new();
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;
    metrics.record_run(&probe, &outcome, &store);
    let open = metrics.encode();
    let (ok, said) = promtool(&["check", "metrics"], &to_prometheus_text(&open));
    assert!(ok, "promtool check metrics: {said}\n{open}");
    assert!(
        open.contains("feature=\"extraction\"") && !open.contains("segment="),
        "{open}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_metrics_labels_no_label_becomes_a_series() {
    let (project, _sim) = project("").await;
    let probe = project.probe(KEY);
    let store = Store::open(&project.db()).expect("open the store");
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;
    let metrics = Metrics::new();
    metrics.record_run(&probe, &outcome, &store);
    let open = metrics.encode();
    assert!(!open.contains("probity_labelled_"), "{open}");
    assert!(!open.contains("feature="), "{open}");
    // The summary still breaks the run down.
    assert!(!outcome.primary().unwrap().summary.by_label.is_empty());
}

#[tokio::test]
async fn bad_labels_are_configuration_errors_at_their_key() {
    let (project, _sim) = project("metrics: { labels: [featur] }\n").await;
    std::fs::write(
        project.root().join("golden-sets/chat.yaml"),
        CHAT.replace(
            "  - id: refund\n",
            "  - id: refund\n    labels: { \"my-feature\": x }\n",
        ),
    )
    .unwrap();
    let out = probity_in(project.root(), &[("PROBITY_TEST_KEY", KEY)], &["validate"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("golden-sets/chat.yaml:4:"), "{stderr}");
    assert!(
        stderr.contains("label key `my-feature` is not a Prometheus label name"),
        "{stderr}"
    );
    // While a golden set does not load, `metrics.labels` is not judged: the set may
    // define the key.
    assert!(stderr.contains("1 error in 1 file"), "{stderr}");
    std::fs::write(project.root().join("golden-sets/chat.yaml"), CHAT).unwrap();
    let out = probity_in(project.root(), &[("PROBITY_TEST_KEY", KEY)], &["validate"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("probes/bot.yaml:13:21: metrics.labels[0]: no label of the probe, its golden sets or cases has the key `featur`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `feature`"), "{stderr}");
}

/// A file channel for warnings, so the incident is visible without any network.
const ALERTS_YAML: &str = "channels:\n  log: { type: file, path: alerts.jsonl }\nroutes:\n  default: { critical: [log], warning: [log] }\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_cost_per_request_spike_is_a_trend_finding_and_an_incident() {
    let alerts = "alerts: { route: default }\n";
    let (project, sim) = project(alerts).await;
    std::fs::write(project.root().join("probes/alerts.yaml"), ALERTS_YAML).unwrap();
    // A history long enough to judge (the trend needs 10 finished runs).
    for _ in 0..10 {
        let doc = run_json(&project, &[]).await;
        let cost = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["metric"] == "cost_per_request");
        assert!(!cost, "{}", doc["findings"]);
    }
    // The same traffic at three times the price.
    std::fs::write(
        project.probe_file(),
        probe_yaml(&sim.base_url(), (0.45, 1.80), alerts),
    )
    .unwrap();
    let doc = run_json(&project, &[]).await;
    let finding = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["metric"] == "cost_per_request")
        .unwrap_or_else(|| panic!("{}", doc["findings"]))
        .clone();
    assert_eq!(finding["kind"], "trend");
    assert_eq!(finding["severity"], "warning");
    let message = finding["message"].as_str().unwrap();
    assert!(
        message.starts_with("cost per request $")
            && message.contains("far outside the last 10 runs (median $"),
        "{message}"
    );
    let current = finding["current"]["value"].as_f64().unwrap();
    let median = finding["baseline"]["value"].as_f64().unwrap();
    assert!((current / median - 3.0).abs() < 0.2, "{current} / {median}");

    let store = Store::open(&project.db()).expect("open the store");
    let open = store.open_incidents(Some("bot")).expect("open incidents");
    let incident = open
        .iter()
        .find(|i| i.rule == "trend:cost_per_request")
        .unwrap_or_else(|| panic!("{open:?}"));
    assert_eq!(incident.severity, "warning");
    let out = probity_in(
        project.root(),
        &[("PROBITY_TEST_KEY", KEY)],
        &["alert", "list"],
    )
    .await;
    assert!(
        text(&out.stdout).contains("trend:cost_per_request"),
        "{}",
        text(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reports_and_the_dashboard_show_cost_by_feature() {
    let (project, _sim) = project("").await;
    // Label values come from files: shown as text everywhere.
    std::fs::write(
        project.root().join("golden-sets/docs.yaml"),
        DOCS.replace("segment: enterprise", "segment: \"<b>ent</b>\""),
    )
    .unwrap();
    let out = probity_in(
        project.root(),
        &[("PROBITY_TEST_KEY", KEY)],
        &["run", "bot"],
    )
    .await;
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}{}", text(&out.stderr));
    let line = shown
        .lines()
        .find(|l| l.starts_with("  by label  feature=document-analysis  6 samples · errors 0.0%"))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(line.contains("/request)"), "{line}");
    assert!(
        shown.contains("           tier=free  12 samples"),
        "{shown}"
    );

    let out = probity_in(
        project.root(),
        &[("PROBITY_TEST_KEY", KEY)],
        &["report", "latest", "--out", "-"],
    )
    .await;
    let page = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        page.contains("<h2>Cost by feature · default</h2>"),
        "{page}"
    );
    assert!(page.contains("<td>feature=extraction</td>"), "{page}");
    assert!(page.contains("segment=&lt;b&gt;ent&lt;/b&gt;"), "{page}");
    assert!(!page.contains("<b>ent"), "{page}");

    // The Markdown summary (gate's, $GITHUB_STEP_SUMMARY) has the table too.
    let probe = project.probe(KEY);
    let store = Store::open(&project.db()).expect("open the store");
    let outcome = project::run(&probe, &store, &RunOptions::default()).await;
    let md = probity::report::markdown::markdown(&outcome);
    assert!(
        md.contains("| label | samples | errors | p95 | pass rate | cost | cost / request |"),
        "{md}"
    );
    assert!(md.contains("| feature=support-chat | 3 | 0.0% |"), "{md}");

    // The dashboard's probe page: the last run per label value.
    use probity::daemon::dashboard::{self, Dashboard};
    let app = dashboard::router::<()>(Dashboard::new(project.db(), None));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let page = reqwest::get(format!("{base}/probes/bot"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(
            "Cost by feature · last run <a href=\"/runs/{}\">",
            outcome.run_id
        )),
        "{page}"
    );
    assert!(
        page.contains("<td>feature=document-analysis</td>"),
        "{page}"
    );
    assert!(!page.contains("<b>ent"), "{page}");
}

#[tokio::test]
async fn a_key_listed_twice_or_an_empty_value_is_an_error_at_its_place() {
    let (project, _sim) = project("metrics: { labels: [tier, feature, tier] }\n").await;
    let file = std::fs::read_to_string(project.probe_file()).unwrap();
    std::fs::write(
        project.probe_file(),
        file.replace("tier: free", "tier: \"\""),
    )
    .unwrap();
    let out = probity_in(project.root(), &[("PROBITY_TEST_KEY", KEY)], &["validate"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("probes/bot.yaml:12:40: labels.tier")
            && stderr.contains("labels.tier: label `tier` has an empty value"),
        "{stderr}"
    );
    assert!(
        stderr.contains("metrics.labels[2]: label `tier` is listed twice"),
        "{stderr}"
    );
    assert!(stderr.contains("2 errors in 1 file"), "{stderr}");
}
