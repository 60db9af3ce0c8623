//! The processing pool: a few workers per process take complete uploads from the database
//! queue (`blobs` rows in state `processing`), strip the EXIF, make the thumbnail and store
//! both. Decoding runs on blocking threads, one per worker, so a slow photo never stalls
//! requests, and the number of workers bounds the memory decoding can take.
//!
//! A claim is a lease, renewed while the photo is being worked on: a worker that dies mid-photo
//! (the process was killed) stops renewing, and within a lease another worker, on any replica,
//! takes the photo up again. A claim names its holder, and renewing, finishing, rejecting and
//! releasing all require it: a worker that lost its claim and finishes late changes nothing
//! (and leaves the upload to the new holder).
//!
//! An attempt that fails for a reason other than the photo leaves it in the queue for a later
//! attempt, never rejected, with its uploaded bytes kept (`super::retry` says when and why).

use std::time::Duration;

use crate::clock;
use crate::store::{BlobFacts, BlobRow};

use super::retry::{MISSING_AFTER, backoff_ms, bad_photo};
use super::{BlobError, Blobs, MISSING, incoming_key, original_key, photo, thumb_key, to_i64};

/// How long a claim holds without renewal.
const LEASE_MS: i64 = 30 * 1000;
/// How often a worker renews the claim of the photo it works on.
const RENEW: Duration = Duration::from_secs(10);
/// Idle workers look at the queue this often (uploads reaching other replicas ring no bell
/// here), or sooner when a failed photo's first retry is due sooner.
const POLL: Duration = Duration::from_secs(5);

/// Starts `n` workers (0 = one per CPU core) on the current runtime.
pub fn spawn_workers(blobs: &Blobs, n: usize) {
    let n = if n == 0 {
        std::thread::available_parallelism().map_or(2, usize::from)
    } else {
        n
    };
    let poll = POLL.min(Duration::from_millis(blobs.settings().retry_first_ms));
    for _ in 0..n {
        let blobs = blobs.clone();
        tokio::spawn(async move {
            loop {
                match blobs.process_next().await {
                    Ok(true) => {}
                    Ok(false) => {
                        let _ = tokio::time::timeout(poll, blobs.inner.wake.notified()).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "photo worker");
                        tokio::time::sleep(poll).await;
                    }
                }
            }
        });
    }
}

impl Blobs {
    /// Processes one waiting photo, if one is due; false when none is.
    pub async fn process_next(&self) -> Result<bool, BlobError> {
        let now = clock::now_ms();
        let claimant = uuid::Uuid::new_v4().simple().to_string();
        let Some(row) = self.db().claim_blob(&claimant, now, now - LEASE_MS).await? else {
            return Ok(false);
        };
        let started = std::time::Instant::now();
        // Aborted when dropped, so a panicking or cancelled `process` stops renewing too.
        let _renewal = tokio_util::task::AbortOnDropHandle::new(tokio::spawn({
            let db = self.db().clone();
            let (sha, claimant) = (row.sha256.clone(), claimant.clone());
            async move {
                loop {
                    tokio::time::sleep(RENEW).await;
                    match db.renew_blob_claim(&sha, &claimant, clock::now_ms()).await {
                        Ok(true) => {}
                        Ok(false) => return,
                        Err(e) => tracing::warn!(error = %e, "renewing a photo's claim failed"),
                    }
                }
            }
        }));
        let outcome = self.process(&row).await;
        self.inner
            .processing
            .observe(started.elapsed().as_secs_f64());
        match outcome {
            Ok(Some(facts)) => {
                if self
                    .db()
                    .blob_ready(&row.sha256, &claimant, &facts, clock::now_ms())
                    .await?
                {
                    tracing::info!(format = %facts.format, width = facts.width, height = facts.height, "photo processed");
                    self.drop_incoming(&row.sha256).await;
                } else {
                    tracing::warn!(
                        "a photo's claim passed to another worker before it was done here"
                    );
                }
            }
            Ok(None) => self.bytes_absent(&row, &claimant).await?,
            Err(e) => match bad_photo(&e) {
                Some(bad) => {
                    tracing::info!(reason = bad.code(), "photo rejected");
                    let (code, detail) = (bad.code(), bad.to_string());
                    if self
                        .db()
                        .blob_rejected(&row.sha256, &claimant, code, &detail, clock::now_ms())
                        .await?
                    {
                        self.drop_incoming(&row.sha256).await;
                    }
                }
                None => {
                    let wait = self.retry_later(&row, &claimant).await?;
                    tracing::warn!(
                        error = %e, attempts = row.attempts, retry_in_s = wait / 1000,
                        "processing a photo failed, not for the photo's fault; will try again"
                    );
                }
            },
        }
        Ok(true)
    }

    /// Leaves the photo in the queue, to be taken again after the wait its attempts call for
    /// (returned, in milliseconds).
    async fn retry_later(&self, row: &BlobRow, claimant: &str) -> Result<i64, BlobError> {
        let s = self.settings();
        let wait = backoff_ms(row.attempts, s.retry_first_ms, s.retry_max_ms);
        let at = clock::now_ms().saturating_add(wait);
        self.db().release_blob(&row.sha256, claimant, at).await?;
        Ok(wait)
    }

    /// The photo's uploaded bytes are not in the blob store: a store failure like another for
    /// a few attempts, then `missing`, looked for again at the longest interval.
    async fn bytes_absent(&self, row: &BlobRow, claimant: &str) -> Result<(), BlobError> {
        if row.state != MISSING && row.attempts < MISSING_AFTER {
            let wait = self.retry_later(row, claimant).await?;
            tracing::warn!(
                attempts = row.attempts,
                retry_in_s = wait / 1000,
                "a photo's uploaded bytes are not in the blob store; will look again"
            );
            return Ok(());
        }
        if row.state != MISSING {
            tracing::warn!(
                attempts = row.attempts,
                "a photo's uploaded bytes are gone from the blob store; its phone is asked for it again"
            );
        }
        let at = clock::now_ms().saturating_add(to_i64(self.settings().retry_max_ms));
        self.db().blob_missing(&row.sha256, claimant, at).await?;
        Ok(())
    }

    /// The uploaded bytes of a photo that is done with. Failing to delete them loses nothing
    /// (the object stays until the photo is collected), so it is only logged.
    async fn drop_incoming(&self, sha256: &str) {
        if let Err(e) = self.store().delete(&incoming_key(sha256)).await {
            tracing::warn!(error = %e, "deleting a processed photo's uploaded bytes failed");
        }
    }

    /// Processes the photo and stores the results; `None` when its uploaded bytes are not in
    /// the blob store.
    async fn process(&self, row: &BlobRow) -> Result<Option<BlobFacts>, BlobError> {
        let input = self.temp_file()?;
        if !self
            .store()
            .fetch_to_file(&incoming_key(&row.sha256), input.path())
            .await?
        {
            return Ok(None);
        }
        let original = self.temp_file()?;
        let thumb = self.temp_file()?;
        let limits = self.limits();
        let (i, o, t) = (
            input.path().to_owned(),
            original.path().to_owned(),
            thumb.path().to_owned(),
        );
        let done = tokio::task::spawn_blocking(move || photo::process(&i, &o, &t, &limits))
            .await
            .map_err(|e| BlobError::Io(std::io::Error::other(e)))??;
        self.store()
            .put_file(&original_key(&row.sha256), original.path())
            .await?;
        self.store()
            .put_file(&thumb_key(&row.sha256), thumb.path())
            .await?;
        Ok(Some(BlobFacts {
            format: done.format.as_str().to_owned(),
            width: i64::from(done.width),
            height: i64::from(done.height),
            orientation: i64::from(done.orientation),
            stored_size: to_i64(done.stripped_bytes),
            thumb_size: to_i64(done.thumb_bytes),
            gps: done.gps.map(|g| (g.lat, g.lon, g.altitude_m)),
            taken_at: done.taken_at,
            metadata: done.metadata.as_str().to_owned(),
        }))
    }
}
