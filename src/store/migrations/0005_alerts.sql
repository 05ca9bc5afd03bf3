-- 0005_alerts: what alerting remembers between runs.
--
-- incidents: one row per incident, keyed on probe + rule + target labels (`key`). At most
-- one open (unresolved) incident per key; resolved ones stay as history. `firing` is 0
-- while `for:` has not been reached yet (tracked, nothing sent). `told_json` lists the
-- channels that got a trigger, so the recovery sends one resolve to each of them.
-- outbox: every notification, written in the same transaction as the incident change,
-- then delivered; `delivery_id` is kept across resends (receivers deduplicate on it).
-- silences: suppress notifications of a probe (one rule, or all when rule is NULL).

CREATE TABLE incidents (
    id             INTEGER PRIMARY KEY,
    key            TEXT    NOT NULL,
    probe          TEXT    NOT NULL,
    rule           TEXT    NOT NULL,
    target         TEXT    NOT NULL,
    labels_json    TEXT    NOT NULL,
    severity       TEXT    NOT NULL,
    opened_at      TEXT    NOT NULL,
    last_seen      TEXT    NOT NULL,
    runs_failing   INTEGER NOT NULL,
    firing         INTEGER NOT NULL DEFAULT 0,
    notified_at    TEXT,
    acknowledged_at TEXT,
    silenced       INTEGER NOT NULL DEFAULT 0,
    resolved_at    TEXT,
    summary        TEXT    NOT NULL,
    told_json      TEXT    NOT NULL DEFAULT '[]'
) STRICT;

CREATE UNIQUE INDEX incidents_open_key ON incidents (key) WHERE resolved_at IS NULL;
CREATE INDEX incidents_probe ON incidents (probe, resolved_at);

CREATE TABLE outbox (
    delivery_id       TEXT    NOT NULL PRIMARY KEY,
    incident_id       INTEGER REFERENCES incidents (id) ON DELETE SET NULL,
    channel           TEXT    NOT NULL,
    notification_json TEXT    NOT NULL,
    -- pending, sent or failed (not retryable).
    status            TEXT    NOT NULL DEFAULT 'pending',
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    created_at        TEXT    NOT NULL,
    next_attempt_at   TEXT    NOT NULL,
    sent_at           TEXT
) STRICT;

CREATE INDEX outbox_status ON outbox (status, channel, created_at);

CREATE TABLE silences (
    id         INTEGER PRIMARY KEY,
    probe      TEXT NOT NULL,
    rule       TEXT,
    until      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
