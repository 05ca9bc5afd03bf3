-- 0001_init (PostgreSQL): the same schema as migrations/0001_init.sql, types mapped:
-- INTEGER -> BIGINT, REAL -> DOUBLE PRECISION, TEXT stays TEXT (timestamps too: fixed
-- width RFC 3339 text, so ordering and parsing are identical on both engines).

CREATE TABLE runs (
    id           TEXT    NOT NULL PRIMARY KEY,
    probe        TEXT    NOT NULL,
    started_at   TEXT    NOT NULL,
    finished_at  TEXT,
    status       TEXT    NOT NULL DEFAULT 'running',
    verdict      TEXT,
    targets_json TEXT    NOT NULL,
    trace_id     TEXT    NOT NULL,
    summary_json TEXT,
    exit_code    BIGINT,
    CHECK ((finished_at IS NULL) = (status = 'running'))
);

CREATE INDEX runs_probe_started ON runs (probe, started_at);
CREATE INDEX runs_started ON runs (started_at);

CREATE TABLE observations (
    run_id        TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq           BIGINT  NOT NULL,
    target        TEXT    NOT NULL,
    golden_set    TEXT    NOT NULL,
    case_id       TEXT    NOT NULL,
    sample        BIGINT  NOT NULL,
    attempt       BIGINT  NOT NULL,
    final_attempt BIGINT  NOT NULL CHECK (final_attempt IN (0, 1)),
    started_at    TEXT    NOT NULL,
    -- Nullable as on SQLite: NaN is stored as NULL on both engines.
    scheduled_ms  DOUBLE PRECISION,
    latency_ms    DOUBLE PRECISION,
    ttft_ms       DOUBLE PRECISION,
    status        TEXT    NOT NULL,
    http_status   BIGINT,
    error         TEXT,
    input_tokens  BIGINT,
    output_tokens BIGINT,
    cost_usd      DOUBLE PRECISION,
    finish_reason TEXT,
    model         TEXT,
    request_id    TEXT,
    span_id       TEXT    NOT NULL,
    output        TEXT,
    context_json  TEXT    NOT NULL,
    scores_json   TEXT,
    PRIMARY KEY (run_id, seq)
);

CREATE INDEX observations_case ON observations (run_id, case_id);

CREATE TABLE baselines (
    probe       TEXT NOT NULL PRIMARY KEY,
    run_id      TEXT NOT NULL,
    promoted_at TEXT NOT NULL,
    labels_json TEXT NOT NULL,
    data_json   TEXT NOT NULL
);

CREATE INDEX baselines_run ON baselines (run_id);
