//! `probity usage import | show` against the simulator's organisation usage and cost
//! reports: pagination over ≥ 3 pages, a re-import that replaces (counts stay), the admin
//! key never in the database file, stdout or stderr, a refused key classified, the JSON
//! totals of `usage show`, the probes' own spend beside the bill; and the fetcher's 429
//! retry and error classification against small local servers.

#[path = "support/project.rs"]
mod project;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{Duration, Utc};
use probity::config::Secret;
use probity::sim::Profile;
use probity::store::Store;
use probity::usage::{Fetcher, Provider, Report, UsageError};
use project::{Project, probity_in, start_sim, text};
use serde_json::Value;

const KEY: &str = "sk-admin-TEST-do-not-leak-7f3a9c";

fn profile() -> Profile {
    Profile {
        admin_key: Some(KEY.into()),
        seed: 11,
        ..Profile::default()
    }
}

/// Every byte of the database, its WAL and shared-memory files.
fn db_bytes(db: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        if let Ok(bytes) = std::fs::read(Path::new(&name)) {
            all.extend(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)))
}

#[tokio::test]
async fn openai_import_paginates_replaces_and_never_keeps_the_key() {
    let sim = start_sim(&[], profile()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db");
    let db_arg = db.to_string_lossy().into_owned();
    let base = sim.base_url();
    let args = [
        "usage",
        "import",
        "--provider",
        "openai",
        "--since",
        "90d",
        "--base-url",
        &base,
        "--db",
        &db_arg,
        "--format",
        "json",
    ];
    let env = [("OPENAI_ADMIN_KEY", KEY)];
    let first = probity_in(dir.path(), &env, &args).await;
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let doc = json(&first);
    // 91 daily buckets at 31 a page: 3 pages of usage and 3 of costs.
    assert!(doc["pages"].as_u64().unwrap() >= 6, "{doc}");
    let store = Store::open(&db).unwrap();
    let (since, until) = (
        Utc::now() - Duration::days(100),
        Utc::now() + Duration::days(1),
    );
    let rows = store.usage_rows(Some("openai"), since, until).unwrap();
    let days = rows
        .iter()
        .map(|r| r.start)
        .collect::<std::collections::BTreeSet<_>>();
    assert!(days.len() >= 90, "{} days", days.len());
    let usage = rows.iter().filter(|r| r.report == "usage").count();
    let cost = rows.iter().filter(|r| r.report == "cost").count();
    assert_eq!(doc["usage_results"].as_u64(), Some(usage as u64));
    assert_eq!(doc["cost_results"].as_u64(), Some(cost as u64));
    assert!(usage > 0 && cost > 0);

    // The same window again: replaced, not added to.
    let second = probity_in(dir.path(), &env, &args).await;
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    let again = store.usage_rows(Some("openai"), since, until).unwrap();
    assert_eq!(again.len(), rows.len());
    let tokens =
        |rs: &[probity::store::UsageRow]| -> i64 { rs.iter().filter_map(|r| r.input_tokens).sum() };
    // The seeded organisation is the same every time (the current hour aside, which
    // the provider may revise: that is why the window is replaced).
    let old: i64 = tokens(&rows[..rows.len() - 10]);
    assert_eq!(old, tokens(&again[..again.len() - 10]));

    // The key: nowhere in the database, nor in what was printed.
    drop(store);
    assert!(
        !contains(&db_bytes(&db), KEY),
        "the admin key is in the database"
    );
    for out in [&first, &second] {
        assert!(!contains(&out.stdout, KEY) && !contains(&out.stderr, KEY));
    }

    // `usage show` totals are the sums of the stored buckets.
    let show = probity_in(
        dir.path(),
        &[],
        &[
            "usage", "show", "--since", "90d", "--db", &db_arg, "--format", "json",
        ],
    )
    .await;
    assert_eq!(show.status.code(), Some(0), "{}", text(&show.stderr));
    let books = json(&show);
    let openai = &books["providers"][0];
    assert_eq!(openai["provider"], "openai");
    let store = Store::open(&db).unwrap();
    let start =
        probity::usage::window_since(Utc::now(), std::time::Duration::from_secs(90 * 86_400));
    let rows = store.usage_rows(Some("openai"), start, Utc::now()).unwrap();
    let sum =
        |f: fn(&probity::store::UsageRow) -> Option<i64>| rows.iter().filter_map(f).sum::<i64>();
    assert_eq!(
        openai["totals"]["input_tokens"].as_i64(),
        Some(sum(|r| r.input_tokens))
    );
    assert_eq!(
        openai["totals"]["output_tokens"].as_i64(),
        Some(sum(|r| r.output_tokens))
    );
    assert_eq!(
        openai["totals"]["requests"].as_i64(),
        Some(sum(|r| r.requests))
    );
    let cost: f64 = rows.iter().filter_map(|r| r.cost_usd).sum();
    assert!((openai["totals"]["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-9);
    let models: Vec<&str> = openai["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["model"].as_str())
        .collect();
    assert_eq!(models, ["gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18"]);
    let per_model: i64 = openai["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["input_tokens"].as_i64())
        .sum();
    assert_eq!(Some(per_model), openai["totals"]["input_tokens"].as_i64());
    // Text too, for people.
    let show = probity_in(
        dir.path(),
        &[],
        &["usage", "show", "--since", "90d", "--db", &db_arg],
    )
    .await;
    let shown = text(&show.stdout);
    assert!(
        shown.contains("gpt-4o-mini-2024-07-18") && shown.contains("probes' own spend"),
        "{shown}"
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn anthropic_import_reads_cents_and_models_of_costs() {
    let sim = start_sim(&[], profile()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db");
    let db_arg = db.to_string_lossy().into_owned();
    let base = sim.base_url();
    let out = probity_in(
        dir.path(),
        &[("MY_ANTHROPIC_ADMIN", KEY)],
        &[
            "usage",
            "import",
            "--provider",
            "anthropic",
            "--since",
            "70d",
            "--hourly",
            "--key-env",
            "MY_ANTHROPIC_ADMIN",
            "--base-url",
            &base,
            "--db",
            &db_arg,
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // 70 days of hourly usage at 168 a page: 10+ pages; costs daily: 3 pages.
    assert!(json(&out)["pages"].as_u64().unwrap() >= 13);
    let store = Store::open(&db).unwrap();
    let rows = store
        .usage_rows(
            Some("anthropic"),
            Utc::now() - Duration::days(80),
            Utc::now(),
        )
        .unwrap();
    let hourly = rows.iter().find(|r| r.report == "usage").unwrap();
    assert_eq!((hourly.end - hourly.start).num_hours(), 1);
    assert_eq!(hourly.requests, None, "Anthropic reports no request count");
    let cost = rows.iter().find(|r| r.report == "cost").unwrap();
    assert!(cost.model.is_some() && cost.line_item.is_some());
    // The simulator's prices: a day of a few hundred thousand tokens costs dollars, not
    // hundreds of them (the amount is in cents).
    let day_cost: f64 = rows
        .iter()
        .filter(|r| r.report == "cost" && r.start == cost.start)
        .filter_map(|r| r.cost_usd)
        .sum();
    assert!(day_cost > 0.05 && day_cost < 50.0, "{day_cost}");
    assert!(!contains(&db_bytes(&db), KEY));
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_refused_or_missing_key_is_classified_and_never_printed() {
    let sim = start_sim(&[], profile()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db").to_string_lossy().into_owned();
    let base = sim.base_url();
    let wrong = "sk-proj-WRONG-key-4711";
    for provider in ["openai", "anthropic"] {
        let var = if provider == "openai" {
            "OPENAI_ADMIN_KEY"
        } else {
            "ANTHROPIC_ADMIN_KEY"
        };
        let out = probity_in(
            dir.path(),
            &[(var, wrong)],
            &[
                "usage",
                "import",
                "--provider",
                provider,
                "--base-url",
                &base,
                "--db",
                &db,
            ],
        )
        .await;
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("the admin key was refused (HTTP 401 on /v1/organization"),
            "{err}"
        );
        let hint = if provider == "openai" {
            "admin key (sk-admin-…)"
        } else {
            "Admin API key (sk-ant-admin…)"
        };
        assert!(err.contains(hint), "{err}");
        assert!(!err.contains(wrong) && !text(&out.stdout).contains(wrong));
    }
    // No key at all: says which variable.
    let out = probity_in(
        dir.path(),
        &[],
        &[
            "usage",
            "import",
            "--provider",
            "openai",
            "--base-url",
            &base,
            "--db",
            &db,
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("OPENAI_ADMIN_KEY"),
        "{}",
        text(&out.stderr)
    );
    // Nothing reachable: could not read the provider (3), the path named.
    let out = probity_in(
        dir.path(),
        &[("OPENAI_ADMIN_KEY", KEY)],
        &[
            "usage",
            "import",
            "--provider",
            "openai",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--db",
            &db,
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("/v1/organization/usage/completions"));
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_probes_share_of_the_bill_is_shown_beside_it() {
    let (project, sim) = Project::with_sim("samples: 2\n", profile()).await;
    let root = project.root().to_string_lossy().into_owned();
    let run = probity_in(
        project.root(),
        &[("PROBITY_TEST_KEY", "k")],
        &["-C", &root, "run", "bot", "--no-report"],
    )
    .await;
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "{}",
        text(&run.stderr)
    );
    let base = sim.base_url();
    let out = probity_in(
        project.root(),
        &[("OPENAI_ADMIN_KEY", KEY)],
        &[
            "-C",
            &root,
            "usage",
            "import",
            "--provider",
            "openai",
            "--since",
            "1d",
            "--base-url",
            &base,
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let show = probity_in(
        project.root(),
        &[],
        &[
            "-C", &root, "usage", "show", "--since", "1d", "--format", "json",
        ],
    )
    .await;
    let books = json(&show);
    // The probes' requests, from the stored runs...
    let probes = &books["probes"];
    assert!(probes["requests"].as_i64().unwrap() >= 8, "{probes}");
    // ... are in the provider's books too: the simulator reports what it served.
    let openai = &books["providers"][0];
    let served = openai["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "sim-model")
        .unwrap_or_else(|| panic!("the probes' model is in the books: {openai}"));
    assert!(served["requests"].as_i64().unwrap() >= probes["requests"].as_i64().unwrap());
    assert!(books["probe_share_of_cost"].as_f64().is_some());

    // The history report sets the provider's day beside the probes' spend of that day.
    let page = probity_in(
        project.root(),
        &[],
        &["-C", &root, "report", "--history", "bot", "--out", "-"],
    )
    .await;
    assert_eq!(page.status.code(), Some(0), "{}", text(&page.stderr));
    let html = text(&page.stdout);
    let today = Utc::now().format("%Y-%m-%d").to_string();
    assert!(
        html.contains("The provider&#x27;s books") || html.contains("The provider's books"),
        "{html}"
    );
    assert!(
        html.contains(&format!("<tr><td>{today}</td><td>openai</td>")),
        "{html}"
    );

    // The dashboard's index has the usage panel.
    let app = probity::daemon::dashboard::router::<()>(probity::daemon::dashboard::Dashboard::new(
        project.db(),
        None,
    ));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let index = reqwest::get(&base).await.unwrap().text().await.unwrap();
    assert!(index.contains("<section class=\"usage\">"), "{index}");
    assert!(
        index.contains("<td>openai</td>") && index.contains("of the bill"),
        "{index}"
    );
    sim.shutdown().await.unwrap();
}

/// A server that answers 429 (`retry-after-ms`) twice, then the documented page.
async fn flaky(status_after: StatusCode) -> (SocketAddr, Arc<AtomicU32>) {
    let hits = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&hits);
    let app = axum::Router::new().fallback(move || {
        let counter = Arc::clone(&counter);
        async move {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            if n < 2 {
                return (StatusCode::TOO_MANY_REQUESTS, [("retry-after-ms", "5")], "slow down").into_response();
            }
            let body = r#"{"object":"page","data":[{"object":"bucket","start_time":1730419200,"end_time":1730505600,"results":[{"object":"organization.usage.completions.result","input_tokens":1000,"output_tokens":500,"input_cached_tokens":800,"num_model_requests":5,"model":null}]}],"has_more":false,"next_page":null}"#;
            if status_after == StatusCode::OK {
                (StatusCode::OK, [("content-type", "application/json")], body).into_response()
            } else {
                (status_after, format!("upstream broke; you sent {KEY}")).into_response()
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, hits)
}

#[tokio::test]
async fn a_429_is_retried_and_other_statuses_name_the_path() {
    let (addr, hits) = flaky(StatusCode::OK).await;
    let mut f = Fetcher::new(
        Provider::Openai,
        &format!("http://{addr}/v1"),
        Secret::new(KEY),
    )
    .unwrap();
    f.default_wait = std::time::Duration::from_millis(1);
    let start = Utc::now() - Duration::days(1);
    let (rows, pages) = f
        .fetch(Report::Usage, start, Utc::now(), false)
        .await
        .unwrap();
    assert_eq!((rows.len(), pages, hits.load(Ordering::SeqCst)), (1, 1, 3));

    let (addr, _) = flaky(StatusCode::BAD_GATEWAY).await;
    let f = Fetcher::new(
        Provider::Openai,
        &format!("http://{addr}/v1"),
        Secret::new(KEY),
    )
    .unwrap();
    let err = f
        .fetch(Report::Cost, start, Utc::now(), false)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, UsageError::Status { status: 502, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("/v1/organization/costs") && msg.contains("502"),
        "{msg}"
    );
    assert!(!msg.contains(KEY) && msg.contains("[REDACTED]"), "{msg}");
    assert_eq!(err.exit_code(), probity::exit::COULD_NOT_PROBE);
}

/// Polls `f` every 100 ms for at most a minute.
async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..600 {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("gave up waiting for {what}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_imports_on_its_schedule_continuing_the_window() {
    let project = Project::new(project::PLACEHOLDER, "");
    let sim = start_sim(&project.golden(), profile()).await;
    project.aim(project::PLACEHOLDER, &sim.base_url());
    let usage = format!(
        "usage:\n  - provider: openai\n    admin_key: ${{OPENAI_ADMIN_KEY}}\n    schedule: \"@every 1s\"\n    base_url: {}\n    since: 40d\n",
        sim.base_url()
    );
    std::fs::write(project.root().join("probes/usage.yaml"), usage).unwrap();
    let root = project.root().to_string_lossy().into_owned();

    // A `probity run` needs no admin key: the usage file's is deferred to the daemon.
    let run = probity_in(
        project.root(),
        &[("PROBITY_TEST_KEY", "k")],
        &["-C", &root, "run", "bot", "--no-report"],
    )
    .await;
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "{}",
        text(&run.stderr)
    );
    // The daemon needs it: without it, a configuration error naming the file.
    let out = probity_in(
        project.root(),
        &[("PROBITY_TEST_KEY", "k")],
        &["-C", &root, "serve", "--listen", "127.0.0.1:0"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("usage.yaml:3:"),
        "{}",
        text(&out.stderr)
    );

    // With it: no probe has a schedule, the usage import alone keeps the daemon busy.
    let log = project.root().join("serve.log");
    let mut child = std::process::Command::new(project::BIN)
        .args(["-C", &root, "serve", "--listen", "127.0.0.1:0"])
        .env("OPENAI_ADMIN_KEY", KEY)
        .env("PROBITY_TEST_KEY", "k")
        .env_remove("PROBITY_DB")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let db = project.db();
    let first = eventually("a first import", || {
        Store::open(&db)
            .ok()?
            .last_usage_import("openai")
            .ok()
            .flatten()
    })
    .await;
    // The first reaches back `since`.
    assert_eq!(
        first.window_start,
        probity::usage::window_since(
            first.imported_at,
            std::time::Duration::from_secs(40 * 86_400)
        )
    );
    let next = eventually("a second import", || {
        let last = Store::open(&db)
            .ok()?
            .last_usage_import("openai")
            .ok()
            .flatten()?;
        (last.imported_at > first.imported_at).then_some(last)
    })
    .await;
    // The next continues from the last one's end, a day of overlap back.
    assert_eq!(
        next.window_start,
        probity::usage::import::midnight(first.window_end - Duration::days(1))
    );
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) with the pid of our own child and a valid signal number.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = eventually("the daemon to stop", || child.try_wait().ok().flatten()).await;
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("usage imported"), "{stderr}");
    assert!(!stderr.contains(KEY), "{stderr}");
    assert!(!contains(&db_bytes(&db), KEY));
    // Every day of the window stored once, however many imports overlapped.
    let store = Store::open(&db).unwrap();
    let rows = store
        .usage_rows(Some("openai"), first.window_start, Utc::now())
        .unwrap();
    let mut keys: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.report.clone(),
                r.start,
                r.model.clone(),
                r.line_item.clone(),
            )
        })
        .collect();
    let all = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), all, "a bucket stored twice");
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn validate_points_at_a_bad_usage_file() {
    let project = Project::new(project::PLACEHOLDER, "");
    std::fs::write(
        project.root().join("probes/usage.yaml"),
        "usage:\n  provider: openai\n  admin_key: ${OPENAI_ADMIN_KEY}\n  schedule: \"0 25 * * *\"\n  overlpa: 1d\n",
    )
    .unwrap();
    let root = project.root().to_string_lossy().into_owned();
    let out = probity_in(
        project.root(),
        &[("PROBITY_TEST_KEY", "k")],
        &["-C", &root, "validate"],
    )
    .await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("usage.yaml:4:"), "the schedule: {err}");
    assert!(
        err.contains("unknown key `overlpa`") && err.contains("overlap"),
        "{err}"
    );
    assert!(err.contains("OPENAI_ADMIN_KEY"), "the unset key: {err}");
}
