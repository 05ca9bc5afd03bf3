//! The `probity` binary as users and CI meet it: exit codes 0/1/2/3, the exact text of a
//! configuration error, a run killed with SIGKILL mid-way (what was done stays stored), and
//! an API key that never shows up anywhere — database, JSON, stdout, stderr, logs.

#[path = "support/project.rs"]
mod project;

use std::process::Output;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use probity::sim::{Latency, Profile};
use probity::store::Store;
use project::{Project, text};

use project::BIN;
const KEY: &str = "sk-live-SECRET-4242-abcdef";

async fn probity(project: &Project, args: &[&str]) -> Output {
    project::probity_in(project.root(), &[("PROBITY_TEST_KEY", KEY)], args).await
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_0_when_the_run_passes() {
    let (project, sim) = Project::with_sim("samples: 2\n", Profile::default()).await;
    let out = probity(&project, &["run", "bot"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("verdict PASS"),
        "{}",
        text(&out.stdout)
    );

    let out = probity(&project, &["run", "--format", "json", "--samples", "1"]).await;
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["probe"], "bot");
    assert_eq!(doc["summary"]["samples"], 4, "--samples 1 over 4 cases");
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_1_when_a_threshold_is_critical() {
    let profile = Profile {
        latency: Latency::fixed(Duration::from_millis(30)),
        ttft: Latency::fixed(Duration::from_millis(30)),
        ..Profile::default()
    };
    let (project, sim) = Project::with_sim(
        "samples: 1\nthresholds: { latency_p95: { critical: 5ms } }\n",
        profile,
    )
    .await;
    let out = probity(&project, &["run"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("verdict FAIL"));
    assert!(text(&out.stdout).contains("CRITICAL p95 latency"));
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_2_on_configuration_and_usage_errors() {
    let project = Project::new("http://127.0.0.1:9/v1", "sampels: 3\n");
    for args in [&["run"][..], &["validate"][..]] {
        let out = probity(&project, args).await;
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(
            text(&out.stderr),
            "probes/bot.yaml:9:1: sampels: unknown key `sampels`\n  hint: did you mean `samples`?\n1 error in 1 file\n"
        );
    }
    let out = probity(&project, &["run", "--samples", "zero"]).await;
    assert_eq!(out.status.code(), Some(2), "clap usage errors exit 2 too");
    let out = probity(&project, &["run", "no-such-probe"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no probe file or probe named `no-such-probe`"),
        "{}",
        text(&out.stderr)
    );
    let out = probity(&project, &["export", "nope", "--jsonl"]).await;
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_3_when_the_endpoint_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let project = Project::new(
        &format!("http://{closed}/v1"),
        "samples: 1\nretries: { max: 1, base_delay: 10ms }\n",
    );
    let out = probity(&project, &["run"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    // The cause is named: the address and the refused connection.
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "could not reach http://{closed}/v1/chat/completions"
        )) && stdout.contains("refused"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_run_keeps_what_was_done() {
    let profile = Profile {
        latency: Latency::fixed(Duration::from_millis(50)),
        ttft: Latency::fixed(Duration::from_millis(50)),
        ..Profile::default()
    };
    let (project, sim) = Project::with_sim("samples: 200\nconcurrency: 2\n", profile).await;
    let mut child = tokio::process::Command::new(BIN)
        .args(["run", "bot"])
        .current_dir(project.root())
        .env("PROBITY_TEST_KEY", KEY)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the run has committed some observations, then kill it without warning.
    let mut committed = 0;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Ok(store) = Store::open(&project.db()) {
            if let Ok(run) = store.run("latest") {
                committed = store.count_observations(&run.id).unwrap_or(0);
                if committed >= 20 {
                    break;
                }
            }
        }
    }
    assert!(committed >= 20, "the run never committed observations");
    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    assert!(!status.success());

    let store = Store::open(&project.db()).unwrap();
    let run = store.run("latest").unwrap();
    assert!(!run.is_finished(), "a killed run is not marked complete");
    assert_eq!(run.status, "running");
    let stored = store.count_observations(&run.id).unwrap();
    assert!(
        stored >= committed,
        "{stored} stored < {committed} seen before the kill"
    );
    assert!(stored < 800, "the run was killed before it finished");
    let rows = store.observations(&run.id).unwrap();
    assert!(rows.iter().all(|r| r.observation.is_ok()));
    sim.shutdown().await.unwrap();
}

/// Answers 401 and echoes the credentials back, as some gateways do.
async fn echoing_401() -> String {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|headers: HeaderMap| async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            (
                StatusCode::UNAUTHORIZED,
                format!("{{\"error\": {{\"message\": \"invalid key: {auth}\"}}}}"),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/v1")
}

fn assert_clean(what: &str, haystack: &str) {
    assert!(!haystack.contains(KEY), "the API key leaked into {what}");
    assert!(
        !haystack.contains("SECRET-4242"),
        "part of the API key leaked into {what}"
    );
}

fn db_bytes(project: &Project) -> String {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", project.db().display());
        all.extend(std::fs::read(path).unwrap_or_default());
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_key_never_appears() {
    // A 401 whose body quotes the key.
    let url = echoing_401().await;
    let project = Project::new(&url, "samples: 1\nretries: { max: 0 }\n");
    let out = probity(
        &project,
        &[
            "-vv",
            "run",
            "--format",
            "json",
            "--out",
            "reports/run.json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(3));
    assert_clean("stdout", &text(&out.stdout));
    assert_clean("stderr and the log", &text(&out.stderr));
    let doc = std::fs::read_to_string(project.root().join("reports/run.json")).unwrap();
    assert_clean("the JSON report", &doc);
    assert!(doc.contains("http_4xx"), "the 401 is classified: {doc}");
    assert!(doc.contains("HTTP 401"), "{doc}");
    let export = probity(&project, &["export", "latest", "--jsonl"]).await;
    assert_eq!(export.status.code(), Some(0));
    let lines = text(&export.stdout);
    assert!(lines.contains("invalid key: Bearer [REDACTED]"), "{lines}");
    assert_clean("the export", &lines);
    assert_clean("the database", &db_bytes(&project));

    // And a successful run against the simulator, which sees the key.
    let (project, sim) = Project::with_sim("samples: 1\n", Profile::default()).await;
    let out = probity(&project, &["-vv", "run"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_clean("stdout", &text(&out.stdout));
    assert_clean("stderr", &text(&out.stderr));
    assert_clean("the database", &db_bytes(&project));
    sim.shutdown().await.unwrap();
}

/// The first hour as one path: `init`, the simulator, a promoted baseline, then a canary
/// declared under `targets:` on a second, degraded simulator, gated: exit 1 with the
/// refusals as a critical drift finding, in the JSON and the JUnit alike.
#[tokio::test(flavor = "multi_thread")]
async fn init_sim_promote_then_gate_a_degraded_canary() {
    use probity::sim::Errors;
    let dir = tempfile::tempdir().unwrap();
    let probity_here = |args: &[&str]| {
        let mut command = tokio::process::Command::new(BIN);
        command
            .args(args)
            .current_dir(dir.path())
            .env("OPENAI_API_KEY", KEY)
            .env("NO_COLOR", "1")
            .env_remove("PROBITY_DB")
            .env_remove("RUST_LOG");
        command
    };
    let out = probity_here(&["init"]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let golden = probity::config::load_golden_dir(&dir.path().join("golden-sets")).unwrap();
    let start = |profile: Profile| {
        probity::sim::start(
            profile,
            probity::sim::cases_from_golden(&golden),
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        )
    };
    let current = start(Profile::default()).await.unwrap();
    let canary = start(Profile {
        refusal: 0.6,
        errors: Errors {
            rate_500: 0.2,
            ..Errors::default()
        },
        seed: 11,
        ..Profile::default()
    })
    .await
    .unwrap();
    let probe = dir.path().join("probes/my-assistant.yaml");
    let text_of = std::fs::read_to_string(&probe).unwrap();
    assert!(text_of.contains("https://api.openai.com/v1"), "{text_of}");
    std::fs::write(
        &probe,
        text_of.replace("https://api.openai.com/v1", &current.base_url())
            + &format!(
                "targets:\n  canary: {{ base_url: {} }}\n",
                canary.base_url()
            ),
    )
    .unwrap();

    let run = probity_here(&["run", "--samples", "20"])
        .output()
        .await
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stdout));
    let promote = probity_here(&["baseline", "promote", "latest"])
        .output()
        .await
        .unwrap();
    assert_eq!(promote.status.code(), Some(0), "{}", text(&promote.stderr));

    let gate = probity_here(&[
        "gate",
        "my-assistant",
        "--candidate",
        "canary",
        // Twice the baseline's samples: at 10 a side a 0 → 40% refusal jump is only
        // inconclusive at α 0.01 after BH, and this test wants the drift itself decided.
        "--samples",
        "20",
        "--json",
        "gate.json",
        "--junit",
        "gate.xml",
    ])
    .output()
    .await
    .unwrap();
    let stdout = text(&gate.stdout);
    assert_eq!(
        gate.status.code(),
        Some(1),
        "{stdout}{}",
        text(&gate.stderr)
    );
    assert!(stdout.contains("verdict FAIL"), "{stdout}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("gate.json")).unwrap())
            .unwrap();
    assert_eq!(doc["verdict"], "fail");
    assert_eq!(doc["exit_code"], 1);
    assert_eq!(doc["baseline"]["source"], "promoted run");
    let findings = doc["findings"].as_array().unwrap();
    let refusals = findings
        .iter()
        .find(|f| f["metric"] == "over_refusal" && f["kind"] == "drift")
        .unwrap_or_else(|| panic!("no over-refusal drift: {findings:?}"));
    assert_eq!(refusals["severity"], "critical");
    assert_eq!(refusals["target"], "canary");
    assert_eq!(refusals["baseline"]["value"], 0.0);
    // And the cases the refusals broke are critical findings of their own, with the reason.
    assert!(
        findings.iter().any(|f| f["kind"] == "case"
            && f["severity"] == "critical"
            && f["case"] == "starter/greeting"),
        "{findings:?}"
    );
    assert!(refusals["current"]["value"].as_f64().unwrap() > 0.3);
    let junit = std::fs::read_to_string(dir.path().join("gate.xml")).unwrap();
    assert!(junit.contains("drift: over_refusal"), "{junit}");
    assert!(!junit.contains("failures=\"0\""), "{junit}");
    assert!(canary.stats().requests >= 60, "the canary was probed");
    current.shutdown().await.unwrap();
    canary.shutdown().await.unwrap();
}
