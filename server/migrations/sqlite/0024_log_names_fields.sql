-- The mutation log keeps the names of the fields a change wrote, not their values. Its values
-- were never read (the household file and the audit list only the names; a re-send's answer is
-- its status and version), yet every survey's answers were stored twice, and a copy of personal
-- data (incomes, illnesses, sealed ID-card numbers) stayed in the log after the record itself
-- was corrected. Existing entries keep their names and lose their values.
UPDATE mutations
SET fields = (SELECT json_group_array(key) FROM json_each(mutations.fields))
WHERE json_type(fields) = 'object';
