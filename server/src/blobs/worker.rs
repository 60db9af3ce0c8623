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

use std::time::Duration;

use crate::clock;
use crate::store::{BlobFacts, BlobRow};

use super::{BlobError, Blobs, incoming_key, original_key, photo, thumb_key, to_i64};

/// How long a claim holds without renewal.
const LEASE_MS: i64 = 30 * 1000;
/// How often a worker renews the claim of the photo it works on.
const RENEW: Duration = Duration::from_secs(10);
/// Idle workers look at the queue this often (uploads reaching other replicas ring no bell
/// here).
const POLL: Duration = Duration::from_secs(5);
/// Attempts before a photo whose processing keeps failing for reasons other than the photo
/// (the blob store unreachable) is given up.
const MAX_ATTEMPTS: i64 = 5;

/// Starts `n` workers (0 = one per CPU core) on the current runtime.
pub fn spawn_workers(blobs: &Blobs, n: usize) {
    let n = if n == 0 {
        std::thread::available_parallelism().map_or(2, usize::from)
    } else {
        n
    };
    for _ in 0..n {
        let blobs = blobs.clone();
        tokio::spawn(async move {
            loop {
                match blobs.process_next().await {
                    Ok(true) => {}
                    Ok(false) => {
                        let _ = tokio::time::timeout(POLL, blobs.inner.wake.notified()).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "photo worker");
                        tokio::time::sleep(POLL).await;
                    }
                }
            }
        });
    }
}

impl Blobs {
    /// Processes one waiting photo, if there is one; false when the queue is empty.
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
            Ok(facts) => {
                if self
                    .db()
                    .blob_ready(&row.sha256, &claimant, &facts, clock::now_ms())
                    .await?
                {
                    self.store().delete(&incoming_key(&row.sha256)).await?;
                    tracing::info!(format = %facts.format, width = facts.width, height = facts.height, "photo processed");
                } else {
                    tracing::warn!(
                        "a photo's claim passed to another worker before it was done here"
                    );
                }
            }
            Err(BlobError::Photo(e)) if !matches!(e, photo::PhotoError::Io(_)) => {
                tracing::info!(reason = e.code(), "photo rejected");
                if self
                    .db()
                    .blob_rejected(
                        &row.sha256,
                        &claimant,
                        e.code(),
                        &e.to_string(),
                        clock::now_ms(),
                    )
                    .await?
                {
                    self.store().delete(&incoming_key(&row.sha256)).await?;
                }
            }
            Err(e) if row.attempts >= MAX_ATTEMPTS => {
                tracing::error!(error = %e, attempts = row.attempts, "photo given up");
                self.db()
                    .blob_rejected(
                        &row.sha256,
                        &claimant,
                        "processing_failed",
                        "the server could not process this photo",
                        clock::now_ms(),
                    )
                    .await?;
            }
            Err(e) => {
                tracing::warn!(error = %e, attempts = row.attempts, "photo processing failed; will retry");
                self.db().release_blob(&row.sha256, &claimant).await?;
            }
        }
        Ok(true)
    }

    async fn process(&self, row: &BlobRow) -> Result<BlobFacts, BlobError> {
        let input = self.temp_file()?;
        if !self
            .store()
            .fetch_to_file(&incoming_key(&row.sha256), input.path())
            .await?
        {
            return Err(BlobError::Photo(photo::PhotoError::Corrupt(
                "the uploaded bytes are gone from the blob store".to_owned(),
            )));
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
        Ok(BlobFacts {
            format: done.format.as_str().to_owned(),
            width: i64::from(done.width),
            height: i64::from(done.height),
            orientation: i64::from(done.orientation),
            stored_size: to_i64(done.stripped_bytes),
            thumb_size: to_i64(done.thumb_bytes),
            gps: done.gps.map(|g| (g.lat, g.lon, g.altitude_m)),
            taken_at: done.taken_at,
            metadata: done.metadata.as_str().to_owned(),
        })
    }
}
