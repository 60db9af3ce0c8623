-- A record that names a photo opens it to the record's readers only when the reference is a
-- link: the photo was uploaded by a device of someone who may write that record. Naming a
-- hash alone opened any photo to anyone who could write a record (issue 16). The link is
-- decided once, when the second of the two (record, upload) arrives, and kept: a cadre
-- rotated out later does not lose the photos of the records they made.
ALTER TABLE blob_refs ADD COLUMN linked BOOLEAN NOT NULL DEFAULT FALSE;

-- References made before this migration: linked where someone who wrote the record (the
-- mutation log) uploaded the photo from one of their devices, the common case. A photo
-- uploaded by another user is linked when that user, or a writer of the record, uploads it
-- again.
UPDATE blob_refs SET linked = TRUE
WHERE EXISTS (
    SELECT 1 FROM mutations m
    JOIN devices d ON d.user_id = m.user_id
    JOIN blob_owners o ON o.device_id = d.id
    WHERE m.record_id = blob_refs.record_id AND o.sha256 = blob_refs.sha256
);
