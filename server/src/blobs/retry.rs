//! What a failed processing attempt means for a photo, and how a photo comes back.
//!
//! Only the photo's own faults reject it: a [`PhotoError`] about the image (its format, its
//! pixel count, truncation, pixels that do not decode). Everything else — the blob store or
//! the disk failing, the database, a temporary file — says nothing about the photo, so the
//! photo stays in the queue and is tried again after a wait that doubles with each attempt
//! (`blobs.retry_first_ms`, capped at `blobs.retry_max_ms`), for as long as it takes. Its
//! uploaded bytes (`incoming/`) are deleted only once it is ready or rejected.
//!
//! Uploaded bytes that are not in the blob store may still come back (a store that lists
//! nothing while it is being remounted, a restore still copying objects), so a few attempts
//! treat their absence like any other store failure; after that the photo is `missing`: the
//! phone is asked for it again (its next upload puts it back in the queue), and the worker
//! keeps looking for the bytes at the longest interval.

use super::{BlobError, Blobs, MISSING, PhotoError};
use crate::store::BlobRow;

/// Attempts that find the uploaded bytes absent before the photo is declared `missing`
/// (about 75 s with the default waits).
pub(super) const MISSING_AFTER: i64 = 5;

/// The photo's own fault, if that is what `e` is: such a photo is rejected for good.
pub(super) fn bad_photo(e: &BlobError) -> Option<&PhotoError> {
    match e {
        BlobError::Photo(PhotoError::Io(_)) => None,
        BlobError::Photo(bad) => Some(bad),
        _ => None,
    }
}

/// The wait after the `attempts`-th failed attempt: `first_ms`, doubled for each attempt
/// before it, at most `max_ms`.
pub(super) fn backoff_ms(attempts: i64, first_ms: u64, max_ms: u64) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 63)).unwrap_or(63);
    let wait = first_ms.saturating_mul(1u64 << doublings).min(max_ms);
    i64::try_from(wait).unwrap_or(i64::MAX)
}

impl Blobs {
    /// A phone sent a photo the server has a row for. True when the server wants its bytes
    /// (they were lost: the upload goes ahead and puts the photo back in the queue); a photo
    /// waiting out a failed attempt is made due at once instead, with the bytes it has.
    pub(super) async fn takes_bytes_again(&self, row: &BlobRow) -> Result<bool, BlobError> {
        if row.state == MISSING {
            return Ok(true);
        }
        if self.db().retry_blob_now(&row.sha256).await? {
            self.inner.wake.notify_one();
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_the_first_up_to_the_longest() {
        let waits: Vec<i64> = (1..=10).map(|a| backoff_ms(a, 5_000, 900_000)).collect();
        assert_eq!(
            waits,
            [
                5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 640_000, 900_000, 900_000
            ]
        );
        // Attempts counted by the claim start at 1; nonsense counts do not overflow.
        assert_eq!(backoff_ms(0, 5_000, 900_000), 5_000);
        assert_eq!(backoff_ms(-3, 5_000, 900_000), 5_000);
        assert_eq!(backoff_ms(i64::MAX, 5_000, 900_000), 900_000);
        assert_eq!(backoff_ms(70, u64::MAX, u64::MAX), i64::MAX);
    }

    #[test]
    fn only_the_photos_own_faults_reject_it() {
        for bad in [
            PhotoError::Unsupported("gif".into()),
            PhotoError::TooManyPixels {
                width: 10,
                height: 10,
                max: 1,
            },
            PhotoError::Truncated,
            PhotoError::Corrupt("bad Huffman code".into()),
        ] {
            let e = BlobError::Photo(bad);
            assert!(bad_photo(&e).is_some(), "{e}");
        }
        let store = super::super::BlobStoreError::S3("PUT originals/ab/…: 503 SlowDown".into());
        for transient in [
            BlobError::Photo(PhotoError::Io(std::io::Error::other("disk full"))),
            BlobError::Io(std::io::Error::other("no space left on device")),
            BlobError::Store(store),
            BlobError::Db(crate::store::StoreError::Busy),
        ] {
            assert!(bad_photo(&transient).is_none(), "{transient}");
        }
    }
}
