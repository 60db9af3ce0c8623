-- Follow-up work: a county's own task rules (absent: the built-in defaults), and the index the
-- task and case lists and the escalation sweep read by.
CREATE TABLE task_rules (
    county     TEXT PRIMARY KEY,
    rules      TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE INDEX records_entity_scope ON records (entity, scope);
