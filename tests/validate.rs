//! `probity validate`: every kind of configuration mistake is reported at once, each with
//! `file:line:col`, the key path and a hint. These tests pin the exact text a user sees.

use std::path::{Path, PathBuf};

use probity::config::{Diagnostics, load_paths};

fn env(name: &str) -> Option<String> {
    match name {
        "OPENAI_API_KEY" => Some("sk-test".into()),
        _ => None,
    }
}

/// Writes `files` under a fresh project folder and validates `probes/` and `golden-sets/`.
fn validate(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<usize, String>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let paths: Vec<PathBuf> = ["probes", "golden-sets"]
        .iter()
        .map(|d| dir.path().join(d))
        .filter(|p| p.is_dir())
        .collect();
    let result = probity::config::validate_paths(&paths, &env)
        .map(|p| p.probes.len())
        .map_err(|d: Diagnostics| relative(&d.to_string(), dir.path()));
    (dir, result)
}

fn relative(text: &str, root: &Path) -> String {
    text.replace(&format!("{}/", root.display()), "")
}

const GOLDEN: &str =
    "name: support\ncases:\n  - id: hello\n    messages: [{ role: user, content: hi }]\n";

fn probe(body: &str) -> String {
    format!(
        "name: bot\ntarget:\n  provider: openai\n  base_url: http://127.0.0.1:9/v1\n  model: m\ngolden_sets: [golden-sets/support.yaml]\n{body}"
    )
}

#[test]
fn a_valid_project_passes() {
    let (_dir, result) = validate(&[
        ("probes/bot.yaml", &probe("")),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    assert_eq!(result, Ok(1));
}

#[test]
fn unknown_key_with_did_you_mean() {
    let (_dir, result) = validate(&[
        ("probes/bot.yaml", &probe("sampels: 3\n")),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    assert_eq!(
        result.unwrap_err(),
        "probes/bot.yaml:7:1: sampels: unknown key `sampels`\n  hint: did you mean `samples`?\n1 error in 1 file"
    );
}

#[test]
fn unknown_nested_key() {
    let text = "name: bot\ntarget:\n  provider: openai\n  modle: m\ngolden_sets: [golden-sets/support.yaml]\n";
    let (_dir, result) = validate(&[
        ("probes/bot.yaml", text),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    assert_eq!(
        result.unwrap_err(),
        "probes/bot.yaml:4:3: target.modle: unknown key `modle`\n  hint: did you mean `model`?\n1 error in 1 file"
    );
}

#[test]
fn wrong_type() {
    let (_dir, result) = validate(&[
        ("probes/bot.yaml", &probe("samples: five\n")),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    assert_eq!(
        result.unwrap_err(),
        "probes/bot.yaml:7:10: samples: expected a whole number, found the string \"five\"\n  hint: Times each case is sent (default 5): one answer proves nothing.\n1 error in 1 file"
    );
}

#[test]
fn missing_required_key() {
    let text = "name: bot\ntarget:\n  provider: openai\n  model: m\n";
    let (_dir, result) = validate(&[("probes/bot.yaml", text)]);
    assert_eq!(
        result.unwrap_err(),
        "probes/bot.yaml:1:1: missing required key `golden_sets`\n  hint: `golden_sets`: Golden-set files, relative to the folder that holds `probes/`.\n1 error in 1 file"
    );
}

#[test]
fn bad_duration() {
    let (_dir, result) = validate(&[
        ("probes/bot.yaml", &probe("timeout: 30 sekunden\n")),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    assert_eq!(
        result.unwrap_err(),
        "probes/bot.yaml:7:10: timeout: invalid duration: `30 sekunden` is not a duration\n  hint: write a number and a unit, e.g. 250ms, 30s, 5m\n1 error in 1 file"
    );
}

#[test]
fn bad_cron_line() {
    let (_dir, result) = validate(&[
        ("probes/bot.yaml", &probe("schedule: \"*/15 * * *\"\n")),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    assert_eq!(
        result.unwrap_err(),
        "probes/bot.yaml:7:11: schedule: invalid cron line `*/15 * * *`: expected 5 fields (or 6 with seconds first), found 4\n  hint: write 5 fields: minute hour day-of-month month day-of-week, e.g. `*/15 * * * *` or `0 9 * * MON-FRI` (Sunday is 0 or 7); or 6 fields with seconds first, e.g. `*/10 * * * * *`; or a macro: `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`, `@every 30s`\n1 error in 1 file"
    );
}

#[test]
fn undefined_template_variable() {
    let golden = "name: support\ncases:\n  - id: refund\n    messages:\n      - { role: user, content: \"Refund on {{plan}}?\" }\n";
    let (_dir, result) = validate(&[
        ("probes/bot.yaml", &probe("")),
        ("golden-sets/support.yaml", golden),
    ]);
    assert_eq!(
        result.unwrap_err(),
        "golden-sets/support.yaml:5:32: cases[0].messages[0].content: undefined template variable `plan`\n  hint: define it under the case's `vars:` (or the set's)\n1 error in 1 file"
    );
}

#[test]
fn missing_env_var() {
    let (_dir, result) = validate(&[
        (
            "probes/bot.yaml",
            &probe("judge: { api_key: \"${JUDGE_KEY}\" }\n"),
        ),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    assert_eq!(
        result.unwrap_err(),
        "probes/bot.yaml:7:19: judge.api_key: environment variable `JUDGE_KEY` is not set\n  hint: export JUDGE_KEY=… before running probity, or write the value here\n1 error in 1 file"
    );
}

#[test]
fn duplicate_case_id() {
    let golden = "name: support\ncases:\n  - id: hello\n    messages: [{ role: user, content: hi }]\n  - id: hello\n    messages: [{ role: user, content: hey }]\n";
    let (_dir, result) = validate(&[
        ("probes/bot.yaml", &probe("")),
        ("golden-sets/support.yaml", golden),
    ]);
    assert_eq!(
        result.unwrap_err(),
        "golden-sets/support.yaml:5:9: cases[1].id: duplicate case id `hello`\n  hint: cases[0] already uses it; ids must be unique within a set\n1 error in 1 file"
    );
}

#[test]
fn golden_set_file_not_found() {
    let (_dir, result) = validate(&[("probes/bot.yaml", &probe(""))]);
    let err = result.unwrap_err();
    assert!(
        err.starts_with("probes/bot.yaml:6:15: golden_sets[0]: golden-set file `golden-sets/support.yaml` not found\n  hint: paths are relative to "),
        "{err}"
    );
}

#[test]
fn invalid_json_schema() {
    let golden = "name: support\ncases:\n  - id: order\n    messages: [{ role: user, content: hi }]\n    expect:\n      json_schema: { type: objekt }\n";
    let (_dir, result) = validate(&[
        ("probes/bot.yaml", &probe("")),
        ("golden-sets/support.yaml", golden),
    ]);
    let err = result.unwrap_err();
    assert!(
        err.starts_with("golden-sets/support.yaml:6:28: cases[0].expect.json_schema.type: invalid JSON Schema at /type: "),
        "{err}"
    );
    assert!(
        err.contains("hint: expect.json_schema must be a JSON Schema (draft 2020-12)"),
        "{err}"
    );
}

#[test]
fn every_error_at_once_across_files() {
    let golden = "name: support\ncases:\n  - id: a\n    messages: [{ role: user, content: \"{{x}}\" }]\n  - id: a\n    messages: [{ role: user, content: hi }]\n";
    let text = probe("timeout: soon\nschedule: \"99 * * * *\"\nconcurency: 2\n");
    let (_dir, result) = validate(&[
        ("probes/bot.yaml", &text),
        ("golden-sets/support.yaml", golden),
    ]);
    let err = result.unwrap_err();
    // Structural errors stop a file before its semantic checks, so the probe reports the
    // unknown key; the golden set reports both of its problems.
    assert!(err.contains("unknown key `concurency`"), "{err}");
    assert!(err.contains("undefined template variable `x`"), "{err}");
    assert!(err.contains("duplicate case id `a`"), "{err}");
    assert!(err.ends_with("3 errors in 2 files"), "{err}");
}

#[test]
fn semantic_errors_are_gathered_too() {
    let text = probe(
        "timeout: soon\nschedule: \"99 * * * *\"\nthresholds: { latency_p95: { warning: 4 }, error_rate: { critical: 5 } }\n",
    );
    let (_dir, result) = validate(&[
        ("probes/bot.yaml", &text),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    let err = result.unwrap_err();
    assert!(
        err.contains("timeout: invalid duration: `soon` is not a duration"),
        "{err}"
    );
    assert!(
        err.contains("schedule: invalid cron line `99 * * * *`"),
        "{err}"
    );
    assert!(
        err.contains("thresholds.latency_p95.warning: invalid duration: `4` has no unit"),
        "{err}"
    );
    assert!(
        err.contains("thresholds.error_rate.critical: a rate is between 0 and 1, found 5"),
        "{err}"
    );
    assert!(err.ends_with("4 errors in 1 file"), "{err}");
}

#[test]
fn unknown_enum_value_and_alert_route() {
    let text = "name: bot\ntarget:\n  provider: openaii\n  model: m\ngolden_sets: [golden-sets/support.yaml]\n";
    let (_dir, result) = validate(&[
        ("probes/bot.yaml", text),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    assert_eq!(
        result.unwrap_err(),
        "probes/bot.yaml:3:13: target.provider: `openaii` is not one of: openai, anthropic, http\n  hint: did you mean `openai`?\n1 error in 1 file"
    );
    let alerts = "channels:\n  team: { type: console }\nroutes:\n  default: { critical: [teem] }\n";
    let (_dir, result) = validate(&[
        ("probes/bot.yaml", &probe("alerts: { route: defualt }\n")),
        ("probes/alerts.yaml", alerts),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    let err = result.unwrap_err();
    assert!(err.contains("probes/alerts.yaml:4:25: routes.default.critical[0]: unknown channel `teem`\n  hint: did you mean `team`?"), "{err}");
    assert!(
        err.contains(
            "alerts.route: unknown alert route `defualt`\n  hint: did you mean `default`?"
        ),
        "{err}"
    );
}

#[test]
fn every_example_file_loads() {
    // The files shipped in probes/ and golden-sets/ are what users copy: they must validate.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example_env = |name: &str| {
        Some(if name.ends_with("URL") {
            format!("https://example.com/{name}")
        } else {
            format!("test-{name}")
        })
    };
    let project = load_paths(
        &[root.join("probes"), root.join("golden-sets")],
        &example_env,
    )
    .unwrap_or_else(|d| panic!("{d}"));
    let probes = std::fs::read_dir(root.join("probes")).unwrap().count();
    assert_eq!(
        project.probes.len() + 1,
        probes,
        "every probe file but alerts.yaml is a probe"
    );
    assert!(project.alerts.is_some());
    let sets = std::fs::read_dir(root.join("golden-sets")).unwrap().count();
    assert_eq!(project.golden_sets.len(), sets);
    for probe in &project.probes {
        assert!(!probe.golden_sets.is_empty());
        assert!(probe.schedule.is_some(), "{} has a schedule", probe.name);
        // Each can reach a verdict against its own baseline: fewer answered samples than a
        // comparison needs would end every run "insufficient data".
        let planned: u64 = probe
            .golden_sets
            .iter()
            .flat_map(|s| s.cases.iter())
            .map(|c| u64::from(c.samples.unwrap_or(probe.samples)))
            .sum();
        assert!(
            planned >= probity::compare::MIN_ANSWERED,
            "{} plans {planned} samples, fewer than {} a comparison needs",
            probe.name,
            probity::compare::MIN_ANSWERED
        );
    }
}

#[test]
fn the_shipped_examples_validate_without_any_secret() {
    // `probity validate --no-secrets`: a pull request's CI job has none of the nine
    // variables the examples use, and must still lint them.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = probity::config::load_paths_without_secrets(&[
        root.join("probes"),
        root.join("golden-sets"),
    ])
    .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(project.probes.len(), 3);
    assert!(project.alerts.is_some());
    assert!(
        project.probes.iter().all(|p| p.secrets.is_empty()),
        "nothing was looked up, so nothing is a secret"
    );
}

#[test]
fn no_secrets_still_checks_everything_else() {
    let (dir, _) = validate(&[
        (
            "probes/bot.yaml",
            &probe("timeout: soon\njudge: { api_key: \"${JUDGE_KEY}\" }\n"),
        ),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    let err = probity::config::load_paths_without_secrets(&[
        dir.path().join("probes"),
        dir.path().join("golden-sets"),
    ])
    .unwrap_err();
    assert_eq!(
        relative(&err.to_string(), dir.path()),
        "probes/bot.yaml:7:10: timeout: invalid duration: `soon` is not a duration\n  hint: write a number and a unit, e.g. 250ms, 30s, 5m\n1 error in 1 file"
    );
}

#[test]
fn a_missing_variable_is_reported_once() {
    // Not "not set" and then "not a URL" for the same cause.
    let alerts = "channels:\n  team: { type: slack, webhook_url: \"${SLACK_WEBHOOK_URL}\" }\nroutes:\n  default: { critical: [team] }\n";
    let (_dir, result) = validate(&[
        ("probes/bot.yaml", &probe("")),
        ("probes/alerts.yaml", alerts),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    assert_eq!(
        result.unwrap_err(),
        "probes/alerts.yaml:2:37: channels.team.webhook_url: environment variable `SLACK_WEBHOOK_URL` is not set\n  hint: export SLACK_WEBHOOK_URL=… before running probity, or write the value here\n1 error in 1 file"
    );
    let text = "name: bot\ntarget:\n  provider: openai\n  base_url: \"${BASE_URL}\"\n  model: m\ntargets: { canary: { model: m2 } }\ngolden_sets: [golden-sets/support.yaml]\n";
    let (_dir, result) = validate(&[
        ("probes/bot.yaml", text),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    assert_eq!(
        result.unwrap_err(),
        "probes/bot.yaml:4:13: target.base_url: environment variable `BASE_URL` is not set\n  hint: export BASE_URL=… before running probity, or write the value here\n1 error in 1 file"
    );
}

#[test]
fn an_empty_secret_is_an_error() {
    let empty_env = |name: &str| match name {
        "OPENAI_API_KEY" => Some(String::new()),
        _ => None,
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("probes")).unwrap();
    std::fs::create_dir_all(dir.path().join("golden-sets")).unwrap();
    std::fs::write(
        dir.path().join("probes/bot.yaml"),
        probe("").replace("  model: m\n", "  model: m\n  api_key: ${OPENAI_API_KEY}\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("golden-sets/support.yaml"), GOLDEN).unwrap();
    let err = load_paths(
        &[dir.path().join("probes"), dir.path().join("golden-sets")],
        &empty_env,
    )
    .unwrap_err();
    assert_eq!(
        relative(&err.to_string(), dir.path()),
        "probes/bot.yaml:6:12: target.api_key: environment variable `OPENAI_API_KEY` is set but empty\n  hint: export OPENAI_API_KEY=… with the real value; an empty secret fails every request\n1 error in 1 file"
    );
}

#[test]
fn a_secret_in_a_url_path_is_not_quoted_in_errors() {
    let secret_env = |name: &str| match name {
        "TENANT_TOKEN" => Some("tok-8f3a2b".to_string()),
        _ => None,
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("probes")).unwrap();
    std::fs::create_dir_all(dir.path().join("golden-sets")).unwrap();
    let text = "name: bot\ntarget:\n  provider: openai\n  base_url: \"http://exa mple.com/t/${TENANT_TOKEN}/v1\"\n  model: m\ngolden_sets: [golden-sets/support.yaml]\n";
    std::fs::write(dir.path().join("probes/bot.yaml"), text).unwrap();
    std::fs::write(dir.path().join("golden-sets/support.yaml"), GOLDEN).unwrap();
    let err = load_paths(
        &[dir.path().join("probes"), dir.path().join("golden-sets")],
        &secret_env,
    )
    .unwrap_err()
    .to_string();
    assert!(!err.contains("tok-8f3a2b"), "{err}");
    assert!(
        err.contains("target.base_url: `http://exa mple.com/t/${TENANT_TOKEN}/v1` is not a URL"),
        "{err}"
    );
}

#[test]
fn a_variable_in_a_url_path_is_redacted_at_run_time_too() {
    let secret_env = |name: &str| match name {
        "TENANT_TOKEN" => Some("tok-8f3a2b".to_string()),
        _ => None,
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("probes")).unwrap();
    std::fs::create_dir_all(dir.path().join("golden-sets")).unwrap();
    let text = "name: bot\ntarget:\n  provider: openai\n  base_url: \"http://127.0.0.1:9/t/${TENANT_TOKEN}/v1\"\n  model: m\ngolden_sets: [golden-sets/support.yaml]\n";
    std::fs::write(dir.path().join("probes/bot.yaml"), text).unwrap();
    std::fs::write(dir.path().join("golden-sets/support.yaml"), GOLDEN).unwrap();
    let project = load_paths(
        &[dir.path().join("probes"), dir.path().join("golden-sets")],
        &secret_env,
    )
    .unwrap_or_else(|d| panic!("{d}"));
    let secrets: Vec<&str> = project.probes[0]
        .secrets
        .iter()
        .map(|s| s.expose())
        .collect();
    assert_eq!(secrets, vec!["tok-8f3a2b"]);
}

#[test]
fn the_cli_validates_the_examples_with_no_secrets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_probity"))
        .args(["validate", "--no-secrets", "-C"])
        .arg(root)
        .env_clear()
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("ok: 3 probes, 3 golden sets"),
        "{stdout}"
    );
}

/// The single error of a probe with `body` appended, as a user reads it.
fn probe_error(body: &str) -> String {
    let (_dir, result) = validate(&[
        ("probes/bot.yaml", &probe(body)),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    result.unwrap_err()
}

#[test]
fn retention_beyond_a_century_is_refused() {
    // 99999999 days, a natural "forever", panicked every run in chrono's date arithmetic.
    assert_eq!(
        probe_error("store: { retention_days: 99999999 }\n"),
        "probes/bot.yaml:7:26: store.retention_days: must be at most 36500 (100 years), found 99999999\n  hint: leave `retention_days` out to keep every run\n1 error in 1 file"
    );
}

#[test]
fn a_rate_limit_out_of_range_is_refused() {
    for (rps, shown) in [("0.00000001", "0.00000001"), ("1e9", "1000000000")] {
        assert_eq!(
            probe_error(&format!("rate_limit: {{ requests_per_second: {rps} }}\n")),
            format!(
                "probes/bot.yaml:7:36: rate_limit.requests_per_second: must be between 0.0001 and 1000000, found {shown}\n  hint: 0.5 is one request every 2 s; leave `rate_limit` out for no pacing\n1 error in 1 file"
            )
        );
    }
}

#[test]
fn an_output_reservation_out_of_range_is_refused() {
    let shown = probe_error("budget: { max_cost_usd: 1, output_reservation_tokens: 0 }\n");
    assert!(
        shown.contains("budget.output_reservation_tokens: must be between 1 and 1000000, found 0"),
        "{shown}"
    );
    assert!(shown.starts_with("probes/bot.yaml:7:"), "{shown}");
}

#[test]
fn drift_effects_must_be_sizes_in_order() {
    assert_eq!(
        probe_error("drift: { min_effect: { rate_delta: -0.1 } }\n"),
        "probes/bot.yaml:7:36: drift.min_effect.rate_delta: must be between 0 and 1, found -0.1\n  hint: 0.02 means two percentage points\n1 error in 1 file"
    );
    assert_eq!(
        probe_error("drift: { min_effect: { latency_ratio: 0.5 } }\n"),
        "probes/bot.yaml:7:39: drift.min_effect.latency_ratio: a ratio is at least 1, found 0.5\n  hint: 1.2 means 20% larger than the baseline\n1 error in 1 file"
    );
    assert_eq!(
        probe_error(
            "drift:\n  min_effect: { latency_ratio: 2.0 }\n  critical_effect: { latency_ratio: 1.5 }\n"
        ),
        "probes/bot.yaml:9:37: drift.critical_effect.latency_ratio: critical effect 1.5 is below the minimum effect 2\n  hint: the critical effect is the larger one: a change beyond it fails the run\n1 error in 1 file"
    );
}

#[test]
fn too_many_requests_for_one_run_are_refused() {
    assert_eq!(
        probe_error("samples: 20000000\n"),
        "probes/bot.yaml:7:10: samples: a run plans 20000000 requests (samples × cases × targets), more than 10000000\n  hint: lower `samples`, or split the golden sets across probes\n1 error in 1 file"
    );
}

#[test]
fn a_duration_without_unit_reads_the_same_everywhere() {
    assert_eq!(
        probe_error("timeout: 30\n"),
        "probes/bot.yaml:7:10: timeout: invalid duration: `30` has no unit\n  hint: write a number and a unit, e.g. 250ms, 30s, 5m\n1 error in 1 file"
    );
    assert_eq!(
        probe_error("thresholds: { latency_p95: { warning: 4000 } }\n"),
        "probes/bot.yaml:7:39: thresholds.latency_p95.warning: invalid duration: `4000` has no unit\n  hint: write a number and a unit, e.g. 250ms, 30s, 5m\n1 error in 1 file"
    );
}

#[test]
fn a_zero_timeout_is_refused() {
    assert_eq!(
        probe_error("timeout: 0s\n"),
        "probes/bot.yaml:7:10: timeout: a timeout of 0 fails every request\n  hint: the longest wait for one answer, e.g. 30s\n1 error in 1 file"
    );
}

#[test]
fn a_warning_level_beyond_its_critical_is_refused() {
    assert_eq!(
        probe_error("thresholds: { latency_p95: { warning: 8s, critical: 4s } }\n"),
        "probes/bot.yaml:7:39: thresholds.latency_p95.warning: warning (8s) is above critical (4s): the warning level comes first\n  hint: the warning level is crossed first, then the critical one\n1 error in 1 file"
    );
    assert_eq!(
        probe_error("thresholds: { pass_rate: { warning: 0.8, critical: 0.9 } }\n"),
        "probes/bot.yaml:7:37: thresholds.pass_rate.warning: warning (0.8) is below critical (0.9): for a floor, the warning level is the higher one\n  hint: e.g. { warning: 0.95, critical: 0.9 }\n1 error in 1 file"
    );
}

#[test]
fn a_mistyped_choice_names_the_choices() {
    let golden = "name: support\ncases:\n  - id: order\n    messages: [{ role: user, content: hi }]\n    expect: { json: stricts }\n";
    let (_dir, result) = validate(&[
        ("probes/bot.yaml", &probe("")),
        ("golden-sets/support.yaml", golden),
    ]);
    assert_eq!(
        result.unwrap_err(),
        "golden-sets/support.yaml:5:21: cases[0].expect.json: `stricts` is not one of: strict, lenient\n  hint: did you mean `strict`?\n1 error in 1 file"
    );
}

/// `probity validate` run from `cwd` (no secrets needed by these projects).
fn validate_cli(cwd: &Path) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_probity"))
        .arg("validate")
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn the_relative_paths_hint_names_the_folder() {
    // Run from the project folder itself, the hint used to end in an empty path.
    let (dir, _) = validate(&[("probes/bot.yaml", &probe(""))]);
    let (code, text) = validate_cli(dir.path());
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("probes/bot.yaml:6:15: golden_sets[0]: golden-set file `golden-sets/support.yaml` not found\n  hint: paths are relative to ./ (the folder that holds probes/)\n"),
        "{text}"
    );
}

#[test]
fn validate_finds_the_project_from_inside_probes() {
    let (dir, result) = validate(&[
        ("probes/bot.yaml", &probe("")),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    assert_eq!(result, Ok(1));
    let (code, text) = validate_cli(&dir.path().join("probes"));
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(text, "ok: 1 probe, 1 golden set (1 case)\n");
    // Problems found from there point back into the project, clickable from where one is.
    std::fs::write(dir.path().join("probes/bot.yaml"), probe("sampels: 3\n")).unwrap();
    let (code, text) = validate_cli(&dir.path().join("probes"));
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("../probes/bot.yaml:7:1: sampels: unknown key `sampels`"),
        "{text}"
    );
    // And `run` finds its probes the same way.
    std::fs::write(dir.path().join("probes/bot.yaml"), probe("")).unwrap();
    let project = probity::config::load_probes(&[], &dir.path().join("probes"), &env)
        .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(project.probes.len(), 1);
}

#[test]
fn a_whole_number_too_large_for_its_field_is_located() {
    // Above u32, a value passed the schema and then failed to deserialise with no location
    // ("1:1: invalid value: integer ..., expected u32").
    assert_eq!(
        probe_error("store: { retention_days: 5000000000 }\n"),
        "probes/bot.yaml:7:26: store.retention_days: must be at most 4294967295, found 5000000000\n1 error in 1 file"
    );
}

#[test]
fn a_whole_number_written_with_a_fraction_is_a_whole_number() {
    // `samples: 5.0` passed the schema (JSON Schema calls 5.0 an integer) and then failed
    // to deserialise with no location.
    let (_dir, result) = validate(&[
        (
            "probes/bot.yaml",
            &probe("samples: 5.0\nconcurrency: 2.0\n"),
        ),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    assert_eq!(result, Ok(1));
    assert_eq!(
        probe_error("samples: 5.5\n"),
        "probes/bot.yaml:7:10: samples: expected a whole number, found the number 5.5\n  hint: Times each case is sent (default 5): one answer proves nothing.\n1 error in 1 file"
    );
}

#[test]
fn nan_and_infinity_are_refused_where_they_are() {
    // JSON has no NaN: `.nan` read as "not set", so a NaN effect size silently became the
    // default, and `timeout: .inf` the default 60s.
    for (body, col) in [
        ("drift: { min_effect: { rate_delta: .nan } }\n", 36),
        ("rate_limit: { requests_per_second: .inf }\n", 36),
    ] {
        let err = probe_error(body);
        assert!(
            err.starts_with(&format!("probes/bot.yaml:7:{col}: ")),
            "{err}"
        );
        assert!(
            err.contains(": not a finite number (`.nan` or `.inf`)\n  hint: write a number such as 0.5, or leave the key out for its default\n1 error in 1 file"),
            "{err}"
        );
    }
    assert_eq!(
        probe_error("timeout: .inf\n"),
        "probes/bot.yaml:7:10: timeout: not a finite number (`.nan` or `.inf`)\n  hint: write a number such as 0.5, or leave the key out for its default\n1 error in 1 file"
    );
}

#[test]
fn no_secrets_does_not_pass_a_value_no_variable_could_make_valid() {
    let text = "name: bot\ntarget:\n  provider: \"${PROVIDER}\"\n  model: m\ngolden_sets: [golden-sets/support.yaml]\n";
    let (dir, _) = validate(&[
        ("probes/bot.yaml", text),
        ("golden-sets/support.yaml", GOLDEN),
    ]);
    let err = probity::config::load_paths_without_secrets(&[
        dir.path().join("probes"),
        dir.path().join("golden-sets"),
    ])
    .unwrap_err();
    assert_eq!(
        relative(&err.to_string(), dir.path()),
        "probes/bot.yaml:3:13: target.provider: `${PROVIDER}` is not one of: openai, anthropic, http\n  hint: expected one of: openai, anthropic, http\n1 error in 1 file"
    );
}

#[test]
fn a_negative_price_is_refused() {
    // With a negative price every request looks free, so the budget could never stop a run.
    assert_eq!(
        probe_error("pricing: { input_per_mtok: -1, output_per_mtok: 0.6 }\n"),
        "probes/bot.yaml:7:28: pricing.input_per_mtok: a price is not negative, found -1\n  hint: USD per million tokens, e.g. 0.15\n1 error in 1 file"
    );
}
