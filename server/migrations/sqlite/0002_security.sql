-- Device sessions: one per login, alive until logout, theft detection or revocation. Access
-- tokens name their session, so ending it stops them on the next request.
CREATE TABLE sessions (
    id           BLOB PRIMARY KEY,
    device_id    BLOB NOT NULL REFERENCES devices (id),
    user_id      BLOB NOT NULL REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    ended_at     INTEGER,
    end_reason   TEXT
);
CREATE INDEX sessions_device ON sessions (device_id);
CREATE INDEX sessions_user ON sessions (user_id);

-- Refresh tokens belong to a session (tokens from 0001 have none and no longer work).
DELETE FROM refresh_tokens;
ALTER TABLE refresh_tokens ADD COLUMN session_id BLOB REFERENCES sessions (id);

-- Failed logins per key ("user:NAME", "ip:ADDR") in a fixed window, shared by all replicas.
CREATE TABLE login_failures (
    key          TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    failures     INTEGER NOT NULL
);

-- Who read or changed which record's personal data, from which device, when.
CREATE TABLE audit_log (
    id           BLOB PRIMARY KEY,
    at           INTEGER NOT NULL,
    user_id      BLOB NOT NULL,
    device_id    BLOB,
    action       TEXT NOT NULL,
    entity       TEXT NOT NULL,
    record_id    BLOB NOT NULL,
    household_id BLOB,
    scope        TEXT,
    fields       TEXT NOT NULL
);
CREATE INDEX audit_household ON audit_log (household_id, at);
CREATE INDEX audit_user ON audit_log (user_id, at);
CREATE INDEX audit_at ON audit_log (at);

-- Keyed hashes of ID-card numbers (the numbers themselves are stored encrypted), for lookup
-- and duplicate detection without decrypting.
CREATE TABLE id_card_index (
    record_id BLOB NOT NULL,
    field     TEXT NOT NULL,
    blind     BLOB NOT NULL,
    PRIMARY KEY (record_id, field)
);
CREATE INDEX id_card_blind ON id_card_index (blind);
