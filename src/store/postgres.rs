//! The PostgreSQL engine behind the portable layer.
//!
//! - The URL (`postgres://user@host[:port]/db`) is a secret like an API key: its password
//!   comes from the environment (`${VAR}` in the URL, expanded only when connecting, or
//!   `PGPASSWORD`), and everywhere it is shown it is `redact`ed to `postgres://user@host/db`.
//! - The sync `postgres::Client` runs its own runtime and panics if used inside another's
//!   context, and blocking a runtime worker would stall the pipeline: so the `Store`'s
//!   client lives on a thread of its own (`PgRemote` ships each call there as a job over a
//!   channel), and the caller's wait runs under `tokio::task::block_in_place` when it is on
//!   a multi-thread runtime (`wait`). The writer gets a client of its own, owned by its
//!   thread.
//! - `?N` placeholders become `$N`; parameter types are inferred by the server and each
//!   `Value` is encoded as the type the server asked for (an integer into a BIGINT or a
//!   DOUBLE PRECISION column alike).

use std::collections::HashMap;
use std::error::Error as _;
use std::ops::ControlFlow;
use std::sync::mpsc;

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};

use super::migrate::Migration;
use super::sql::{CHUNK, Conn, DbError, DbErrorKind, Dialect, Row, Value, to_dollar};

/// Every PostgreSQL migration, the same versions and names as `migrate::MIGRATIONS` (a
/// test checks the two lists and the files agree).
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("pg_migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "run_evidence",
        sql: include_str!("pg_migrations/0002_run_evidence.sql"),
    },
    Migration {
        version: 3,
        name: "observation_delayed",
        sql: include_str!("pg_migrations/0003_observation_delayed.sql"),
    },
    Migration {
        version: 4,
        name: "run_prompts_and_report",
        sql: include_str!("pg_migrations/0004_run_prompts_and_report.sql"),
    },
    Migration {
        version: 5,
        name: "alerts",
        sql: include_str!("pg_migrations/0005_alerts.sql"),
    },
    Migration {
        version: 6,
        name: "observation_fingerprint",
        sql: include_str!("pg_migrations/0006_observation_fingerprint.sql"),
    },
    Migration {
        version: 7,
        name: "incident_ack",
        sql: include_str!("pg_migrations/0007_incident_ack.sql"),
    },
    Migration {
        version: 8,
        name: "digests",
        sql: include_str!("pg_migrations/0008_digests.sql"),
    },
    Migration {
        version: 9,
        name: "observation_labels_timings",
        sql: include_str!("pg_migrations/0009_observation_labels_timings.sql"),
    },
    Migration {
        version: 10,
        name: "usage_buckets",
        sql: include_str!("pg_migrations/0010_usage_buckets.sql"),
    },
];

/// Whether a database name is a PostgreSQL URL.
pub fn is_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// The URL as it may be shown: `postgres://user@host[:port]/db`, without the password and
/// without query parameters (which may carry one too).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "postgres://(unparsable URL)".to_string();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (Some(auth), host),
        None => (None, rest),
    };
    match auth.map(|a| a.split(':').next().unwrap_or("")) {
        Some(user) if !user.is_empty() => format!("{scheme}://{user}@{host}"),
        _ => format!("{scheme}://{host}"),
    }
}

/// `${VAR}` in the URL replaced from the environment; an unset variable is an error that
/// names it (never its value).
fn expand(url: &str) -> Result<String, String> {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err("a `${` without its closing `}`".to_string());
        };
        let name = &after[..end];
        let value = std::env::var(name)
            .map_err(|_| format!("the environment variable `{name}` it names is not set"))?;
        // A password may hold characters a URL cannot: percent-encode what is not safe.
        for b in value.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Connect, with the password from the URL's `${VAR}` or `PGPASSWORD`. Never call this
/// on a runtime worker (see the module comment); `PgRemote::connect` and `connect_owned`
/// run it on a thread of their own.
fn connect_here(url: &str) -> Result<PgClient, DbError> {
    let expanded = expand(url).map_err(|m| DbError::new(DbErrorKind::CannotOpen, m))?;
    let mut config: postgres::Config = expanded.parse().map_err(|e: postgres::Error| {
        DbError::new(
            DbErrorKind::CannotOpen,
            format!(
                "the URL is not a valid PostgreSQL URL: {}",
                scrub(&e, &expanded)
            ),
        )
    })?;
    if config.get_password().is_none()
        && let Ok(password) = std::env::var("PGPASSWORD")
    {
        config.password(password);
    }
    if config.get_application_name().is_none() {
        config.application_name("probity");
    }
    config.connect_timeout(std::time::Duration::from_secs(10));
    let client = config.connect(NoTls).map_err(|e| {
        let mut err = db_error(&e);
        err.message = scrub_text(&err.message, &expanded);
        if err.kind == DbErrorKind::Other || err.kind == DbErrorKind::Io {
            err.kind = DbErrorKind::CannotOpen;
        }
        err
    })?;
    Ok(PgClient {
        client,
        statements: HashMap::new(),
    })
}

/// An error's text without anything of the URL's secret part.
fn scrub(e: &postgres::Error, url: &str) -> String {
    scrub_text(&chain(e), url)
}

fn scrub_text(text: &str, url: &str) -> String {
    let mut out = text.to_string();
    if let Ok(config) = url.parse::<postgres::Config>()
        && let Some(pw) = config.get_password()
        && !pw.is_empty()
    {
        out = out.replace(&*String::from_utf8_lossy(pw), "***");
    }
    out.replace(url, &redact(url))
}

/// An error and its causes, as one line.
fn chain(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = db.message().to_string();
        if let Some(detail) = db.detail() {
            s.push_str(" (");
            s.push_str(detail);
            s.push(')');
        }
        return s;
    }
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// The kind of a PostgreSQL failure, by its SQLSTATE.
pub(crate) fn db_error(e: &postgres::Error) -> DbError {
    use postgres::error::SqlState;
    let kind = match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => DbErrorKind::Unique,
        Some(c) if *c == SqlState::FOREIGN_KEY_VIOLATION => DbErrorKind::ForeignKey,
        Some(c) if *c == SqlState::CHECK_VIOLATION || *c == SqlState::NOT_NULL_VIOLATION => {
            DbErrorKind::Constraint
        }
        Some(c)
            if *c == SqlState::LOCK_NOT_AVAILABLE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE =>
        {
            DbErrorKind::Busy
        }
        Some(c) if *c == SqlState::DISK_FULL => DbErrorKind::DiskFull,
        Some(c)
            if *c == SqlState::READ_ONLY_SQL_TRANSACTION
                || *c == SqlState::INSUFFICIENT_PRIVILEGE =>
        {
            DbErrorKind::ReadOnly
        }
        Some(c)
            if *c == SqlState::INVALID_PASSWORD
                || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                || *c == SqlState::INVALID_CATALOG_NAME =>
        {
            DbErrorKind::Auth
        }
        Some(c) if *c == SqlState::DATA_CORRUPTED || *c == SqlState::INDEX_CORRUPTED => {
            DbErrorKind::Corrupt
        }
        Some(_) => DbErrorKind::Other,
        None if e.is_closed() => DbErrorKind::Io,
        None => match e.source() {
            Some(s) if s.is::<std::io::Error>() => DbErrorKind::Io,
            _ => DbErrorKind::Other,
        },
    };
    DbError::new(kind, chain(e))
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let mismatch = || -> Box<dyn std::error::Error + Sync + Send> {
            format!("cannot store {self:?} in a column of type {ty}").into()
        };
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                #[allow(clippy::cast_precision_loss)]
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().to_sql(ty, out),
                _ => Err(mismatch()),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                #[allow(clippy::cast_possible_truncation)]
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => Err(mismatch()),
            },
            Value::Text(s) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    // PostgreSQL text cannot hold NUL (SQLite's can): it is stored as the
                    // visible U+2400 SYMBOL FOR NULL rather than failing the whole batch
                    // for one odd byte in an untrusted error body or answer.
                    if s.contains('\0') {
                        s.replace('\0', "\u{2400}")
                            .as_str()
                            .to_sql(&Type::TEXT, out)
                    } else {
                        s.as_str().to_sql(&Type::TEXT, out)
                    }
                }
                _ => Err(mismatch()),
            },
            Value::Bytes(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => Err(mismatch()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in `to_sql`, which knows the value's variant.
        true
    }

    to_sql_checked!();
}

fn value(row: &postgres::Row, i: usize) -> Result<Value, DbError> {
    let ty = row.columns()[i].type_().clone();
    let decode = |e: postgres::Error| DbError::new(DbErrorKind::Decode, chain(&e));
    Ok(match ty {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .map_err(decode)?
            .map(Value::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map_err(decode)?
            .map(|v| Value::Int(i64::from(v))),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map_err(decode)?
            .map(|v| Value::Int(i64::from(v))),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map_err(decode)?
            .map(|v| Value::Int(i64::from(v))),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)
            .map_err(decode)?
            .map(Value::Real),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)
            .map_err(decode)?
            .map(|v| Value::Real(f64::from(v))),
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(i)
            .map_err(decode)?
            .map(Value::Bytes),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => row
            .try_get::<_, Option<String>>(i)
            .map_err(decode)?
            .map(Value::Text),
        other => {
            return Err(DbError::new(
                DbErrorKind::Decode,
                format!("column {i} has type {other}, which the store does not read"),
            ));
        }
    }
    .unwrap_or(Value::Null))
}

fn owned(row: &postgres::Row) -> Result<Row, DbError> {
    let values = (0..row.len())
        .map(|i| value(row, i))
        .collect::<Result<_, _>>()?;
    Ok(Row { values })
}

/// A PostgreSQL client as a `Conn`, with its prepared statements. Used on one thread only:
/// the store's own (behind `PgRemote`) or the writer's.
pub(crate) struct PgClient {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl PgClient {
    fn statement(&mut self, sql: &str) -> Result<Statement, DbError> {
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self
            .client
            .prepare(&to_dollar(sql))
            .map_err(|e| db_error(&e))?;
        // Bounded: the store's SQL is a fixed set, but a caller could build many texts.
        if self.statements.len() >= 256 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }
}

impl Conn for PgClient {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let stmt = self.statement(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        self.client.execute(&stmt, &refs).map_err(|e| db_error(&e))
    }

    fn query_chunks(
        &mut self,
        sql: &str,
        params: &[Value],
        f: &mut dyn FnMut(Vec<Row>) -> ControlFlow<()>,
    ) -> Result<(), DbError> {
        let stmt = self.statement(sql)?;
        let mut rows = self
            .client
            .query_raw(&stmt, params.iter())
            .map_err(|e| db_error(&e))?;
        let mut chunk = Vec::new();
        while let Some(row) = rows.next().map_err(|e| db_error(&e))? {
            chunk.push(owned(&row)?);
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
        self.client.batch_execute(sql).map_err(|e| db_error(&e))
    }

    fn insert_id(&mut self, sql: &str, params: &[Value]) -> Result<i64, DbError> {
        let stmt = self.statement(&format!("{sql} RETURNING id"))?;
        let mut rows = self
            .client
            .query_raw(&stmt, params.iter())
            .map_err(|e| db_error(&e))?;
        let row = rows
            .next()
            .map_err(|e| db_error(&e))?
            .ok_or_else(|| DbError::new(DbErrorKind::Other, "an INSERT returned no id"))?;
        owned(&row)?.get(0)
    }
}

/// Wait for `f` (a blocking receive) without stalling an async runtime: on a multi-thread
/// runtime's worker the wait moves off it (`block_in_place`); anywhere else (a plain
/// thread, a current-thread runtime in tests) it simply blocks.
pub(crate) fn wait<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Connect on a short-lived thread of its own and hand the client back: for a thread
/// that will own it (the writer's).
pub(crate) fn connect_owned(url: &str) -> Result<PgClient, DbError> {
    let url = url.to_string();
    let handle = std::thread::Builder::new()
        .name("probity-pg-connect".into())
        .spawn(move || connect_here(&url))
        .map_err(|e| DbError::new(DbErrorKind::Io, format!("cannot start a thread: {e}")))?;
    wait(|| handle.join()).unwrap_or_else(|_| {
        Err(DbError::new(
            DbErrorKind::Other,
            "connecting to PostgreSQL panicked; please report this as a bug",
        ))
    })
}

type Job = Box<dyn FnOnce(&mut PgClient) + Send>;

/// The `Store`'s connection: a client on its own thread, called through jobs.
pub(crate) struct PgRemote {
    jobs: mpsc::Sender<Job>,
}

fn gone() -> DbError {
    DbError::new(
        DbErrorKind::Io,
        "the PostgreSQL connection thread stopped (it panicked); please report this as a bug",
    )
}

impl PgRemote {
    pub(crate) fn connect(url: &str) -> Result<PgRemote, DbError> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let url = url.to_string();
        std::thread::Builder::new()
            .name("probity-pg-store".into())
            .spawn(move || match connect_here(&url) {
                Ok(mut client) => {
                    let _ = ready_tx.send(Ok(()));
                    // Ends when the `PgRemote` (the only sender) is dropped.
                    for job in rx {
                        job(&mut client);
                    }
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| DbError::new(DbErrorKind::Io, format!("cannot start a thread: {e}")))?;
        wait(|| ready_rx.recv()).map_err(|_| gone())??;
        Ok(PgRemote { jobs })
    }

    /// Run `f` on the connection's thread and wait for its answer.
    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut PgClient) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        let (tx, rx) = mpsc::channel();
        self.jobs
            .send(Box::new(move |client| {
                let _ = tx.send(f(client));
            }))
            .map_err(|_| gone())?;
        wait(|| rx.recv()).map_err(|_| gone())?
    }
}

enum Chunk {
    Rows(Vec<Row>),
    Done(Result<(), DbError>),
}

impl Conn for PgRemote {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let (sql, params) = (sql.to_string(), params.to_vec());
        self.call(move |c| c.execute(&sql, &params))
    }

    fn query_chunks(
        &mut self,
        sql: &str,
        params: &[Value],
        f: &mut dyn FnMut(Vec<Row>) -> ControlFlow<()>,
    ) -> Result<(), DbError> {
        let (sql, params) = (sql.to_string(), params.to_vec());
        // Bounded: the connection's thread reads ahead at most a few chunks.
        let (tx, rx) = mpsc::sync_channel::<Chunk>(2);
        self.jobs
            .send(Box::new(move |client| {
                let done = client.query_chunks(&sql, &params, &mut |rows| {
                    match tx.send(Chunk::Rows(rows)) {
                        Ok(()) => ControlFlow::Continue(()),
                        // The caller stopped reading.
                        Err(_) => ControlFlow::Break(()),
                    }
                });
                let _ = tx.send(Chunk::Done(done));
            }))
            .map_err(|_| gone())?;
        loop {
            match wait(|| rx.recv()).map_err(|_| gone())? {
                Chunk::Rows(rows) => {
                    if f(rows).is_break() {
                        return Ok(());
                    }
                }
                Chunk::Done(done) => return done,
            }
        }
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        let sql = sql.to_string();
        self.call(move |c| c.batch(&sql))
    }

    fn insert_id(&mut self, sql: &str, params: &[Value]) -> Result<i64, DbError> {
        let (sql, params) = (sql.to_string(), params.to_vec());
        self.call(move |c| c.insert_id(&sql, &params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_user_host_and_database_only() {
        assert_eq!(
            redact("postgres://probity:s3cret@db.example:5433/hist?password=x"),
            "postgres://probity@db.example:5433/hist"
        );
        assert_eq!(
            redact("postgresql://probity:${PGPW}@db/hist"),
            "postgresql://probity@db/hist"
        );
        assert_eq!(redact("postgres://db/hist"), "postgres://db/hist");
        assert_eq!(redact("postgres://:pw@db/hist"), "postgres://db/hist");
    }

    #[test]
    fn expansion_encodes_and_names_unset_variables() {
        // SAFETY-free: a variable name no other test uses.
        let name = "PROBITY_TEST_PG_EXPAND_UNSET_7f3a";
        let err = expand(&format!("postgres://u:${{{name}}}@h/d")).unwrap_err();
        assert!(err.contains(name), "{err}");
        assert_eq!(
            expand("postgres://u@h/d").as_deref(),
            Ok("postgres://u@h/d")
        );
    }
}
