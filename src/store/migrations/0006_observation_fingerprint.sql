-- 0006_observation_fingerprint: the `system_fingerprint` an endpoint reported with an
-- answer (OpenAI's name for the backend configuration that served it), so that a change
-- between runs of the same model name can be told (an `info` notification). NULL for
-- providers that send none and for observations made before this migration.
ALTER TABLE observations ADD COLUMN system_fingerprint TEXT;
