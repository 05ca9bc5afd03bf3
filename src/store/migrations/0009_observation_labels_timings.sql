-- 0009_observation_labels_timings: issue 13's per-request figures.
--
-- `labels_json`: the labels of the probe, golden set and case merged (the case's win), a
-- JSON object such as {"feature":"document-analysis"}, so cost, tokens, latency and
-- quality can be summed per feature. `timings_json`: where the request's time went (the
-- runner's `Timings`: DNS, connect, time to first byte, token gaps, server components).
-- Both NULL for observations made before this migration.
ALTER TABLE observations ADD COLUMN labels_json TEXT;
ALTER TABLE observations ADD COLUMN timings_json TEXT;
