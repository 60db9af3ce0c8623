//! ODK Collect's keys and the submissions it has sent: see migration 0017. A key is an
//! ordinary session on a device of kind `collect` made for it, so whatever ends a phone's
//! session (revoke-device, disable-user) ends the key too; a link is never handed over.

use uuid::Uuid;

use super::{Result, Store, StoreError, execute, fetch_as, fetch_scalar};

/// A Collect key as issued.
#[derive(Clone, Copy, Debug)]
pub struct CollectKey {
    pub device_id: Uuid,
    pub session_id: Uuid,
}

/// A submission already seen under a mutation id.
#[derive(Debug, sqlx::FromRow)]
pub struct SeenSubmission {
    pub xml_sha256: Vec<u8>,
    pub user_id: Uuid,
    pub pushed_at: Option<i64>,
}

impl Store {
    /// Issues a Collect key for a user: a device of kind `collect`, a session on it, and the
    /// key's hash, in one transaction.
    pub async fn open_collect_key(
        &self,
        user_id: Uuid,
        token_hash: &[u8],
        now_ms: i64,
    ) -> Result<CollectKey> {
        let mut tx = self.begin().await?;
        let (device_id, session_id) =
            super::sessions::open_own_device(&mut tx, user_id, "collect", now_ms).await?;
        let key = CollectKey {
            device_id,
            session_id,
        };
        execute!(
            tx.conn(),
            "INSERT INTO collect_keys (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
            token_hash,
            key.session_id,
            now_ms,
        )
        .map_err(StoreError::from_db)?;
        tx.commit().await?;
        Ok(key)
    }

    /// The session a key's hash names; whether it is still alive is checked like a phone's
    /// (`session_auth`).
    pub async fn collect_key_session(&self, token_hash: &[u8]) -> Result<Option<Uuid>> {
        Ok(fetch_scalar!(
            self.reader(),
            fetch_optional,
            Uuid,
            "SELECT session_id FROM collect_keys WHERE token_hash = $1",
            token_hash,
        )?)
    }

    /// Notes a submission's arrival. Until it has been pushed, a later arrival from the same
    /// user replaces the bytes' hash (a submission refused by the push may come again
    /// mended); after, nothing changes. Returns what is stored under the id.
    pub async fn note_submission(
        &self,
        mutation_id: Uuid,
        form_id: &str,
        xml_sha256: &[u8],
        user_id: Uuid,
        device_id: Uuid,
        now_ms: i64,
    ) -> Result<SeenSubmission> {
        execute!(
            self.writer(),
            "INSERT INTO openrosa_submissions
                 (mutation_id, form_id, xml_sha256, user_id, device_id, received_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (mutation_id) DO UPDATE SET xml_sha256 = excluded.xml_sha256
             WHERE openrosa_submissions.pushed_at IS NULL
               AND openrosa_submissions.user_id = excluded.user_id",
            mutation_id,
            form_id,
            xml_sha256,
            user_id,
            device_id,
            now_ms,
        )
        .map_err(StoreError::from_db)?;
        // Committed above: a reader sees it, and the write pool (on SQLite the one connection
        // the push committer needs) stays free.
        let seen = fetch_as!(
            self.reader(),
            fetch_optional,
            SeenSubmission,
            "SELECT xml_sha256, user_id, pushed_at FROM openrosa_submissions WHERE mutation_id = $1",
            mutation_id,
        )?;
        seen.ok_or_else(|| StoreError::Corrupt("a submission noted but not found".into()))
    }

    /// A submission seen under a mutation id, if any.
    pub async fn submission(&self, mutation_id: Uuid) -> Result<Option<SeenSubmission>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_optional,
            SeenSubmission,
            "SELECT xml_sha256, user_id, pushed_at FROM openrosa_submissions WHERE mutation_id = $1",
            mutation_id,
        )?)
    }

    /// Notes that an attachment of a submission has arrived (again: nothing changes).
    pub async fn note_attachment(
        &self,
        mutation_id: Uuid,
        filename: &str,
        hash: &str,
    ) -> Result<()> {
        execute!(
            self.writer(),
            "INSERT INTO openrosa_attachments (mutation_id, filename, hash) VALUES ($1, $2, $3)
             ON CONFLICT (mutation_id, filename) DO NOTHING",
            mutation_id,
            filename,
            hash,
        )
        .map_err(StoreError::from_db)?;
        Ok(())
    }

    /// The attachments of a submission that have arrived: (file name, photo hash). Read
    /// through the read pool: each was committed when it was noted.
    pub async fn attachments(&self, mutation_id: Uuid) -> Result<Vec<(String, String)>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            (String, String),
            "SELECT filename, hash FROM openrosa_attachments WHERE mutation_id = $1 ORDER BY filename",
            mutation_id,
        )?)
    }

    /// Notes that a submission became records.
    pub async fn submission_pushed(&self, mutation_id: Uuid, now_ms: i64) -> Result<()> {
        execute!(
            self.writer(),
            "UPDATE openrosa_submissions SET pushed_at = $2 WHERE mutation_id = $1 AND pushed_at IS NULL",
            mutation_id,
            now_ms,
        )
        .map_err(StoreError::from_db)?;
        Ok(())
    }
}
