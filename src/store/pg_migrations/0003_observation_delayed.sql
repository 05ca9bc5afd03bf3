-- 0003_observation_delayed (PostgreSQL): see migrations/0003_observation_delayed.sql.
ALTER TABLE observations ADD COLUMN delayed BIGINT NOT NULL DEFAULT 0;
