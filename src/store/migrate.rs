//! Schema migrations: the ordered list of `migrations/NNNN_name.sql` files (SQLite) and
//! `pg_migrations/NNNN_name.sql` (PostgreSQL, the same versions and names, types mapped)
//! compiled into the binary, and applying the missing ones, each in its own transaction,
//! recorded in `schema_migrations`.

use std::path::Path;

use super::error::{SqlContext, StoreError};
use super::sql::{Db, Dialect, vals};
use super::time::format_ts;

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order. Append only: a released migration is never edited, since
/// databases out there have already run it. Versions are contiguous from 1 (a unit test
/// checks this against the files in `migrations/`).
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "run_evidence",
        sql: include_str!("migrations/0002_run_evidence.sql"),
    },
    Migration {
        version: 3,
        name: "observation_delayed",
        sql: include_str!("migrations/0003_observation_delayed.sql"),
    },
    Migration {
        version: 4,
        name: "run_prompts_and_report",
        sql: include_str!("migrations/0004_run_prompts_and_report.sql"),
    },
    Migration {
        version: 5,
        name: "alerts",
        sql: include_str!("migrations/0005_alerts.sql"),
    },
    Migration {
        version: 6,
        name: "observation_fingerprint",
        sql: include_str!("migrations/0006_observation_fingerprint.sql"),
    },
    Migration {
        version: 7,
        name: "incident_ack",
        sql: include_str!("migrations/0007_incident_ack.sql"),
    },
    Migration {
        version: 8,
        name: "digests",
        sql: include_str!("migrations/0008_digests.sql"),
    },
    Migration {
        version: 9,
        name: "observation_labels_timings",
        sql: include_str!("migrations/0009_observation_labels_timings.sql"),
    },
    Migration {
        version: 10,
        name: "usage_buckets",
        sql: include_str!("migrations/0010_usage_buckets.sql"),
    },
];

/// The newest schema version this binary knows.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The migrations of an engine.
pub(crate) fn migrations(dialect: Dialect) -> &'static [Migration] {
    match dialect {
        Dialect::Sqlite => MIGRATIONS,
        Dialect::Postgres => super::postgres::MIGRATIONS,
    }
}

pub(crate) fn current_version(conn: &Db, path: &Path) -> Result<i64, StoreError> {
    conn.query_value::<Option<i64>>("SELECT max(version) FROM schema_migrations", &[])
        .at(path, "reading the schema version")
        .map(|v| v.flatten().unwrap_or(0))
}

/// Bring the database up to `latest_version()`, or refuse one that is newer.
pub(crate) fn migrate(conn: &Db, path: &Path) -> Result<(), StoreError> {
    let dialect = conn.dialect();
    let create = match dialect {
        Dialect::Sqlite => {
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    INTEGER NOT NULL PRIMARY KEY,
                 name       TEXT    NOT NULL,
                 applied_at TEXT    NOT NULL
             ) STRICT;"
        }
        // Several runners may open a fresh database at once: the table is created under
        // the same lock the migrations take (CREATE ... IF NOT EXISTS alone can still
        // collide on PostgreSQL's catalog).
        Dialect::Postgres => {
            "BEGIN; SELECT pg_advisory_xact_lock(7242707);
             CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    BIGINT NOT NULL PRIMARY KEY,
                 name       TEXT   NOT NULL,
                 applied_at TEXT   NOT NULL
             ); COMMIT;"
        }
    };
    if let Err(e) = conn.batch(create) {
        // A failed multi-statement batch may leave the transaction open.
        let _ = conn.batch("ROLLBACK");
        return Err(e).at(path, "creating the schema_migrations table");
    }

    let known = latest_version();
    let found = current_version(conn, path)?;
    // Checked before touching anything: an older binary must not write rows into a
    // schema it does not understand (and must never "repair" it).
    if found > known {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            known,
        });
    }

    for m in migrations(dialect).iter().filter(|m| m.version > found) {
        // SQLite's IMMEDIATE takes the write lock up front, PostgreSQL's advisory lock
        // does the same for the transaction: two processes opening a fresh database at
        // once serialise here instead of both migrating.
        let tx = conn.begin().at(path, "starting a migration")?;
        if dialect == Dialect::Postgres {
            tx.batch("SELECT pg_advisory_xact_lock(7242707)")
                .at(path, "locking the schema for a migration")?;
        }
        // Re-read inside the lock: the other process may have applied it meanwhile.
        let applied: Option<i64> = tx
            .query_value(
                "SELECT version FROM schema_migrations WHERE version = ?1",
                vals![m.version],
            )
            .at(path, "reading the schema version")?;
        if applied.is_some() {
            continue;
        }
        let fail = |source| StoreError::Migration {
            path: path.to_path_buf(),
            version: m.version,
            name: m.name,
            current: m.version - 1,
            source,
        };
        tx.batch(m.sql).map_err(fail)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            vals![m.version, m.name, format_ts(&chrono::Utc::now())],
        )
        .map_err(fail)?;
        tx.commit().map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file in `migrations/` is listed, in order, with the version and name its
    /// file name says; nothing listed is missing. Catches a migration added as a file
    /// but forgotten in `MIGRATIONS` (it would silently never run).
    #[test]
    fn migrations_match_files() -> Result<(), Box<dyn std::error::Error>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/migrations");
        let mut files: Vec<String> = std::fs::read_dir(&dir)?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{:04}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(files, listed);
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "versions are contiguous from 1");
        }
        // PostgreSQL's: the same versions and names, each file listed.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/pg_migrations");
        let mut pg_files: Vec<String> = std::fs::read_dir(&dir)?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        pg_files.sort();
        assert_eq!(pg_files, listed, "pg_migrations/ mirrors migrations/");
        let pg: Vec<(i64, &str)> = migrations(Dialect::Postgres)
            .iter()
            .map(|m| (m.version, m.name))
            .collect();
        let lite: Vec<(i64, &str)> = MIGRATIONS.iter().map(|m| (m.version, m.name)).collect();
        assert_eq!(pg, lite);
        Ok(())
    }

    #[test]
    fn migrations_apply_in_memory() -> Result<(), Box<dyn std::error::Error>> {
        let conn = Db::new(Box::new(super::super::sqlite::SqliteConn(
            rusqlite::Connection::open_in_memory()?,
        )));
        let path = Path::new(":memory:");
        migrate(&conn, path)?;
        migrate(&conn, path)?;
        assert_eq!(current_version(&conn, path)?, latest_version());
        Ok(())
    }
}
