-- Statistical divisions: province, city, county, township, village (12-digit codes).
CREATE TABLE divisions (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL,
    parent_code TEXT
);
CREATE INDEX divisions_parent ON divisions (parent_code);
CREATE INDEX divisions_level ON divisions (level, code);

CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    display_name  TEXT,
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER
);

-- A user's assignment to a division of any level, for a period (cadres rotate).
CREATE TABLE assignments (
    user_id       BLOB NOT NULL REFERENCES users (id),
    division_code TEXT NOT NULL REFERENCES divisions (code),
    starts_on     TEXT NOT NULL,
    ends_on       TEXT,
    PRIMARY KEY (user_id, division_code, starts_on)
);

CREATE TABLE devices (
    id              BLOB PRIMARY KEY,
    user_id         BLOB NOT NULL REFERENCES users (id),
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    revoked_at      INTEGER,
    app_version     TEXT,
    outbox_depth    INTEGER,
    oldest_unsent_s INTEGER
);

CREATE TABLE refresh_tokens (
    token_hash BLOB PRIMARY KEY,
    device_id  BLOB NOT NULL REFERENCES devices (id),
    user_id    BLOB NOT NULL REFERENCES users (id),
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX refresh_tokens_device ON refresh_tokens (device_id);

-- The sync sequence. Every record write takes the next numbers from this single row, as the
-- last step of its transaction, so sequence order equals commit order (see ARCHITECTURE.md).
CREATE TABLE sync_head (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO sync_head (id, seq) VALUES (1, 0);

CREATE TABLE records (
    id         BLOB PRIMARY KEY,
    entity     TEXT NOT NULL,
    scope      TEXT NOT NULL,
    version    INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    deleted    BOOLEAN NOT NULL,
    fields     TEXT NOT NULL,
    meta       TEXT NOT NULL,
    gps        TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    created_by BLOB NOT NULL,
    updated_by BLOB NOT NULL
);
CREATE UNIQUE INDEX records_seq ON records (seq);
CREATE INDEX records_scope_seq ON records (scope, seq);

-- Every accepted mutation, for idempotent re-sends and as the history of who changed what.
CREATE TABLE mutations (
    mutation_id BLOB PRIMARY KEY,
    device_id   BLOB NOT NULL,
    user_id     BLOB NOT NULL,
    record_id   BLOB NOT NULL,
    entity      TEXT NOT NULL,
    op          TEXT NOT NULL,
    status      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    fields      TEXT NOT NULL,
    hlc         TEXT NOT NULL,
    gps         TEXT,
    received_at INTEGER NOT NULL
);
CREATE INDEX mutations_record ON mutations (record_id);

CREATE TABLE conflicts (
    id          BLOB PRIMARY KEY,
    record_id   BLOB NOT NULL,
    entity      TEXT NOT NULL,
    scope       TEXT NOT NULL,
    field       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    yours       TEXT NOT NULL,
    theirs      TEXT NOT NULL,
    kept        TEXT NOT NULL,
    mutation_id BLOB NOT NULL,
    device_id   BLOB NOT NULL,
    user_id     BLOB NOT NULL,
    theirs_hlc  TEXT,
    created_at  INTEGER NOT NULL,
    resolved_at INTEGER,
    resolved_by BLOB,
    resolution  TEXT
);
CREATE INDEX conflicts_scope ON conflicts (scope, id);
CREATE INDEX conflicts_mutation ON conflicts (mutation_id);
CREATE INDEX conflicts_record ON conflicts (record_id);

-- Sets of villages a pull cursor refers to by hash, so cursors stay short.
CREATE TABLE scope_sets (
    hash       TEXT PRIMARY KEY,
    villages   TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Secrets shared by all replicas (the JWT signing key), made on first start.
CREATE TABLE server_keys (
    name       TEXT PRIMARY KEY,
    secret     BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
