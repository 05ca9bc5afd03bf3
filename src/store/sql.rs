//! The portable SQL layer: every query of the store is written once, here-agnostic, and
//! runs on SQLite (`sqlite.rs`) or PostgreSQL (`postgres.rs`). It knows values (`Value`),
//! owned rows with typed getters (`Row`), backend-neutral errors (`DbError` with a
//! `DbErrorKind`), and transactions (`Tx`, rolled back unless committed).
//!
//! The SQL dialect is the common ground of both engines: `?N` placeholders (rewritten to
//! `$N` for PostgreSQL), `ON CONFLICT ... DO UPDATE`, `CAST(? AS TEXT)` where a parameter's
//! type would otherwise be unknown to PostgreSQL, no `rowid` except the outbox's (an
//! explicit column there, see `pg_migrations/0005_alerts.sql`).

use std::cell::RefCell;
use std::fmt;
use std::ops::ControlFlow;

/// A value bound to a parameter or read from a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<u16> for Value {
    fn from(v: u16) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<bool> for Value {
    /// Booleans are stored as 0/1 integers on both engines (SQLite has no boolean).
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<f64> for Value {
    /// NaN is stored as NULL on both engines (SQLite cannot store it).
    fn from(v: f64) -> Self {
        if v.is_nan() {
            Value::Null
        } else {
            Value::Real(v)
        }
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
impl From<&Option<String>> for Value {
    fn from(v: &Option<String>) -> Self {
        v.as_deref().map_or(Value::Null, Value::from)
    }
}

/// `vals![a, b, c]`: a parameter list.
macro_rules! vals {
    ($($v:expr),* $(,)?) => { &[$($crate::store::sql::Value::from($v)),*][..] };
}
pub(crate) use vals;

/// What went wrong, as far as a caller can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// A primary key or unique index refused the row.
    Unique,
    /// A foreign key refused the row.
    ForeignKey,
    /// Another constraint (CHECK, NOT NULL) refused the row.
    Constraint,
    /// Another session held a lock too long.
    Busy,
    /// The disk (or the server's) is full.
    DiskFull,
    /// The database cannot be written by this user (file permissions, read-only server).
    ReadOnly,
    /// It cannot be opened or reached at all.
    CannotOpen,
    /// The login was refused (wrong user or password, no such database).
    Auth,
    /// The file is not an SQLite database.
    NotADatabase,
    /// The database is damaged.
    Corrupt,
    /// An I/O failure: the disk, or the connection to the server.
    Io,
    /// A column held a value of another type than asked for.
    Decode,
    /// Anything else (SQL errors are bugs).
    Other,
}

/// A database error: its kind and the engine's message (never a password: the URL is not
/// part of it).
#[derive(Debug, Clone, PartialEq)]
pub struct DbError {
    pub kind: DbErrorKind,
    pub message: String,
}

impl DbError {
    pub(crate) fn new(kind: DbErrorKind, message: impl Into<String>) -> DbError {
        DbError {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn is_constraint(&self) -> bool {
        matches!(
            self.kind,
            DbErrorKind::Unique | DbErrorKind::ForeignKey | DbErrorKind::Constraint
        )
    }

    /// What an operator can do about it.
    pub(crate) fn hint(&self) -> &'static str {
        match self.kind {
            DbErrorKind::DiskFull => "free disk space on that filesystem and try again",
            DbErrorKind::Busy => {
                "another process held the database's write lock too long; wait for it to \
                 finish or stop it"
            }
            DbErrorKind::ReadOnly | DbErrorKind::CannotOpen => {
                "check that the database exists and is writable by this user (for a file: \
                 the file and its folder; for a server: that it runs and accepts this user)"
            }
            DbErrorKind::Auth => {
                "check the user, the database name and the password (from the URL's \
                 `${VAR}` or PGPASSWORD)"
            }
            DbErrorKind::NotADatabase => {
                "the file is not an SQLite database; choose another database path"
            }
            DbErrorKind::Corrupt => {
                "the database is damaged; move it aside or restore it from a backup"
            }
            DbErrorKind::Io => "the disk or the connection reported an I/O error; check it",
            _ => "if it persists, please report it as a bug with this message",
        }
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DbError {}

/// Which engine runs the SQL: the few places the text must differ ask this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// One row read, owned (it outlives the statement: PostgreSQL rows cross a thread).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub(crate) values: Vec<Value>,
}

impl Row {
    /// Column `i` as a `T`; a NULL or a value of another type is a `Decode` error.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T, DbError> {
        let v = self.values.get(i).ok_or_else(|| self.no_column(i))?;
        T::from_value(v.clone())
            .map_err(|m| DbError::new(DbErrorKind::Decode, format!("column {i}: {m}")))
    }

    /// Column `i` moved out of the row (it reads as NULL afterwards): `get` without a
    /// copy, for the big text columns of a long read.
    pub fn take<T: FromValue>(&mut self, i: usize) -> Result<T, DbError> {
        let len = self.values.len();
        let v = self.values.get_mut(i).ok_or_else(|| {
            DbError::new(
                DbErrorKind::Decode,
                format!("no column {i} (the row has {len})"),
            )
        })?;
        T::from_value(std::mem::replace(v, Value::Null))
            .map_err(|m| DbError::new(DbErrorKind::Decode, format!("column {i}: {m}")))
    }

    fn no_column(&self, i: usize) -> DbError {
        DbError::new(
            DbErrorKind::Decode,
            format!("no column {i} (the row has {})", self.values.len()),
        )
    }
}

/// A type a column can be read as.
pub trait FromValue: Sized {
    fn from_value(v: Value) -> Result<Self, String>;
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Int(_) => "an integer",
        Value::Real(_) => "a real",
        Value::Text(_) => "text",
        Value::Bytes(_) => "bytes",
    }
}

impl FromValue for i64 {
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Int(i) => Ok(i),
            other => Err(format!("expected an integer, found {}", type_name(&other))),
        }
    }
}
macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: Value) -> Result<Self, String> {
                let i = i64::from_value(v)?;
                <$t>::try_from(i).map_err(|e| format!("{i}: {e}"))
            }
        }
    )*};
}
int_from_value!(i32, u32, u64, u16);

impl FromValue for bool {
    fn from_value(v: Value) -> Result<Self, String> {
        Ok(i64::from_value(v)? != 0)
    }
}
impl FromValue for f64 {
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Real(f) => Ok(f),
            #[allow(clippy::cast_precision_loss)]
            Value::Int(i) => Ok(i as f64),
            other => Err(format!("expected a real, found {}", type_name(&other))),
        }
    }
}
impl FromValue for String {
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s),
            other => Err(format!("expected text, found {}", type_name(&other))),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Bytes(b) => Ok(b),
            other => Err(format!("expected bytes, found {}", type_name(&other))),
        }
    }
}
impl FromValue for Value {
    fn from_value(v: Value) -> Result<Self, String> {
        Ok(v)
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// A connection of one engine. Rows come in chunks so a big read never sits in memory
/// whole, and so a PostgreSQL read crossing a thread pays one hand-over per chunk.
pub(crate) trait Conn: Send {
    fn dialect(&self) -> Dialect;
    /// Run one statement; the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError>;
    /// Run one query, handing its rows to `f` chunk by chunk until `f` breaks.
    fn query_chunks(
        &mut self,
        sql: &str,
        params: &[Value],
        f: &mut dyn FnMut(Vec<Row>) -> ControlFlow<()>,
    ) -> Result<(), DbError>;
    /// Run statements without parameters (migrations, BEGIN, COMMIT).
    fn batch(&mut self, sql: &str) -> Result<(), DbError>;
    /// Run an INSERT into a table with an integer `id` and return the new row's id.
    fn insert_id(&mut self, sql: &str, params: &[Value]) -> Result<i64, DbError>;
}

/// How many rows a chunk holds.
pub(crate) const CHUNK: usize = 512;

/// A connection shared by `&self` methods (a `Store` is used from one thread at a time).
pub(crate) struct Db {
    conn: RefCell<Box<dyn Conn>>,
}

impl Db {
    pub(crate) fn new(conn: Box<dyn Conn>) -> Db {
        Db {
            conn: RefCell::new(conn),
        }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.conn.borrow().dialect()
    }

    pub(crate) fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        self.conn.borrow_mut().execute(sql, params)
    }

    pub(crate) fn batch(&self, sql: &str) -> Result<(), DbError> {
        self.conn.borrow_mut().batch(sql)
    }

    pub(crate) fn insert_id(&self, sql: &str, params: &[Value]) -> Result<i64, DbError> {
        self.conn.borrow_mut().insert_id(sql, params)
    }

    /// Every row of a query.
    pub(crate) fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let mut all = Vec::new();
        self.conn
            .borrow_mut()
            .query_chunks(sql, params, &mut |rows| {
                all.extend(rows);
                ControlFlow::Continue(())
            })?;
        Ok(all)
    }

    /// The first row of a query, if any.
    pub(crate) fn query_opt(&self, sql: &str, params: &[Value]) -> Result<Option<Row>, DbError> {
        let mut first = None;
        self.conn
            .borrow_mut()
            .query_chunks(sql, params, &mut |rows| {
                first = rows.into_iter().next();
                ControlFlow::Break(())
            })?;
        Ok(first)
    }

    /// The first column of the first row, or `None` without rows.
    pub(crate) fn query_value<T: FromValue>(
        &self,
        sql: &str,
        params: &[Value],
    ) -> Result<Option<T>, DbError> {
        self.query_opt(sql, params)?.map(|r| r.get(0)).transpose()
    }

    /// Call `f` with each row, in order, until it fails; how many rows it saw.
    pub(crate) fn for_each<E, F>(&self, sql: &str, params: &[Value], mut f: F) -> Result<u64, E>
    where
        E: From<DbError>,
        F: FnMut(Row) -> Result<(), E>,
    {
        let mut n = 0u64;
        let mut failed = None;
        self.conn
            .borrow_mut()
            .query_chunks(sql, params, &mut |rows| {
                for row in rows {
                    if let Err(e) = f(row) {
                        failed = Some(e);
                        return ControlFlow::Break(());
                    }
                    n += 1;
                }
                ControlFlow::Continue(())
            })?;
        match failed {
            Some(e) => Err(e),
            None => Ok(n),
        }
    }

    /// Start a transaction that writes: on SQLite `BEGIN IMMEDIATE` (the write lock at
    /// once, honouring the busy timeout, instead of a deferred transaction failing at its
    /// first write), on PostgreSQL a plain `BEGIN` (row locks).
    pub(crate) fn begin(&self) -> Result<Tx<'_>, DbError> {
        let sql = match self.dialect() {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        };
        self.batch(sql)?;
        Ok(Tx {
            db: self,
            done: false,
        })
    }
}

/// An open transaction on a `Db`; rolled back when dropped without `commit`.
pub(crate) struct Tx<'a> {
    db: &'a Db,
    done: bool,
}

impl Tx<'_> {
    pub(crate) fn commit(mut self) -> Result<(), DbError> {
        self.done = true;
        self.db.batch("COMMIT")
    }

    pub(crate) fn rollback(mut self) -> Result<(), DbError> {
        self.done = true;
        self.db.batch("ROLLBACK")
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.done
            && let Err(e) = self.db.batch("ROLLBACK")
        {
            tracing::debug!("rolling back a transaction: {e}");
        }
    }
}

/// `?N` placeholders as PostgreSQL's `$N`, outside string literals and quoted names.
pub(crate) fn to_dollar(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                out.push(c);
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    out.push(c);
                }
                '?' => out.push('$'),
                _ => out.push(c),
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_quotes() {
        assert_eq!(
            to_dollar("SELECT '?1', \"a?\" FROM t WHERE a = ?1 AND b = ?12"),
            "SELECT '?1', \"a?\" FROM t WHERE a = $1 AND b = $12"
        );
    }

    #[test]
    fn typed_getters_refuse_other_types() {
        let row = Row {
            values: vec![Value::Int(3), Value::Null, Value::Text("x".into())],
        };
        assert_eq!(row.get::<i64>(0), Ok(3));
        assert_eq!(row.get::<Option<i64>>(1), Ok(None));
        assert_eq!(row.get::<String>(2), Ok("x".to_string()));
        assert!(row.get::<i64>(1).is_err());
        assert!(row.get::<String>(0).is_err());
        assert!(row.get::<i64>(9).is_err());
        assert_eq!(Value::from(f64::NAN), Value::Null);
    }
}
