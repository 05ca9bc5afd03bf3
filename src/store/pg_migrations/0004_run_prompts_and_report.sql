-- 0004_run_prompts_and_report (PostgreSQL): see migrations/0004_run_prompts_and_report.sql.
CREATE TABLE run_prompts (
    run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    golden_set    TEXT NOT NULL,
    case_id       TEXT NOT NULL,
    messages_json TEXT NOT NULL,
    PRIMARY KEY (run_id, golden_set, case_id)
);

ALTER TABLE runs ADD COLUMN report_text TEXT;
