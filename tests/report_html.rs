//! The HTML run and history reports (issue 11): what `run` and `gate` write and where, that
//! `probity report` re-renders a stored run byte for byte from the store alone, that model
//! text is shown as text, and snapshots of the report's text.
//!
//! Snapshots live in `tests/snapshots/`. After an intended change of the report, update
//! them with
//!
//!     UPDATE_SNAPSHOTS=1 cargo test --test report_html
//!
//! and review the diff of `tests/snapshots/` before committing it.

#[path = "support/project.rs"]
mod project;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use probity::pipeline::{BaselineChoice, Outputs, RunOptions, RunOutcome, publish};
use probity::report::html::{self, Options};
use probity::sim::{Latency, Profile};
use probity::store::Store;
use project::{Project, probity_in, text};
use regex::Regex;

fn steady(seed: u64) -> Profile {
    Profile {
        latency: Latency::fixed(Duration::from_millis(5)),
        ttft: Latency::fixed(Duration::from_millis(2)),
        seed,
        ..Profile::default()
    }
}

/// Runs `probe` and publishes it with a report under `dir`, as `probity run` does.
async fn run_with_report(
    probe: &probity::config::Probe,
    store: &Store,
    options: &RunOptions,
    dir: &Path,
) -> (RunOutcome, Option<PathBuf>) {
    let outcome = project::run(probe, store, options).await;
    let outputs = Outputs {
        report_dir: Some(dir.to_path_buf()),
        ..Outputs::default()
    };
    let published = publish(store, probe, &outcome, &outputs).await.unwrap();
    assert_eq!(published.report_error, None);
    (outcome, published.report)
}

/// The text a person reads in the page: no style sheet, no chart markup, no tags, a few
/// entities decoded, one line per block, blank lines dropped.
fn page_text(html: &str) -> String {
    let style = Regex::new(r"(?s)<style>.*?</style>").unwrap();
    let svg = Regex::new(r"(?s)<svg.*?</svg>").unwrap();
    let block = Regex::new(
        r"(?i)</?(tr|h[1-6]|p|div|li|dt|dd|section|pre|summary|footer|header|table|figure)[^>]*>",
    )
    .unwrap();
    let tag = Regex::new(r"<[^>]*>").unwrap();
    let html = style.replace_all(html, "");
    let html = svg.replace_all(&html, "[chart]");
    let html = block.replace_all(&html, "\n");
    let html = tag.replace_all(&html, " ");
    let decoded = html
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x3D;", "=")
        .replace("&#x60;", "`")
        .replace("&amp;", "&");
    decoded
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Redacts what changes from one run to the next: ids, times, durations, rates per second.
fn redact(text: &str) -> String {
    let rules = [
        (r"\d{8}T\d{6}Z-[0-9a-f]{4}", "<run-id>"),
        (r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", "<traceparent>"),
        (r"\b[0-9a-f]{32}\b", "<trace-id>"),
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})? UTC", "<time>"),
        (r"\b\d{2}-\d{2} \d{2}:\d{2}\b", "<time>"),
        (r"\d+(\.\d+)? (ms|s|min|h|days)\b", "<duration>"),
        (r"\d+(\.\d+)? req/s", "<rate>"),
        (r"[×÷]\d+(\.\d+)?|[+-]\d+(\.\d+)?%", "<ratio>"),
        (r"\d+ retries", "<n> retries"),
        (r"\d+ \(\d+\)", "<n> (<n>)"),
    ];
    let mut out = text.to_string();
    for (pattern, with) in rules {
        out = Regex::new(pattern)
            .unwrap()
            .replace_all(&out, with)
            .into_owned();
    }
    out
}

/// Compares `actual` with `tests/snapshots/<name>.txt`, or writes it there when
/// `UPDATE_SNAPSHOTS=1`.
fn snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}: create it with `UPDATE_SNAPSHOTS=1 cargo test --test report_html`",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "the report's text differs from {} at line {}:\n  expected: {:?}\n  actual:   {:?}\n\
             whole text:\n{actual}\n\nIf the change is intended: \
             UPDATE_SNAPSHOTS=1 cargo test --test report_html, then review the diff.",
            path.display(),
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first),
        );
    }
}

#[tokio::test]
async fn snapshot_of_a_run_with_failing_cases() {
    // Every JSON answer broken: `order-json` fails each sample; the others pass.
    let profile = Profile {
        json_break: 1.0,
        ..steady(11)
    };
    let (project, _sim) = Project::with_sim("samples: 3\nconcurrency: 1\n", profile).await;
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let reports = project.root().join("reports");
    let (_, path) = run_with_report(&probe, &store, &RunOptions::default(), &reports).await;
    let html = std::fs::read_to_string(path.unwrap()).unwrap();
    snapshot("report_html__failing_run", &redact(&page_text(&html)));
}

#[tokio::test]
async fn snapshot_of_a_history_with_a_deployment() {
    let (project, _sim) = Project::with_sim("samples: 2\nconcurrency: 1\n", steady(5)).await;
    let store = Store::open(&project.db()).unwrap();
    let reports = project.root().join("reports");
    let mut probe = project.probe("k");
    probe
        .target
        .labels
        .insert("model_version".into(), "2024-07-18".into());
    run_with_report(&probe, &store, &RunOptions::default(), &reports).await;
    run_with_report(&probe, &store, &RunOptions::default(), &reports).await;
    probe
        .target
        .labels
        .insert("model_version".into(), "2024-08-06".into());
    run_with_report(&probe, &store, &RunOptions::default(), &reports).await;
    let page = html::render_history(&store, "bot", 30, &Options::default()).unwrap();
    let shown = page_text(&page);
    assert!(
        shown.contains("model_version 2024-07-18 → 2024-08-06"),
        "{shown}"
    );
    // Each row links to its run report beside the history page.
    let runs = store.finished_runs("bot", 10).unwrap();
    for r in &runs {
        assert!(page.contains(&format!("href=\"{}.html\"", r.id)), "{page}");
    }
    snapshot("report_html__history", &redact(&shown));
}

#[tokio::test]
async fn run_writes_its_report_and_latest_and_report_rerenders_it_from_the_store() {
    let (project, _sim) = Project::with_sim("samples: 2\nconcurrency: 2\n", steady(3)).await;
    let dir = project.root();
    let envs = [("PROBITY_TEST_KEY", "k")];
    let out = probity_in(dir, &envs, &["run", "bot"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // On stderr, beside the alerts: stdout is what `probity show` reprints.
    let stdout = text(&out.stderr);
    let store = Store::open(&project.db()).unwrap();
    let run = store.run("latest").unwrap();
    let expected = dir.join("reports/bot").join(format!("{}.html", run.id));
    assert!(
        stdout.contains(&format!("report: {}", expected.display()))
            || stdout.contains(&format!("report: reports/bot/{}.html", run.id))
            || stdout.contains(&format!("report: ./reports/bot/{}.html", run.id)),
        "{stdout}"
    );
    let written = std::fs::read_to_string(&expected).unwrap();
    let latest = std::fs::read_to_string(dir.join("reports/bot/latest.html")).unwrap();
    assert_eq!(written, latest);
    // Everything the report shows comes from the store: re-rendered, it is the same page.
    let again = probity_in(dir, &envs, &["report", &run.id[..15], "--out", "-"]).await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout), written);

    // --no-report writes none; --report-dir moves it.
    let out = probity_in(dir, &envs, &["run", "bot", "--no-report"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stdout).contains("report:"),
        "{}",
        text(&out.stdout)
    );
    let second = store.run("latest").unwrap();
    assert!(!dir.join(format!("reports/bot/{}.html", second.id)).exists());
    let elsewhere = dir.join("elsewhere");
    let out = probity_in(
        dir,
        &envs,
        &[
            "run",
            "bot",
            "--report-dir",
            elsewhere.to_str().unwrap(),
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let third = store.run("latest").unwrap();
    assert!(elsewhere.join(format!("bot/{}.html", third.id)).is_file());
    // stdout stays one JSON document; the path goes to stderr.
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap();
    assert!(
        text(&out.stderr).contains("report: "),
        "{}",
        text(&out.stderr)
    );
    assert!(
        probity_in(
            dir,
            &envs,
            &["run", "bot", "--no-report", "--report-dir", "x"]
        )
        .await
        .status
        .code()
            == Some(2)
    );

    // The history report goes beside the run reports its points link to.
    let out = probity_in(dir, &envs, &["report", "--history", "bot", "-n", "5"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let history = std::fs::read_to_string(dir.join("reports/bot/history.html")).unwrap();
    assert!(
        history.contains(&format!("href=\"{}.html\"", run.id)),
        "{history}"
    );
    // A probe with no runs is an error that names what there is.
    let out = probity_in(dir, &envs, &["report", "--history", "bto"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("did you mean `bot`?"),
        "{}",
        text(&out.stderr)
    );
}

/// An OpenAI-compatible endpoint whose every answer (and reported model) is hostile.
async fn hostile_endpoint(answer: &'static str) -> String {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move || async move {
            axum::Json(serde_json::json!({
                "id": "x",
                "object": "chat.completion",
                "model": "m<script>alert(2)</script>",
                "choices": [{ "index": 0, "finish_reason": "stop",
                              "message": { "role": "assistant", "content": answer } }],
                "usage": { "prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12 }
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    format!("http://{addr}/v1")
}

#[tokio::test]
async fn model_text_is_escaped_and_bidi_controls_are_shown() {
    const ANSWER: &str = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>\
                          <a href=\"javascript:alert(3)\">x</a></style>\u{202E}evil\u{202C}";
    let url = hostile_endpoint(ANSWER).await;
    let project = Project::new(&url, "samples: 2\nconcurrency: 1\n");
    let mut probe = project.probe("k");
    probe.target.stream = false;
    let store = Store::open(&project.db()).unwrap();
    let reports = project.root().join("reports");
    let (_, path) = run_with_report(&probe, &store, &RunOptions::default(), &reports).await;
    let page = std::fs::read_to_string(path.unwrap()).unwrap();
    for raw in [
        "<script",
        "<img",
        "href=\"javascript:",
        "\u{202E}",
        "\u{202C}",
    ] {
        assert!(!page.contains(raw), "{raw:?} reached the page raw");
    }
    // Exactly one style element: the answer's `</style>` closed nothing.
    assert_eq!(page.matches("</style>").count(), 1);
    assert!(page.contains("&lt;script&gt;document.title&#x3D;&#x27;pwned&#x27;&lt;/script&gt;"));
    assert!(
        page.contains("\\u{202e}evil\\u{202c}"),
        "bidi controls shown as text"
    );
    assert!(
        page.contains("m&lt;script&gt;alert(2)&lt;/script&gt;"),
        "the reported model too"
    );
}

#[tokio::test]
async fn a_gate_shows_candidate_and_baseline_side_by_side() {
    let body =
        "samples: 3\nconcurrency: 2\ntargets:\n  canary: { labels: { model_version: \"2\" } }\n";
    let (project, _sim) = Project::with_sim(body, steady(9)).await;
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let options = RunOptions {
        targets: vec!["canary".into(), "default".into()],
        baseline: BaselineChoice::Target("default".into()),
        gate: true,
        ..RunOptions::default()
    };
    let reports = project.root().join("reports");
    let (_, path) = run_with_report(&probe, &store, &options, &reports).await;
    let shown = page_text(&std::fs::read_to_string(path.unwrap()).unwrap());
    assert!(
        shown.contains("Candidate and baseline, case by case"),
        "{shown}"
    );
    assert!(shown.contains("canary (candidate)"), "{shown}");
    assert!(shown.contains("default (baseline)"), "{shown}");
    assert!(shown.contains("Operations · candidate · canary"), "{shown}");
    assert!(shown.contains("Operations · baseline · default"), "{shown}");
    assert!(shown.contains("rollout gate"), "{shown}");
    // The paired tests are listed.
    assert!(shown.contains("Every test against the baseline"), "{shown}");
}

#[tokio::test]
async fn templates_in_the_reports_folder_replace_the_embedded_ones() {
    let (project, _sim) = Project::with_sim("samples: 1\nconcurrency: 1\n", steady(1)).await;
    let probe = project.probe("k");
    let store = Store::open(&project.db()).unwrap();
    let reports = project.root().join("reports");
    std::fs::create_dir_all(reports.join("templates")).unwrap();
    std::fs::write(
        reports.join("templates/run.hbs"),
        "<p>ours: {{probe}} {{verdict}} {{#each targets}}{{name}}{{/each}}</p>",
    )
    .unwrap();
    let (outcome, path) = run_with_report(&probe, &store, &RunOptions::default(), &reports).await;
    let page = std::fs::read_to_string(path.unwrap()).unwrap();
    assert_eq!(
        page,
        format!("<p>ours: bot {} default</p>", outcome.verdict.as_str())
    );
    // A misspelt field fails loudly (strict mode), naming the file.
    std::fs::write(reports.join("templates/run.hbs"), "{{verdcit}}").unwrap();
    let err = html::render_run(&store, "latest", &Options::for_reports(&reports)).unwrap_err();
    assert!(err.to_string().contains("verdcit"), "{err}");
    let bad = reports.join("templates/history.hbs");
    std::fs::write(&bad, "{{#each rows}}").unwrap();
    let err = html::render_run(&store, "latest", &Options::for_reports(&reports)).unwrap_err();
    assert!(err.to_string().contains("history.hbs"), "{err}");
}

#[test]
fn embedded_templates_insert_nothing_raw_but_our_charts() {
    // `{{{x}}}` skips escaping: only the SVG our chart module draws (and escapes) may use it.
    let raw = Regex::new(r"\{\{\{\s*([^}\s]+)").unwrap();
    for name in ["run.hbs", "history.hbs", "style.hbs"] {
        let template = html::embedded_template(name).unwrap();
        for m in raw.captures_iter(template) {
            let what = &m[1];
            assert!(
                what.starts_with("charts.") || what == "svg",
                "{name} inserts `{what}` unescaped"
            );
        }
        assert!(!template.contains("<script"), "{name} has a script");
        assert!(
            !template.contains("http://") && !template.contains("https://"),
            "{name} fetches"
        );
    }
}

#[test]
fn the_escape_shows_every_hidden_character_as_text() {
    let shown = html::escape_html("a\u{202E}b\u{200B}c\u{7}d<e>&\"'`=\n\tf");
    assert_eq!(
        shown,
        "a\\u{202e}b\\u{200b}c\\u{7}d&lt;e&gt;&amp;&quot;&#x27;&#x60;&#x3D;\n\tf"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_banner_shows_the_alerts_a_run_opened_and_errors_show_one_example() {
    // Every answer malformed: the run could not probe, and that alert fires at once.
    let mut profile = steady(2);
    profile.errors.rate_malformed = 1.0;
    let (project, _sim) = Project::with_sim(
        "samples: 2\nconcurrency: 2\nthresholds: { error_rate: { warning: 0.05, critical: 0.1 } }\nalerts: { route: default }\n",
        profile,
    )
    .await;
    std::fs::write(
        project.root().join("probes/alerts.yaml"),
        "channels:\n  log: { type: file, path: alerts.jsonl }\nroutes:\n  default: { critical: [log], warning: [log] }\n",
    )
    .unwrap();
    let out = probity_in(
        project.root(),
        &[("PROBITY_TEST_KEY", "k")],
        &["run", "bot"],
    )
    .await;
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let page = std::fs::read_to_string(project.root().join("reports/bot/latest.html")).unwrap();
    let shown = page_text(&page);
    let banner = shown.split("\nRun\n").next().unwrap();
    assert!(banner.contains("Alerts:"), "{banner}");
    assert!(
        banner.contains("opened (firing): could_not_probe (critical)"),
        "{banner}"
    );
    assert!(
        page.contains("class=\"banner v-fail\""),
        "the banner is coloured as a failure"
    );
    // Operations: the class of error, how many samples, and one example.
    let errors = shown
        .lines()
        .find(|l| l.starts_with("malformed_response "))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(errors.starts_with("malformed_response 8 "), "{errors}");
    // The error-rate row is coloured by its critical finding.
    assert!(
        page.contains("<tr class=\"critical\"><td>error rate</td>"),
        "{page}"
    );
}

#[tokio::test]
async fn a_run_compared_with_a_promoted_run_shows_it_beside_and_its_age() {
    let (project, _sim) = Project::with_sim("samples: 4\nconcurrency: 2\n", steady(4)).await;
    let dir = project.root();
    let envs = [("PROBITY_TEST_KEY", "k")];
    for args in [
        &["run", "bot"][..],
        &["baseline", "promote", "latest"],
        &["run", "bot"],
    ] {
        let out = probity_in(dir, &envs, args).await;
        // 16 samples a side are too few to decide every metric: insufficient data (1).
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let store = Store::open(&project.db()).unwrap();
    let runs = store.finished_runs("bot", 2).unwrap();
    let page = std::fs::read_to_string(dir.join("reports/bot/latest.html")).unwrap();
    assert!(
        page.contains(&runs[0].id),
        "latest.html is the newest run's"
    );
    let shown = page_text(&page);
    assert!(
        shown.contains("This run and the baseline run, case by case"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("baseline run {} (default)", runs[1].id)),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "promoted run · run {} · target default",
            runs[1].id
        )),
        "{shown}"
    );
    assert!(
        shown.contains("before this run"),
        "the baseline's age: {shown}"
    );
    assert!(shown.contains("Every test against the baseline"), "{shown}");
    // Operations and quality have the baseline's figures beside this run's.
    let p95 = shown
        .lines()
        .find(|l| l.starts_with("latency p95 "))
        .unwrap();
    assert_eq!(p95.matches(" ms").count(), 2, "{p95}");
}
