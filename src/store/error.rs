//! `StoreError`: everything the store can fail at, whichever engine holds the data. Each
//! message names the database (its file, or its URL without the password) and says what
//! to do about it, because the person reading it is usually an operator looking at a cron
//! log, not the author of the code. `path` is that name: a file path for SQLite, the
//! redacted `postgres://user@host/db` for PostgreSQL.

use std::path::{Path, PathBuf};

pub use super::sql::{DbError, DbErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot create the folder for the database {path}: {source}; \
         check that the parent folder is writable, or choose another database path"
    )]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot open the database {path}: {source}; {hint}", hint = source.hint())]
    Open { path: PathBuf, source: DbError },

    #[error(
        "the database {path} cannot use write-ahead logging (journal mode is `{mode}`); \
         probity needs it so a crash loses nothing committed: put the database on a local \
         filesystem"
    )]
    NotWal { path: PathBuf, mode: String },

    #[error(
        "the database {path} has schema version {found}, but this probity knows versions up \
         to {known}; it was written by a newer probity: upgrade probity, or use another \
         database file"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },

    #[error(
        "migrating the database {path} to version {version} ({name}) failed: {source}; \
         the database stays at version {current} and nothing of this step was applied; \
         {hint}",
        hint = source.hint()
    )]
    Migration {
        path: PathBuf,
        version: i64,
        name: &'static str,
        current: i64,
        source: DbError,
    },

    #[error("{action} in the database {path} failed: {source}; {hint}", hint = source.hint())]
    Db {
        path: PathBuf,
        action: String,
        source: DbError,
    },

    #[error("no run `{id}` in the database {path}; list the stored runs with `probity history`")]
    RunNotFound { path: PathBuf, id: String },

    #[error("no runs in the database {path} yet; run a probe first (`probity run <probe>`)")]
    NoRuns { path: PathBuf },

    #[error(
        "the run id `{prefix}` is ambiguous in the database {path}: as a prefix or suffix it \
         matches {candidates}; give more characters of the id"
    )]
    AmbiguousRun {
        path: PathBuf,
        prefix: String,
        candidates: String,
    },

    #[error("a run `{id}` already exists in the database {path}; every run needs a new id")]
    RunExists { path: PathBuf, id: String },

    #[error(
        "the run `{id}` in the database {path} already finished at {finished_at}; a run is \
         finished once"
    )]
    AlreadyFinished {
        path: PathBuf,
        id: String,
        finished_at: String,
    },

    #[error(
        "cannot finish the run `{id}` in the database {path} with status `running`; \
         give the status it ended with (e.g. `passed`, `failed`, `error`)"
    )]
    FinishAsRunning { path: PathBuf, id: String },

    #[error(
        "the run `{id}` in the database {path} has not finished (it is still going, or its \
         process was killed); only a finished run can become a baseline"
    )]
    NotFinished { path: PathBuf, id: String },

    #[error(
        "the run `{id}` in the database {path} belongs to probe `{run_probe}`, not `{probe}`; \
         promote a run of `{probe}`"
    )]
    ProbeMismatch {
        path: PathBuf,
        id: String,
        run_probe: String,
        probe: String,
    },

    #[error(
        "an observation for run `{run_id}` arrived, but the database {path} has no such run; \
         call `begin_run` before writing its observations"
    )]
    ObservationForUnknownRun { path: PathBuf, run_id: String },

    #[error(
        "observation seq {seq} of run `{run_id}` was written twice to the database {path}; \
         seq must be unique within a run"
    )]
    DuplicateObservation {
        path: PathBuf,
        run_id: String,
        seq: u64,
    },

    #[error(
        "scores arrived for observation seq {seq} of run `{run_id}`, but the database {path} \
         has no such observation; send the observation to the writer before its scores"
    )]
    ScoresWithoutObservation {
        path: PathBuf,
        run_id: String,
        seq: u64,
    },

    #[error(
        "cannot store {what} of run `{run_id}` in the database {path}: {value} is beyond \
         the database's 64-bit integers"
    )]
    OutOfRange {
        path: PathBuf,
        run_id: String,
        what: &'static str,
        value: u64,
    },

    #[error("cannot encode {what} as JSON for the database {path}: {source}")]
    Encode {
        path: PathBuf,
        what: String,
        source: serde_json::Error,
    },

    #[error(
        "unreadable data in the database {path}: {what}: {detail}; the row was written by \
         another tool or the database is damaged (for a file, `sqlite3 {path} 'PRAGMA \
         integrity_check'` tells which)"
    )]
    Corrupt {
        path: PathBuf,
        what: String,
        detail: String,
    },

    #[error(
        "writing the JSON lines export of run `{run_id}` (from the database {path}) failed: \
         {source}; check that the destination is writable and has space"
    )]
    Export {
        path: PathBuf,
        run_id: String,
        source: std::io::Error,
    },

    #[error("cannot start the writer thread for the database {path}: {source}")]
    WriterSpawn {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "the writer thread of the database {path} stopped unexpectedly (it panicked); \
         observations after its last commit are lost; please report this as a bug"
    )]
    WriterGone { path: PathBuf },

    #[error(
        "the writer of the database {path} failed: {first_error}; observations after that \
         point may be missing"
    )]
    WriterFailed { path: PathBuf, first_error: String },
}

/// Attach the database's name and what was being done to a database error.
pub(crate) trait SqlContext<T> {
    fn at(self, path: &Path, action: &str) -> Result<T, StoreError>;
}

impl<T> SqlContext<T> for Result<T, DbError> {
    fn at(self, path: &Path, action: &str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Db {
            path: path.to_path_buf(),
            action: action.to_string(),
            source,
        })
    }
}
