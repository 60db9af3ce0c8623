-- A farmer's account reports only about its own household: the one whose head or a member
-- holds the account's own ID-card number. The number is sealed like every ID-card number
-- (XChaCha20-Poly1305, field name `id_card` as associated data) and matched by its keyed
-- hash against `id_card_index`, never in clear.
ALTER TABLE users ADD COLUMN id_card TEXT;
ALTER TABLE users ADD COLUMN id_card_blind BLOB;
