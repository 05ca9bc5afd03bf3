//! Schema migrations: the ordered list of `migrations/NNNN_name.sql` files compiled into
//! the binary, and applying the missing ones, each in its own transaction, recorded in
//! `schema_migrations`.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::error::{SqlContext, StoreError};
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

fn current_version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    conn.query_row("SELECT max(version) FROM schema_migrations", [], |row| {
        row.get::<_, Option<i64>>(0)
    })
    .at(path, "reading the schema version")
    .map(|v| v.unwrap_or(0))
}

/// Bring the database up to `latest_version()`, or refuse one that is newer.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER NOT NULL PRIMARY KEY,
             name       TEXT    NOT NULL,
             applied_at TEXT    NOT NULL
         ) STRICT;",
    )
    .at(path, "creating the schema_migrations table")?;

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

    for m in MIGRATIONS.iter().filter(|m| m.version > found) {
        // IMMEDIATE takes the write lock up front, so two processes opening a fresh
        // database at once serialise here (busy_timeout) instead of both migrating.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(path, "starting a migration")?;
        // Re-read inside the lock: the other process may have applied it meanwhile.
        let applied: Option<i64> = tx
            .query_row(
                "SELECT version FROM schema_migrations WHERE version = ?1",
                [m.version],
                |row| row.get(0),
            )
            .optional()
            .at(path, "reading the schema version")?;
        if applied.is_some() {
            continue;
        }
        let fail = |source: rusqlite::Error| StoreError::Migration {
            path: path.to_path_buf(),
            version: m.version,
            name: m.name,
            current: m.version - 1,
            source,
        };
        tx.execute_batch(m.sql).map_err(fail)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, m.name, format_ts(&chrono::Utc::now())],
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
        Ok(())
    }

    #[test]
    fn migrations_apply_in_memory() -> Result<(), Box<dyn std::error::Error>> {
        let mut conn = Connection::open_in_memory()?;
        let path = Path::new(":memory:");
        migrate(&mut conn, path)?;
        migrate(&mut conn, path)?;
        assert_eq!(current_version(&conn, path)?, latest_version());
        Ok(())
    }
}
