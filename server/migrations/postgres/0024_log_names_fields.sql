-- The mutation log keeps the names of the fields a change wrote, not their values. Its values
-- were never read (the household file and the audit list only the names; a re-send's answer is
-- its status and version), yet every survey's answers were stored twice, parsed twice by
-- PostgreSQL on the way in, and a copy of personal data (incomes, illnesses, sealed ID-card
-- numbers) stayed in the log after the record itself was corrected. Existing entries keep their
-- names and lose their values; this rewrites every row of the log once.
UPDATE mutations
SET fields = (SELECT COALESCE(json_agg(k), '[]'::json) FROM json_object_keys(fields) AS k)
WHERE json_typeof(fields) = 'object';
