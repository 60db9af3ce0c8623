-- Who holds a photo's processing claim: a worker that lost its claim (its lease ran out and
-- another took the photo) can then neither renew, finish, reject nor release it.
ALTER TABLE blobs ADD COLUMN claimed_by TEXT;
