-- The household file's search (农户档案): households found by their head's or a member's name
-- (prefix), their phone, or their household number, each through an index the engine keeps up
-- itself, so no write path carries search code and no search reads every household. Names are
-- led by the village, so a village's search touches only its own entries and a county's is a
-- seek per village; phones and numbers are looked up exactly. ID-card numbers are found by
-- keyed hash through `id_card_index`, as everywhere else.
CREATE INDEX records_head_name ON records (scope, json_extract(fields, '$.head_name'))
    WHERE entity = 'household';
CREATE INDEX records_member_name ON records (scope, json_extract(fields, '$.name'))
    WHERE entity = 'member';
CREATE INDEX records_household_phone ON records (json_extract(fields, '$.phone'))
    WHERE entity = 'household';
CREATE INDEX records_member_phone ON records (json_extract(fields, '$.phone'))
    WHERE entity = 'member';
CREATE INDEX records_household_no ON records (json_extract(fields, '$.household_no'))
    WHERE entity = 'household';
