-- The review console signs people in from a browser. A sign-in is a session like a phone's
-- (so logout, a disabled account or a revoked device end it the same way) on a device of its
-- own marked `console`, which the team leader's list of phones leaves out.
ALTER TABLE devices ADD COLUMN kind TEXT NOT NULL DEFAULT 'phone';

-- The browser holds a random token in a cookie; only its SHA-256 is stored. `csrf` is the
-- token every form of the session must carry.
CREATE TABLE console_sessions (
    token_hash  BLOB PRIMARY KEY,
    session_id  BLOB NOT NULL REFERENCES sessions (id),
    csrf        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX console_sessions_session ON console_sessions (session_id);
