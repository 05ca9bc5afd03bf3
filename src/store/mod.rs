//! The store: one database holding every run, every observation of it (written while
//! the run goes, by the `Writer`), and the baseline of each probe. It owns the schema and
//! its migrations (`migrations/NNNN_name.sql` for SQLite, `pg_migrations/` for
//! PostgreSQL, same versions), retention (`prune`) and the JSON lines export. Nothing here
//! knows what a verdict means: summaries, targets and baseline data are JSON the caller
//! gives and gets back.
//!
//! The engine is SQLite (a file: the embedded default) or PostgreSQL (a
//! `postgres://user@host/db` URL: several runners sharing one history). Every query is
//! written once, against the portable layer in `sql.rs`; `sqlite.rs` and `postgres.rs`
//! hold what differs.

mod alerts;
mod copy;
mod error;
mod mails;
mod migrate;
mod postgres;
mod rows;
pub(crate) mod sql;
mod sqlite;
mod time;
mod usage;
mod writer;

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use alerts::{IncidentRecord, NewOutbox, OutboxRow, SilenceRecord};
pub use copy::{CopyReport, TABLES, Table, TableCount};
pub use error::{DbError, DbErrorKind, StoreError};
pub use rows::ObservationRow;
pub use usage::{ProbeSpend, UsageImport, UsageRow, UsageTotal};
pub use writer::{BATCH_SIZE, FLUSH_INTERVAL, WriteOp, WriteStats, Writer};

use error::SqlContext;
use rows::{ExportLine, SELECT_COLUMNS, decode};
use sql::{Db, Row, Tx, vals};
use time::{format_ts, parse_ts};

/// The status of a run that has not finished (or whose process was killed).
pub const RUNNING: &str = "running";

/// How long the `Store`'s own connection waits for another writer's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// The writer thread waits longer: waiting there blocks no one (sends never block), while
/// giving up would lose a batch. A `prune` of a big run is the usual reason to wait.
const WRITER_BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// An unfinished run younger than this is presumed alive; `prune` never deletes it.
const ALIVE_GRACE: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// What `begin_run` records about a run as it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub id: String,
    pub probe: String,
    pub started_at: DateTime<Utc>,
    /// Target names, providers, models, labels: whatever the caller wants to see again.
    pub targets: serde_json::Value,
    /// The W3C trace id every request of the run carried.
    pub trace_id: String,
}

/// How a run ended, recorded by `finish_run`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEnd {
    /// Anything but `running`, e.g. `passed`, `failed`, `error`.
    pub status: String,
    pub verdict: Option<String>,
    pub summary: serde_json::Value,
    /// What a comparison needs of the run, per target (see `summary::Evidence`).
    pub evidence: Option<serde_json::Value>,
    pub exit_code: i32,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: String,
    pub probe: String,
    pub started_at: DateTime<Utc>,
    /// `None` while the run goes, and forever if its process was killed.
    pub finished_at: Option<DateTime<Utc>>,
    /// `running` until finished (see `RUNNING`).
    pub status: String,
    pub verdict: Option<String>,
    pub targets: serde_json::Value,
    pub trace_id: String,
    pub summary: Option<serde_json::Value>,
    pub exit_code: Option<i32>,
}

impl RunRecord {
    pub fn is_finished(&self) -> bool {
        self.finished_at.is_some()
    }
}

/// The baseline of one probe.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineRecord {
    pub probe: String,
    /// The run it was promoted from.
    pub run_id: String,
    pub promoted_at: DateTime<Utc>,
    pub labels: BTreeMap<String, String>,
    /// Opaque to the store: what the caller gave to `promote`.
    pub data: serde_json::Value,
}

const RUN_COLUMNS: &str = "id, probe, started_at, finished_at, status, verdict, targets_json, \
                           trace_id, summary_json, exit_code";

fn json_text(
    path: &Path,
    what: String,
    value: &impl serde::Serialize,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|source| StoreError::Encode {
        path: path.to_path_buf(),
        what,
        source,
    })
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The engine behind a `Store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Whether a database name (`--db`, `PROBITY_DB`, `store.url`) is a PostgreSQL URL.
pub fn is_postgres_url(name: &str) -> bool {
    postgres::is_url(name)
}

/// A database name as it may be shown: a PostgreSQL URL without its password (and query),
/// anything else as it is.
pub fn display_name(name: &str) -> String {
    if postgres::is_url(name) {
        postgres::redact(name)
    } else {
        name.to_string()
    }
}

/// Any `scheme://user:password@host/...` URL without its password and query: for a
/// message about a URL that is not (yet) known to be a database's.
pub fn redact_url(url: &str) -> String {
    if url.contains("://") {
        postgres::redact(url)
    } else {
        url.to_string()
    }
}

/// Where a store's data lives, as opened: what a writer connects to again.
#[derive(Debug, Clone)]
enum Target {
    Sqlite(PathBuf),
    /// The URL as configured (a `${VAR}` in it expanded only when connecting).
    Postgres(String),
}

/// The store. One per process is typical; it is `Send` (not `Sync`): wrap it in a mutex
/// to share it, or open another one on the same database (the engine handles the locking).
pub struct Store {
    conn: Db,
    /// The database's name in messages: the file, or the URL without its password.
    path: PathBuf,
    target: Target,
}

impl Store {
    /// Open (creating it and its folders if needed) and migrate the database at `path`:
    /// an SQLite file (a path, or `sqlite://PATH`), or a PostgreSQL database when `path`
    /// is a `postgres://user@host/db` URL. Refuses a database whose schema is newer than
    /// this binary knows.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let text = path.to_string_lossy();
        if postgres::is_url(&text) {
            return Store::open_postgres(&text);
        }
        if let Some(file) = text.strip_prefix("sqlite://") {
            return Store::open_sqlite(Path::new(file));
        }
        Store::open_sqlite(path)
    }

    fn open_postgres(url: &str) -> Result<Store, StoreError> {
        let name = PathBuf::from(postgres::redact(url));
        let remote = postgres::PgRemote::connect(url).map_err(|source| StoreError::Open {
            path: name.clone(),
            source,
        })?;
        let conn = Db::new(Box::new(remote));
        migrate::migrate(&conn, &name)?;
        Ok(Store {
            conn,
            path: name,
            target: Target::Postgres(url.to_string()),
        })
    }

    fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: path.to_path_buf(),
                source,
            })?;
        }
        let conn = Db::new(Box::new(sqlite::connect(path, BUSY_TIMEOUT)?));
        migrate::migrate(&conn, path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            target: Target::Sqlite(path.to_path_buf()),
        })
    }

    /// The database's name: its file, or (PostgreSQL) its URL without the password.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Which engine holds the data.
    pub fn engine(&self) -> Engine {
        match self.target {
            Target::Sqlite(_) => Engine::Sqlite,
            Target::Postgres(_) => Engine::Postgres,
        }
    }

    /// The schema version this binary migrates databases to.
    pub fn schema_version() -> i64 {
        migrate::latest_version()
    }

    /// Start a writer thread with its own connection. It outlives this `Store` if need be.
    pub fn writer(&self) -> Result<Writer, StoreError> {
        let conn: Box<dyn sql::Conn> =
            match &self.target {
                Target::Sqlite(file) => Box::new(sqlite::connect(file, WRITER_BUSY_TIMEOUT)?),
                Target::Postgres(url) => Box::new(postgres::connect_owned(url).map_err(
                    |source| StoreError::Open {
                        path: self.path.clone(),
                        source,
                    },
                )?),
            };
        Writer::start(conn, &self.path)
    }

    /// A write transaction (see `Db::begin`), rolled back unless committed.
    fn immediate(&self, action: &str) -> Result<Tx<'_>, StoreError> {
        self.conn.begin().at(&self.path, action)
    }

    /// Whether this process can write the database now: takes the write lock and lets go
    /// (`/readyz` of the daemon). A read-only file or a lock held past the busy timeout fails.
    pub fn check_writable(&self) -> Result<(), StoreError> {
        let tx = self.immediate("checking that the store is writable")?;
        tx.rollback()
            .at(&self.path, "checking that the store is writable")
    }

    // ----- runs -----

    /// Record a run as started (`status = 'running'`, no end).
    pub fn begin_run(&self, run: &NewRun) -> Result<(), StoreError> {
        let targets = json_text(
            &self.path,
            format!("the targets of run `{}`", run.id),
            &run.targets,
        )?;
        let result = self.conn.execute(
            "INSERT INTO runs (id, probe, started_at, status, targets_json, trace_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            vals![
                &run.id,
                &run.probe,
                format_ts(&run.started_at),
                RUNNING,
                targets,
                &run.trace_id
            ],
        );
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.kind == DbErrorKind::Unique => Err(StoreError::RunExists {
                path: self.path.clone(),
                id: run.id.clone(),
            }),
            Err(e) => Err(e).at(
                &self.path,
                &format!("recording the start of run `{}`", run.id),
            ),
        }
    }

    /// Record how a run ended; `finished_at` is now. A run is finished once.
    pub fn finish_run(&self, id: &str, end: &RunEnd) -> Result<(), StoreError> {
        if end.status == RUNNING {
            return Err(StoreError::FinishAsRunning {
                path: self.path.clone(),
                id: id.to_string(),
            });
        }
        let summary = json_text(
            &self.path,
            format!("the summary of run `{id}`"),
            &end.summary,
        )?;
        let evidence = end
            .evidence
            .as_ref()
            .map(|e| json_text(&self.path, format!("the evidence of run `{id}`"), e))
            .transpose()?;
        let changed = self
            .conn
            .execute(
                "UPDATE runs SET finished_at = ?2, status = ?3, verdict = ?4, summary_json = ?5,
                        exit_code = ?6, evidence_json = ?7
                 WHERE id = ?1 AND finished_at IS NULL",
                vals![
                    id,
                    format_ts(&Utc::now()),
                    &end.status,
                    &end.verdict,
                    summary,
                    end.exit_code,
                    evidence
                ],
            )
            .at(&self.path, &format!("recording the end of run `{id}`"))?;
        if changed == 1 {
            return Ok(());
        }
        // Nothing changed: say why.
        match self.run_exact(id)? {
            Some(run) => Err(StoreError::AlreadyFinished {
                path: self.path.clone(),
                id: id.to_string(),
                finished_at: run.finished_at.map(|t| format_ts(&t)).unwrap_or_default(),
            }),
            None => Err(self.not_found(id)),
        }
    }

    fn not_found(&self, id: &str) -> StoreError {
        StoreError::RunNotFound {
            path: self.path.clone(),
            id: id.to_string(),
        }
    }

    fn decode_run(&self, row: &Row) -> Result<RunRecord, StoreError> {
        let id: String = row.get(0).at(&self.path, "reading a run")?;
        let corrupt = |what: &str, detail: String| StoreError::Corrupt {
            path: self.path.clone(),
            what: format!("run `{id}`, {what}"),
            detail,
        };
        let col = |e: DbError| corrupt("a column", e.to_string());
        let ts = |what: &str, text: String| {
            parse_ts(&text).map_err(|e| corrupt(what, format!("`{text}`: {e}")))
        };
        let json = |what: &str, text: String| {
            serde_json::from_str::<serde_json::Value>(&text)
                .map_err(|e| corrupt(what, e.to_string()))
        };
        Ok(RunRecord {
            probe: row.get(1).map_err(col)?,
            started_at: ts("started_at", row.get(2).map_err(col)?)?,
            finished_at: row
                .get::<Option<String>>(3)
                .map_err(col)?
                .map(|t| ts("finished_at", t))
                .transpose()?,
            status: row.get(4).map_err(col)?,
            verdict: row.get(5).map_err(col)?,
            targets: json("targets_json", row.get(6).map_err(col)?)?,
            trace_id: row.get(7).map_err(col)?,
            summary: row
                .get::<Option<String>>(8)
                .map_err(col)?
                .map(|t| json("summary_json", t))
                .transpose()?,
            exit_code: row.get(9).map_err(col)?,
            id,
        })
    }

    fn query_runs(
        &self,
        sql: &str,
        params: &[sql::Value],
        action: &str,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let rows = self.conn.query(sql, params).at(&self.path, action)?;
        rows.iter().map(|row| self.decode_run(row)).collect()
    }

    fn run_exact(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1");
        Ok(self
            .query_runs(&sql, vals![id], &format!("looking up run `{id}`"))?
            .pop())
    }

    /// A run by its exact id, by a unique prefix or suffix of it (`20240718T0930` or the
    /// random `aa51` at its end), or `latest` (the most recently started run of any probe).
    /// A string matching several runs, as prefix or suffix, is an error listing them.
    pub fn run(&self, id_or_prefix: &str) -> Result<RunRecord, StoreError> {
        if id_or_prefix == "latest" {
            let sql =
                format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at DESC, id DESC LIMIT 1");
            return self
                .query_runs(&sql, &[], "looking up the latest run")?
                .pop()
                .ok_or_else(|| StoreError::NoRuns {
                    path: self.path.clone(),
                });
        }
        if id_or_prefix.is_empty() {
            return Err(self.not_found(id_or_prefix));
        }
        if let Some(run) = self.run_exact(id_or_prefix)? {
            return Ok(run);
        }
        // substr, not LIKE: LIKE is case-insensitive and treats `_` and `%` as wildcards.
        // The suffix is counted from the front (a negative start means the end to SQLite
        // only); an id shorter than the text cannot match either way.
        const SHOWN: usize = 10;
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs
             WHERE substr(id, 1, length(CAST(?1 AS TEXT))) = ?1
                OR substr(id, length(id) - length(CAST(?1 AS TEXT)) + 1) = ?1
             ORDER BY started_at DESC, id DESC LIMIT ?2"
        );
        let mut found = self.query_runs(
            &sql,
            vals![id_or_prefix, limit_param(SHOWN + 1)],
            &format!("looking up runs starting or ending with `{id_or_prefix}`"),
        )?;
        match found.len() {
            0 => Err(self.not_found(id_or_prefix)),
            1 => Ok(found.remove(0)),
            n => {
                let mut candidates: Vec<String> = found
                    .iter()
                    .take(SHOWN)
                    .map(|r| format!("`{}` ({}, started {})", r.id, r.probe, r.started_at))
                    .collect();
                if n > SHOWN {
                    candidates.push("and more".to_string());
                }
                Err(StoreError::AmbiguousRun {
                    path: self.path.clone(),
                    prefix: id_or_prefix.to_string(),
                    candidates: candidates.join(", "),
                })
            }
        }
    }

    /// Runs, newest first, of one probe or of all; unfinished ones included.
    pub fn runs(&self, probe: Option<&str>, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let limit = limit_param(limit);
        match probe {
            Some(probe) => self.query_runs(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE probe = ?1
                     ORDER BY started_at DESC, id DESC LIMIT ?2"
                ),
                vals![probe, limit],
                &format!("listing the runs of probe `{probe}`"),
            ),
            None => self.query_runs(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at DESC, id DESC LIMIT ?1"
                ),
                vals![limit],
                "listing runs",
            ),
        }
    }

    /// Finished runs of one probe, newest first: the history a trend is drawn from.
    pub fn finished_runs(&self, probe: &str, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        self.query_runs(
            &format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE probe = ?1 AND finished_at IS NOT NULL
                 ORDER BY started_at DESC, id DESC LIMIT ?2"
            ),
            vals![probe, limit_param(limit)],
            &format!("listing the finished runs of probe `{probe}`"),
        )
    }

    // ----- observations -----

    fn require_run(&self, run_id: &str) -> Result<(), StoreError> {
        let exists = self
            .conn
            .query_opt("SELECT 1 FROM runs WHERE id = ?1", vals![run_id])
            .at(&self.path, &format!("looking up run `{run_id}`"))?;
        if exists.is_some() {
            Ok(())
        } else {
            Err(self.not_found(run_id))
        }
    }

    /// The evidence a finished run recorded (per target), if any.
    pub fn evidence(&self, run_id: &str) -> Result<Option<serde_json::Value>, StoreError> {
        self.require_run(run_id)?;
        let text: Option<String> = self
            .conn
            .query_value::<Option<String>>(
                "SELECT evidence_json FROM runs WHERE id = ?1",
                vals![run_id],
            )
            .map(Option::flatten)
            .at(
                &self.path,
                &format!("reading the evidence of run `{run_id}`"),
            )?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                what: format!("run `{run_id}`, evidence_json"),
                detail: e.to_string(),
            })
        })
        .transpose()
    }

    /// The models the endpoint said answered a run's samples, distinct, sorted: what the
    /// history report compares run to run for its deployment markers.
    pub fn reported_models(&self, run_id: &str) -> Result<Vec<String>, StoreError> {
        let action = format!("reading the models that answered run `{run_id}`");
        let rows = self
            .conn
            .query(
                "SELECT DISTINCT model FROM observations
                 WHERE run_id = ?1 AND model IS NOT NULL ORDER BY model",
                vals![run_id],
            )
            .at(&self.path, &action)?;
        rows.iter()
            .map(|row| row.get::<String>(0).at(&self.path, &action))
            .collect()
    }

    /// How many observations of a run are stored.
    pub fn count_observations(&self, run_id: &str) -> Result<u64, StoreError> {
        self.require_run(run_id)?;
        let n: i64 = self
            .conn
            .query_value::<i64>(
                "SELECT count(*) FROM observations WHERE run_id = ?1",
                vals![run_id],
            )
            .map(Option::unwrap_or_default)
            .at(
                &self.path,
                &format!("counting the observations of run `{run_id}`"),
            )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Call `f` with each observation of the run (an exact id), in seq order, one row in
    /// memory at a time. Returns how many rows were visited; the first error `f` returns
    /// stops the walk and is returned.
    pub fn for_each_observation<E, F>(&self, run_id: &str, mut f: F) -> Result<u64, E>
    where
        E: From<StoreError>,
        F: FnMut(ObservationRow) -> Result<(), E>,
    {
        self.require_run(run_id)?;
        let action = format!("reading the observations of run `{run_id}`");
        let sql =
            format!("SELECT {SELECT_COLUMNS} FROM observations WHERE run_id = ?1 ORDER BY seq");
        // One statement, one read snapshot: the walk sees a consistent state even while
        // the writer thread keeps committing rows of a run still going.
        let path = &self.path;
        self.conn
            .for_each(&sql, vals![run_id], |row| -> Result<(), Walk<E>> {
                let row = decode(row, path, run_id).map_err(|e| Walk::Caller(E::from(e)))?;
                f(row).map_err(Walk::Caller)
            })
            .map_err(|w| match w {
                Walk::Caller(e) => e,
                Walk::Db(e) => E::from(StoreError::Db {
                    path: self.path.clone(),
                    action,
                    source: e,
                }),
            })
    }

    /// Every observation of the run in memory, in seq order. For small runs and tests;
    /// prefer `for_each_observation` for anything that may be big.
    pub fn observations(&self, run_id: &str) -> Result<Vec<ObservationRow>, StoreError> {
        let mut all = Vec::new();
        self.for_each_observation(run_id, |row| {
            all.push(row);
            Ok::<(), StoreError>(())
        })?;
        Ok(all)
    }

    /// Write the run's observations as JSON lines: each line an object with the
    /// observation's fields, `run_id`, `prompt` (the case's messages as sent, after
    /// redaction; null if the run recorded none) and `scores` (null if unscored). Returns the
    /// number of lines.
    pub fn export_jsonl(&self, run_id: &str, writer: impl Write) -> Result<u64, StoreError> {
        let prompts = self.prompts(run_id)?;
        let mut out = BufWriter::new(writer);
        let export_err = |source: std::io::Error| StoreError::Export {
            path: self.path.clone(),
            run_id: run_id.to_string(),
            source,
        };
        let n = self.for_each_observation(run_id, |row| {
            let prompt =
                prompts.get(&(row.observation.set.clone(), row.observation.case_id.clone()));
            let line = ExportLine {
                run_id,
                observation: &row.observation,
                prompt,
                scores: &row.scores,
            };
            serde_json::to_writer(&mut out, &line)
                .map_err(|e| export_err(std::io::Error::from(e)))?;
            out.write_all(b"\n").map_err(export_err)
        })?;
        out.flush().map_err(export_err)?;
        Ok(n)
    }

    // ----- what a run asked and printed -----

    /// Record the rendered messages of each case of a run (`(set, case id, messages)`),
    /// already redacted by the caller. Recording a case twice keeps the last.
    pub fn record_prompts(
        &self,
        run_id: &str,
        prompts: &[(String, String, serde_json::Value)],
    ) -> Result<(), StoreError> {
        self.require_run(run_id)?;
        let action = format!("recording the prompts of run `{run_id}`");
        let tx = self.immediate(&action)?;
        for (set, case, messages) in prompts {
            let text = json_text(
                &self.path,
                format!("the prompt of case `{set}/{case}` of run `{run_id}`"),
                messages,
            )?;
            tx.execute(
                "INSERT INTO run_prompts (run_id, golden_set, case_id, messages_json)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (run_id, golden_set, case_id)
                 DO UPDATE SET messages_json = excluded.messages_json",
                vals![run_id, set, case, text],
            )
            .at(&self.path, &action)?;
        }
        tx.commit().at(&self.path, &action)
    }

    /// The recorded prompts of a run, by `(set, case id)`.
    pub fn prompts(
        &self,
        run_id: &str,
    ) -> Result<BTreeMap<(String, String), serde_json::Value>, StoreError> {
        self.require_run(run_id)?;
        let action = format!("reading the prompts of run `{run_id}`");
        let rows: Vec<(String, String, String)> = self
            .conn
            .query(
                "SELECT golden_set, case_id, messages_json FROM run_prompts WHERE run_id = ?1",
                vals![run_id],
            )
            .and_then(|rows| {
                rows.iter()
                    .map(|row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                    .collect::<Result<_, DbError>>()
            })
            .at(&self.path, &action)?;
        rows.into_iter()
            .map(|(set, case, text)| {
                let value = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                    path: self.path.clone(),
                    what: format!("run `{run_id}`, the prompt of `{set}/{case}`"),
                    detail: e.to_string(),
                })?;
                Ok(((set, case), value))
            })
            .collect()
    }

    /// Keep the text summary printed at the end of a run, for `probity show`.
    pub fn set_report_text(&self, run_id: &str, text: &str) -> Result<(), StoreError> {
        self.require_run(run_id)?;
        self.conn
            .execute(
                "UPDATE runs SET report_text = ?2 WHERE id = ?1",
                vals![run_id, text],
            )
            .at(
                &self.path,
                &format!("recording the text report of run `{run_id}`"),
            )?;
        Ok(())
    }

    /// The text summary printed at the end of a run, if one was kept.
    pub fn report_text(&self, run_id: &str) -> Result<Option<String>, StoreError> {
        self.require_run(run_id)?;
        self.conn
            .query_value::<Option<String>>(
                "SELECT report_text FROM runs WHERE id = ?1",
                vals![run_id],
            )
            .map(Option::flatten)
            .at(
                &self.path,
                &format!("reading the text report of run `{run_id}`"),
            )
    }

    // ----- baselines -----

    /// Make a finished run of `probe` its baseline, replacing the previous one. `data` is
    /// whatever the compare stage needs later; the store keeps it verbatim.
    pub fn promote(
        &self,
        probe: &str,
        run_id: &str,
        labels: &BTreeMap<String, String>,
        data: &serde_json::Value,
    ) -> Result<BaselineRecord, StoreError> {
        let labels_json = json_text(
            &self.path,
            format!("the labels of the baseline of `{probe}`"),
            labels,
        )?;
        let data_json = json_text(&self.path, format!("the baseline data of `{probe}`"), data)?;
        let action = format!("promoting run `{run_id}` to baseline of probe `{probe}`");
        // One write transaction: a concurrent prune cannot delete the run between the
        // check and the insert.
        let tx = self.immediate(&action)?;
        let run = self
            .run_exact(run_id)?
            .ok_or_else(|| self.not_found(run_id))?;
        if !run.is_finished() {
            return Err(StoreError::NotFinished {
                path: self.path.clone(),
                id: run_id.to_string(),
            });
        }
        if run.probe != probe {
            return Err(StoreError::ProbeMismatch {
                path: self.path.clone(),
                id: run_id.to_string(),
                run_probe: run.probe,
                probe: probe.to_string(),
            });
        }
        let promoted_at = Utc::now();
        tx.execute(
            "INSERT INTO baselines (probe, run_id, promoted_at, labels_json, data_json)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (probe) DO UPDATE SET run_id = excluded.run_id,
                 promoted_at = excluded.promoted_at, labels_json = excluded.labels_json,
                 data_json = excluded.data_json",
            vals![
                probe,
                run_id,
                format_ts(&promoted_at),
                labels_json,
                data_json
            ],
        )
        .at(&self.path, &action)?;
        tx.commit().at(&self.path, &action)?;
        Ok(BaselineRecord {
            probe: probe.to_string(),
            run_id: run_id.to_string(),
            promoted_at,
            labels: labels.clone(),
            data: data.clone(),
        })
    }

    fn decode_baseline(&self, row: &Row) -> Result<BaselineRecord, StoreError> {
        let probe: String = row.get(0).at(&self.path, "reading a baseline")?;
        let corrupt = |what: &str, detail: String| StoreError::Corrupt {
            path: self.path.clone(),
            what: format!("the baseline of probe `{probe}`, {what}"),
            detail,
        };
        let col = |e: DbError| corrupt("a column", e.to_string());
        let promoted_at: String = row.get(2).map_err(col)?;
        let labels: String = row.get(3).map_err(col)?;
        let data: String = row.get(4).map_err(col)?;
        Ok(BaselineRecord {
            run_id: row.get(1).map_err(col)?,
            promoted_at: parse_ts(&promoted_at)
                .map_err(|e| corrupt("promoted_at", format!("`{promoted_at}`: {e}")))?,
            labels: serde_json::from_str(&labels)
                .map_err(|e| corrupt("labels_json", e.to_string()))?,
            data: serde_json::from_str(&data).map_err(|e| corrupt("data_json", e.to_string()))?,
            probe,
        })
    }

    fn query_baselines(
        &self,
        sql: &str,
        params: &[sql::Value],
        action: &str,
    ) -> Result<Vec<BaselineRecord>, StoreError> {
        let rows = self.conn.query(sql, params).at(&self.path, action)?;
        rows.iter().map(|row| self.decode_baseline(row)).collect()
    }

    /// The baseline of `probe`, if one was promoted.
    pub fn baseline(&self, probe: &str) -> Result<Option<BaselineRecord>, StoreError> {
        Ok(self
            .query_baselines(
                "SELECT probe, run_id, promoted_at, labels_json, data_json FROM baselines
                 WHERE probe = ?1",
                vals![probe],
                &format!("reading the baseline of probe `{probe}`"),
            )?
            .pop())
    }

    /// Every baseline, by probe name.
    pub fn baselines(&self) -> Result<Vec<BaselineRecord>, StoreError> {
        self.query_baselines(
            "SELECT probe, run_id, promoted_at, labels_json, data_json FROM baselines
             ORDER BY probe",
            &[],
            "listing baselines",
        )
    }

    // ----- retention -----

    /// Delete the runs of `probe` (with their observations) that started before
    /// `older_than`, and return how many. Never deleted:
    /// - a run a baseline points at (reports show the baseline's observations);
    /// - an unfinished run younger than a day. It may still be going (a long run, or a
    ///   daemon's run in progress): deleting it would make the live writer's inserts
    ///   fail. Older than a day, an unfinished run is one whose process was killed, and
    ///   goes like any other.
    pub fn prune(&self, probe: &str, older_than: DateTime<Utc>) -> Result<usize, StoreError> {
        let action = format!("pruning the runs of probe `{probe}`");
        let alive_after = Utc::now() - ALIVE_GRACE;
        let ids: Vec<String> = self
            .conn
            .query(
                "SELECT id FROM runs
                 WHERE probe = ?1 AND started_at < ?2
                   AND id NOT IN (SELECT run_id FROM baselines)
                   AND (finished_at IS NOT NULL OR started_at < ?3)",
                vals![probe, format_ts(&older_than), format_ts(&alive_after)],
            )
            .and_then(|rows| rows.iter().map(|r| r.get(0)).collect())
            .at(&self.path, &action)?;
        // One run per transaction, so the write lock is never held for long and a
        // running writer thread only waits briefly. The conditions are checked again in
        // the DELETE: a run may have been promoted since the SELECT.
        let mut deleted = 0;
        for id in ids {
            let tx = self.immediate(&action)?;
            deleted += tx
                .execute(
                    "DELETE FROM runs WHERE id = ?1
                       AND id NOT IN (SELECT run_id FROM baselines)
                       AND (finished_at IS NOT NULL OR started_at < ?2)",
                    vals![id, format_ts(&alive_after)],
                )
                .at(&self.path, &action)?;
            tx.commit().at(&self.path, &action)?;
        }
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }
}

/// Why a walk over rows stopped: the caller's callback, or the database.
enum Walk<E> {
    Caller(E),
    Db(DbError),
}

impl<E> From<DbError> for Walk<E> {
    fn from(e: DbError) -> Self {
        Walk::Db(e)
    }
}
