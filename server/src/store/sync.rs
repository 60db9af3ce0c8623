//! The sync tables as pushes and pulls read them: device rows, the mutation log, records
//! (locked for a push, paged for a pull), scope sets. Writing a batch is `batch.rs`.
use fieldsync_protocol::push::ClientInfo;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;

use super::batch::to_i64;
use super::rows::PulledRecord;
use super::{Engine, Result, Store, StoreError, StoredRecord, Tx, execute, fetch_as, fetch_scalar};

pub(super) const RECORD_COLUMNS: &str = "id, entity, scope, version, deleted, fields, meta";

/// `SELECT … WHERE id IN (…)` for SQLite, which has no array parameters.
pub(super) fn sqlite_in_ids(head: &str, ids: &[Uuid], tail: &str) -> QueryBuilder<Sqlite> {
    let mut qb = QueryBuilder::<Sqlite>::new("");
    push_in_ids(&mut qb, head, ids.iter().copied());
    qb.push(tail);
    qb
}

/// Appends `head IN (…ids) ` to a statement being built (one of several in a call).
pub(super) fn push_in_ids(
    qb: &mut QueryBuilder<Sqlite>,
    head: &str,
    ids: impl IntoIterator<Item = Uuid>,
) {
    qb.push(head);
    qb.push(" IN (");
    let mut list = qb.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
    qb.push(") ");
}

/// A push's contact with its device: the user pushing, when, and the health the phone reported.
pub struct Touch<'a> {
    pub device_id: Uuid,
    pub user_id: Uuid,
    pub at_ms: i64,
    pub client: &'a ClientInfo,
}

/// Records a device's contact and the health it reported (what it did not report is kept).
const TOUCH_DEVICE: &str = "UPDATE devices SET last_seen_at = $2,
         app_version = COALESCE($3, app_version),
         outbox_depth = COALESCE($4, outbox_depth),
         oldest_unsent_s = COALESCE($5, oldest_unsent_s)
     WHERE id = $1 RETURNING user_id, revoked_at";

impl Store {
    /// A contact that writes nothing else (a pull): when, and the health the phone reported.
    pub async fn device_seen(
        &self,
        device_id: Uuid,
        now_ms: i64,
        client: &ClientInfo,
    ) -> Result<()> {
        let _: Option<(Uuid, Option<i64>)> = fetch_as!(
            self.writer(),
            fetch_optional,
            (Uuid, Option<i64>),
            TOUCH_DEVICE,
            device_id,
            now_ms,
            client.app_version.as_deref(),
            client.outbox_depth.map(to_i64),
            client.oldest_unsent_s.map(to_i64),
        )?;
        Ok(())
    }
}

impl Tx {
    /// Loads records by id and, on PostgreSQL, locks them (in id order, so two batches touching
    /// the same records cannot deadlock) until the transaction ends.
    pub async fn lock_records(&mut self, ids: &[Uuid]) -> Result<Vec<StoredRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut rows: Vec<StoredRecord> = match self.conn() {
            Engine::Sqlite(c) => {
                sqlite_in_ids(
                    &format!("SELECT {RECORD_COLUMNS} FROM records WHERE id"),
                    ids,
                    "",
                )
                .build_query_as()
                .fetch_all(c)
                .await
            }
            Engine::Postgres(c) => {
                sqlx::query_as(
                    "SELECT id, entity, scope, version, deleted, fields, meta FROM records
                     WHERE id = ANY($1) ORDER BY id FOR UPDATE",
                )
                .bind(ids)
                .fetch_all(c)
                .await
            }
        }
        .map_err(StoreError::from_db)?;
        for r in &mut rows {
            super::sealing::open_fields(self.key(), &r.entity, &mut r.fields.0)?;
        }
        Ok(rows)
    }
}

/// Row counts of the sync tables (for `/metrics`, admin and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    pub head_seq: i64,
    pub records: i64,
    pub mutations: i64,
    pub conflicts: i64,
    pub open_conflicts: i64,
    /// Uploaded photos not yet processed: the depth of the processing queue.
    pub photos_waiting: i64,
}

impl Store {
    pub async fn sync_stats(&self) -> Result<SyncStats> {
        let (head_seq, records, mutations, conflicts, open_conflicts, photos_waiting) = fetch_as!(
            self.reader(),
            fetch_one,
            (i64, i64, i64, i64, i64, i64),
            "SELECT (SELECT seq FROM sync_head WHERE id = 1),
                    (SELECT COUNT(*) FROM records),
                    (SELECT COUNT(*) FROM mutations),
                    (SELECT COUNT(*) FROM conflicts),
                    (SELECT COUNT(*) FROM conflicts WHERE resolved_at IS NULL),
                    (SELECT COUNT(*) FROM blobs WHERE state = 'processing')",
        )?;
        Ok(SyncStats {
            head_seq,
            records,
            mutations,
            conflicts,
            open_conflicts,
            photos_waiting,
        })
    }

    /// Changes after `seq` in `villages`: how far behind a phone whose cursor stands at `seq`
    /// is (other villages' changes are not its concern).
    pub async fn changes_after(&self, villages: &[String], seq: i64) -> Result<i64> {
        Ok(match self.reader() {
            Engine::Sqlite(p) => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM records
                     WHERE scope IN (SELECT value FROM json_each($1)) AND seq > $2",
                )
                .bind(serde_json::to_string(villages).unwrap_or_default())
                .bind(seq)
                .fetch_one(p)
                .await?
            }
            Engine::Postgres(p) => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM records WHERE scope = ANY($1) AND seq > $2",
                )
                .bind(villages)
                .bind(seq)
                .fetch_one(p)
                .await?
            }
        })
    }

    /// The highest sequence number committed so far, less the commits not yet synced: the
    /// bound is read after the row, so a commit that the read saw was held back by then
    /// (`wal_sync`).
    pub async fn head_seq(&self) -> Result<i64> {
        let head: i64 = fetch_scalar!(
            self.reader(),
            fetch_one,
            i64,
            "SELECT seq FROM sync_head WHERE id = 1"
        )?;
        Ok(head.min(self.visible_upto()))
    }

    /// One village's records with `after < seq <= upto`, in sequence order.
    pub async fn village_records(
        &self,
        village: &str,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<PulledRecord>> {
        let rows = fetch_as!(
            self.reader(),
            fetch_all,
            PulledRecord,
            "SELECT id, entity, scope, version, seq, deleted, fields, gps_verdict FROM records
             WHERE scope = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
            village,
            after,
            upto,
            limit,
        )?;
        self.opened(rows)
    }

    /// One village's live records of one entity, by id: what a list of them (ODK Collect's
    /// entity lists) shows.
    pub async fn village_entity_records(
        &self,
        village: &str,
        entity: &str,
    ) -> Result<Vec<PulledRecord>> {
        let rows = fetch_as!(
            self.reader(),
            fetch_all,
            PulledRecord,
            "SELECT id, entity, scope, version, seq, deleted, fields, gps_verdict FROM records
             WHERE scope = $1 AND entity = $2 AND NOT deleted ORDER BY id",
            village,
            entity,
        )?;
        self.opened(rows)
    }

    /// The server's judgement of a record's GPS fix, if it has one.
    pub async fn gps_verdict(&self, id: Uuid) -> Result<Option<Value>> {
        let v: Option<Option<Json<Value>>> = fetch_scalar!(
            self.reader(),
            fetch_optional,
            Option<Json<Value>>,
            "SELECT gps_verdict FROM records WHERE id = $1",
            id,
        )?;
        Ok(v.flatten().map(|j| j.0))
    }

    fn opened(&self, mut rows: Vec<PulledRecord>) -> Result<Vec<PulledRecord>> {
        for r in &mut rows {
            super::sealing::open_fields(self.key(), &r.entity, &mut r.fields.0)?;
        }
        Ok(rows)
    }

    /// Records of any of `villages` with `seq > after`, in sequence order.
    pub async fn records_after(
        &self,
        villages: &[String],
        after: i64,
        limit: i64,
    ) -> Result<Vec<PulledRecord>> {
        if villages.is_empty() {
            return Ok(Vec::new());
        }
        let mut rows: Vec<PulledRecord> = match self.reader() {
            Engine::Sqlite(p) => {
                let list = serde_json::to_string(villages)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query_as(
                    "SELECT id, entity, scope, version, seq, deleted, fields, gps_verdict FROM records
                     WHERE scope IN (SELECT value FROM json_each($1)) AND seq > $2
                     ORDER BY seq LIMIT $3",
                )
                .bind(list)
                .bind(after)
                .bind(limit)
                .fetch_all(p)
                .await?
            }
            Engine::Postgres(p) => sqlx::query_as(
                "SELECT id, entity, scope, version, seq, deleted, fields, gps_verdict FROM records
                     WHERE scope = ANY($1) AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .bind(villages)
            .bind(after)
            .bind(limit)
            .fetch_all(p)
            .await?,
        };
        // Records at or past the lowest place a commit not yet synced had or took are left for
        // a later pull: they come last in sequence order, so what is kept has no gap (see
        // `head_seq` for the order of reads).
        let upto = self.visible_upto();
        rows.retain(|r| r.seq <= upto);
        self.opened(rows)
    }

    /// Remembers a set of villages under its hash (idempotent).
    pub async fn save_scope_set(&self, hash: &str, villages: &[String], now_ms: i64) -> Result<()> {
        execute!(
            self.writer(),
            "INSERT INTO scope_sets (hash, villages, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (hash) DO NOTHING",
            hash,
            Json(villages),
            now_ms,
        )?;
        Ok(())
    }

    pub async fn scope_set(&self, hash: &str) -> Result<Option<Vec<String>>> {
        let found: Option<Json<Vec<String>>> = fetch_scalar!(
            self.reader(),
            fetch_optional,
            Json<Vec<String>>,
            "SELECT villages FROM scope_sets WHERE hash = $1",
            hash,
        )?;
        Ok(found.map(|j| j.0))
    }

    /// A record's current state, for tests and tools.
    pub async fn record(&self, id: Uuid) -> Result<Option<StoredRecord>> {
        let row: Option<StoredRecord> = fetch_as!(
            self.reader(),
            fetch_optional,
            StoredRecord,
            "SELECT id, entity, scope, version, deleted, fields, meta FROM records WHERE id = $1",
            id,
        )?;
        row.map(|mut r| {
            super::sealing::open_fields(self.key(), &r.entity, &mut r.fields.0)?;
            Ok(r)
        })
        .transpose()
    }
}
