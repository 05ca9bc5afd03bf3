-- 0006_observation_fingerprint (PostgreSQL): see migrations/0006_observation_fingerprint.sql.
ALTER TABLE observations ADD COLUMN system_fingerprint TEXT;
