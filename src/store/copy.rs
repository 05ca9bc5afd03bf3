//! Copying a whole history from one store into another, either engine to either
//! (`probity store copy`): every table, resumable, verified by counts.
//!
//! Runs go one at a time, each with its observations and prompts in ONE transaction of the
//! destination: a run already there with the same number of observations is skipped, a
//! partial one (an interrupted copy, or a run that went on since) is deleted and written
//! again. The other tables are upserted by their keys, so running the copy twice changes
//! nothing and duplicates nothing. `TABLES` lists every table and column; a test checks it
//! against the schema, so a table added by a migration cannot be forgotten here.

use super::error::SqlContext;
use super::sql::{Db, Dialect, Row, vals};
use super::{Store, StoreError};

/// A table as the copy sees it.
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    /// The primary key (what an upsert matches on).
    pub key: &'static [&'static str],
    /// Source order, so serial columns of the destination follow it.
    pub order: &'static str,
}

/// Every table of the schema but `schema_migrations` (each side migrates itself), in an
/// order that satisfies the foreign keys.
pub const TABLES: &[Table] = &[
    Table {
        name: "runs",
        columns: &[
            "id",
            "probe",
            "started_at",
            "finished_at",
            "status",
            "verdict",
            "targets_json",
            "trace_id",
            "summary_json",
            "exit_code",
            "evidence_json",
            "report_text",
        ],
        key: &["id"],
        order: "started_at, id",
    },
    Table {
        name: "observations",
        columns: &[
            "run_id",
            "seq",
            "target",
            "golden_set",
            "case_id",
            "sample",
            "attempt",
            "final_attempt",
            "started_at",
            "scheduled_ms",
            "latency_ms",
            "ttft_ms",
            "status",
            "http_status",
            "error",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "finish_reason",
            "model",
            "request_id",
            "span_id",
            "output",
            "context_json",
            "scores_json",
            "delayed",
            "system_fingerprint",
            "labels_json",
            "timings_json",
        ],
        key: &["run_id", "seq"],
        order: "seq",
    },
    Table {
        name: "run_prompts",
        columns: &["run_id", "golden_set", "case_id", "messages_json"],
        key: &["run_id", "golden_set", "case_id"],
        order: "golden_set, case_id",
    },
    Table {
        name: "baselines",
        columns: &["probe", "run_id", "promoted_at", "labels_json", "data_json"],
        key: &["probe"],
        order: "probe",
    },
    Table {
        name: "incidents",
        columns: &[
            "id",
            "key",
            "probe",
            "rule",
            "target",
            "labels_json",
            "severity",
            "opened_at",
            "last_seen",
            "runs_failing",
            "firing",
            "notified_at",
            "acknowledged_at",
            "silenced",
            "resolved_at",
            "summary",
            "told_json",
            "ack_reason",
        ],
        key: &["id"],
        order: "id",
    },
    Table {
        name: "outbox",
        columns: &[
            "delivery_id",
            "incident_id",
            "channel",
            "notification_json",
            "status",
            "attempts",
            "last_error",
            "created_at",
            "next_attempt_at",
            "sent_at",
        ],
        key: &["delivery_id"],
        // rowid: SQLite's implicit one, PostgreSQL's serial column (see 0005).
        order: "created_at, rowid",
    },
    Table {
        name: "silences",
        columns: &["id", "probe", "rule", "until", "reason", "created_at"],
        key: &["id"],
        order: "id",
    },
    Table {
        name: "digests",
        columns: &["key", "sent_until", "delivery_id"],
        key: &["key"],
        order: "key",
    },
    // No key: the destination's rows are replaced by the source's (see `copy_table`).
    Table {
        name: "usage_buckets",
        columns: &[
            "provider",
            "report",
            "start_at",
            "end_at",
            "model",
            "line_item",
            "input_tokens",
            "output_tokens",
            "cached_tokens",
            "requests",
            "cost_usd",
            "imported_at",
        ],
        key: &[],
        order: "provider, start_at, report, model, line_item",
    },
    Table {
        name: "usage_imports",
        columns: &[
            "provider",
            "window_start",
            "window_end",
            "imported_at",
            "buckets",
        ],
        key: &["provider"],
        order: "provider",
    },
];

/// Tables whose `id` is assigned by the database: after copying ids in, PostgreSQL's
/// sequence must move past them (SQLite takes max(id) + 1 by itself).
const SERIAL_IDS: &[&str] = &["incidents", "silences"];

/// Rows of one table on both sides after the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    pub source: u64,
    pub destination: u64,
}

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Runs written (new, or partial ones redone).
    pub runs_copied: u64,
    /// Runs already complete in the destination.
    pub runs_skipped: u64,
    pub observations_copied: u64,
    /// Per table, in `TABLES` order.
    pub counts: Vec<TableCount>,
}

fn select(t: &Table, filter: &str) -> String {
    format!(
        "SELECT {} FROM {} {filter} ORDER BY {}",
        t.columns.join(", "),
        t.name,
        t.order
    )
}

fn upsert(t: &Table) -> String {
    let params: Vec<String> = (1..=t.columns.len()).map(|i| format!("?{i}")).collect();
    let updates: Vec<String> = t
        .columns
        .iter()
        .filter(|c| !t.key.contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let action = if updates.is_empty() {
        "DO NOTHING".to_string()
    } else {
        format!("DO UPDATE SET {}", updates.join(", "))
    };
    format!(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) {action}",
        t.name,
        t.columns.join(", "),
        params.join(", "),
        t.key.join(", ")
    )
}

fn table(name: &str) -> &'static Table {
    TABLES.iter().find(|t| t.name == name).unwrap_or(&TABLES[0])
}

impl Store {
    /// Copy everything of this store into `dest` (see the module comment). `progress` is
    /// told each run as it is copied or skipped (`true`: copied).
    pub fn copy_into(
        &self,
        dest: &Store,
        progress: &mut dyn FnMut(&str, bool),
    ) -> Result<CopyReport, StoreError> {
        let mut report = CopyReport::default();
        let runs = table("runs");
        let run_rows = self
            .conn
            .query(&select(runs, ""), &[])
            .at(&self.path, "reading the runs to copy")?;
        for run in run_rows {
            let id: String = run.get(0).at(&self.path, "reading the runs to copy")?;
            let count_sql = "SELECT count(*) FROM observations WHERE run_id = ?1";
            let have: i64 = self
                .conn
                .query_value(count_sql, vals![&id])
                .at(
                    &self.path,
                    &format!("counting the observations of run `{id}`"),
                )?
                .unwrap_or(0);
            let there = dest
                .conn
                .query_opt("SELECT status FROM runs WHERE id = ?1", vals![&id])
                .at(&dest.path, &format!("looking up run `{id}`"))?;
            let there_count: i64 = dest
                .conn
                .query_value(count_sql, vals![&id])
                .at(
                    &dest.path,
                    &format!("counting the observations of run `{id}`"),
                )?
                .unwrap_or(0);
            let same_status = there
                .as_ref()
                .and_then(|r| r.get::<String>(0).ok())
                .zip(run.get::<String>(4).ok())
                .is_some_and(|(a, b)| a == b);
            if same_status && there_count == have {
                report.runs_skipped += 1;
                progress(&id, false);
                continue;
            }
            report.observations_copied += self.copy_run(dest, &id, &run)?;
            report.runs_copied += 1;
            progress(&id, true);
        }
        for t in TABLES
            .iter()
            .filter(|t| !matches!(t.name, "runs" | "observations" | "run_prompts"))
        {
            self.copy_table(dest, t)?;
        }
        for t in TABLES {
            let sql = format!("SELECT count(*) FROM {}", t.name);
            let action = format!("counting the rows of {}", t.name);
            let count = |db: &Db, path| -> Result<u64, StoreError> {
                let n: i64 = db.query_value(&sql, &[]).at(path, &action)?.unwrap_or(0);
                Ok(u64::try_from(n).unwrap_or(0))
            };
            report.counts.push(TableCount {
                table: t.name,
                source: count(&self.conn, &self.path)?,
                destination: count(&dest.conn, &dest.path)?,
            });
        }
        Ok(report)
    }

    /// One run, its observations and prompts, in one transaction of `dest` (a partial
    /// copy of it deleted first; the cascade takes its rows). Returns the observations.
    fn copy_run(&self, dest: &Store, id: &str, run: &Row) -> Result<u64, StoreError> {
        let action = format!("copying run `{id}`");
        let tx = dest.conn.begin().at(&dest.path, &action)?;
        tx.execute("DELETE FROM runs WHERE id = ?1", vals![id])
            .at(&dest.path, &action)?;
        let runs = table("runs");
        tx.execute(&upsert(runs), &run.values)
            .at(&dest.path, &action)?;
        let mut n = 0;
        for name in ["observations", "run_prompts"] {
            let t = table(name);
            let insert = upsert(t);
            let mut failed = None;
            self.conn
                .for_each(&select(t, "WHERE run_id = ?1"), vals![id], |row| {
                    match tx.execute(&insert, &row.values) {
                        Ok(_) => {
                            n += u64::from(name == "observations");
                            Ok(())
                        }
                        Err(e) => {
                            failed = Some(e);
                            Err(super::sql::DbError::new(
                                super::sql::DbErrorKind::Other,
                                "stopped",
                            ))
                        }
                    }
                })
                .or_else(|e| match failed.take() {
                    Some(write) => Err(write).at(&dest.path, &action),
                    None => Err(e).at(&self.path, &action),
                })?;
        }
        tx.commit().at(&dest.path, &action)?;
        Ok(n)
    }

    /// A table upserted row by row, in one transaction of `dest`. A table without a key
    /// (the provider's usage buckets, re-imported windows replacing rows) is replaced
    /// whole: the same transaction deletes the destination's rows first, so a second copy
    /// duplicates nothing.
    fn copy_table(&self, dest: &Store, t: &Table) -> Result<(), StoreError> {
        let action = format!("copying the table {}", t.name);
        let tx = dest.conn.begin().at(&dest.path, &action)?;
        let insert = if t.key.is_empty() {
            tx.execute(&format!("DELETE FROM {}", t.name), &[])
                .at(&dest.path, &action)?;
            let params: Vec<String> = (1..=t.columns.len()).map(|i| format!("?{i}")).collect();
            format!(
                "INSERT INTO {} ({}) VALUES ({})",
                t.name,
                t.columns.join(", "),
                params.join(", ")
            )
        } else {
            upsert(t)
        };
        let mut failed = None;
        self.conn
            .for_each(&select(t, ""), &[], |row| {
                tx.execute(&insert, &row.values)
                    .map(|_| ())
                    .inspect_err(|e| failed = Some(e.clone()))
            })
            .or_else(|e| match failed.take() {
                Some(write) => Err(write).at(&dest.path, &action),
                None => Err(e).at(&self.path, &action),
            })?;
        if dest.conn.dialect() == Dialect::Postgres && SERIAL_IDS.contains(&t.name) {
            tx.batch(&format!(
                "SELECT setval(pg_get_serial_sequence('{0}', 'id'), \
                 GREATEST((SELECT max(id) FROM {0}), 1))",
                t.name
            ))
            .at(&dest.path, &action)?;
        }
        tx.commit().at(&dest.path, &action)
    }

    /// The tables and columns of this database (but `schema_migrations`), for the test
    /// that keeps `TABLES` complete.
    pub fn schema_columns(&self) -> Result<Vec<(String, String)>, StoreError> {
        let sql = match self.conn.dialect() {
            Dialect::Sqlite => {
                "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
                 AND m.name != 'schema_migrations' ORDER BY m.name, p.cid"
            }
            Dialect::Postgres => {
                "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT) \
                 FROM information_schema.columns WHERE table_schema = current_schema() \
                 AND table_name != 'schema_migrations' ORDER BY table_name, ordinal_position"
            }
        };
        let mut out = Vec::new();
        self.conn
            .for_each(sql, &[], |row| {
                out.push((row.get(0)?, row.get(1)?));
                Ok::<(), super::sql::DbError>(())
            })
            .at(&self.path, "reading the schema")?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upserts_update_every_column_but_the_key() {
        let sql = upsert(table("digests"));
        assert_eq!(
            sql,
            "INSERT INTO digests (key, sent_until, delivery_id) VALUES (?1, ?2, ?3) \
             ON CONFLICT (key) DO UPDATE SET sent_until = excluded.sent_until, \
             delivery_id = excluded.delivery_id"
        );
    }
}
