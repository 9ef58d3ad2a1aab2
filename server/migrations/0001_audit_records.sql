-- The audit trail at the server: the client's record (only the fields the contract names)
-- and what the server knows (the user of the session that sent it, when it arrived).
-- One schema for SQLite and Postgres. (tab, seq) is unique: a re-sent record is stored once.
CREATE TABLE IF NOT EXISTS audit_records (
    tab         TEXT   NOT NULL,
    seq         BIGINT NOT NULL,
    type        TEXT   NOT NULL,
    at          TEXT   NOT NULL,
    reason      TEXT,
    user_name   TEXT,
    received_at BIGINT NOT NULL,
    CONSTRAINT audit_records_tab_seq UNIQUE (tab, seq)
);
CREATE INDEX IF NOT EXISTS audit_records_by_arrival ON audit_records (received_at, tab, seq);
CREATE INDEX IF NOT EXISTS audit_records_by_user ON audit_records (user_name, received_at);
