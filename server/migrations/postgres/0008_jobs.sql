-- Periodic background work every replica shares: each job is due every `every_ms`; a replica
-- claims a due job with a lease (`locked_by`, `locked_until`), runs it and sets the next due
-- time. A replica killed mid-run leaves its lease to expire, and another takes the job up.
CREATE TABLE jobs (
    name             TEXT PRIMARY KEY,
    every_ms         BIGINT NOT NULL,
    next_run_at      BIGINT NOT NULL,
    locked_by        TEXT,
    locked_until     BIGINT,
    runs             BIGINT NOT NULL DEFAULT 0,
    failures         BIGINT NOT NULL DEFAULT 0,
    last_started_at  BIGINT,
    last_finished_at BIGINT,
    last_error       TEXT
);
