//! Collection: photos no record names, once their grace period has passed, and chunked uploads
//! abandoned for days.
//!
//! Phones upload a photo before (sometimes days before) the record that names it, in whatever
//! order their outbox drains, so an unreferenced photo is only collected after
//! `blobs.grace_days` without being uploaded again or named. A record that names a photo
//! touches it in the push transaction, and the collection deletes a row only if it is still
//! untouched and unnamed in one statement, so a record and a collection racing for the same
//! photo cannot both win.

use super::{BlobError, Blobs, incoming_key, original_key, staging_prefix, thumb_key};

/// What one collection removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Collected {
    pub photos: u64,
    pub uploads: u64,
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Rows looked at per round; the loop runs until none are left.
const BATCH: i64 = 500;

impl Blobs {
    /// Runs one collection at `now_ms`.
    pub async fn collect(&self, now_ms: i64) -> Result<Collected, BlobError> {
        let mut done = Collected::default();
        let s = self.settings();
        let unfinished_before = now_ms - i64::from(s.unfinished_days) * DAY_MS;
        for upload in self.db().stale_uploads(unfinished_before).await? {
            self.drop_parts(&staging_prefix(upload.device_id, &upload.sha256))
                .await?;
            self.db()
                .end_upload(&upload.sha256, upload.device_id)
                .await?;
            done.uploads += 1;
        }
        let untouched_before = now_ms - i64::from(s.grace_days) * DAY_MS;
        loop {
            let candidates = self
                .db()
                .unreferenced_blobs(untouched_before, BATCH)
                .await?;
            let mut forgotten = 0;
            for sha in &candidates {
                if self.db().forget_blob(sha, untouched_before).await? {
                    for key in [original_key(sha), thumb_key(sha), incoming_key(sha)] {
                        self.store().delete(&key).await?;
                    }
                    forgotten += 1;
                }
            }
            done.photos += forgotten;
            if candidates.len() < BATCH as usize || forgotten == 0 {
                break;
            }
        }
        Ok(done)
    }
}
