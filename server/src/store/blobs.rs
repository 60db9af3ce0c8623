//! What the server knows about uploaded blobs: their state, who uploaded them, which records
//! name them, chunked uploads in progress and the daily upload quota. The bytes themselves are
//! in the blob store (`crate::blobs`).
//!
//! Who may see a blob: its owners (devices that sent every byte of it, hashed) and the readers
//! of a record whose reference to it is a link (`store::blob_links`).

use uuid::Uuid;

use super::{Engine, Result, Store, Tx, execute, fetch_as, fetch_scalar};

/// A blob's row.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct BlobRow {
    pub sha256: String,
    pub state: String,
    pub size: i64,
    pub uploaded_by: Uuid,
    pub uploaded_at: i64,
    pub attempts: i64,
    pub processed_at: Option<i64>,
    pub format: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub orientation: Option<i64>,
    pub stored_size: Option<i64>,
    pub thumb_size: Option<i64>,
    pub gps_lat: Option<f64>,
    pub gps_lon: Option<f64>,
    pub gps_alt_m: Option<f64>,
    pub taken_at: Option<String>,
    pub reason: Option<String>,
    pub detail: Option<String>,
    /// `read`, `none` or `unreadable` (`PhotoMetadata`); NULL before migration 0015.
    pub metadata: Option<String>,
}

/// What processing found, for a blob that is now ready.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BlobFacts {
    pub format: String,
    pub width: i64,
    pub height: i64,
    pub orientation: i64,
    pub stored_size: i64,
    pub thumb_size: i64,
    pub gps: Option<(f64, f64, Option<f64>)>,
    pub taken_at: Option<String>,
    /// What became of the EXIF: `read`, `none` or `unreadable`.
    pub metadata: String,
}

/// A chunked upload in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct UploadRow {
    pub total: i64,
    pub received: i64,
}

/// A chunked upload left unfinished, for collection.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StaleUpload {
    pub sha256: String,
    pub device_id: Uuid,
}

/// Where a record that names a blob lives, to decide who may see the blob.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct BlobReference {
    pub entity: String,
    pub scope: String,
}

impl Store {
    pub async fn blob(&self, sha256: &str) -> Result<Option<BlobRow>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_optional,
            BlobRow,
            "SELECT sha256, state, size, uploaded_by, uploaded_at, attempts, processed_at, format,
                 width, height, orientation, stored_size, thumb_size, gps_lat, gps_lon, gps_alt_m,
                 taken_at, reason, detail, metadata
             FROM blobs WHERE sha256 = $1",
            sha256
        )?)
    }

    /// Records a received blob (waiting for processing) and its uploader, who becomes an
    /// owner (see `store::blob_links`). A blob that exists already keeps its row.
    pub async fn add_blob(
        &self,
        sha256: &str,
        size: i64,
        device_id: Uuid,
        now_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.lock_blob_links([sha256]).await?;
        execute!(
            tx.conn(),
            "INSERT INTO blobs (sha256, state, size, uploaded_by, uploaded_at, touched_at)
             VALUES ($1, 'processing', $2, $3, $4, $4) ON CONFLICT (sha256) DO NOTHING",
            sha256,
            size,
            device_id,
            now_ms,
        )?;
        tx.own_blob(sha256, device_id, now_ms).await?;
        tx.commit().await
    }

    /// Makes the device an owner of a blob that exists: it has just sent the same bytes
    /// again, hashed. Starts the blob's grace period again.
    pub async fn add_blob_owner(&self, sha256: &str, device_id: Uuid, now_ms: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.lock_blob_links([sha256]).await?;
        tx.own_blob(sha256, device_id, now_ms).await?;
        tx.touch_blob(sha256, now_ms).await?;
        tx.commit().await
    }

    /// Whether `user` sent every byte of the blob from `device_id`. Both must match: a phone
    /// handed to another cadre does not pass its previous user's uploads to the new holder.
    pub async fn is_blob_owner(&self, sha256: &str, device_id: Uuid, user: Uuid) -> Result<bool> {
        let n: i64 = fetch_scalar!(
            self.reader(),
            fetch_one,
            i64,
            "SELECT COUNT(*) FROM blob_owners WHERE sha256 = $1 AND device_id = $2 AND user_id = $3",
            sha256,
            device_id,
            user,
        )?;
        Ok(n > 0)
    }

    /// The records whose reference to a blob is a link (see the module doc): entity and
    /// village of each. A record that merely names the blob is not among them.
    pub async fn blob_references(&self, sha256: &str) -> Result<Vec<BlobReference>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            BlobReference,
            "SELECT r.entity, r.scope FROM blob_refs b JOIN records r ON r.id = b.record_id
             WHERE b.sha256 = $1 AND b.linked",
            sha256,
        )?)
    }

    /// The photos a record names whose reference is a link: the ones its readers may see.
    pub async fn linked_photos(&self, record_id: Uuid) -> Result<Vec<String>> {
        Ok(fetch_scalar!(
            self.reader(),
            fetch_all,
            String,
            "SELECT sha256 FROM blob_refs WHERE record_id = $1 AND linked",
            record_id,
        )?)
    }

    /// Claims, for `claimant`, the oldest photo waiting for a worker: in the queue
    /// (`processing`, or `missing` to look for its bytes again), due (`retry_at` passed) and
    /// unclaimed or claimed before `stale_before_ms` (a lease that ran out). Two workers never
    /// hold the same photo: the claim re-checks all of it on the row it updates.
    pub async fn claim_blob(
        &self,
        claimant: &str,
        now_ms: i64,
        stale_before_ms: i64,
    ) -> Result<Option<BlobRow>> {
        // On PostgreSQL the workers of every replica skip each other's locked rows rather than
        // queueing behind one photo; the outer condition is checked again on the locked row.
        let sql = match self.writer() {
            Engine::Sqlite(_) => {
                "UPDATE blobs SET claimed_at = $1, claimed_by = $3, attempts = attempts + 1
                 WHERE sha256 = (SELECT sha256 FROM blobs WHERE state IN ('processing', 'missing')
                                    AND (claimed_at IS NULL OR claimed_at < $2)
                                    AND (retry_at IS NULL OR retry_at <= $1)
                                 ORDER BY uploaded_at LIMIT 1)
                   AND state IN ('processing', 'missing') AND (claimed_at IS NULL OR claimed_at < $2)
                   AND (retry_at IS NULL OR retry_at <= $1)
                 RETURNING sha256"
            }
            Engine::Postgres(_) => {
                "UPDATE blobs SET claimed_at = $1, claimed_by = $3, attempts = attempts + 1
                 WHERE sha256 = (SELECT sha256 FROM blobs WHERE state IN ('processing', 'missing')
                                    AND (claimed_at IS NULL OR claimed_at < $2)
                                    AND (retry_at IS NULL OR retry_at <= $1)
                                 ORDER BY uploaded_at LIMIT 1
                                 FOR UPDATE SKIP LOCKED)
                   AND state IN ('processing', 'missing') AND (claimed_at IS NULL OR claimed_at < $2)
                   AND (retry_at IS NULL OR retry_at <= $1)
                 RETURNING sha256"
            }
        };
        let sha: Option<String> = fetch_scalar!(
            self.writer(),
            fetch_optional,
            String,
            sql,
            now_ms,
            stale_before_ms,
            claimant,
        )?;
        match sha {
            Some(sha) => self.blob(&sha).await,
            None => Ok(None),
        }
    }

    /// Records a processed photo, if `claimant` still holds its claim (false: it does not).
    pub async fn blob_ready(
        &self,
        sha256: &str,
        claimant: &str,
        facts: &BlobFacts,
        now_ms: i64,
    ) -> Result<bool> {
        let (lat, lon, alt) = match facts.gps {
            Some((lat, lon, alt)) => (Some(lat), Some(lon), alt),
            None => (None, None, None),
        };
        let n = execute!(
            self.writer(),
            "UPDATE blobs SET state = 'ready', processed_at = $2, format = $3, width = $4,
                 height = $5, orientation = $6, stored_size = $7, thumb_size = $8, gps_lat = $9,
                 gps_lon = $10, gps_alt_m = $11, taken_at = $12, claimed_at = NULL,
                 claimed_by = NULL, retry_at = NULL, metadata = $14
             WHERE sha256 = $1 AND state IN ('processing', 'missing') AND claimed_by = $13",
            sha256,
            now_ms,
            &facts.format,
            facts.width,
            facts.height,
            facts.orientation,
            facts.stored_size,
            facts.thumb_size,
            lat,
            lon,
            alt,
            &facts.taken_at,
            claimant,
            &facts.metadata,
        )?;
        Ok(n == 1)
    }

    /// Records a photo the server does not take (for the photo's own fault), if `claimant`
    /// still holds its claim.
    pub async fn blob_rejected(
        &self,
        sha256: &str,
        claimant: &str,
        reason: &str,
        detail: &str,
        now_ms: i64,
    ) -> Result<bool> {
        let n = execute!(
            self.writer(),
            "UPDATE blobs SET state = 'rejected', processed_at = $2, reason = $3, detail = $4,
                 claimed_at = NULL, claimed_by = NULL, retry_at = NULL
             WHERE sha256 = $1 AND state IN ('processing', 'missing') AND claimed_by = $5",
            sha256,
            now_ms,
            reason,
            detail,
            claimant,
        )?;
        Ok(n == 1)
    }

    /// Releases `claimant`'s claim after a failure that was not the photo's (the blob store
    /// failed): the photo stays in the queue, to be taken again at `retry_at_ms`.
    pub async fn release_blob(&self, sha256: &str, claimant: &str, retry_at_ms: i64) -> Result<()> {
        execute!(
            self.writer(),
            "UPDATE blobs SET claimed_at = NULL, claimed_by = NULL, retry_at = $3
             WHERE sha256 = $1 AND state IN ('processing', 'missing') AND claimed_by = $2",
            sha256,
            claimant,
            retry_at_ms,
        )?;
        Ok(())
    }

    /// Releases `claimant`'s claim on a photo whose uploaded bytes are not in the blob store:
    /// it is `missing` (the phone is asked for it again), and looked for again at
    /// `retry_at_ms` in case the bytes come back.
    pub async fn blob_missing(&self, sha256: &str, claimant: &str, retry_at_ms: i64) -> Result<()> {
        execute!(
            self.writer(),
            "UPDATE blobs SET state = 'missing', claimed_at = NULL, claimed_by = NULL,
                 retry_at = $3
             WHERE sha256 = $1 AND state IN ('processing', 'missing') AND claimed_by = $2",
            sha256,
            claimant,
            retry_at_ms,
        )?;
        Ok(())
    }

    /// A `missing` photo's bytes were uploaded again: back in the queue, due at once, counting
    /// attempts afresh. Any claim on it ends, so that a worker that found the bytes absent a
    /// moment ago cannot mark it missing again.
    pub async fn requeue_blob(&self, sha256: &str) -> Result<()> {
        execute!(
            self.writer(),
            "UPDATE blobs SET state = 'processing', attempts = 0, retry_at = NULL,
                 claimed_at = NULL, claimed_by = NULL
             WHERE sha256 = $1 AND state = 'missing'",
            sha256,
        )?;
        Ok(())
    }

    /// Makes a photo waiting out a failed attempt due at once (its phone sent it again); true
    /// when it was waiting.
    pub async fn retry_blob_now(&self, sha256: &str) -> Result<bool> {
        let n = execute!(
            self.writer(),
            "UPDATE blobs SET retry_at = NULL
             WHERE sha256 = $1 AND state = 'processing' AND retry_at IS NOT NULL",
            sha256,
        )?;
        Ok(n == 1)
    }

    /// Keeps `claimant`'s claim alive while its photo is being processed; false when the claim
    /// has passed to another worker (or the photo is done).
    pub async fn renew_blob_claim(
        &self,
        sha256: &str,
        claimant: &str,
        now_ms: i64,
    ) -> Result<bool> {
        let n = execute!(
            self.writer(),
            "UPDATE blobs SET claimed_at = $2
             WHERE sha256 = $1 AND state IN ('processing', 'missing') AND claimed_by = $3",
            sha256,
            now_ms,
            claimant,
        )?;
        Ok(n == 1)
    }

    pub async fn upload(&self, sha256: &str, device_id: Uuid) -> Result<Option<UploadRow>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_optional,
            UploadRow,
            "SELECT total, received FROM blob_uploads WHERE sha256 = $1 AND device_id = $2",
            sha256,
            device_id,
        )?)
    }

    /// Records that the device's upload now has `received` bytes of `total`.
    pub async fn set_upload(
        &self,
        sha256: &str,
        device_id: Uuid,
        total: i64,
        received: i64,
        now_ms: i64,
    ) -> Result<()> {
        execute!(
            self.writer(),
            "INSERT INTO blob_uploads (sha256, device_id, total, received, started_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (sha256, device_id) DO UPDATE
                 SET total = excluded.total, received = excluded.received,
                     updated_at = excluded.updated_at",
            sha256,
            device_id,
            total,
            received,
            now_ms,
        )?;
        Ok(())
    }

    pub async fn end_upload(&self, sha256: &str, device_id: Uuid) -> Result<()> {
        execute!(
            self.writer(),
            "DELETE FROM blob_uploads WHERE sha256 = $1 AND device_id = $2",
            sha256,
            device_id,
        )?;
        Ok(())
    }

    pub async fn stale_uploads(&self, before_ms: i64) -> Result<Vec<StaleUpload>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            StaleUpload,
            "SELECT sha256, device_id FROM blob_uploads WHERE updated_at < $1",
            before_ms,
        )?)
    }

    /// Bytes the device has sent on a day (`YYYY-MM-DD`, UTC+8).
    pub async fn uploaded_on(&self, device_id: Uuid, day: &str) -> Result<i64> {
        let n: Option<i64> = fetch_scalar!(
            self.reader(),
            fetch_optional,
            i64,
            "SELECT bytes FROM upload_quota WHERE device_id = $1 AND day = $2",
            device_id,
            day,
        )?;
        Ok(n.unwrap_or(0))
    }

    pub async fn count_upload(&self, device_id: Uuid, day: &str, bytes: i64) -> Result<()> {
        execute!(
            self.writer(),
            "INSERT INTO upload_quota (device_id, day, bytes) VALUES ($1, $2, $3)
             ON CONFLICT (device_id, day) DO UPDATE SET bytes = upload_quota.bytes + excluded.bytes",
            device_id,
            day,
            bytes,
        )?;
        Ok(())
    }

    /// Blobs uploaded before `before_ms` that no record names: what collection may remove.
    pub async fn unreferenced_blobs(&self, before_ms: i64, limit: i64) -> Result<Vec<String>> {
        Ok(fetch_scalar!(
            self.reader(),
            fetch_all,
            String,
            "SELECT b.sha256 FROM blobs b
             WHERE b.touched_at < $1 AND b.state <> 'processing'
               AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.sha256 = b.sha256)
             ORDER BY b.touched_at LIMIT $2",
            before_ms,
            limit,
        )?)
    }

    /// Forgets a blob if it is still unreferenced and untouched; true when it was forgotten
    /// (the caller then deletes its bytes). A push that names the blob touches its row in the
    /// same transaction as the reference: on PostgreSQL the delete then waits for that row and
    /// re-checks `touched_at`, so a record that commits first keeps its photo.
    pub async fn forget_blob(&self, sha256: &str, before_ms: i64) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = execute!(
            tx.conn(),
            "DELETE FROM blobs WHERE sha256 = $1 AND touched_at < $2 AND state <> 'processing'
               AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.sha256 = $1)",
            sha256,
            before_ms,
        )?;
        if n > 0 {
            execute!(
                tx.conn(),
                "DELETE FROM blob_owners WHERE sha256 = $1",
                sha256
            )?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }
}

impl Tx {
    /// Starts a blob's grace period again (it was uploaded again, or a record names it). On
    /// PostgreSQL the row stays locked until commit, so a collection of it waits and then finds
    /// it young (see `Store::forget_blob`).
    pub(super) async fn touch_blob(&mut self, sha256: &str, now_ms: i64) -> Result<()> {
        execute!(
            self.conn(),
            "UPDATE blobs SET touched_at = $2 WHERE sha256 = $1 AND touched_at < $2",
            sha256,
            now_ms
        )?;
        Ok(())
    }
}
