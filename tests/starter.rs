//! The first hour: what `probity init` writes must be able to reach a verdict against its
//! own baseline. Before, the starter ran 3 cases × 5 samples, under the 20 answered samples
//! a side every comparison needs, so each run of it ended "insufficient data" forever.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use probity::sim::{self, Latency, Profile};

const BIN: &str = env!("CARGO_BIN_EXE_probity");

async fn probity(root: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(BIN)
        .args(args)
        .current_dir(root)
        .env("OPENAI_API_KEY", "sk-sim")
        .env("NO_COLOR", "1")
        .env_remove("PROBITY_DB")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .await
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_starter_reaches_a_verdict_against_its_own_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let out = probity(root, &["init"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Aim the starter at a simulator answering its own golden set.
    let golden = probity::config::load_golden_dir(&root.join("golden-sets")).unwrap();
    let profile = Profile {
        latency: Latency {
            median: Duration::from_millis(5),
            p99: Some(Duration::from_millis(20)),
        },
        ttft: Latency {
            median: Duration::from_millis(5),
            p99: Some(Duration::from_millis(20)),
        },
        seed: 7,
        ..Profile::default()
    };
    let sim = sim::start(
        profile,
        sim::cases_from_golden(&golden),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    let probe_file = root.join("probes/my-assistant.yaml");
    let written = std::fs::read_to_string(&probe_file).unwrap();
    std::fs::write(
        &probe_file,
        written.replace("https://api.openai.com/v1", &sim.base_url()),
    )
    .unwrap();

    let first = probity(root, &["run", "--format", "json"]).await;
    let first_json: serde_json::Value = serde_json::from_slice(&first.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&first.stdout), text(&first.stderr)));
    let promote = probity(root, &["baseline", "promote", "latest"]).await;
    assert_eq!(
        promote.status.code(),
        Some(0),
        "{}{}",
        text(&promote.stdout),
        text(&promote.stderr)
    );

    let second = probity(root, &["run", "--format", "json"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&second.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&second.stdout), text(&second.stderr)));
    assert_ne!(
        doc["verdict"], "insufficient_data",
        "first run: {first_json:#}\nsecond run: {doc:#}"
    );
    assert_ne!(doc["verdict"], serde_json::Value::Null, "{doc:#}");
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_starter_says_what_min_pass_rate_does() {
    let dir = tempfile::tempdir().unwrap();
    let out = probity(dir.path(), &["init"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let golden = std::fs::read_to_string(dir.path().join("golden-sets/starter.yaml")).unwrap();
    let line = golden
        .lines()
        .find(|l| l.trim_start().starts_with("min_pass_rate:"))
        .unwrap_or_else(|| panic!("no min_pass_rate in\n{golden}"));
    assert!(line.contains('#'), "a comment says what it does: {line}");
    assert!(
        golden.contains("stochastic"),
        "and when to lower it:\n{golden}"
    );
}
