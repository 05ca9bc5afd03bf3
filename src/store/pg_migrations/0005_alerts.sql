-- 0005_alerts (PostgreSQL): see migrations/0005_alerts.sql. SQLite's `INTEGER PRIMARY
-- KEY` (an alias of the rowid, assigned on insert) is a BIGSERIAL here. The outbox has an
-- explicit `rowid` serial: SQLite's implicit one orders the rows of one transaction (a
-- trigger before its resolve), and the query text names it on both engines.

CREATE TABLE incidents (
    id             BIGSERIAL PRIMARY KEY,
    key            TEXT    NOT NULL,
    probe          TEXT    NOT NULL,
    rule           TEXT    NOT NULL,
    target         TEXT    NOT NULL,
    labels_json    TEXT    NOT NULL,
    severity       TEXT    NOT NULL,
    opened_at      TEXT    NOT NULL,
    last_seen      TEXT    NOT NULL,
    runs_failing   BIGINT  NOT NULL,
    firing         BIGINT  NOT NULL DEFAULT 0,
    notified_at    TEXT,
    acknowledged_at TEXT,
    silenced       BIGINT  NOT NULL DEFAULT 0,
    resolved_at    TEXT,
    summary        TEXT    NOT NULL,
    told_json      TEXT    NOT NULL DEFAULT '[]'
);

CREATE UNIQUE INDEX incidents_open_key ON incidents (key) WHERE resolved_at IS NULL;
CREATE INDEX incidents_probe ON incidents (probe, resolved_at);

CREATE TABLE outbox (
    delivery_id       TEXT    NOT NULL PRIMARY KEY,
    incident_id       BIGINT  REFERENCES incidents (id) ON DELETE SET NULL,
    channel           TEXT    NOT NULL,
    notification_json TEXT    NOT NULL,
    status            TEXT    NOT NULL DEFAULT 'pending',
    attempts          BIGINT  NOT NULL DEFAULT 0,
    last_error        TEXT,
    created_at        TEXT    NOT NULL,
    next_attempt_at   TEXT    NOT NULL,
    sent_at           TEXT,
    rowid             BIGSERIAL NOT NULL
);

CREATE INDEX outbox_status ON outbox (status, channel, created_at);

CREATE TABLE silences (
    id         BIGSERIAL PRIMARY KEY,
    probe      TEXT NOT NULL,
    rule       TEXT,
    until      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
