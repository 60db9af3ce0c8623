-- A photo whose processing failed for a reason other than the photo (the blob store or the
-- disk failing for a while) is retried with a growing delay and never given up: a worker
-- takes it again no sooner than retry_at (milliseconds; NULL = at once).
ALTER TABLE blobs ADD COLUMN retry_at BIGINT;

-- A new state, missing: the uploaded bytes (incoming/) are not in the blob store, so the
-- server needs them again; the phone's next upload of the photo puts it back to processing.
--
-- Earlier versions gave a photo up after five failed attempts within seconds, as rejected /
-- processing_failed, and kept its incoming/ bytes (only a photo rejected for itself lost
-- them); a photo whose bytes were gone was rejected as corrupt with the detail below. Neither
-- was the photo's fault: both go back to the queue, where the worker processes the first and
-- finds the second missing.
UPDATE blobs
   SET state = 'processing', attempts = 0, reason = NULL, detail = NULL, processed_at = NULL,
       claimed_at = NULL, claimed_by = NULL
 WHERE state = 'rejected'
   AND (reason = 'processing_failed'
        OR (reason = 'corrupt'
            AND detail = 'image is corrupt: the uploaded bytes are gone from the blob store'));
