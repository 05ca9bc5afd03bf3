//! The mapping between an `Observation` (plus its scores) and a row of `observations`:
//! the one place that knows the column list, so the writer and the readers cannot drift.

use std::path::Path;

use serde::Serialize;

use super::error::StoreError;
use super::sql::{Db, DbError, DbErrorKind, Row, Value, vals};
use super::time::{format_ts, parse_ts};
use crate::runner::{Observation, Status};
use crate::score::Score;

/// One stored observation with its scores (`None` until the observation was scored).
#[derive(Debug, Clone, PartialEq)]
pub struct ObservationRow {
    pub observation: Observation,
    pub scores: Option<Vec<Score>>,
}

const INSERT_HEAD: &str = "INSERT INTO observations (
        run_id, seq, target, golden_set, case_id, sample, attempt, final_attempt, started_at,
        scheduled_ms, latency_ms, ttft_ms, status, http_status, error, input_tokens,
        output_tokens, cost_usd, finish_reason, model, request_id, span_id, output,
        context_json, scores_json, delayed, system_fingerprint, labels_json, timings_json
    ) VALUES ";
/// Columns per row of `INSERT_HEAD`.
const WIDTH: usize = 29;

/// `INSERT_HEAD` with `rows` rows of placeholders.
fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(INSERT_HEAD);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..WIDTH {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("?{}", r * WIDTH + c + 1));
        }
        sql.push(')');
    }
    sql
}

const UPDATE_SCORES: &str =
    "UPDATE observations SET scores_json = ?3 WHERE run_id = ?1 AND seq = ?2";

/// Columns read back, in the order `decode` expects.
pub(crate) const SELECT_COLUMNS: &str = "seq, target, golden_set, case_id, sample, attempt,
    final_attempt, started_at, scheduled_ms, latency_ms, ttft_ms, status, http_status, error,
    input_tokens, output_tokens, cost_usd, finish_reason, model, request_id, span_id, output,
    context_json, scores_json, delayed, system_fingerprint, labels_json, timings_json";

fn to_i64(path: &Path, run_id: &str, what: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange {
        path: path.to_path_buf(),
        run_id: run_id.to_string(),
        what,
        value,
    })
}

/// Inserts an observation, with its scores when they are already known (one write instead
/// of an insert and an update).
pub(crate) fn insert_observation(
    conn: &Db,
    path: &Path,
    run_id: &str,
    o: &Observation,
    scores: Option<&[Score]>,
) -> Result<(), StoreError> {
    let values = observation_values(path, run_id, o, scores)?;
    let db_err = |source| StoreError::Db {
        path: path.to_path_buf(),
        action: format!("writing observation {} of run `{run_id}`", o.seq),
        source,
    };
    match conn.execute(&insert_sql(1), &values) {
        Ok(_) => Ok(()),
        Err(e) if e.kind == DbErrorKind::ForeignKey => Err(StoreError::ObservationForUnknownRun {
            path: path.to_path_buf(),
            run_id: run_id.to_string(),
        }),
        Err(e) if e.kind == DbErrorKind::Unique => Err(StoreError::DuplicateObservation {
            path: path.to_path_buf(),
            run_id: run_id.to_string(),
            seq: o.seq,
        }),
        Err(e) => Err(db_err(e)),
    }
}

/// Several observations in one multi-row INSERT (one statement, one round trip to a
/// server). A row the database refuses fails the statement as a whole, with the engine's
/// constraint error: the writer then redoes the batch one message at a time to tell
/// which row it was.
pub(crate) fn insert_observations(
    conn: &Db,
    path: &Path,
    rows: &[(&str, &Observation, Option<&[Score]>)],
) -> Result<(), StoreError> {
    let mut values = Vec::with_capacity(rows.len() * WIDTH);
    for (run_id, o, scores) in rows {
        values.extend(observation_values(path, run_id, o, *scores)?);
    }
    conn.execute(&insert_sql(rows.len()), &values)
        .map(|_| ())
        .map_err(|source| StoreError::Db {
            path: path.to_path_buf(),
            action: format!("writing a batch of {} observations", rows.len()),
            source,
        })
}

/// The parameters of one row of `INSERT_HEAD`.
fn observation_values(
    path: &Path,
    run_id: &str,
    o: &Observation,
    scores: Option<&[Score]>,
) -> Result<Vec<Value>, StoreError> {
    let seq = to_i64(path, run_id, "an observation's seq", o.seq)?;
    let input_tokens = o
        .input_tokens
        .map(|v| to_i64(path, run_id, "input_tokens", v))
        .transpose()?;
    let output_tokens = o
        .output_tokens
        .map(|v| to_i64(path, run_id, "output_tokens", v))
        .transpose()?;
    let context = serde_json::to_string(&o.context).map_err(|source| StoreError::Encode {
        path: path.to_path_buf(),
        what: format!("the context of observation {} of run `{run_id}`", o.seq),
        source,
    })?;
    let encode = |what: &str, value: Result<String, serde_json::Error>| {
        value.map_err(|source| StoreError::Encode {
            path: path.to_path_buf(),
            what: format!("the {what} of observation {} of run `{run_id}`", o.seq),
            source,
        })
    };
    // Empty labels and unmeasured timings stay NULL, as for rows older than the columns.
    let labels = (!o.labels.is_empty())
        .then(|| encode("labels", serde_json::to_string(&o.labels)))
        .transpose()?;
    let timings = o
        .timings
        .as_ref()
        .map(|t| encode("timings", serde_json::to_string(t)))
        .transpose()?;
    let scores = scores
        .map(serde_json::to_string)
        .transpose()
        .map_err(|source| StoreError::Encode {
            path: path.to_path_buf(),
            what: format!("the scores of observation {} of run `{run_id}`", o.seq),
            source,
        })?;
    Ok(vals![
        run_id,
        seq,
        &o.target,
        &o.set,
        &o.case_id,
        o.sample,
        o.attempt,
        o.final_attempt,
        format_ts(&o.started_at),
        o.scheduled_ms,
        o.latency_ms,
        o.ttft_ms,
        o.status.as_str(),
        o.http_status,
        &o.error,
        input_tokens,
        output_tokens,
        o.cost_usd,
        &o.finish_reason,
        &o.model,
        &o.request_id,
        &o.span_id,
        &o.output,
        context,
        scores,
        o.delayed,
        &o.system_fingerprint,
        labels,
        timings,
    ]
    .to_vec())
}

pub(crate) fn update_scores(
    conn: &Db,
    path: &Path,
    run_id: &str,
    seq: u64,
    scores: &[Score],
) -> Result<(), StoreError> {
    let seq_i = to_i64(path, run_id, "an observation's seq", seq)?;
    let json = serde_json::to_string(scores).map_err(|source| StoreError::Encode {
        path: path.to_path_buf(),
        what: format!("the scores of observation {seq} of run `{run_id}`"),
        source,
    })?;
    let db_err = |source| StoreError::Db {
        path: path.to_path_buf(),
        action: format!("writing the scores of observation {seq} of run `{run_id}`"),
        source,
    };
    let changed = conn
        .execute(UPDATE_SCORES, vals![run_id, seq_i, json])
        .map_err(db_err)?;
    if changed == 0 {
        return Err(StoreError::ScoresWithoutObservation {
            path: path.to_path_buf(),
            run_id: run_id.to_string(),
            seq,
        });
    }
    Ok(())
}

/// Read one row selected with `SELECT_COLUMNS`.
pub(crate) fn decode(
    mut row: Row,
    path: &Path,
    run_id: &str,
) -> Result<ObservationRow, StoreError> {
    // The seq is read first so every later complaint can say which row it is about.
    let corrupt = |seq: Option<i64>, what: &str, detail: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        what: match seq {
            Some(seq) => format!("observation {seq} of run `{run_id}`, {what}"),
            None => format!("an observation of run `{run_id}`, {what}"),
        },
        detail,
    };
    let seq_raw: i64 = row
        .get(0)
        .map_err(|e| corrupt(None, "seq", e.to_string()))?;
    let s = Some(seq_raw);
    let col = |e: DbError| corrupt(s, "a column", e.to_string());
    let uint = |what: &str, v: i64| u64::try_from(v).map_err(|e| corrupt(s, what, e.to_string()));

    let seq = uint("seq", seq_raw)?;
    let sample: i64 = row.take(4).map_err(col)?;
    let attempt: i64 = row.take(5).map_err(col)?;
    let started_at = {
        let text: String = row.take(7).map_err(col)?;
        parse_ts(&text).map_err(|e| corrupt(s, "started_at", format!("`{text}`: {e}")))?
    };
    let status = {
        let text: String = row.take(11).map_err(col)?;
        Status::parse(&text)
            .ok_or_else(|| corrupt(s, "status", format!("unknown status `{text}`")))?
    };
    let http_status = match row.take::<Option<i64>>(12).map_err(col)? {
        Some(v) => Some(u16::try_from(v).map_err(|e| corrupt(s, "http_status", e.to_string()))?),
        None => None,
    };
    let tokens = |row: &Row, idx: usize, what: &str| -> Result<Option<u64>, StoreError> {
        row.get::<Option<i64>>(idx)
            .map_err(col)?
            .map(|v| uint(what, v))
            .transpose()
    };
    let context = {
        let text: String = row.take(22).map_err(col)?;
        serde_json::from_str::<Vec<String>>(&text)
            .map_err(|e| corrupt(s, "context_json", e.to_string()))?
    };
    let scores = match row.take::<Option<String>>(23).map_err(col)? {
        Some(text) => Some(
            serde_json::from_str::<Vec<Score>>(&text)
                .map_err(|e| corrupt(s, "scores_json", e.to_string()))?,
        ),
        None => None,
    };
    let json_column =
        |row: &mut Row, idx: usize, what: &str| -> Result<Option<serde_json::Value>, StoreError> {
            match row.take::<Option<String>>(idx).map_err(col)? {
                Some(text) => serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| corrupt(s, what, e.to_string())),
                None => Ok(None),
            }
        };
    let labels = match json_column(&mut row, 26, "labels_json")? {
        Some(v) => {
            serde_json::from_value(v).map_err(|e| corrupt(s, "labels_json", e.to_string()))?
        }
        None => Default::default(),
    };
    let timings = json_column(&mut row, 27, "timings_json")?
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| corrupt(s, "timings_json", e.to_string()))?;
    let observation = Observation {
        seq,
        target: row.take(1).map_err(col)?,
        set: row.take(2).map_err(col)?,
        case_id: row.take(3).map_err(col)?,
        sample: u32::try_from(sample).map_err(|e| corrupt(s, "sample", e.to_string()))?,
        attempt: u32::try_from(attempt).map_err(|e| corrupt(s, "attempt", e.to_string()))?,
        final_attempt: row.take(6).map_err(col)?,
        started_at,
        // SQLite stores NaN as NULL; a NULL here can only have been a NaN.
        scheduled_ms: row.get::<Option<f64>>(8).map_err(col)?.unwrap_or(f64::NAN),
        delayed: row.take(24).map_err(col)?,
        latency_ms: row.take(9).map_err(col)?,
        ttft_ms: row.take(10).map_err(col)?,
        status,
        http_status,
        error: row.take(13).map_err(col)?,
        input_tokens: tokens(&row, 14, "input_tokens")?,
        output_tokens: tokens(&row, 15, "output_tokens")?,
        cost_usd: row.get::<Option<f64>>(16).map_err(col)?.unwrap_or(f64::NAN),
        finish_reason: row.take(17).map_err(col)?,
        model: row.take(18).map_err(col)?,
        system_fingerprint: row.take(25).map_err(col)?,
        request_id: row.take(19).map_err(col)?,
        span_id: row.take(20).map_err(col)?,
        output: row.take(21).map_err(col)?,
        context,
        labels,
        timings,
    };
    Ok(ObservationRow {
        observation,
        scores,
    })
}

/// One line of `export_jsonl`: the observation's own fields, plus where it belongs and
/// how it scored, so a line stands alone (e.g. after `cat`ing several runs together).
#[derive(Serialize)]
pub(crate) struct ExportLine<'a> {
    pub run_id: &'a str,
    #[serde(flatten)]
    pub observation: &'a Observation,
    /// The case's messages as sent (after redaction), when the run recorded them.
    pub prompt: Option<&'a serde_json::Value>,
    pub scores: &'a Option<Vec<Score>>,
}
