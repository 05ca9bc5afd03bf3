//! The store against real SQLite files: round trips of every observation field, the
//! writer's batching and periodic commits (seen from a second connection), migrations,
//! run lookup, retention, baselines and the JSON lines export.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use chrono::{DateTime, TimeDelta, Utc};
use probity::provider::ErrorClass;
use probity::runner::{Observation, Status, Timings};
use probity::score::Score;
use probity::store::{NewRun, RunEnd, Store, StoreError};
use serde_json::json;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("bad test timestamp {s}: {e}"))
}

fn new_run(id: &str, probe: &str, started_at: DateTime<Utc>) -> NewRun {
    NewRun {
        id: id.to_string(),
        probe: probe.to_string(),
        started_at,
        targets: json!({"default": {"provider": "openai", "model": "gpt-4o-mini",
                                    "labels": {"model_version": "2024-07-18"}}}),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".to_string(),
    }
}

fn end(status: &str) -> RunEnd {
    RunEnd {
        status: status.to_string(),
        verdict: Some("pass".to_string()),
        summary: json!({"error_rate": 0.0, "cases": 3}),
        evidence: Some(json!({"default": {"rates": {}}})),
        exit_code: 0,
    }
}

/// A plain successful observation.
fn obs(seq: u64) -> Observation {
    Observation {
        seq,
        target: "default".to_string(),
        set: "support".to_string(),
        case_id: format!("case-{}", seq % 7),
        sample: (seq % 5) as u32,
        attempt: 1,
        final_attempt: true,
        started_at: DateTime::from_timestamp(1_721_290_000 + seq as i64, 123_456_789)
            .expect("a valid test timestamp"),
        scheduled_ms: seq as f64 * 250.0,
        delayed: false,
        latency_ms: Some(812.5),
        ttft_ms: Some(120.25),
        status: Status::Ok,
        http_status: Some(200),
        error: None,
        input_tokens: Some(42),
        output_tokens: Some(17),
        cost_usd: 0.000_016_5,
        finish_reason: Some("stop".to_string()),
        model: Some("gpt-4o-mini-2024-07-18".to_string()),
        system_fingerprint: None,
        request_id: Some(format!("req_{seq}")),
        span_id: "00f067aa0ba902b7".to_string(),
        output: Some("You can ask for a refund within 30 days of purchase.".to_string()),
        context: vec!["The warranty covers manufacturing defects for 2 years.".to_string()],
        // Some rows with labels and timings, some without: both must round-trip.
        labels: if seq % 2 == 0 {
            [("feature".to_string(), "refunds".to_string())].into()
        } else {
            Default::default()
        },
        timings: (seq % 3 == 0).then(|| Timings {
            dns_ms: Some(1.5),
            connect_ms: Some(3.25),
            ttfb_ms: Some(640.0),
            reused_connection: false,
            gap_p50_ms: Some(12.0),
            gap_p95_ms: Some(30.5),
            server: [("retrieval".to_string(), 120.0)].into(),
            network_overhead_ms: Some(30.0),
        }),
    }
}

/// Built from JSON so fields the scorers add later (with serde defaults) do not break
/// this test; the store keeps scores as JSON anyway.
fn scores() -> Vec<Score> {
    serde_json::from_value(json!([
        {"scorer": "contains", "passed": true, "detail": {"matched": "30 days"}},
        {"scorer": "grounded", "passed": false, "value": 0.625, "threshold": 0.8,
         "reason": "2 of 5 sentences unsupported — «hors contexte»"},
        {"scorer": "refusal", "passed": true, "informational": true}
    ]))
    .unwrap_or_else(|e| panic!("test scores no longer match Score: {e}"))
}

fn open_with_run(path: &Path, id: &str) -> Result<Store> {
    let store = Store::open(path)?;
    store.begin_run(&new_run(id, "support-bot", Utc::now()))?;
    Ok(store)
}

/// Rows of a table counted through a connection of our own, not the store's.
fn count_raw(path: &Path, sql: &str) -> Result<i64> {
    let conn = rusqlite::Connection::open(path)?;
    Ok(conn.query_row(sql, [], |row| row.get(0))?)
}

#[test]
fn every_observation_field_round_trips() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("probity.db");
    let store = open_with_run(&path, "r1")?;

    let mut sent = Vec::new();
    // Everything present, unicode everywhere, a 1 MB answer, nanosecond time, edge numbers.
    let mut full = obs(0);
    full.target = "canary-🐤".to_string();
    full.set = "support/日本語".to_string();
    full.case_id = "refund-window «ß» עברית".to_string();
    full.sample = u32::MAX;
    full.attempt = 3;
    full.final_attempt = false;
    full.started_at = t("2024-07-18T09:30:00.000000001Z");
    full.scheduled_ms = 1_234.567_890_123;
    full.latency_ms = Some(f64::MAX);
    full.ttft_ms = Some(0.0);
    full.http_status = Some(u16::MAX);
    full.error = Some("upstream said: \"quota\"\nline 2\ttab \u{0} nul".to_string());
    full.input_tokens = Some(i64::MAX as u64);
    full.output_tokens = Some(0);
    full.cost_usd = 1e-12;
    full.finish_reason = Some("length".to_string());
    full.model = Some("модель-∞".to_string());
    full.request_id = Some("req_🙂".to_string());
    full.output = Some("é🙂漢".repeat(1_000_000 / 9 + 1));
    assert!(full.output.as_ref().is_some_and(|o| o.len() >= 1_000_000));
    full.context = vec!["passage one".to_string(), String::new(), "三".to_string()];
    sent.push(full);

    // Everything optional absent.
    let mut bare = obs(1);
    bare.latency_ms = None;
    bare.ttft_ms = None;
    bare.http_status = None;
    bare.error = None;
    bare.input_tokens = None;
    bare.output_tokens = None;
    bare.finish_reason = None;
    bare.model = None;
    bare.request_id = None;
    bare.output = None;
    bare.context = Vec::new();
    bare.status = Status::SkippedBudget;
    sent.push(bare);

    // Every error class.
    for (i, class) in ErrorClass::ALL.into_iter().enumerate() {
        let mut o = obs(2 + i as u64);
        o.status = Status::Error(class);
        o.output = None;
        o.error = Some(format!("{} happened", class.as_str()));
        sent.push(o);
    }

    let writer = store.writer()?;
    for o in &sent {
        writer.observation("r1", o.clone());
    }
    writer.scores("r1", 1, scores());
    writer.scores("r1", 0, Vec::new());
    let stats = writer.finish()?;
    assert_eq!(stats.observations, sent.len() as u64);
    assert_eq!(stats.scores, 2);

    let rows = store.observations("r1")?;
    assert_eq!(rows.len(), sent.len());
    for (row, o) in rows.iter().zip(&sent) {
        assert_eq!(&row.observation, o, "observation {} differs", o.seq);
    }
    assert_eq!(rows[0].scores, Some(Vec::new()));
    assert_eq!(rows[1].scores, Some(scores()));
    assert!(rows[2..].iter().all(|r| r.scores.is_none()));
    Ok(())
}

#[test]
fn non_finite_numbers_do_not_cost_the_batch() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("p.db");
    let store = open_with_run(&path, "r1")?;
    let mut o = obs(0);
    o.scheduled_ms = f64::NAN;
    o.cost_usd = f64::NAN;
    o.latency_ms = Some(f64::INFINITY);
    o.ttft_ms = Some(f64::NAN);
    let writer = store.writer()?;
    writer.observation("r1", o);
    writer.observation("r1", obs(1));
    assert_eq!(writer.finish()?.observations, 2);
    let rows = store.observations("r1")?;
    let back = &rows[0].observation;
    assert!(back.scheduled_ms.is_nan() && back.cost_usd.is_nan());
    assert_eq!(back.latency_ms, Some(f64::INFINITY));
    // SQLite has no NaN: it stores NULL, which an optional field reads back as None.
    assert_eq!(back.ttft_ms, None);
    Ok(())
}

#[test]
fn writer_commits_a_thousand_in_batches() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("p.db");
    let store = open_with_run(&path, "r1")?;
    let writer = store.writer()?;
    for seq in 0..1_000 {
        writer.observation("r1", obs(seq));
    }
    for seq in 0..1_000 {
        writer.scores("r1", seq, scores());
    }
    let stats = writer.finish()?;
    assert_eq!(stats.observations, 1_000);
    assert_eq!(stats.scores, 1_000);
    // 2,000 messages at most 64 per transaction.
    ensure!(stats.batches >= 2_000 / 64, "{stats:?}");
    assert_eq!(store.count_observations("r1")?, 1_000);
    assert_eq!(
        count_raw(
            &path,
            "SELECT count(*) FROM observations WHERE scores_json IS NOT NULL"
        )?,
        1_000
    );
    Ok(())
}

#[test]
fn rows_are_visible_to_another_connection_before_finish() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("p.db");
    let store = open_with_run(&path, "r1")?;
    let writer = store.writer()?;
    // Fewer than a batch: only the 100 ms timer can commit them.
    for seq in 0..10 {
        writer.observation("r1", obs(seq));
    }
    let sent = Instant::now();
    let other = Store::open(&path)?;
    let mut seen = 0;
    while sent.elapsed() < Duration::from_secs(2) {
        seen = other.count_observations("r1")?;
        if seen == 10 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let waited = sent.elapsed();
    assert_eq!(seen, 10, "rows not committed within 2 s");
    ensure!(
        waited < Duration::from_millis(500),
        "committed only after {waited:?}"
    );
    // And through a plain SQLite connection too (not just a `Store`).
    assert_eq!(count_raw(&path, "SELECT count(*) FROM observations")?, 10);
    assert_eq!(writer.finish()?.observations, 10);
    Ok(())
}

#[test]
fn flush_waits_for_the_commit() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("p.db");
    let store = open_with_run(&path, "r1")?;
    let writer = store.writer()?;
    writer.observation("r1", obs(0));
    writer.flush()?;
    assert_eq!(count_raw(&path, "SELECT count(*) FROM observations")?, 1);
    writer.finish()?;
    Ok(())
}

#[test]
fn writer_survives_the_store_being_dropped_first() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("p.db");
    let store = open_with_run(&path, "r1")?;
    let writer = store.writer()?;
    drop(store);
    for seq in 0..100 {
        writer.observation("r1", obs(seq));
    }
    assert_eq!(writer.finish()?.observations, 100);
    assert_eq!(Store::open(&path)?.count_observations("r1")?, 100);
    Ok(())
}

#[test]
fn dropping_a_writer_still_commits() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("p.db");
    let store = open_with_run(&path, "r1")?;
    {
        let writer = store.writer()?;
        for seq in 0..5 {
            writer.observation("r1", obs(seq));
        }
    }
    assert_eq!(store.count_observations("r1")?, 5);
    Ok(())
}

#[test]
fn writer_reports_the_first_error_and_keeps_the_rest() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("p.db");
    let store = open_with_run(&path, "r1")?;
    let writer = store.writer()?;
    writer.observation("r1", obs(0));
    writer.observation("no-such-run", obs(1));
    writer.observation("r1", obs(0)); // duplicate seq
    writer.scores("r1", 99, scores()); // never observed
    writer.observation("r1", obs(2));
    let flushed = writer.flush();
    assert!(writer.failed());
    let err = writer.finish().err().context("finish should fail")?;
    assert!(
        matches!(err, StoreError::ObservationForUnknownRun { .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("no-such-run") && msg.contains("begin_run"),
        "{msg}"
    );
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(matches!(flushed, Err(StoreError::WriterFailed { .. })));
    // The good rows of the same batch were committed.
    let seqs: Vec<u64> = store
        .observations("r1")?
        .iter()
        .map(|r| r.observation.seq)
        .collect();
    assert_eq!(seqs, [0, 2]);
    Ok(())
}

#[test]
fn migrations_are_idempotent_on_reopen() -> Result<()> {
    let dir = tempfile::tempdir()?;
    // Folders that do not exist yet are created.
    let path = dir.path().join("a/b/probity.db");
    {
        let store = open_with_run(&path, "r1")?;
        assert_eq!(store.path(), path);
    }
    for _ in 0..3 {
        let store = Store::open(&path)?;
        assert_eq!(store.run("r1")?.id, "r1");
    }
    assert_eq!(
        count_raw(&path, "SELECT count(*) FROM schema_migrations")?,
        Store::schema_version()
    );
    assert_eq!(
        count_raw(&path, "SELECT max(version) FROM schema_migrations")?,
        Store::schema_version()
    );
    let mode: String =
        rusqlite::Connection::open(&path)?
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
    assert_eq!(mode, "wal");
    Ok(())
}

#[test]
fn a_newer_schema_is_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("p.db");
    drop(Store::open(&path)?);
    let newer = Store::schema_version() + 1;
    rusqlite::Connection::open(&path)?.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, 'future', 'x')",
        [newer],
    )?;
    let err = Store::open(&path).err().context("open should refuse")?;
    assert!(matches!(err, StoreError::SchemaTooNew { found, .. } if found == newer));
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("upgrade probity"), "{msg}");
    Ok(())
}

#[test]
fn a_file_that_is_not_a_database_is_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "these are not the pages you are looking for ".repeat(200),
    )?;
    let err = Store::open(&path).err().context("open should refuse")?;
    let msg = err.to_string();
    assert!(msg.contains("not an SQLite database"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    Ok(())
}

#[test]
fn runs_are_found_by_id_prefix_or_latest() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("p.db");
    let store = Store::open(&path)?;
    store.begin_run(&new_run(
        "0191a2b3-aaaa",
        "support-bot",
        t("2024-07-18T09:00:00Z"),
    ))?;
    store.begin_run(&new_run(
        "0191a2b3-bbbb",
        "support-bot",
        t("2024-07-18T10:00:00Z"),
    ))?;
    store.begin_run(&new_run(
        "0191c4d5-cccc",
        "other",
        t("2024-07-18T11:00:00Z"),
    ))?;
    store.begin_run(&new_run("a_b%", "other", t("2024-07-18T08:00:00Z")))?;

    assert_eq!(store.run("0191a2b3-aaaa")?.id, "0191a2b3-aaaa");
    assert_eq!(store.run("0191a2b3-b")?.id, "0191a2b3-bbbb");
    assert_eq!(store.run("0191c")?.id, "0191c4d5-cccc");
    assert_eq!(store.run("latest")?.id, "0191c4d5-cccc");
    // `_` and `%` are not wildcards, and case matters.
    assert_eq!(store.run("a_")?.id, "a_b%");
    assert!(matches!(
        store.run("a%"),
        Err(StoreError::RunNotFound { .. })
    ));
    assert!(matches!(
        store.run("0191A"),
        Err(StoreError::RunNotFound { .. })
    ));

    let err = store.run("0191a").err().context("should be ambiguous")?;
    let msg = err.to_string();
    assert!(matches!(err, StoreError::AmbiguousRun { .. }), "{msg}");
    assert!(
        msg.contains("0191a2b3-aaaa") && msg.contains("0191a2b3-bbbb"),
        "{msg}"
    );
    assert!(!msg.contains("0191c4d5"), "{msg}");
    assert!(msg.contains("more characters"), "{msg}");

    let err = store.run("zzz").err().context("should be missing")?;
    assert!(err.to_string().contains("no run `zzz`"), "{err}");
    assert!(matches!(store.run(""), Err(StoreError::RunNotFound { .. })));

    let empty = Store::open(&dir.path().join("empty.db"))?;
    assert!(matches!(
        empty.run("latest"),
        Err(StoreError::NoRuns { .. })
    ));
    Ok(())
}

#[test]
fn runs_list_newest_first_and_show_unfinished() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("p.db");
    let store = Store::open(&path)?;
    for (i, id) in ["r1", "r2", "r3"].into_iter().enumerate() {
        store.begin_run(&new_run(
            id,
            "support-bot",
            t("2024-07-18T09:00:00Z") + TimeDelta::hours(i as i64),
        ))?;
    }
    store.begin_run(&new_run("o1", "other", t("2024-07-18T20:00:00Z")))?;
    store.finish_run("r1", &end("passed"))?;
    store.finish_run(
        "r2",
        &RunEnd {
            exit_code: 1,
            verdict: None,
            ..end("failed")
        },
    )?;
    // r3 was "killed": it stays running.

    let ids =
        |runs: Vec<probity::store::RunRecord>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.runs(Some("support-bot"), 10)?),
        ["r3", "r2", "r1"]
    );
    assert_eq!(ids(store.runs(None, 2)?), ["o1", "r3"]);
    assert_eq!(ids(store.finished_runs("support-bot", 10)?), ["r2", "r1"]);
    assert_eq!(ids(store.finished_runs("support-bot", 1)?), ["r2"]);

    let r3 = store.run("r3")?;
    assert_eq!(r3.status, "running");
    assert!(!r3.is_finished() && r3.summary.is_none() && r3.exit_code.is_none());
    assert_eq!(r3.targets["default"]["model"], "gpt-4o-mini");
    let r2 = store.run("r2")?;
    assert!(r2.is_finished());
    assert_eq!(
        (r2.status.as_str(), r2.verdict, r2.exit_code),
        ("failed", None, Some(1))
    );
    assert_eq!(r2.summary, Some(json!({"error_rate": 0.0, "cases": 3})));
    assert_eq!(r2.started_at, t("2024-07-18T10:00:00Z"));
    assert_eq!(r2.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");

    assert!(matches!(
        store.finish_run("r1", &end("passed")),
        Err(StoreError::AlreadyFinished { .. })
    ));
    assert!(matches!(
        store.finish_run("r3", &end("running")),
        Err(StoreError::FinishAsRunning { .. })
    ));
    assert!(matches!(
        store.finish_run("nope", &end("passed")),
        Err(StoreError::RunNotFound { .. })
    ));
    assert!(matches!(
        store.begin_run(&new_run("r1", "support-bot", Utc::now())),
        Err(StoreError::RunExists { .. })
    ));
    Ok(())
}

#[test]
fn baselines_are_promoted_replaced_and_listed() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("p.db");
    let store = Store::open(&path)?;
    store.begin_run(&new_run("r1", "support-bot", t("2024-07-18T09:00:00Z")))?;
    store.begin_run(&new_run("r2", "support-bot", t("2024-07-18T10:00:00Z")))?;
    store.begin_run(&new_run("o1", "other", t("2024-07-18T10:00:00Z")))?;
    assert!(store.baseline("support-bot")?.is_none());
    assert!(matches!(
        store.promote("support-bot", "r1", &BTreeMap::new(), &json!({})),
        Err(StoreError::NotFinished { .. })
    ));
    for id in ["r1", "r2", "o1"] {
        store.finish_run(id, &end("passed"))?;
    }
    assert!(matches!(
        store.promote("support-bot", "o1", &BTreeMap::new(), &json!({})),
        Err(StoreError::ProbeMismatch { .. })
    ));
    assert!(matches!(
        store.promote("support-bot", "zz", &BTreeMap::new(), &json!({})),
        Err(StoreError::RunNotFound { .. })
    ));

    let labels = BTreeMap::from([("model_version".to_string(), "2024-07-18".to_string())]);
    let data =
        json!({"cases": {"refund-window": {"pass_rate": 0.96, "latencies": [812.5, 901.0]}}});
    store.promote("support-bot", "r1", &labels, &data)?;
    let promoted = store.promote("support-bot", "r2", &labels, &data)?;
    store.promote("other", "o1", &BTreeMap::new(), &json!(null))?;

    let b = store.baseline("support-bot")?.context("baseline")?;
    assert_eq!(b, promoted);
    assert_eq!(
        (b.run_id.as_str(), &b.labels, &b.data),
        ("r2", &labels, &data)
    );
    let all: Vec<(String, String)> = store
        .baselines()?
        .into_iter()
        .map(|b| (b.probe, b.run_id))
        .collect();
    assert_eq!(
        all,
        [
            ("other".into(), "o1".into()),
            ("support-bot".into(), "r2".into())
        ]
    );
    Ok(())
}

#[test]
fn prune_keeps_baselines_unfinished_runs_and_other_probes() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("p.db");
    let store = Store::open(&path)?;
    let now = Utc::now();
    let days = |d: i64| now - TimeDelta::days(d);
    let runs = [
        ("old-finished", "p", days(30), true),
        ("old-baseline", "p", days(40), true),
        ("old-killed", "p", days(3), false),
        ("live", "p", now - TimeDelta::hours(2), false),
        ("recent", "p", days(1) + TimeDelta::hours(1), true),
        ("other-probe", "q", days(30), true),
    ];
    let writer = store.writer()?;
    for (id, probe, started, finished) in runs {
        store.begin_run(&new_run(id, probe, started))?;
        for seq in 0..3 {
            writer.observation(id, obs(seq));
        }
        if finished {
            store.finish_run(id, &end("passed"))?;
        }
    }
    writer.finish()?;
    store.promote("p", "old-baseline", &BTreeMap::new(), &json!({"k": 1}))?;

    // Everything of `p` started before now+1h is eligible, save the protected ones.
    let deleted = store.prune("p", now + TimeDelta::hours(1))?;
    assert_eq!(deleted, 3, "old-finished, old-killed and recent");
    let mut left: Vec<String> = store.runs(None, 100)?.into_iter().map(|r| r.id).collect();
    left.sort();
    assert_eq!(left, ["live", "old-baseline", "other-probe"]);
    // Observations went with their runs (and only with them).
    assert_eq!(count_raw(&path, "SELECT count(*) FROM observations")?, 9);
    assert_eq!(store.count_observations("old-baseline")?, 3);
    assert!(store.baseline("p")?.is_some());

    // A cutoff before every run deletes nothing.
    assert_eq!(store.prune("q", days(31))?, 0);
    assert_eq!(store.prune("q", days(29))?, 1);
    Ok(())
}

#[test]
fn export_jsonl_writes_one_parsable_object_per_line() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("p.db");
    let store = open_with_run(&path, "r1")?;
    let writer = store.writer()?;
    let mut multiline = obs(0);
    multiline.output = Some("line one\nline two\r\n\"quoted\" 🙂".to_string());
    writer.observation("r1", multiline.clone());
    writer.observation("r1", obs(1));
    let mut failed = obs(2);
    failed.status = Status::Error(ErrorClass::Http429);
    writer.observation("r1", failed);
    writer.scores("r1", 0, scores());
    writer.finish()?;

    let mut out = Vec::new();
    assert_eq!(store.export_jsonl("r1", &mut out)?, 3);
    let text = String::from_utf8(out)?;
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(lines.len(), 3);
    assert!(text.ends_with('\n'));
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["run_id"], "r1");
        assert_eq!(line["seq"], i as u64);
    }
    assert_eq!(lines[0]["output"], multiline.output.unwrap_or_default());
    assert_eq!(lines[0]["scores"][1]["scorer"], "grounded");
    assert_eq!(lines[0]["case_id"], "case-0");
    assert_eq!(lines[0]["set"], "support");
    assert!(lines[1]["scores"].is_null());
    assert_eq!(lines[2]["status"], "http_429");
    // Every field of Observation is there, so a line can be read back as one.
    let back: Observation = serde_json::from_value(lines[1].clone())?;
    assert_eq!(back, obs(1));

    assert!(matches!(
        store.export_jsonl("nope", std::io::sink()),
        Err(StoreError::RunNotFound { .. })
    ));
    Ok(())
}

#[test]
fn for_each_streams_a_large_run_quickly_and_stops_on_error() -> Result<()> {
    const N: u64 = 100_000;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("p.db");
    let store = open_with_run(&path, "r1")?;
    let writer = store.writer()?;
    let started = Instant::now();
    for seq in 0..N {
        let mut o = obs(seq);
        o.output = Some(format!(
            "answer {seq}: you can ask for a refund within 30 days."
        ));
        writer.observation("r1", o);
    }
    let stats = writer.finish()?;
    let wrote = started.elapsed();
    assert_eq!(stats.observations, N);

    let started = Instant::now();
    let mut next = 0;
    let n = store.for_each_observation("r1", |row| {
        if row.observation.seq != next {
            return Err(anyhow::anyhow!(
                "seq {} after {}",
                row.observation.seq,
                next - 1
            ));
        }
        next += 1;
        Ok(())
    })?;
    let read = started.elapsed();
    assert_eq!(n, N);
    eprintln!(
        "{N} observations: written in {wrote:?} ({:.0}/s), read in {read:?}",
        N as f64 / wrote.as_secs_f64()
    );
    // Well under a second optimised; this bound also holds for an unoptimised test build
    // on a busy machine.
    ensure!(
        read < Duration::from_secs(3),
        "reading {N} rows took {read:?}"
    );

    // The callback's error stops the walk and comes back as is.
    let mut visited = 0;
    let err = store
        .for_each_observation("r1", |_| {
            visited += 1;
            if visited == 10 {
                Err(anyhow::anyhow!("stop here"))
            } else {
                Ok(())
            }
        })
        .err()
        .context("should stop")?;
    assert_eq!((visited, err.to_string().as_str()), (10, "stop here"));
    Ok(())
}

/// Throughput of the writer, for the record: `cargo test --release --test store --
/// --ignored --nocapture writer_throughput`.
#[test]
#[ignore = "a measurement, run on demand in release mode"]
fn writer_throughput() -> Result<()> {
    const N: u64 = 200_000;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("p.db");
    let store = open_with_run(&path, "r1")?;
    let mut template = obs(0);
    template.output = Some("You can ask for a refund within 30 days of purchase. ".repeat(8));
    let messages: Vec<Observation> = (0..N)
        .map(|seq| Observation {
            seq,
            ..template.clone()
        })
        .collect();
    let writer = store.writer()?;
    let started = Instant::now();
    for o in messages {
        writer.observation("r1", o);
    }
    let stats = writer.finish()?;
    let elapsed = started.elapsed();
    assert_eq!(stats.observations, N);
    eprintln!(
        "wrote {N} observations (~{} B output each) in {elapsed:?}: {:.0} observations/s, \
         {} batches",
        template.output.map_or(0, |o| o.len()),
        N as f64 / elapsed.as_secs_f64(),
        stats.batches
    );
    let started = Instant::now();
    let n = store.for_each_observation("r1", |_| Ok::<(), StoreError>(()))?;
    eprintln!("read {n} rows in {:?}", started.elapsed());
    Ok(())
}

#[test]
fn runs_are_found_by_a_unique_suffix_too() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("p.db"))?;
    store.begin_run(&new_run(
        "20240718T090000Z-aa51",
        "bot",
        t("2024-07-18T09:00:00Z"),
    ))?;
    store.begin_run(&new_run(
        "20240718T100000Z-f8dd",
        "bot",
        t("2024-07-18T10:00:00Z"),
    ))?;
    store.begin_run(&new_run(
        "20240718T110000Z-c851",
        "bot",
        t("2024-07-18T11:00:00Z"),
    ))?;
    assert_eq!(store.run("aa51")?.id, "20240718T090000Z-aa51");
    assert_eq!(store.run("f8dd")?.id, "20240718T100000Z-f8dd");
    assert_eq!(store.run("Z-c851")?.id, "20240718T110000Z-c851");
    assert_eq!(store.run("20240718T10")?.id, "20240718T100000Z-f8dd");
    // `51` ends two ids: ambiguous, both listed.
    let err = store.run("51").err().context("should be ambiguous")?;
    assert!(matches!(err, StoreError::AmbiguousRun { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("-aa51") && msg.contains("-c851"), "{msg}");
    assert!(!msg.contains("f8dd"), "{msg}");
    // A string inside an id, neither prefix nor suffix, is not a match.
    assert!(matches!(
        store.run("Z-aa"),
        Err(StoreError::RunNotFound { .. })
    ));
    Ok(())
}

#[test]
fn prompts_and_the_printed_summary_are_kept_and_exported() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("p.db");
    let store = open_with_run(&path, "r1")?;
    let writer = store.writer()?;
    writer.observation("r1", obs(0));
    writer.finish()?;
    assert_eq!(store.report_text("r1")?, None);
    let messages = json!([{"role": "user", "content": "How long is the refund window?"}]);
    store.record_prompts(
        "r1",
        &[
            ("support".into(), "case-0".into(), messages.clone()),
            ("support".into(), "other".into(), json!([])),
        ],
    )?;
    store.set_report_text("r1", "probity bot · run r1\n")?;
    assert_eq!(
        store.report_text("r1")?.as_deref(),
        Some("probity bot · run r1\n")
    );
    assert_eq!(store.prompts("r1")?.len(), 2);
    let mut out = Vec::new();
    store.export_jsonl("r1", &mut out)?;
    let line: serde_json::Value = serde_json::from_slice(&out)?;
    assert_eq!(line["prompt"], messages);
    assert!(matches!(
        store.record_prompts("nope", &[]),
        Err(StoreError::RunNotFound { .. })
    ));
    // Deleting the run deletes its prompts (foreign key, cascade).
    drop(store);
    assert_eq!(count_raw(&path, "SELECT count(*) FROM run_prompts")?, 2);
    let conn = rusqlite::Connection::open(&path)?;
    conn.execute_batch("PRAGMA foreign_keys = ON; DELETE FROM runs WHERE id = 'r1';")?;
    assert_eq!(count_raw(&path, "SELECT count(*) FROM run_prompts")?, 0);
    Ok(())
}
