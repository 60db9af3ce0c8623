//! Which records open a photo to their readers. Naming a hash in a record is not enough (it
//! would let anyone who may write a record read any photo whose hash they learn): a reference
//! is a *link* only when the photo was uploaded by a device of someone who may write that
//! record, the writer's own phone in the common case. Records and uploads arrive in either
//! order (a phone offline records first and uploads later), so the question is asked by
//! whichever comes second: a push asks it of the blob's owners ([`Tx::links_to`]), an upload
//! of the records already naming the blob ([`Tx::own_blob`]). The answer is stored
//! (`blob_refs.linked`), so reading stays one query, and kept: a cadre moved to another
//! village later does not take their old records' photos away from that village. References
//! made before the rule (`linked` NULL) are decided once, at start
//! ([`Store::decide_earlier_links`]).

use fieldsync_protocol::Role;
use uuid::Uuid;

use super::{Engine, Result, Store, StoreError, Tx, execute, fetch_as, fetch_scalar};
use crate::access::{self, Action};
use crate::clock;

/// A reference not linked yet, and whether the user now uploading the blob wrote its record.
#[derive(sqlx::FromRow)]
struct OpenReference {
    record_id: Uuid,
    entity: String,
    scope: String,
    written: bool,
}

/// A reference made before the rule, not decided yet.
#[derive(sqlx::FromRow)]
struct EarlierReference {
    sha256: String,
    record_id: Uuid,
    entity: String,
    scope: String,
}

/// Any number for the first key of PostgreSQL's two-key advisory locks, so these locks cannot
/// meet another use of advisory locks.
const LINK_LOCK: i32 = 0x1216;

/// The advisory lock of a blob's links: one of 256, by the first byte of the hash, so that a
/// push naming thousands of photos takes at most 256 locks (PostgreSQL's lock table is
/// shared and small). Two photos in one bucket merely wait for each other.
fn lock_bucket(sha256: &str) -> i32 {
    sha256
        .get(..2)
        .and_then(|b| i32::from_str_radix(b, 16).ok())
        .unwrap_or(0)
}

impl Tx {
    /// Serialises the decisions about these blobs' links until commit: a push naming a blob
    /// and an upload of it, each of which looks for the other, must not both miss the other
    /// because neither had committed. Locks are taken in one order, so two transactions
    /// cannot wait for each other. SQLite runs one writer at a time anyway.
    pub(super) async fn lock_blob_links<'a>(
        &mut self,
        sha256s: impl IntoIterator<Item = &'a str>,
    ) -> Result<()> {
        let Engine::Postgres(c) = self.conn() else {
            return Ok(());
        };
        let mut buckets: Vec<i32> = sha256s.into_iter().map(lock_bucket).collect();
        buckets.sort_unstable();
        buckets.dedup();
        for bucket in buckets {
            sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
                .bind(LINK_LOCK)
                .bind(bucket)
                .execute(&mut *c)
                .await
                .map_err(StoreError::from_db)?;
        }
        Ok(())
    }

    /// Whether a record of `entity` in `scope` written by `writers` and naming the blob links
    /// to it: the blob was uploaded by a device of one of the writers, or of someone else who
    /// may write that record on `today`. Call under [`Tx::lock_blob_links`].
    pub(super) async fn links_to(
        &mut self,
        sha256: &str,
        writers: &[Uuid],
        entity: &str,
        scope: &str,
        today: &str,
    ) -> Result<bool> {
        let owners: Vec<Uuid> = fetch_scalar!(
            self.conn(),
            fetch_all,
            Uuid,
            "SELECT DISTINCT user_id FROM blob_owners WHERE sha256 = $1 AND user_id IS NOT NULL",
            sha256,
        )?;
        if owners.iter().any(|o| writers.contains(o)) {
            return Ok(true);
        }
        if owners.is_empty() {
            return Ok(false);
        }
        self.may_write(&owners, entity, scope, today).await
    }

    /// Makes the device an owner of the blob (it sent every byte, hashed) and links the
    /// references its user could have made: records the user wrote, or may write today.
    /// Call under [`Tx::lock_blob_links`].
    pub(super) async fn own_blob(
        &mut self,
        sha256: &str,
        device_id: Uuid,
        now_ms: i64,
    ) -> Result<()> {
        let user: Option<Uuid> = fetch_scalar!(
            self.conn(),
            fetch_optional,
            Uuid,
            "SELECT user_id FROM devices WHERE id = $1",
            device_id,
        )?;
        let Some(user) = user else {
            return Ok(());
        };
        // The device's user now: after a handover, the new holder's proof makes the photo
        // theirs, and the previous user's ownership through this device ends.
        execute!(
            self.conn(),
            "INSERT INTO blob_owners (sha256, device_id, user_id) VALUES ($1, $2, $3)
             ON CONFLICT (sha256, device_id) DO UPDATE SET user_id = excluded.user_id",
            sha256,
            device_id,
            user,
        )?;
        let open: Vec<OpenReference> = fetch_as!(
            self.conn(),
            fetch_all,
            OpenReference,
            "SELECT b.record_id, r.entity, r.scope,
                 EXISTS (SELECT 1 FROM mutations m
                         WHERE m.record_id = b.record_id AND m.user_id = $2) AS written
             FROM blob_refs b JOIN records r ON r.id = b.record_id
             WHERE b.sha256 = $1 AND NOT COALESCE(b.linked, FALSE)",
            sha256,
            user,
        )?;
        let today = clock::iso(clock::date_of_ms(now_ms));
        for r in open {
            if r.written || self.may_write(&[user], &r.entity, &r.scope, &today).await? {
                execute!(
                    self.conn(),
                    "UPDATE blob_refs SET linked = TRUE WHERE sha256 = $1 AND record_id = $2",
                    sha256,
                    r.record_id,
                )?;
            }
        }
        Ok(())
    }

    /// Whether one of `users` may write a record of `entity` in `scope` on `today`: assigned
    /// to the village (or a division above it) and of a role that creates or edits the entity.
    async fn may_write(
        &mut self,
        users: &[Uuid],
        entity: &str,
        scope: &str,
        today: &str,
    ) -> Result<bool> {
        let writes = |role: &str| {
            role.parse::<Role>().is_ok_and(|role| {
                access::allowed(role, entity, Action::Create)
                    || access::allowed(role, entity, Action::Update)
            })
        };
        Ok(self
            .candidates(scope, today)
            .await?
            .iter()
            .any(|c| users.contains(&c.user_id) && writes(&c.role)))
    }
}

impl Store {
    /// Decides, once, the references made before the link rule (migration 0012 left them
    /// NULL): linked where the photo was uploaded by a device of someone who wrote the record
    /// (the mutation log) or may write it today, as if the record had been pushed now. One
    /// transaction per photo, under its lock. Returns how many were decided.
    pub async fn decide_earlier_links(&self) -> Result<u64> {
        let earlier: Vec<EarlierReference> = fetch_as!(
            self.writer(),
            fetch_all,
            EarlierReference,
            "SELECT b.sha256, b.record_id, r.entity, r.scope
             FROM blob_refs b JOIN records r ON r.id = b.record_id
             WHERE b.linked IS NULL ORDER BY b.sha256",
        )?;
        let today = clock::iso(clock::today());
        let mut decided = 0;
        for refs in earlier.chunk_by(|a, b| a.sha256 == b.sha256) {
            let mut tx = self.begin().await?;
            let sha256 = refs[0].sha256.as_str();
            tx.lock_blob_links([sha256]).await?;
            for r in refs {
                let writers: Vec<Uuid> = fetch_scalar!(
                    tx.conn(),
                    fetch_all,
                    Uuid,
                    "SELECT DISTINCT user_id FROM mutations WHERE record_id = $1",
                    r.record_id,
                )?;
                let linked = tx
                    .links_to(sha256, &writers, &r.entity, &r.scope, &today)
                    .await?;
                decided += execute!(
                    tx.conn(),
                    "UPDATE blob_refs SET linked = $3
                     WHERE sha256 = $1 AND record_id = $2 AND linked IS NULL",
                    sha256,
                    r.record_id,
                    linked,
                )?;
            }
            tx.commit().await?;
        }
        // A reference whose record is gone opens nothing.
        execute!(
            self.writer(),
            "UPDATE blob_refs SET linked = FALSE WHERE linked IS NULL",
        )?;
        Ok(decided)
    }
}
