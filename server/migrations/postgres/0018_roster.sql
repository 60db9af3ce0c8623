-- What a roster import last wrote to a household or person (`fieldsync admin import-roster`):
-- the record's version after it, and a keyed hash of each field's imported value. The next
-- import of the office's file sends only the fields whose value in the file changed since, on
-- that version, so a field a cadre corrected on a phone meets a changed file value as a
-- concurrent edit (a conflict for review), and an unchanged file changes nothing. The values
-- themselves are not kept: the hashes are keyed (HMAC with the personal-data key), so an ID-card
-- number or a phone number cannot be guessed from them.
CREATE TABLE roster_baselines (
    record_id    UUID PRIMARY KEY,
    version      BIGINT NOT NULL,
    digests      JSONB NOT NULL,
    imported_at  BIGINT NOT NULL
);

-- An import started from the console: the uploaded file (sealed with the personal-data key, and
-- dropped once imported), the run's state and progress (any replica's page reads them), and the
-- last run's report (counts and problems as JSON for the page, every row's outcome as CSV). The
-- report names rows by line and national number and fields by name, never a value.
CREATE TABLE roster_imports (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL,
    file_name   TEXT NOT NULL,
    file        BYTEA,
    mapping     BYTEA,
    state       TEXT NOT NULL,
    done        BIGINT NOT NULL DEFAULT 0,
    total       BIGINT NOT NULL DEFAULT 0,
    summary     JSONB,
    report      BYTEA,
    error       TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX roster_imports_user ON roster_imports (user_id, created_at);
