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
    id            UUID PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    display_name  TEXT,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT
);

-- A user's assignment to a division of any level, for a period (cadres rotate).
CREATE TABLE assignments (
    user_id       UUID NOT NULL REFERENCES users (id),
    division_code TEXT NOT NULL REFERENCES divisions (code),
    starts_on     TEXT NOT NULL,
    ends_on       TEXT,
    PRIMARY KEY (user_id, division_code, starts_on)
);

CREATE TABLE devices (
    id              UUID PRIMARY KEY,
    user_id         UUID NOT NULL REFERENCES users (id),
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    revoked_at      BIGINT,
    app_version     TEXT,
    outbox_depth    BIGINT,
    oldest_unsent_s BIGINT
);

CREATE TABLE refresh_tokens (
    token_hash BYTEA PRIMARY KEY,
    device_id  UUID NOT NULL REFERENCES devices (id),
    user_id    UUID NOT NULL REFERENCES users (id),
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX refresh_tokens_device ON refresh_tokens (device_id);

-- The sync sequence. Every record write takes the next numbers from this single row, as the
-- last step of its transaction, so sequence order equals commit order (see ARCHITECTURE.md).
CREATE TABLE sync_head (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO sync_head (id, seq) VALUES (1, 0);

CREATE TABLE records (
    id         UUID PRIMARY KEY,
    entity     TEXT NOT NULL,
    scope      TEXT NOT NULL,
    version    BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    deleted    BOOLEAN NOT NULL,
    fields     JSONB NOT NULL,
    meta       JSONB NOT NULL,
    gps        JSONB,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    created_by UUID NOT NULL,
    updated_by UUID NOT NULL
);
CREATE UNIQUE INDEX records_seq ON records (seq);
CREATE INDEX records_scope_seq ON records (scope, seq);

-- Every accepted mutation, for idempotent re-sends and as the history of who changed what.
CREATE TABLE mutations (
    mutation_id UUID PRIMARY KEY,
    device_id   UUID NOT NULL,
    user_id     UUID NOT NULL,
    record_id   UUID NOT NULL,
    entity      TEXT NOT NULL,
    op          TEXT NOT NULL,
    status      TEXT NOT NULL,
    version     BIGINT NOT NULL,
    fields      JSONB NOT NULL,
    hlc         JSONB NOT NULL,
    gps         JSONB,
    received_at BIGINT NOT NULL
);
CREATE INDEX mutations_record ON mutations (record_id);

CREATE TABLE conflicts (
    id          UUID PRIMARY KEY,
    record_id   UUID NOT NULL,
    entity      TEXT NOT NULL,
    scope       TEXT NOT NULL,
    field       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    yours       JSONB NOT NULL,
    theirs      JSONB NOT NULL,
    kept        JSONB NOT NULL,
    mutation_id UUID NOT NULL,
    device_id   UUID NOT NULL,
    user_id     UUID NOT NULL,
    theirs_hlc  JSONB,
    created_at  BIGINT NOT NULL,
    resolved_at BIGINT,
    resolved_by UUID,
    resolution  JSONB
);
CREATE INDEX conflicts_scope ON conflicts (scope, id);
CREATE INDEX conflicts_mutation ON conflicts (mutation_id);
CREATE INDEX conflicts_record ON conflicts (record_id);

-- Sets of villages a pull cursor refers to by hash, so cursors stay short.
CREATE TABLE scope_sets (
    hash       TEXT PRIMARY KEY,
    villages   JSONB NOT NULL,
    created_at BIGINT NOT NULL
);

-- Secrets shared by all replicas (the JWT signing key), made on first start.
CREATE TABLE server_keys (
    name       TEXT PRIMARY KEY,
    secret     BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
