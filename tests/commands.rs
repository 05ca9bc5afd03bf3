//! The commands around a run, through the built binary: one database for every command,
//! run ids by prefix or suffix, `show`, `history`, `export` with prompts, `run --dry-run`
//! and `--case`, `compare` agreeing with `run`, Ctrl-C (a real SIGINT), `baseline promote`
//! refusing a cancelled run, the help texts and the demo starting fresh.

#[path = "support/project.rs"]
mod project;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use probity::sim::{Latency, Profile};
use probity::store::Store;
use project::{Project, text};

use project::BIN;
const KEY: &str = "sk-test-commands-0000";

async fn probity(project: &Project, args: &[&str]) -> Output {
    probity_in(project.root(), args).await
}

async fn probity_in(dir: &Path, args: &[&str]) -> Output {
    project::probity_in(dir, &[("PROBITY_TEST_KEY", KEY)], args).await
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A latency spread, so bootstrap intervals depend on their seed.
fn spread() -> Profile {
    Profile {
        latency: Latency {
            median: Duration::from_millis(5),
            p99: Some(Duration::from_millis(40)),
        },
        ttft: Latency {
            median: Duration::from_millis(3),
            p99: Some(Duration::from_millis(30)),
        },
        ..Profile::default()
    }
}

fn run_ids(project: &Project) -> Vec<String> {
    let store = Store::open(&project.root().join("data/runs.db")).unwrap();
    store
        .runs(None, 100)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_uses_the_probes_store_path() {
    let (project, sim) =
        Project::with_sim("samples: 1\nstore: { path: data/runs.db }\n", spread()).await;
    ok(&probity(&project, &["run", "bot"]).await);
    let ids = run_ids(&project);
    assert_eq!(ids.len(), 1, "the run went to store.path");
    let id = ids[0].clone();

    let history = ok(&probity(&project, &["history"]).await);
    assert!(history.contains(&id), "history reads store.path: {history}");
    let history = ok(&probity(&project, &["history", "bot"]).await);
    assert!(history.contains(&id), "{history}");
    let shown = ok(&probity(&project, &["show", "latest"]).await);
    assert!(shown.contains(&id), "{shown}");
    let export = ok(&probity(&project, &["export", "latest"]).await);
    assert_eq!(export.lines().count(), 4, "{export}");
    ok(&probity(&project, &["baseline", "promote", "latest"]).await);
    let list = ok(&probity(&project, &["baseline", "list"]).await);
    assert!(list.contains(&id), "{list}");
    let show = ok(&probity(&project, &["baseline", "show", "bot"]).await);
    assert!(show.contains(&id), "{show}");
    ok(&probity(&project, &["baseline", "export", "bot", "--to", "b.json"]).await);
    assert!(project.root().join("b.json").is_file());
    let compare = probity(&project, &["compare", &id, &id]).await;
    assert!(
        text(&compare.stdout).contains(&id),
        "compare reads store.path: {}",
        text(&compare.stderr)
    );
    // The gate too, and nothing ever went to the default database.
    std::fs::write(
        project.probe_file(),
        std::fs::read_to_string(project.probe_file()).unwrap()
            + &format!("targets:\n  canary: {{ base_url: {} }}\n", sim.base_url()),
    )
    .unwrap();
    let gate = probity(&project, &["gate", "bot", "--candidate", "canary"]).await;
    assert!(
        gate.status.code().is_some_and(|c| c <= 1),
        "{}",
        text(&gate.stderr)
    );
    assert_eq!(
        run_ids(&project).len(),
        2,
        "the gate's run went to store.path"
    );
    assert!(
        !project.root().join(".probity").exists(),
        "no command opened the default database"
    );
    // --db still wins.
    let other = probity(&project, &["--db", "elsewhere.db", "history"]).await;
    assert!(text(&other.stdout).contains("no runs stored yet"));
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_that_disagree_on_the_database_are_an_error() {
    let project = Project::new(project::PLACEHOLDER, "store: { path: one.db }\n");
    std::fs::write(
        project.root().join("probes/other.yaml"),
        "name: other\nstore: { path: two.db }\n",
    )
    .unwrap();
    for args in [
        &["history"][..],
        &["baseline", "list"][..],
        &["run", "bot"][..],
    ] {
        let out = probity(&project, args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("probes/bot.yaml") && err.contains("probes/other.yaml"),
            "{args:?}: {err}"
        );
        assert!(err.contains("one.db") && err.contains("two.db"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn compare_gives_the_intervals_run_gave_and_says_when_it_uses_defaults() {
    let (project, sim) = Project::with_sim("samples: 6\n", spread()).await;
    ok(&probity(&project, &["run", "bot"]).await);
    ok(&probity(&project, &["baseline", "promote", "latest"]).await);
    let out = probity(&project, &["run", "bot", "--format", "json"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (a, b) = (
        doc["baseline"]["run_id"].as_str().unwrap().to_string(),
        doc["run_id"].as_str().unwrap().to_string(),
    );
    let from_run = doc["baseline"]["tests"].as_array().unwrap().clone();
    assert!(
        from_run.iter().any(|t| t.get("effect_ci").is_some()),
        "some test has a bootstrap interval: {from_run:?}"
    );
    // By suffix, as typed from `history`.
    let out = probity(
        &project,
        &[
            "compare",
            &a[a.len() - 4..],
            &b[b.len() - 4..],
            "--format",
            "json",
        ],
    )
    .await;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    assert_eq!(doc["run_id"], b.as_str());
    let from_compare = doc["tests"].as_array().unwrap();
    for t in &from_run {
        let same = from_compare
            .iter()
            .find(|c| c["metric"] == t["metric"])
            .unwrap_or_else(|| panic!("compare has no test of {}", t["metric"]));
        assert_eq!(same["effect_ci"], t["effect_ci"], "{}", t["metric"]);
        assert_eq!(same["p_adjusted"], t["p_adjusted"], "{}", t["metric"]);
    }
    assert!(
        !text(&out.stderr).contains("default drift settings"),
        "{}",
        text(&out.stderr)
    );

    // Without the probe's secret the probe does not load: say the defaults are used.
    let out = tokio::process::Command::new(BIN)
        .args(["compare", &a, &b])
        .current_dir(project.root())
        .env_remove("PROBITY_TEST_KEY")
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    let err = text(&out.stderr);
    assert!(
        err.contains("could not load probe `bot`") && err.contains("default drift settings"),
        "{err}"
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn show_history_and_export_read_like_the_run() {
    let empty = tempfile::tempdir().unwrap();
    let out = probity_in(empty.path(), &["history"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("no runs stored yet"));
    assert!(
        !empty.path().join(".probity").exists(),
        "history in an empty folder creates nothing"
    );

    let (project, sim) = Project::with_sim("samples: 1\n", Profile::default()).await;
    let printed = ok(&probity(&project, &["run", "bot"]).await);
    ok(&probity(&project, &["baseline", "promote", "latest"]).await);
    // Too few samples against that baseline: `insufficient_data`, the widest verdict.
    let second = probity(&project, &["run", "bot"]).await;
    assert_eq!(second.status.code(), Some(1), "{}", text(&second.stdout));

    let store = Store::open(&project.db()).unwrap();
    let runs = store.runs(None, 10).unwrap();
    let (newest, first) = (&runs[0], &runs[1]);
    assert_eq!(newest.verdict.as_deref(), Some("insufficient_data"));

    // `show` reprints what `run` printed, by a suffix of the id.
    let suffix = &first.id[first.id.len() - 4..];
    let shown = ok(&probity(&project, &["show", suffix]).await);
    assert_eq!(shown.trim_end(), printed.trim_end());
    let json = ok(&probity(&project, &["show", suffix, "--format", "json"]).await);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc, first.summary.clone().unwrap());

    // History: the baseline marked, columns aligned whatever the verdict.
    let listing = ok(&probity(&project, &["history"]).await);
    let lines: Vec<&str> = listing.lines().collect();
    let header = lines[0];
    let column = |line: &str, of: &str| line.find(of).unwrap_or_else(|| panic!("{of} in {line}"));
    let row_new = lines.iter().find(|l| l.contains(&newest.id)).unwrap();
    let row_first = lines.iter().find(|l| l.contains(&first.id)).unwrap();
    assert!(row_first.starts_with('*'), "{listing}");
    assert!(!row_new.starts_with('*'), "{listing}");
    // Right-aligned samples end under the header's `samples`.
    let end = column(header, "samples") + "samples".len();
    for row in [row_new, row_first] {
        let cut = &row[..end];
        assert!(cut.ends_with(" 4"), "samples column misaligned:\n{listing}");
    }
    assert_eq!(
        column(row_new, "insufficient_data"),
        column(header, "verdict"),
        "{listing}"
    );
    let json = ok(&probity(&project, &["history", "--format", "json"]).await);
    let all: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1]["baseline"], true);
    assert_eq!(all[0]["baseline"], false);
    assert_eq!(all[0]["verdict"], "insufficient_data");

    // Export: JSON lines by default (`--jsonl` still accepted), each with its prompt.
    let lines = ok(&probity(&project, &["export", suffix]).await);
    let again = ok(&probity(&project, &["export", suffix, "--jsonl"]).await);
    assert_eq!(lines, again);
    let mut seen = 0;
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let prompt = v["prompt"].as_array().expect("each line has its prompt");
        let last = prompt.last().unwrap();
        assert_eq!(last["role"], "user");
        if v["case_id"] == "refund-window" {
            assert_eq!(prompt[0]["role"], "system");
            assert_eq!(last["content"], "How long do I have to ask for a refund?");
            seen += 1;
        }
    }
    assert_eq!(seen, 1, "{lines}");
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn export_redacts_the_prompt_as_it_redacts_answers() {
    let (project, sim) = Project::with_sim(
        "samples: 1\nstore: { redact: ['refund'] }\n",
        Profile::default(),
    )
    .await;
    ok(&probity(&project, &["run", "bot"]).await);
    let lines = ok(&probity(&project, &["export", "latest"]).await);
    assert!(lines.contains("ask for a [REDACTED]?"), "{lines}");
    assert!(!lines.contains("for a refund?"), "{lines}");
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_sends_nothing_and_case_runs_a_subset() {
    let (project, sim) = Project::with_sim(
        "samples: 3\nbudget: { max_cost_usd: 0.04 }\npricing: { input_per_mtok: 1.0, output_per_mtok: 4.0 }\n",
        Profile::default(),
    )
    .await;
    let plan = ok(&probity(&project, &["run", "bot", "--dry-run"]).await);
    assert_eq!(sim.stats().requests, 0, "a dry run sends nothing");
    assert!(!project.db().exists(), "a dry run stores nothing");
    assert!(plan.contains("support/refund-window × 3 samples"), "{plan}");
    assert!(
        plan.contains("How long do I have to ask for a refund?"),
        "{plan}"
    );
    assert!(plan.contains("12 requests"), "4 cases × 3 samples: {plan}");
    // Worst case: 12 requests at 1024 output tokens at $4/Mtok alone is $0.049 > $0.04.
    assert!(
        plan.contains("$0.0400") && plan.contains("over budget"),
        "{plan}"
    );

    // `--samples` overrides every case's own count, in the plan as in the run.
    let more = ok(&probity(&project, &["run", "bot", "--dry-run", "--samples", "5"]).await);
    assert!(
        more.contains("support/refund-window × 5 samples") && more.contains("20 requests"),
        "{more}"
    );

    let sub = probity(&project, &["run", "bot", "--dry-run", "--case", "refund"]).await;
    let sub = ok(&sub);
    assert!(
        sub.contains("3 requests") && !sub.contains("order-json"),
        "{sub}"
    );

    // A glob on set/case-id, really sent.
    let out = probity(
        &project,
        &["run", "bot", "--case", "support/*-json", "--format", "json"],
    )
    .await;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["samples"], 3, "{doc}");
    let cases: Vec<&str> = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(cases, ["order-json"]);
    assert_eq!(sim.stats().requests, 3);

    let none = probity(&project, &["run", "bot", "--case", "nothing-like-it"]).await;
    assert_eq!(none.status.code(), Some(2));
    assert!(text(&none.stderr).contains("matches no case"));
    let help = ok(&probity(&project, &["run", "--help"]).await);
    assert!(
        help.contains("glob") && help.contains("substring"),
        "{help}"
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_case_subset_is_not_compared_with_the_full_baseline() {
    // The baseline holds every case; a `--case` run holds one: comparing them would call
    // the different mix a change. It says so and judges thresholds and cases only.
    let (project, sim) = Project::with_sim("samples: 10\n", Profile::default()).await;
    ok(&probity(&project, &["run", "bot"]).await);
    ok(&probity(&project, &["baseline", "promote", "latest"]).await);
    let out = probity(
        &project,
        &["run", "bot", "--case", "refund", "--format", "json"],
    )
    .await;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let notes = doc["notes"].to_string();
    assert!(notes.contains("--case subset is not compared"), "{doc}");
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["kind"] != "drift" && f["kind"] != "trend"),
        "{doc}"
    );
    sim.shutdown().await.unwrap();
}

/// Sends SIGINT to the child once its run (not an earlier one) has stored observations.
async fn interrupt_when_going(
    project: &Project,
    child: &tokio::process::Child,
    before: Option<String>,
) {
    // Up to a minute: on a loaded CI machine the binary can take seconds to start, and a
    // SIGINT sent before it handles one kills it (no exit code) instead of testing Ctrl-C.
    let mut going = false;
    for _ in 0..2400 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        if let Ok(store) = Store::open(&project.db())
            && let Ok(run) = store.run("latest")
            && Some(&run.id) != before.as_ref()
            && store.count_observations(&run.id).unwrap_or(0) >= 5
        {
            going = true;
            break;
        }
    }
    assert!(going, "the run never got going: nothing to interrupt");
    let pid = child.id().expect("running") as libc::pid_t;
    // SAFETY: kill(2) on the child's own pid, which it still holds (not yet waited for).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_exits_130_prints_what_it_got_and_is_never_promoted() {
    let slow = Profile {
        latency: Latency::fixed(Duration::from_millis(40)),
        ttft: Latency::fixed(Duration::from_millis(40)),
        ..Profile::default()
    };
    let (project, sim) = Project::with_sim("samples: 100\nconcurrency: 2\n", slow).await;
    std::fs::write(
        project.probe_file(),
        std::fs::read_to_string(project.probe_file()).unwrap()
            + &format!("targets:\n  canary: {{ base_url: {} }}\n", sim.base_url()),
    )
    .unwrap();
    for args in [
        &["run", "bot"][..],
        &[
            "gate",
            "bot",
            "--candidate",
            "canary",
            "--baseline",
            "default",
        ][..],
    ] {
        let child = tokio::process::Command::new(BIN)
            .args(args)
            .current_dir(project.root())
            .env("PROBITY_TEST_KEY", KEY)
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let before = Store::open(&project.db())
            .ok()
            .and_then(|s| s.run("latest").ok())
            .map(|r| r.id);
        interrupt_when_going(&project, &child, before).await;
        let out = child.wait_with_output().await.unwrap();
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(130), "{args:?}: {stdout}");
        assert!(
            stdout.contains("verdict"),
            "{args:?} prints its summary: {stdout}"
        );
        assert!(!stdout.contains("verdict PASS"), "{args:?}: {stdout}");
        let store = Store::open(&project.db()).unwrap();
        let run = store.run("latest").unwrap();
        assert!(
            run.is_finished(),
            "{args:?}: stored as ended, not `running`"
        );
        assert_eq!(run.status, "cancelled", "{args:?}");
        assert_ne!(run.verdict.as_deref(), Some("pass"), "{args:?}");
        assert!(store.count_observations(&run.id).unwrap() < 400);
    }
    let refused = probity(&project, &["baseline", "promote", "latest"]).await;
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("--force"),
        "{}",
        text(&refused.stderr)
    );
    let forced = probity(&project, &["baseline", "promote", "latest", "--force"]).await;
    ok(&forced);
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn help_says_what_arguments_mean() {
    let project = Project::new(project::PLACEHOLDER, "");
    let show = ok(&probity(&project, &["baseline", "show", "--help"]).await);
    assert!(
        show.contains("<PROBE>") && show.contains("probe's name"),
        "{show}"
    );
    let export = ok(&probity(&project, &["baseline", "export", "--help"]).await);
    assert!(export.contains("probe's name"), "{export}");
    let sim = ok(&probity(&project, &["sim", "--help"]).await);
    assert!(!sim.contains("--db") && !sim.contains("-C,"), "{sim}");
    let top = ok(&probity(&project, &["--help"]).await);
    assert!(top.contains("130"), "{top}");
    let gate = ok(&probity(&project, &["gate", "--help"]).await);
    assert!(gate.contains("130") && gate.contains("targets:"), "{gate}");
    let unknown = probity(&project, &["gate", "bot", "--candidate", "canary"]).await;
    assert_eq!(unknown.status.code(), Some(2));
    let err = text(&unknown.stderr);
    assert!(err.contains("targets:") && err.contains("canary:"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_demo_starts_from_a_fresh_database() {
    let dir = tempfile::tempdir().unwrap();
    let first_out = probity_in(dir.path(), &["demo"]).await;
    let first = ok(&first_out);
    let second = ok(&probity_in(dir.path(), &["demo"]).await);
    // Alerting, on the console only: the model update opens incidents, the rollback's
    // healthy run resolves them.
    let alerts = text(&first_out.stderr);
    assert!(
        alerts.contains("alert [CRITICAL] Error rate ")
            && alerts.contains("alert [RESOLVED] Resolved: threshold:error_rate on support-bot"),
        "{alerts}"
    );
    let opened = first
        .lines()
        .find(|l| l.starts_with("alerts after the degraded run: "))
        .unwrap_or_else(|| panic!("{first}"));
    assert!(!opened.contains(": 0 incidents opened"), "{opened}");
    let resolved = first
        .lines()
        .find(|l| l.starts_with("alerts after the healthy run: "))
        .unwrap_or_else(|| panic!("{first}"));
    assert!(!resolved.ends_with(" 0 resolved"), "{resolved}");
    // Nothing but the console: no page, chat or mail was attempted.
    assert!(
        !alerts.contains("pending") || alerts.contains(" 0 pending"),
        "{alerts}"
    );
    assert!(!alerts.contains(" failed:"), "{alerts}");
    for out in [&first, &second] {
        assert!(
            out.contains("no baseline yet for `support-bot`"),
            "the demo's first support-bot run has nothing to compare with:\n{out}"
        );
        assert!(out.contains("stored in a fresh database"), "{out}");
        // An `http` target has no model: its line does not end in a blank where one was.
        let http = out
            .lines()
            .find(|l| l.trim_start().starts_with("target default http"))
            .unwrap_or_else(|| panic!("no http target line:\n{out}"));
        assert_eq!(http, http.trim_end(), "{http:?}");
        // It is shown by the URL its requests go to.
        assert!(http.contains(" http://127.0.0.1:"), "{http:?}");
    }
    let store = Store::open(&dir.path().join("reports/demo.db")).unwrap();
    assert_eq!(
        store.runs(None, 100).unwrap().len(),
        6,
        "only the second demo's runs"
    );
}
