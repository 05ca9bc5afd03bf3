//! The store's alerting tables (migration 0005): incidents, the outbox and silences. An
//! incident change and the outbox rows it produces are written in one transaction, so a
//! crash can never leave an incident marked "notified" without the notification queued
//! (or a page queued for an incident that was never recorded). Notifications are opaque
//! JSON here; `alert::outbox` knows their shape.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::error::SqlContext;
use super::sql::{DbError, Row, Value, vals};
use super::time::{format_ts, parse_ts};
use super::{Store, StoreError, json_text};

/// What an answer reported, of the columns `reported` counts (a fixed set: the column
/// name goes into the SQL text).
#[derive(Clone, Copy)]
enum Reported {
    Model,
    Fingerprint,
}

/// One incident, open or resolved. `id` is 0 for one not stored yet.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRecord {
    pub id: i64,
    /// probe + rule + target labels: at most one open incident per key.
    pub key: String,
    pub probe: String,
    pub rule: String,
    pub target: String,
    pub labels: BTreeMap<String, String>,
    pub severity: String,
    /// The first failing run.
    pub opened_at: DateTime<Utc>,
    /// The latest failing run.
    pub last_seen: DateTime<Utc>,
    pub runs_failing: u32,
    /// `for:` reached: notifications go out (unless silenced).
    pub firing: bool,
    /// The last trigger or reminder queued.
    pub notified_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// A silence covered the last evaluation (still tracked, nothing sent).
    pub silenced: bool,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The last summary line.
    pub summary: String,
    /// Channels that got a trigger: each gets the resolve.
    pub told: Vec<String>,
}

/// A notification to queue with an incident change.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutbox {
    pub delivery_id: String,
    pub channel: String,
    pub notification: serde_json::Value,
}

/// One outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub delivery_id: String,
    pub incident_id: Option<i64>,
    pub channel: String,
    pub notification: serde_json::Value,
    /// `pending`, `sent` or `failed` (a channel refused it for good).
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A silence: notifications of `probe` (one rule, or all) suppressed until `until`.
#[derive(Debug, Clone, PartialEq)]
pub struct SilenceRecord {
    pub id: i64,
    pub probe: String,
    pub rule: Option<String>,
    pub until: DateTime<Utc>,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

const INCIDENT_COLUMNS: &str = "id, key, probe, rule, target, labels_json, severity, opened_at, \
     last_seen, runs_failing, firing, notified_at, acknowledged_at, silenced, resolved_at, \
     summary, told_json";
const OUTBOX_COLUMNS: &str = "delivery_id, incident_id, channel, notification_json, status, \
     attempts, last_error, created_at, next_attempt_at, sent_at";

fn opt_ts(t: &Option<DateTime<Utc>>) -> Option<String> {
    t.as_ref().map(format_ts)
}

impl Store {
    fn corrupt(&self, what: &str, detail: impl ToString) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            what: what.to_string(),
            detail: detail.to_string(),
        }
    }

    fn ts_col(&self, row: &Row, i: usize, what: &str) -> Result<DateTime<Utc>, StoreError> {
        let text: String = row.get(i).map_err(|e| self.corrupt(what, e))?;
        parse_ts(&text).map_err(|e| self.corrupt(what, format!("`{text}`: {e}")))
    }

    fn opt_ts_col(
        &self,
        row: &Row,
        i: usize,
        what: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let text: Option<String> = row.get(i).map_err(|e| self.corrupt(what, e))?;
        text.map(|t| parse_ts(&t).map_err(|e| self.corrupt(what, format!("`{t}`: {e}"))))
            .transpose()
    }

    fn decode_incident(&self, row: &Row) -> Result<IncidentRecord, StoreError> {
        let what = "an incident";
        let col = |e: DbError| self.corrupt(what, e);
        let labels: String = row.get(5).map_err(col)?;
        let told: String = row.get(16).map_err(col)?;
        Ok(IncidentRecord {
            id: row.get(0).map_err(col)?,
            key: row.get(1).map_err(col)?,
            probe: row.get(2).map_err(col)?,
            rule: row.get(3).map_err(col)?,
            target: row.get(4).map_err(col)?,
            labels: serde_json::from_str(&labels).map_err(|e| self.corrupt(what, e))?,
            severity: row.get(6).map_err(col)?,
            opened_at: self.ts_col(row, 7, "an incident's opened_at")?,
            last_seen: self.ts_col(row, 8, "an incident's last_seen")?,
            runs_failing: row.get(9).map_err(col)?,
            firing: row.get::<i64>(10).map_err(col)? != 0,
            notified_at: self.opt_ts_col(row, 11, "an incident's notified_at")?,
            acknowledged_at: self.opt_ts_col(row, 12, "an incident's acknowledged_at")?,
            silenced: row.get::<i64>(13).map_err(col)? != 0,
            resolved_at: self.opt_ts_col(row, 14, "an incident's resolved_at")?,
            summary: row.get(15).map_err(col)?,
            told: serde_json::from_str(&told).map_err(|e| self.corrupt(what, e))?,
        })
    }

    fn decode_outbox(&self, row: &Row) -> Result<OutboxRow, StoreError> {
        let what = "an outbox row";
        let col = |e: DbError| self.corrupt(what, e);
        let json: String = row.get(3).map_err(col)?;
        Ok(OutboxRow {
            delivery_id: row.get(0).map_err(col)?,
            incident_id: row.get(1).map_err(col)?,
            channel: row.get(2).map_err(col)?,
            notification: serde_json::from_str(&json).map_err(|e| self.corrupt(what, e))?,
            status: row.get(4).map_err(col)?,
            attempts: row.get(5).map_err(col)?,
            last_error: row.get(6).map_err(col)?,
            created_at: self.ts_col(row, 7, "an outbox row's created_at")?,
            next_attempt_at: self.ts_col(row, 8, "an outbox row's next_attempt_at")?,
            sent_at: self.opt_ts_col(row, 9, "an outbox row's sent_at")?,
        })
    }

    /// Inserts (`id == 0`) or updates an incident and queues its notifications, in one
    /// transaction. Returns the incident's id.
    pub fn save_incident(
        &self,
        incident: &IncidentRecord,
        outbox: &[NewOutbox],
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let action = "recording an incident and its notifications";
        let labels = json_text(&self.path, "an incident's labels".into(), &incident.labels)?;
        let told = json_text(&self.path, "an incident's channels".into(), &incident.told)?;
        let tx = self.immediate(action)?;
        let mut values: Vec<Value> = vals![
            &incident.key,
            &incident.probe,
            &incident.rule,
            &incident.target,
            labels,
            &incident.severity,
            format_ts(&incident.opened_at),
            format_ts(&incident.last_seen),
            incident.runs_failing,
            incident.firing,
            opt_ts(&incident.notified_at),
            opt_ts(&incident.acknowledged_at),
            incident.silenced,
            opt_ts(&incident.resolved_at),
            &incident.summary,
            told,
        ]
        .to_vec();
        let id = if incident.id == 0 {
            tx.insert_id(
                "INSERT INTO incidents (key, probe, rule, target, labels_json, severity, \
                 opened_at, last_seen, runs_failing, firing, notified_at, acknowledged_at, \
                 silenced, resolved_at, summary, told_json) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                &values,
            )
            .at(&self.path, action)?
        } else {
            // An acknowledgement (`alert ack`) made while a run evaluated this incident
            // from an older read must survive that run's write: it is never undone here.
            tx.execute(
                "UPDATE incidents SET key = ?1, probe = ?2, rule = ?3, target = ?4, \
                 labels_json = ?5, severity = ?6, opened_at = ?7, last_seen = ?8, \
                 runs_failing = ?9, firing = ?10, notified_at = ?11, \
                 acknowledged_at = COALESCE(acknowledged_at, ?12), \
                 silenced = ?13, resolved_at = ?14, summary = ?15, told_json = ?16 \
                 WHERE id = ?17",
                {
                    values.push(Value::Int(incident.id));
                    &values
                },
            )
            .at(&self.path, action)?;
            incident.id
        };
        let now = format_ts(&now);
        for row in outbox {
            let json = json_text(&self.path, "a notification".into(), &row.notification)?;
            tx.execute(
                "INSERT INTO outbox (delivery_id, incident_id, channel, notification_json, \
                 created_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                vals![&row.delivery_id, id, &row.channel, json, &now],
            )
            .at(&self.path, action)?;
        }
        tx.commit().at(&self.path, action)?;
        Ok(id)
    }

    /// Open (unresolved) incidents, of one probe or all, oldest first.
    pub fn open_incidents(&self, probe: Option<&str>) -> Result<Vec<IncidentRecord>, StoreError> {
        let action = "reading open incidents";
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE resolved_at IS NULL \
             AND (CAST(?1 AS TEXT) IS NULL OR probe = ?1) ORDER BY opened_at, id"
        );
        let rows = self.conn.query(&sql, vals![probe]).at(&self.path, action)?;
        rows.iter().map(|row| self.decode_incident(row)).collect()
    }

    /// Acknowledges open incident `id` (someone is on it): reminders stop, the incident
    /// stays open and still resolves. `None` when no open incident has that id.
    pub fn acknowledge_incident(
        &self,
        id: i64,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<IncidentRecord>, StoreError> {
        let action = "acknowledging an incident";
        let changed = self
            .conn
            .execute(
                "UPDATE incidents SET acknowledged_at = ?2, ack_reason = ?3 \
                 WHERE id = ?1 AND resolved_at IS NULL",
                vals![id, format_ts(&now), reason],
            )
            .at(&self.path, action)?;
        if changed == 0 {
            return Ok(None);
        }
        let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1");
        let row = self
            .conn
            .query_opt(&sql, vals![id])
            .at(&self.path, action)?;
        row.map(|row| self.decode_incident(&row)).transpose()
    }

    /// The reason given when incident `id` was acknowledged, if any.
    pub fn ack_reason(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.conn
            .query_value::<Option<String>>(
                "SELECT ack_reason FROM incidents WHERE id = ?1",
                vals![id],
            )
            .map(Option::flatten)
            .at(&self.path, "reading an acknowledgement")
    }

    /// Every incident of a probe, open and resolved, oldest first.
    pub fn incidents(&self, probe: &str) -> Result<Vec<IncidentRecord>, StoreError> {
        let action = "reading incidents";
        let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE probe = ?1 ORDER BY id");
        let rows = self.conn.query(&sql, vals![probe]).at(&self.path, action)?;
        rows.iter().map(|row| self.decode_incident(row)).collect()
    }

    fn outbox_where(&self, filter: &str, params: &[Value]) -> Result<Vec<OutboxRow>, StoreError> {
        let action = "reading the outbox";
        // rowid breaks ties of the same transaction: a trigger stays before its resolve.
        // (SQLite's implicit rowid; on PostgreSQL an explicit serial column of that name.)
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE {filter} ORDER BY created_at, rowid"
        );
        let rows = self.conn.query(&sql, params).at(&self.path, action)?;
        rows.iter().map(|row| self.decode_outbox(row)).collect()
    }

    /// Pending notifications whose next attempt is due at `now`.
    pub fn due_outbox(&self, now: DateTime<Utc>) -> Result<Vec<OutboxRow>, StoreError> {
        self.outbox_where(
            "status = 'pending' AND next_attempt_at <= ?1",
            vals![format_ts(&now)],
        )
    }

    /// Every outbox row, for tests and `alert outbox --all`.
    pub fn outbox_all(&self) -> Result<Vec<OutboxRow>, StoreError> {
        self.outbox_where("1 = 1", &[])
    }

    /// What is not delivered: pending, or failed for good.
    pub fn outbox_undelivered(&self) -> Result<Vec<OutboxRow>, StoreError> {
        self.outbox_where("status IN ('pending', 'failed')", &[])
    }

    /// Marks a row as accepted by its channel. Called right after the channel accepted it,
    /// before anything else is sent.
    pub fn outbox_sent(
        &self,
        delivery_id: &str,
        attempts: u32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET status = 'sent', sent_at = ?2, attempts = ?3, \
                 last_error = NULL WHERE delivery_id = ?1",
                vals![delivery_id, format_ts(&now), attempts],
            )
            .at(&self.path, "marking a notification as sent")?;
        Ok(())
    }

    /// Records failed attempts: the row stays pending until `next_attempt_at`, or is
    /// `failed` for good when `give_up` (the channel will never accept it as it is).
    pub fn outbox_failed(
        &self,
        delivery_id: &str,
        attempts: u32,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        give_up: bool,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET status = ?2, attempts = ?3, last_error = ?4, \
                 next_attempt_at = ?5 WHERE delivery_id = ?1",
                vals![
                    delivery_id,
                    if give_up { "failed" } else { "pending" },
                    attempts,
                    error,
                    format_ts(&next_attempt_at)
                ],
            )
            .at(&self.path, "recording a failed delivery")?;
        Ok(())
    }

    /// Adds a silence; returns its id.
    pub fn add_silence(
        &self,
        probe: &str,
        rule: Option<&str>,
        until: DateTime<Utc>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.conn
            .insert_id(
                "INSERT INTO silences (probe, rule, until, reason, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                vals![probe, rule, format_ts(&until), reason, format_ts(&now)],
            )
            .at(&self.path, "adding a silence")
    }

    /// Silences still in force at `now`.
    pub fn silences(&self, now: DateTime<Utc>) -> Result<Vec<SilenceRecord>, StoreError> {
        let action = "reading silences";
        let rows = self
            .conn
            .query(
                "SELECT id, probe, rule, until, reason, created_at FROM silences \
                 WHERE until > ?1 ORDER BY id",
                vals![format_ts(&now)],
            )
            .at(&self.path, action)?;
        let mut out = Vec::new();
        for row in &rows {
            let col = |e: DbError| self.corrupt("a silence", e);
            out.push(SilenceRecord {
                id: row.get(0).map_err(col)?,
                probe: row.get(1).map_err(col)?,
                rule: row.get(2).map_err(col)?,
                until: self.ts_col(row, 3, "a silence's until")?,
                reason: row.get(4).map_err(col)?,
                created_at: self.ts_col(row, 5, "a silence's created_at")?,
            });
        }
        Ok(out)
    }

    /// Removes a silence; false when there was none with this id.
    pub fn remove_silence(&self, id: i64) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute("DELETE FROM silences WHERE id = ?1", vals![id])
            .at(&self.path, "removing a silence")?;
        Ok(n > 0)
    }

    /// The open incident with this key, if any.
    pub fn open_incident(&self, key: &str) -> Result<Option<IncidentRecord>, StoreError> {
        let action = "reading an incident";
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE key = ?1 AND resolved_at IS NULL"
        );
        let row = self
            .conn
            .query_opt(&sql, vals![key])
            .at(&self.path, action)?;
        row.map(|row| self.decode_incident(&row)).transpose()
    }

    /// Queues notifications that belong to no incident (one-shot `info` ones), in one
    /// transaction: all of them or none.
    pub fn queue_outbox(&self, rows: &[NewOutbox], now: DateTime<Utc>) -> Result<(), StoreError> {
        let action = "queueing notifications";
        let tx = self.immediate(action)?;
        let now = format_ts(&now);
        for row in rows {
            let json = json_text(&self.path, "a notification".into(), &row.notification)?;
            tx.execute(
                "INSERT INTO outbox (delivery_id, incident_id, channel, notification_json, \
                 created_at, next_attempt_at) VALUES (?1, NULL, ?2, ?3, ?4, ?4)",
                vals![&row.delivery_id, &row.channel, json, &now],
            )
            .at(&self.path, action)?;
        }
        tx.commit().at(&self.path, action)?;
        Ok(())
    }

    /// The error text of one failed sample of `target` in a run whose error class is
    /// `class` (its last attempt), the first one sent: the example a message quotes.
    pub fn example_error(
        &self,
        run_id: &str,
        target: &str,
        class: &str,
    ) -> Result<Option<String>, StoreError> {
        self.conn
            .query_value::<Option<String>>(
                "SELECT error FROM observations WHERE run_id = ?1 AND target = ?2 \
                 AND status = ?3 AND final_attempt = 1 AND error IS NOT NULL AND error != '' \
                 ORDER BY seq LIMIT 1",
                vals![run_id, target, class],
            )
            .map(Option::flatten)
            .at(&self.path, "reading an example error")
    }

    /// The model names the endpoint reported for `target` in a run, the most frequent
    /// first (ties by name), with how many answers reported each.
    pub fn models_reported(
        &self,
        run_id: &str,
        target: &str,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        self.reported(run_id, target, Reported::Model)
    }

    /// The `system_fingerprint`s the endpoint reported for `target` in a run, the most
    /// frequent first, with how many answers reported each.
    pub fn fingerprints_reported(
        &self,
        run_id: &str,
        target: &str,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        self.reported(run_id, target, Reported::Fingerprint)
    }

    fn reported(
        &self,
        run_id: &str,
        target: &str,
        what: Reported,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let (column, action) = match what {
            Reported::Model => ("model", "reading the models a run's answers reported"),
            Reported::Fingerprint => (
                "system_fingerprint",
                "reading the system fingerprints a run's answers reported",
            ),
        };
        let sql = format!(
            "SELECT {column}, count(*) AS n FROM observations WHERE run_id = ?1 \
             AND target = ?2 AND {column} IS NOT NULL AND {column} != '' \
             GROUP BY {column} ORDER BY n DESC, {column}"
        );
        let rows = self
            .conn
            .query(&sql, vals![run_id, target])
            .at(&self.path, action)?;
        let mut out = Vec::new();
        for row in &rows {
            let model: String = row.get(0).at(&self.path, action)?;
            let n: i64 = row.get(1).at(&self.path, action)?;
            out.push((model, u64::try_from(n).unwrap_or(0)));
        }
        Ok(out)
    }
}
