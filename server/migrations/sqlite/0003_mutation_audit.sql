-- The mutation log is the audit trail of writes (who, device, when, record, fields): it gets
-- the household and village so "who changed this household" is one indexed query, and writes
-- stop being copied into audit_log (which keeps reads and reviewer decisions).
ALTER TABLE mutations ADD COLUMN household_id BLOB;
ALTER TABLE mutations ADD COLUMN scope TEXT;
CREATE INDEX mutations_household ON mutations (household_id, received_at);
CREATE INDEX mutations_user ON mutations (user_id, received_at);
