-- The team leader's review of monthly attendance sheets, as a log: approvals (which lock the
-- sheet and keep the approved figures), returns with a comment, the cadre's replies, and
-- doubted events the leader accepted. Nothing here is ever updated or deleted.
CREATE TABLE attendance_reviews (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL,
    month      TEXT NOT NULL,
    action     TEXT NOT NULL,
    by_user    UUID NOT NULL,
    comment    TEXT,
    event_id   UUID,
    snapshot   TEXT,
    at         BIGINT NOT NULL
);
CREATE INDEX attendance_reviews_sheet ON attendance_reviews (user_id, month, at);

-- A cadre's events of a month are found from their records (see `Store::presence_events`).
CREATE INDEX records_created_by ON records (created_by, entity);
