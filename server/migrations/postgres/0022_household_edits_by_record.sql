-- A household's history (its file's "edits") is found through its records (`records_household`,
-- then `mutations_record`) instead of an index of the log by household. That index took one
-- insert at a random place for every pushed survey or check (households are visited in no
-- order): see the SQLite migration of the same name and ARCHITECTURE.md. The log keeps its
-- `household_id` column (the audit reads it).
DROP INDEX mutations_household;
-- A record learns its household late when a case or task named only a person at first (the
-- home verification fills it in): the record now keeps it (the writers set it on update), and
-- records written before take it from their newest logged mutation that named one.
UPDATE records r SET household_id = m.household_id
FROM (
    SELECT DISTINCT ON (record_id) record_id, household_id
    FROM mutations WHERE household_id IS NOT NULL
    ORDER BY record_id, received_at DESC
) m
WHERE r.id = m.record_id AND r.household_id IS NULL;
