-- A refresh whose answer was lost on the way (a link that dropped at the wrong moment) is sent
-- again with the token it already spent. That must not end the session like a stolen token
-- would: each spent token names the token issued for it (`replaced_by`), and a session names
-- the pair of tokens it issued last until either of them is first used (`unused_pair`, the
-- `pair` claim of the new access token). A spent token presented again by its own device while
-- its successor pair is still unused is a retry (see `store::sessions`).
ALTER TABLE refresh_tokens ADD COLUMN replaced_by BYTEA;
ALTER TABLE sessions ADD COLUMN unused_pair UUID;
