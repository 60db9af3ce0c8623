-- ODK Collect signs in with a key in its server URL (`fieldsync admin collect-link`), as
-- Central's app users do: Collect prompts for a password otherwise, and only over https. A key
-- is an ordinary session (so revoke-device and disable-user end it as they end a phone's; a
-- link is never handed over) on a device of its own, kind `collect`. Only its SHA-256 is stored.
CREATE TABLE collect_keys (
    token_hash  BYTEA PRIMARY KEY,
    session_id  UUID NOT NULL REFERENCES sessions (id),
    created_at  BIGINT NOT NULL
);
CREATE INDEX collect_keys_session ON collect_keys (session_id);

-- A submission seen: its instance's bytes (their SHA-256: a resend must be byte-identical, as
-- Central requires, or it is a different submission under a used instanceID) and, once every
-- attachment it names has arrived (Collect splits large ones over several POSTs), when it was
-- pushed. The instance itself is not kept: its personal data lives encrypted in the records it
-- became, and every POST of a split upload carries it again.
CREATE TABLE openrosa_submissions (
    mutation_id  UUID PRIMARY KEY,
    form_id      TEXT NOT NULL,
    xml_sha256   BYTEA NOT NULL,
    user_id      UUID NOT NULL,
    device_id    UUID NOT NULL,
    received_at  BIGINT NOT NULL,
    pushed_at    BIGINT
);

-- The attachments of a submission that have arrived: its file name → the stored photo.
CREATE TABLE openrosa_attachments (
    mutation_id  UUID NOT NULL REFERENCES openrosa_submissions (mutation_id),
    filename     TEXT NOT NULL,
    hash         TEXT NOT NULL,
    PRIMARY KEY (mutation_id, filename)
);
