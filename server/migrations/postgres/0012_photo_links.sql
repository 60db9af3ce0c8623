-- A record that names a photo opens it to the record's readers only when the reference is a
-- link: the photo was uploaded by a device of someone who may write that record. Naming a
-- hash alone opened any photo to anyone who could write a record (issue 16). The link is
-- decided once, when the second of the two (record, upload) arrives, and kept: a cadre
-- rotated out later does not lose the photos of the records they made.
--
-- References made before this migration are left NULL: the server decides each once, at
-- start, by the same rule (it needs the role table, which lives in the code), with the
-- record's writers taken from the mutation log. NULL never opens anything.
ALTER TABLE blob_refs ADD COLUMN linked BOOLEAN;
