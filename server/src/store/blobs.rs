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
                 taken_at, reason, detail
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
        tx.lock_blob_links(sha256).await?;
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
        tx.lock_blob_links(sha256).await?;
        tx.own_blob(sha256, device_id, now_ms).await?;
        tx.touch_blob(sha256, now_ms).await?;
        tx.commit().await
    }

    pub async fn is_blob_owner(&self, sha256: &str, device_id: Uuid) -> Result<bool> {
        let n: i64 = fetch_scalar!(
            self.reader(),
            fetch_one,
            i64,
            "SELECT COUNT(*) FROM blob_owners WHERE sha256 = $1 AND device_id = $2",
            sha256,
            device_id,
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

    /// Claims the oldest blob waiting for processing whose lease (if any) is older than
    /// `stale_before_ms`. Two workers never hold the same blob: the claim re-checks the lease
    /// on the row it updates.
    /// Claims the oldest waiting photo whose claim is free or stale, for `claimant`.
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
                 WHERE sha256 = (SELECT sha256 FROM blobs WHERE state = 'processing'
                                    AND (claimed_at IS NULL OR claimed_at < $2)
                                 ORDER BY uploaded_at LIMIT 1)
                   AND state = 'processing' AND (claimed_at IS NULL OR claimed_at < $2)
                 RETURNING sha256"
            }
            Engine::Postgres(_) => {
                "UPDATE blobs SET claimed_at = $1, claimed_by = $3, attempts = attempts + 1
                 WHERE sha256 = (SELECT sha256 FROM blobs WHERE state = 'processing'
                                    AND (claimed_at IS NULL OR claimed_at < $2)
                                 ORDER BY uploaded_at LIMIT 1
                                 FOR UPDATE SKIP LOCKED)
                   AND state = 'processing' AND (claimed_at IS NULL OR claimed_at < $2)
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
                 claimed_by = NULL
             WHERE sha256 = $1 AND state = 'processing' AND claimed_by = $13",
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
        )?;
        Ok(n == 1)
    }

    /// Records a photo the server does not take, if `claimant` still holds its claim.
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
                 claimed_at = NULL, claimed_by = NULL
             WHERE sha256 = $1 AND state = 'processing' AND claimed_by = $5",
            sha256,
            now_ms,
            reason,
            detail,
            claimant,
        )?;
        Ok(n == 1)
    }

    /// Releases `claimant`'s claim after a failure worth retrying (the blob store was
    /// unreachable).
    pub async fn release_blob(&self, sha256: &str, claimant: &str) -> Result<()> {
        execute!(
            self.writer(),
            "UPDATE blobs SET claimed_at = NULL, claimed_by = NULL
             WHERE sha256 = $1 AND state = 'processing' AND claimed_by = $2",
            sha256,
            claimant,
        )?;
        Ok(())
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
             WHERE sha256 = $1 AND state = 'processing' AND claimed_by = $3",
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
