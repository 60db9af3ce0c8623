-- The user whose device sent every byte of the photo. A device's uploads stay its uploader's:
-- a phone handed to another cadre (`admin hand-over-device`) does not show the new holder the
-- previous user's photos that no record links, and a link is decided by who uploaded, not by
-- who holds the phone now. A re-upload by the new holder makes the photo theirs.
ALTER TABLE blob_owners ADD COLUMN user_id UUID;
UPDATE blob_owners SET user_id = (SELECT d.user_id FROM devices d WHERE d.id = blob_owners.device_id);
