-- 0007_incident_ack (PostgreSQL): see migrations/0007_incident_ack.sql.
ALTER TABLE incidents ADD COLUMN ack_reason TEXT;
