-- 0002_run_evidence (PostgreSQL): see migrations/0002_run_evidence.sql.
ALTER TABLE runs ADD COLUMN evidence_json TEXT;
