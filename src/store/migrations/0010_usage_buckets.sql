-- 0010_usage_buckets: the provider's own books (issue 13's `probity usage import`).
--
-- One row per bucket result the provider's usage or cost report returned, as the API
-- gives it: `report = 'usage'` rows carry tokens and requests per model (OpenAI
-- `/v1/organization/usage/completions`, Anthropic `/v1/organizations/usage_report/
-- messages`, both grouped by model); `report = 'cost'` rows carry an amount in USD per
-- line item and day (OpenAI `/v1/organization/costs` grouped by line_item; Anthropic
-- `/v1/organizations/cost_report` grouped by description, which also names the model).
-- Cost is not per model on OpenAI's side, so it is not forced into one: a total per
-- model exists only where the provider reports one.
--
-- An import replaces every row of its provider whose bucket starts inside the imported
-- window (delete + insert in one transaction): providers revise the latest buckets, and
-- re-importing a window must not count anything twice.
--
-- Timestamps as everywhere in the store: UTC RFC 3339, nine fractional digits, `Z`.

CREATE TABLE usage_buckets (
    provider      TEXT    NOT NULL,
    report        TEXT    NOT NULL CHECK (report IN ('usage', 'cost')),
    start_at      TEXT    NOT NULL,
    end_at        TEXT    NOT NULL,
    -- NULL when the provider did not say (OpenAI costs; ungrouped results).
    model         TEXT,
    -- Cost reports: OpenAI's `line_item`, Anthropic's `description`.
    line_item     TEXT,
    -- Input tokens including cached ones (Anthropic: uncached + cache reads + writes).
    input_tokens  INTEGER,
    output_tokens INTEGER,
    -- Input tokens read from the provider's prompt cache.
    cached_tokens INTEGER,
    -- Requests (OpenAI's num_model_requests; Anthropic's report has none: NULL).
    requests      INTEGER,
    cost_usd      REAL,
    imported_at   TEXT    NOT NULL
) STRICT;

CREATE INDEX usage_buckets_window ON usage_buckets (provider, start_at);

-- The last import of each provider: the window it covered, so the daemon's next import
-- starts where this one ended (less an overlap for revised buckets).
CREATE TABLE usage_imports (
    provider     TEXT NOT NULL PRIMARY KEY,
    window_start TEXT NOT NULL,
    window_end   TEXT NOT NULL,
    imported_at  TEXT NOT NULL,
    buckets      INTEGER NOT NULL
) STRICT;
