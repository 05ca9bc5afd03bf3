-- 0010_usage_buckets (PostgreSQL): see migrations/0010_usage_buckets.sql.
CREATE TABLE usage_buckets (
    provider      TEXT    NOT NULL,
    report        TEXT    NOT NULL CHECK (report IN ('usage', 'cost')),
    start_at      TEXT    NOT NULL,
    end_at        TEXT    NOT NULL,
    model         TEXT,
    line_item     TEXT,
    input_tokens  BIGINT,
    output_tokens BIGINT,
    cached_tokens BIGINT,
    requests      BIGINT,
    cost_usd      DOUBLE PRECISION,
    imported_at   TEXT    NOT NULL
);

CREATE INDEX usage_buckets_window ON usage_buckets (provider, start_at);

CREATE TABLE usage_imports (
    provider     TEXT NOT NULL PRIMARY KEY,
    window_start TEXT NOT NULL,
    window_end   TEXT NOT NULL,
    imported_at  TEXT NOT NULL,
    buckets      BIGINT NOT NULL
);
