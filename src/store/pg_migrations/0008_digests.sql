-- 0008_digests (PostgreSQL): see migrations/0008_digests.sql.
CREATE TABLE digests (
    key         TEXT NOT NULL PRIMARY KEY,
    sent_until  TEXT NOT NULL,
    delivery_id TEXT NOT NULL
);
