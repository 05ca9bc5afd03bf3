-- 0008_digests: when each digest e-mail was last queued (issue 12's `report.digest`).
--
-- `key` names one digest: its channel, recipients, schedule and timezone; probes with the
-- same digest settings share one e-mail. `sent_until` is the end of the window the last
-- digest covered (the next one starts there); it is written in the same transaction as
-- the digest's outbox row, so a crash neither loses a digest nor queues it twice.

CREATE TABLE digests (
    key         TEXT NOT NULL PRIMARY KEY,
    sent_until  TEXT NOT NULL,
    delivery_id TEXT NOT NULL
) STRICT;
