//! probity against a PostgreSQL store end to end: a probe whose `store.url` names a
//! database on a real server of the test's own (its password from `${VAR}`), run with the
//! simulator; `history`, `show` and `--db URL` read it back; the password appears in no
//! output, and what the run stored is in the server's tables.

#[path = "support/postgres.rs"]
mod pg;
#[path = "support/project.rs"]
mod project;

use probity::sim::Profile;
use project::{Project, probity_in, text};

#[test]
fn a_probe_with_store_url_runs_into_postgres_and_reads_back() {
    // The database (sync client) before any runtime exists.
    let db = pg::database();
    let url = format!(
        "postgres://postgres:${{PROBITY_PG_PW}}@127.0.0.1:{}/{}",
        pg::server().port,
        db.name
    );
    let shown = format!(
        "postgres://postgres@127.0.0.1:{}/{}",
        pg::server().port,
        db.name
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (project, _sim) = Project::with_sim(
            &format!("store: {{ url: \"{url}\" }}\n"),
            Profile::default(),
        )
        .await;
        let envs = [
            ("PROBITY_TEST_KEY", "sk-test"),
            ("PROBITY_PG_PW", pg::PASSWORD),
        ];
        let run = probity_in(project.root(), &envs, &["run", "bot"]).await;
        let out = format!("{}{}", text(&run.stdout), text(&run.stderr));
        assert_eq!(run.status.code(), Some(0), "{out}");
        assert!(!out.contains(pg::PASSWORD), "{out}");
        // Nothing was written to the default SQLite file.
        assert!(!project.db().exists());

        let history = probity_in(project.root(), &envs, &["history"]).await;
        let out = format!("{}{}", text(&history.stdout), text(&history.stderr));
        assert_eq!(history.status.code(), Some(0), "{out}");
        assert!(out.contains("bot"), "{out}");

        // --db with the URL (password from PGPASSWORD this time) reads the same runs.
        let plain = format!(
            "postgres://postgres@127.0.0.1:{}/{}",
            pg::server().port,
            db.name
        );
        let show = probity_in(
            project.root(),
            &[("PGPASSWORD", pg::PASSWORD)],
            &["--db", &plain, "show", "latest"],
        )
        .await;
        let out = format!("{}{}", text(&show.stdout), text(&show.stderr));
        assert_eq!(show.status.code(), Some(0), "{out}");
        assert!(!out.contains(pg::PASSWORD), "{out}");

        // A wrong password: the error names the database without any password.
        let bad = probity_in(
            project.root(),
            &[("PGPASSWORD", "not-the-Password-99")],
            &["--db", &plain, "history"],
        )
        .await;
        let out = format!("{}{}", text(&bad.stdout), text(&bad.stderr));
        assert_ne!(bad.status.code(), Some(0), "{out}");
        assert!(!out.contains("not-the-Password-99"), "{out}");
        assert!(out.contains(&shown), "{out}");
    });
    let mut client =
        postgres::Client::connect(&db.url, postgres::NoTls).expect("connect to the test db");
    let runs: i64 = client
        .query_one("SELECT count(*) FROM runs WHERE probe = 'bot'", &[])
        .expect("count runs")
        .get(0);
    let observations: i64 = client
        .query_one("SELECT count(*) FROM observations", &[])
        .expect("count observations")
        .get(0);
    assert_eq!(runs, 1);
    assert!(observations > 0);
}

/// `store.url` is checked where it is written: not beside `store.path`, and only a
/// database URL; the message shows no password.
#[test]
fn store_url_mistakes_are_reported_at_their_line() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        for (store, expect) in [
            (
                "store: { path: a.db, url: \"postgres://u:hunter2@h/d\" }\n",
                "`store.path` and `store.url` both name the database",
            ),
            (
                "store: { url: \"mysql://u:hunter2@h/d\" }\n",
                "is not a database URL",
            ),
        ] {
            let project = Project::new(project::PLACEHOLDER, store);
            let out = probity_in(
                project.root(),
                &[("PROBITY_TEST_KEY", "sk-test")],
                &["validate"],
            )
            .await;
            let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
            assert_eq!(out.status.code(), Some(2), "{all}");
            assert!(all.contains(expect), "{all}");
            assert!(all.contains("probes/bot.yaml:"), "{all}");
            assert!(!all.contains("hunter2"), "{all}");
        }
    });
}
