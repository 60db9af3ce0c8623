//! ODK Collect's keys and the submissions it has sent: see migration 0017. A key is an
//! ordinary session on a device of kind `collect` made for it, so whatever ends a phone's
//! session (revoke-device, disable-user) ends the key too; a link is never handed over.

use uuid::Uuid;

use super::{Result, Store, StoreError, Tx, execute, fetch_as, fetch_scalar};

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

    /// Notes a submission and the attachments that came with it in a transaction of its own:
    /// a part of a split upload (`pushed_at` none), or an instance that changed nothing.
    pub async fn note_submission(
        &self,
        note: &SubmissionNote,
        pushed_at: Option<i64>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.note_submission(note, pushed_at).await?;
        tx.commit().await
    }
}

/// A submission as it arrived, to be noted: with the push of its records (in the same
/// transaction, so that a submission is marked pushed if and only if its records were
/// committed), or alone while its upload is incomplete.
#[derive(Clone, Debug)]
pub struct SubmissionNote {
    pub mutation_id: Uuid,
    pub form_id: String,
    pub xml_sha256: Vec<u8>,
    pub user_id: Uuid,
    pub device_id: Uuid,
    pub received_at: i64,
    /// The files named by the instance that came with this POST: (file name, photo hash).
    pub attachments: Vec<(String, String)>,
}

impl Tx {
    /// Notes a submission's arrival (and, with `pushed_at`, that it became records). Until it
    /// has been pushed, a later arrival from the same user replaces the bytes' hash (a
    /// submission refused by the push may come again mended); after, nothing changes.
    pub async fn note_submission(
        &mut self,
        note: &SubmissionNote,
        pushed_at: Option<i64>,
    ) -> Result<()> {
        execute!(
            self.conn(),
            "INSERT INTO openrosa_submissions
                 (mutation_id, form_id, xml_sha256, user_id, device_id, received_at, pushed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (mutation_id) DO UPDATE
                 SET xml_sha256 = excluded.xml_sha256, pushed_at = excluded.pushed_at
             WHERE openrosa_submissions.pushed_at IS NULL
               AND openrosa_submissions.user_id = excluded.user_id",
            note.mutation_id,
            &note.form_id,
            &note.xml_sha256,
            note.user_id,
            note.device_id,
            note.received_at,
            pushed_at,
        )
        .map_err(StoreError::from_db)?;
        for (filename, hash) in &note.attachments {
            execute!(
                self.conn(),
                "INSERT INTO openrosa_attachments (mutation_id, filename, hash) VALUES ($1, $2, $3)
                 ON CONFLICT (mutation_id, filename) DO NOTHING",
                note.mutation_id,
                filename,
                hash,
            )
            .map_err(StoreError::from_db)?;
        }
        Ok(())
    }
}
