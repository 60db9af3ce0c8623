-- A household's history (its file's "edits") is found through its records (`records_household`,
-- then `mutations_record`) instead of an index of the log by household. That index took one
-- insert at a random place for every pushed survey or check (households are visited in no
-- order), which in a batch of surveys was a page of the WAL per record: without it, batches of
-- 100 surveys were written 10-15 % faster (`write_path`, ARCHITECTURE.md). The log keeps its
-- `household_id` column (the audit reads it).
DROP INDEX mutations_household;
-- A record learns its household late when a case or task named only a person at first (the
-- home verification fills it in): the record now keeps it (the writers set it on update), and
-- records written before take it from their newest logged mutation that named one.
UPDATE records SET household_id = (
    SELECT m.household_id FROM mutations m
    WHERE m.record_id = records.id AND m.household_id IS NOT NULL
    ORDER BY m.received_at DESC LIMIT 1
)
WHERE household_id IS NULL
  AND EXISTS (
    SELECT 1 FROM mutations m WHERE m.record_id = records.id AND m.household_id IS NOT NULL
  );
