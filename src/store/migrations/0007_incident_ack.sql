-- 0007_incident_ack: why an incident was acknowledged (`probity alert ack ID --reason`).
-- `acknowledged_at` (0005) already says when: an acknowledged incident stays open and
-- still resolves, but sends no reminders (`repeat`).

ALTER TABLE incidents ADD COLUMN ack_reason TEXT;
