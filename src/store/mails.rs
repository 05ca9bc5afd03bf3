//! The store's side of the digest e-mail: its "sent until" mark (migration 0008), written
//! with the digest's outbox row in one transaction. (A run's summary is queued with
//! `queue_outbox`, like any notification without an incident.)

use chrono::{DateTime, Utc};

use super::alerts::NewOutbox;
use super::error::SqlContext;
use super::sql::{Db, vals};
use super::time::{format_ts, parse_ts};
use super::{Store, StoreError, json_text};

impl Store {
    fn insert_outbox(
        tx: &Db,
        path: &std::path::Path,
        row: &NewOutbox,
        now: DateTime<Utc>,
        action: &str,
    ) -> Result<(), StoreError> {
        let json = json_text(path, "a notification".into(), &row.notification)?;
        tx.execute(
            "INSERT INTO outbox (delivery_id, incident_id, channel, notification_json, \
             created_at, next_attempt_at) VALUES (?1, NULL, ?2, ?3, ?4, ?4)",
            vals![&row.delivery_id, &row.channel, json, format_ts(&now)],
        )
        .at(path, action)?;
        Ok(())
    }

    /// Until when the digest `key` has covered (`None`: never sent).
    pub fn digest_sent_until(&self, key: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let action = "reading when the digest was last sent";
        let text: Option<String> = self
            .conn
            .query_value("SELECT sent_until FROM digests WHERE key = ?1", vals![key])
            .at(&self.path, action)?;
        text.map(|t| {
            parse_ts(&t).map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                what: "a digest's sent_until".into(),
                detail: format!("`{t}`: {e}"),
            })
        })
        .transpose()
    }

    /// Queues the digest `key` covering up to `until`, and marks it so, in one transaction.
    pub fn queue_digest(
        &self,
        key: &str,
        row: &NewOutbox,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let action = "queueing a digest";
        let tx = self.immediate(action)?;
        Self::insert_outbox(&tx, &self.path, row, now, action)?;
        tx.execute(
            "INSERT INTO digests (key, sent_until, delivery_id) VALUES (?1, ?2, ?3) \
             ON CONFLICT (key) DO UPDATE SET sent_until = excluded.sent_until, \
             delivery_id = excluded.delivery_id",
            vals![key, format_ts(&until), &row.delivery_id],
        )
        .at(&self.path, action)?;
        tx.commit().at(&self.path, action)?;
        Ok(())
    }
}
