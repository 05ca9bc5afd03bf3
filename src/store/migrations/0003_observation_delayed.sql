-- 0003_observation_delayed: a sample held back by a pause its target's server asked for
-- (`Retry-After` on a 429 or 503) is measured from the end of the pause; this flags it, so
-- its latency can be read for what it is. 0 for observations written before.
ALTER TABLE observations ADD COLUMN delayed INTEGER NOT NULL DEFAULT 0;
