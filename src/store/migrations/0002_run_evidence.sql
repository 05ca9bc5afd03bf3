-- 0002_run_evidence: what a comparison needs of a finished run (per target: the counts
-- behind every rate, a bounded sample of every continuous metric, the categorical
-- distributions and per-case outcomes), so `compare`, `baseline promote` and the gate read
-- one row instead of re-scoring every observation. NULL for runs that did not finish.
ALTER TABLE runs ADD COLUMN evidence_json TEXT;
