-- 0001_init: runs, their observations, and the baseline of each probe.
--
-- Timestamps are UTC RFC 3339 text with nine fractional digits and a `Z`
-- (e.g. 2024-07-18T09:30:00.000000000Z): fixed width, so comparing the text
-- compares the time (prune and "newest first" rely on it), and a person using
-- the sqlite3 shell can read them.
--
-- Tables are STRICT so a value of the wrong type is refused at write time
-- instead of surfacing later as a confusing read error.

CREATE TABLE runs (
    id           TEXT    NOT NULL PRIMARY KEY,
    probe        TEXT    NOT NULL,
    started_at   TEXT    NOT NULL,
    -- NULL while the run goes, and forever if the process was killed.
    finished_at  TEXT,
    -- 'running' until finished, then what the caller says ('passed', 'failed', ...).
    status       TEXT    NOT NULL DEFAULT 'running',
    verdict      TEXT,
    -- Caller-given JSON: target names, providers, models, labels.
    targets_json TEXT    NOT NULL,
    trace_id     TEXT    NOT NULL,
    summary_json TEXT,
    exit_code    INTEGER,
    -- A finished run never says 'running', and a running one has no end.
    CHECK ((finished_at IS NULL) = (status = 'running'))
) STRICT;

-- History of one probe, newest first; and `latest` across probes.
CREATE INDEX runs_probe_started ON runs (probe, started_at);
CREATE INDEX runs_started ON runs (started_at);

CREATE TABLE observations (
    run_id        TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    target        TEXT    NOT NULL,
    -- `set` is an SQL keyword; this is Observation::set.
    golden_set    TEXT    NOT NULL,
    case_id       TEXT    NOT NULL,
    sample        INTEGER NOT NULL,
    attempt       INTEGER NOT NULL,
    final_attempt INTEGER NOT NULL CHECK (final_attempt IN (0, 1)),
    started_at    TEXT    NOT NULL,
    -- REAL columns are nullable even where the Rust field is not: SQLite
    -- stores NaN as NULL, and one NaN must not cost a whole batch.
    scheduled_ms  REAL,
    latency_ms    REAL,
    ttft_ms       REAL,
    status        TEXT    NOT NULL,
    http_status   INTEGER,
    error         TEXT,
    input_tokens  INTEGER,
    output_tokens INTEGER,
    cost_usd      REAL,
    finish_reason TEXT,
    model         TEXT,
    request_id    TEXT,
    span_id       TEXT    NOT NULL,
    output        TEXT,
    -- JSON array of strings.
    context_json  TEXT    NOT NULL,
    -- JSON array of Score; NULL until the observation is scored.
    scores_json   TEXT,
    PRIMARY KEY (run_id, seq)
) STRICT;

CREATE INDEX observations_case ON observations (run_id, case_id);

-- One baseline per probe. No foreign key to runs: data_json is self-contained,
-- so the baseline stays usable whatever happens to the run's rows (prune keeps
-- that run anyway, so reports can still show its observations).
CREATE TABLE baselines (
    probe       TEXT NOT NULL PRIMARY KEY,
    run_id      TEXT NOT NULL,
    promoted_at TEXT NOT NULL,
    labels_json TEXT NOT NULL,
    -- Opaque to the store: whatever the compare stage needs.
    data_json   TEXT NOT NULL
) STRICT;

CREATE INDEX baselines_run ON baselines (run_id);
