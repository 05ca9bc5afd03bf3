-- 0003_run_prompts_and_report: what a run asked and what it printed.
--
-- run_prompts: the rendered messages of each case of a run (after redaction), so that an
-- export line can show the answer beside what was asked, even after the golden set changed.
-- report_text: the text summary the command printed at the end of the run (no colour), so
-- `probity show RUN` reprints it as it was. NULL for runs made before this migration or by
-- a caller that prints nothing.

CREATE TABLE run_prompts (
    run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    golden_set    TEXT NOT NULL,
    case_id       TEXT NOT NULL,
    -- JSON array of {role, content}.
    messages_json TEXT NOT NULL,
    PRIMARY KEY (run_id, golden_set, case_id)
) STRICT;

ALTER TABLE runs ADD COLUMN report_text TEXT;
