//! The SQLite engine behind the portable layer: opening a file the way every probity
//! connection must be set up (WAL, synchronous=NORMAL, foreign keys, busy timeout), binding
//! `Value`s, reading rows, and turning SQLite's extended error codes into `DbErrorKind`s.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, ffi};

use super::error::StoreError;
use super::sql::{CHUNK, Conn, DbError, DbErrorKind, Dialect, Row, Value};

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

/// The kind of an SQLite failure, by its extended code.
pub(crate) fn db_error(e: rusqlite::Error) -> DbError {
    let kind = match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.extended_code {
            ffi::SQLITE_CONSTRAINT_PRIMARYKEY | ffi::SQLITE_CONSTRAINT_UNIQUE => {
                DbErrorKind::Unique
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => DbErrorKind::ForeignKey,
            _ => match f.code {
                ErrorCode::ConstraintViolation => DbErrorKind::Constraint,
                ErrorCode::DiskFull => DbErrorKind::DiskFull,
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => DbErrorKind::Busy,
                ErrorCode::ReadOnly | ErrorCode::PermissionDenied => DbErrorKind::ReadOnly,
                ErrorCode::CannotOpen => DbErrorKind::CannotOpen,
                ErrorCode::NotADatabase => DbErrorKind::NotADatabase,
                ErrorCode::DatabaseCorrupt => DbErrorKind::Corrupt,
                ErrorCode::SystemIoFailure => DbErrorKind::Io,
                _ => DbErrorKind::Other,
            },
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..) => DbErrorKind::Decode,
        _ => DbErrorKind::Other,
    };
    DbError::new(kind, e.to_string())
}

fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
    }
}

/// An SQLite connection as a `Conn`.
pub(crate) struct SqliteConn(pub(crate) Connection);

impl Conn for SqliteConn {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let mut stmt = self.0.prepare_cached(sql).map_err(db_error)?;
        let n = stmt
            .execute(rusqlite::params_from_iter(params))
            .map_err(db_error)?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    fn query_chunks(
        &mut self,
        sql: &str,
        params: &[Value],
        f: &mut dyn FnMut(Vec<Row>) -> ControlFlow<()>,
    ) -> Result<(), DbError> {
        let mut stmt = self.0.prepare_cached(sql).map_err(db_error)?;
        let width = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params))
            .map_err(db_error)?;
        let mut chunk = Vec::new();
        while let Some(row) = rows.next().map_err(db_error)? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(value(row.get_ref(i).map_err(db_error)?));
            }
            chunk.push(Row { values });
            if chunk.len() >= CHUNK && f(std::mem::take(&mut chunk)).is_break() {
                return Ok(());
            }
        }
        if !chunk.is_empty() {
            let _ = f(chunk);
        }
        Ok(())
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.0.execute_batch(sql).map_err(db_error)
    }

    fn insert_id(&mut self, sql: &str, params: &[Value]) -> Result<i64, DbError> {
        self.execute(sql, params)?;
        Ok(self.0.last_insert_rowid())
    }
}

/// A connection set up the way every probity connection must be.
pub(crate) fn connect(path: &Path, busy_timeout: Duration) -> Result<SqliteConn, StoreError> {
    let open_err = |source: rusqlite::Error| StoreError::Open {
        path: path.to_path_buf(),
        source: db_error(source),
    };
    let conn = Connection::open(path).map_err(open_err)?;
    conn.busy_timeout(busy_timeout).map_err(open_err)?;
    // WAL: readers (reports, `history`) never block the writer thread and vice versa.
    // The first statement is also where a file that is not a database gets noticed.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(open_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NotWal {
            path: path.to_path_buf(),
            mode,
        });
    }
    // synchronous=NORMAL in WAL mode: a commit appends its pages to the -wal file with
    // write(2) and returns without fsync (fsync happens at checkpoints). Once write(2)
    // returned, the pages sit in the kernel's page cache, which outlives the process: a
    // `kill -9`, a panic or an OOM kill of probity loses nothing committed, and the next
    // open replays the WAL. Only an OS crash or power cut can lose the last commits, and
    // even then the database stays consistent (never corrupt). FULL would fsync every
    // batch, for a guarantee against power loss that a probe history does not need.
    // foreign_keys: off by default in SQLite, per connection; the cascade from runs to
    // observations and the "observation of an unknown run" check rely on it.
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
        .map_err(open_err)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(SqliteConn(conn))
}
