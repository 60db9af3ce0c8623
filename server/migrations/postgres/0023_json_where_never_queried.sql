-- Columns the server writes and reads back whole, and never looks into with SQL, become `json`:
-- the mutation log's fields, stamp and fix, a record's merge stamps (`meta`) and the audit log's
-- field names. PostgreSQL checks `json` text and keeps it as sent; `jsonb` it parsed into a tree
-- with sorted keys on every write and printed again on every read, and in batches of surveys
-- that parsing was a third of its CPU (`write_path`, ARCHITECTURE.md). `records.fields` stays
-- `jsonb`: the household file's indexes and the console's queries look into it. The server
-- binds these columns as text and casts them, so what it sends is checked once, here.
ALTER TABLE mutations
    ALTER COLUMN fields TYPE json USING fields::json,
    ALTER COLUMN hlc TYPE json USING hlc::json,
    ALTER COLUMN gps TYPE json USING gps::json;
ALTER TABLE records ALTER COLUMN meta TYPE json USING meta::json;
ALTER TABLE audit_log ALTER COLUMN fields TYPE json USING fields::json;
