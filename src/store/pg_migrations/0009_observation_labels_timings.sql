-- 0009_observation_labels_timings (PostgreSQL): see
-- migrations/0009_observation_labels_timings.sql.
ALTER TABLE observations ADD COLUMN labels_json TEXT;
ALTER TABLE observations ADD COLUMN timings_json TEXT;
