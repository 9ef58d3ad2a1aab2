-- The server's own records (SERVER.md "What the server records itself") in the same table.
-- Rows stored before this migration came from browsers: they become source = 'client'.
-- Server rows have tab = '' and seq from one deployment-wide counter; a timeout carries its
-- session's event token (never the session id), stored once however often it is written.
ALTER TABLE audit_records ADD COLUMN source TEXT NOT NULL DEFAULT 'client';
ALTER TABLE audit_records ADD COLUMN event_id TEXT;
CREATE UNIQUE INDEX audit_records_event ON audit_records (event_id);
CREATE INDEX audit_records_by_source ON audit_records (source, received_at);
CREATE TABLE audit_counter (
    name TEXT   PRIMARY KEY,
    n    BIGINT NOT NULL
);
INSERT INTO audit_counter (name, n) VALUES ('server', 0);
