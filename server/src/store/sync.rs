//! The sync tables: records, the mutation log, conflicts, the sequence, scope sets.
//!
//! Ordering guarantee for pulls: every write transaction takes its sequence numbers from the
//! single `sync_head` row as its *last* statement before commit. On PostgreSQL the row lock
//! makes the next writer wait until this one has committed, so a higher sequence number is
//! never visible before a lower one; on SQLite writers are serialised anyway. A pull that has
//! seen sequence `n` has therefore seen every change numbered `n` or less.
//!
//! The lock serialises commits, so what runs under it is kept to one statement: on PostgreSQL
//! the mutation log and conflicts are written first, then a single statement takes the numbers
//! and writes every record row, and the transaction commits.

use fieldsync_protocol::Hlc;
use fieldsync_protocol::gps::GpsFix;
use fieldsync_protocol::merge::RecordState;
use fieldsync_protocol::push::{ClientInfo, ConflictKind, Op, Status};
use serde_json::{Map, Value};
use sqlx::types::Json;
use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;

use super::rows::PulledRecord;
use super::{
    Engine, LoggedMutation, Result, Store, StoreError, StoredRecord, Tx, execute, fetch_as,
    fetch_scalar,
};

/// The final state of one record written by a batch.
#[derive(Clone, Debug)]
pub struct RecordWrite {
    pub id: Uuid,
    pub entity: &'static str,
    pub scope: String,
    pub state: RecordState,
    pub gps: Option<GpsFix>,
    /// New in this batch (inserted rather than updated).
    pub created: bool,
    pub user_id: Uuid,
}

#[derive(Clone, Debug)]
pub struct MutationWrite {
    pub mutation_id: Uuid,
    pub record_id: Uuid,
    pub entity: &'static str,
    pub op: Op,
    pub status: Status,
    pub version: u64,
    pub fields: Map<String, Value>,
    pub hlc: Hlc,
    pub gps: Option<GpsFix>,
    /// The household the record belongs to, and its village: the mutation log is the audit
    /// trail of writes, queried by household.
    pub household_id: Option<Uuid>,
    pub scope: String,
}

#[derive(Clone, Debug)]
pub struct ConflictWrite {
    pub id: Uuid,
    pub record_id: Uuid,
    pub entity: &'static str,
    pub scope: String,
    pub field: String,
    pub kind: ConflictKind,
    pub yours: Value,
    pub theirs: Value,
    pub kept: Value,
    pub mutation_id: Uuid,
    pub theirs_hlc: Option<Hlc>,
}

/// Everything one push (or one conflict resolution) writes, in one transaction.
#[derive(Clone, Debug)]
pub struct WriteBatch {
    pub device_id: Uuid,
    pub user_id: Uuid,
    pub now_ms: i64,
    pub records: Vec<RecordWrite>,
    pub mutations: Vec<MutationWrite>,
    pub conflicts: Vec<ConflictWrite>,
    /// Who changed what, for the audit log.
    pub audit: Vec<super::AuditEntry>,
}

const RECORD_COLUMNS: &str = "id, entity, scope, version, deleted, fields, meta";

fn kind_str(kind: ConflictKind) -> &'static str {
    match kind {
        ConflictKind::Field => "field",
        ConflictKind::Delete => "delete",
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `SELECT … WHERE id IN (…)` for SQLite, which has no array parameters.
fn sqlite_in_ids(head: &str, ids: &[Uuid], tail: &str) -> QueryBuilder<Sqlite> {
    let mut qb = QueryBuilder::<Sqlite>::new(head);
    qb.push(" IN (");
    let mut list = qb.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    qb.push(") ");
    qb.push(tail);
    qb
}

impl Tx {
    /// Records that the device is syncing and locks its row, so that two pushes of the same
    /// device (a retry overtaking a slow original) run one after the other. Returns the
    /// device's user and revocation time, or `None` for an unknown device.
    pub async fn touch_device(
        &mut self,
        device_id: Uuid,
        now_ms: i64,
        client: &ClientInfo,
    ) -> Result<Option<(Uuid, Option<i64>)>> {
        fetch_as!(
            self.conn(),
            fetch_optional,
            (Uuid, Option<i64>),
            "UPDATE devices SET last_seen_at = $2,
                 app_version = COALESCE($3, app_version),
                 outbox_depth = COALESCE($4, outbox_depth),
                 oldest_unsent_s = COALESCE($5, oldest_unsent_s)
             WHERE id = $1 RETURNING user_id, revoked_at",
            device_id,
            now_ms,
            client.app_version.as_deref(),
            client.outbox_depth.map(to_i64),
            client.oldest_unsent_s.map(to_i64),
        )
        .map_err(StoreError::from_db)
    }

    /// The log entries of mutations already received, among `ids`.
    pub async fn logged_mutations(&mut self, ids: &[Uuid]) -> Result<Vec<LoggedMutation>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let head =
            "SELECT mutation_id, device_id, status, version FROM mutations WHERE mutation_id";
        match self.conn() {
            Engine::Sqlite(c) => sqlite_in_ids(head, ids, "").build_query_as().fetch_all(c).await,
            Engine::Postgres(c) => {
                sqlx::query_as(
                    "SELECT mutation_id, device_id, status, version FROM mutations WHERE mutation_id = ANY($1)",
                )
                .bind(ids)
                .fetch_all(c)
                .await
            }
        }
        .map_err(StoreError::from_db)
    }

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

    /// Writes a batch: encrypted fields sealed, ID-card numbers indexed, the audit entries
    /// appended, and the records with their sequence numbers last (see the module doc).
    pub async fn write(&mut self, batch: &WriteBatch) -> Result<()> {
        self.index_id_cards(batch).await?;
        self.append_audit(&batch.audit, batch.now_ms).await?;
        let sealed = super::sealing::seal_batch(self.key(), batch);
        let complete = match self.conn() {
            Engine::Sqlite(c) => write_sqlite(c, &sealed).await.map(|()| true),
            Engine::Postgres(c) => write_postgres(c, &sealed).await,
        }
        .map_err(StoreError::from_db)?;
        if complete {
            Ok(())
        } else {
            Err(StoreError::Retry)
        }
    }
}

/// SQLite: one writer at a time, so the order of statements does not matter for pulls. Each
/// statement crosses to sqlx's SQLite thread, so new rows go in multi-row `INSERT`s.
async fn write_sqlite(c: &mut sqlx::SqliteConnection, b: &WriteBatch) -> sqlx::Result<()> {
    // SQLite allows 32,766 parameters per statement; at most 14 per row here.
    const ROWS_PER_INSERT: usize = 2000;
    let n = i64::try_from(b.records.len()).unwrap_or(i64::MAX);
    let last: i64 =
        sqlx::query_scalar("UPDATE sync_head SET seq = seq + $1 WHERE id = 1 RETURNING seq")
            .bind(n)
            .fetch_one(&mut *c)
            .await?;
    let numbered: Vec<(i64, &RecordWrite)> = (last - n + 1..).zip(&b.records).collect();
    let (created, updated): (Vec<_>, Vec<_>) = numbered.into_iter().partition(|(_, r)| r.created);
    for chunk in created.chunks(ROWS_PER_INSERT) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO records (id, entity, scope, version, seq, deleted, fields, meta, gps, \
             created_at, updated_at, created_by, updated_by) ",
        );
        qb.push_values(chunk, |mut row, (seq, r)| {
            row.push_bind(r.id)
                .push_bind(r.entity)
                .push_bind(r.scope.clone())
                .push_bind(to_i64(r.state.version))
                .push_bind(*seq)
                .push_bind(r.state.deleted)
                .push_bind(Json(r.state.fields.clone()))
                .push_bind(Json(r.state.meta.clone()))
                .push_bind(r.gps.clone().map(Json))
                .push_bind(b.now_ms)
                .push_bind(b.now_ms)
                .push_bind(r.user_id)
                .push_bind(r.user_id);
        });
        qb.build().execute(&mut *c).await?;
    }
    for (seq, r) in updated {
        sqlx::query(
            "UPDATE records SET version = $2, seq = $3, deleted = $4, fields = $5, meta = $6,
                 gps = COALESCE($7, gps), updated_at = $8, updated_by = $9
             WHERE id = $1",
        )
        .bind(r.id)
        .bind(to_i64(r.state.version))
        .bind(seq)
        .bind(r.state.deleted)
        .bind(Json(&r.state.fields))
        .bind(Json(&r.state.meta))
        .bind(r.gps.as_ref().map(Json))
        .bind(b.now_ms)
        .bind(r.user_id)
        .execute(&mut *c)
        .await?;
    }
    for chunk in b.mutations.chunks(ROWS_PER_INSERT) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO mutations (mutation_id, device_id, user_id, record_id, entity, op, status, \
             version, fields, hlc, gps, received_at, household_id, scope) ",
        );
        qb.push_values(chunk, |mut row, m| {
            row.push_bind(m.mutation_id)
                .push_bind(b.device_id)
                .push_bind(b.user_id)
                .push_bind(m.record_id)
                .push_bind(m.entity)
                .push_bind(m.op.as_str())
                .push_bind(m.status.as_str())
                .push_bind(to_i64(m.version))
                .push_bind(Json(m.fields.clone()))
                .push_bind(Json(m.hlc))
                .push_bind(m.gps.clone().map(Json))
                .push_bind(b.now_ms)
                .push_bind(m.household_id)
                .push_bind(m.scope.clone());
        });
        qb.build().execute(&mut *c).await?;
    }
    for chunk in b.conflicts.chunks(ROWS_PER_INSERT) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO conflicts (id, record_id, entity, scope, field, kind, yours, theirs, kept, \
             mutation_id, device_id, user_id, theirs_hlc, created_at) ",
        );
        qb.push_values(chunk, |mut row, x| {
            row.push_bind(x.id)
                .push_bind(x.record_id)
                .push_bind(x.entity)
                .push_bind(x.scope.clone())
                .push_bind(x.field.clone())
                .push_bind(kind_str(x.kind))
                .push_bind(Json(x.yours.clone()))
                .push_bind(Json(x.theirs.clone()))
                .push_bind(Json(x.kept.clone()))
                .push_bind(x.mutation_id)
                .push_bind(b.device_id)
                .push_bind(b.user_id)
                .push_bind(x.theirs_hlc.map(Json))
                .push_bind(b.now_ms);
        });
        qb.build().execute(&mut *c).await?;
    }
    Ok(())
}

/// PostgreSQL: one statement per table, the rows passed as arrays (`UNNEST`), so a batch costs a
/// handful of round trips whatever its size. The log and conflicts go first; the records, with
/// their sequence numbers, in one last statement. Returns `false` if the batch must be run again.
async fn write_postgres(c: &mut sqlx::PgConnection, b: &WriteBatch) -> sqlx::Result<bool> {
    if !b.mutations.is_empty() {
        let ms = &b.mutations;
        sqlx::query(
            "INSERT INTO mutations (mutation_id, device_id, user_id, record_id, entity, op, status,
                 version, fields, hlc, gps, received_at, household_id, scope)
             SELECT u.mutation_id, $10, $11, u.record_id, u.entity, u.op, u.status, u.version,
                 u.fields, u.hlc, u.gps, $12, u.household_id, u.scope
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int8[],
                         $7::jsonb[], $8::jsonb[], $9::jsonb[], $13::uuid[], $14::text[])
                  AS u(mutation_id, record_id, entity, op, status, version, fields, hlc, gps,
                       household_id, scope)",
        )
        .bind(ms.iter().map(|m| m.mutation_id).collect::<Vec<_>>())
        .bind(ms.iter().map(|m| m.record_id).collect::<Vec<_>>())
        .bind(ms.iter().map(|m| m.entity).collect::<Vec<_>>())
        .bind(ms.iter().map(|m| m.op.as_str()).collect::<Vec<_>>())
        .bind(ms.iter().map(|m| m.status.as_str()).collect::<Vec<_>>())
        .bind(ms.iter().map(|m| to_i64(m.version)).collect::<Vec<_>>())
        .bind(ms.iter().map(|m| Json(&m.fields)).collect::<Vec<_>>())
        .bind(ms.iter().map(|m| Json(&m.hlc)).collect::<Vec<_>>())
        .bind(
            ms.iter()
                .map(|m| m.gps.as_ref().map(Json))
                .collect::<Vec<_>>(),
        )
        .bind(b.device_id)
        .bind(b.user_id)
        .bind(b.now_ms)
        .bind(ms.iter().map(|m| m.household_id).collect::<Vec<_>>())
        .bind(ms.iter().map(|m| m.scope.as_str()).collect::<Vec<_>>())
        .execute(&mut *c)
        .await?;
    }
    if !b.conflicts.is_empty() {
        let xs = &b.conflicts;
        sqlx::query(
            "INSERT INTO conflicts (id, record_id, entity, scope, field, kind, yours, theirs, kept,
                 mutation_id, device_id, user_id, theirs_hlc, created_at)
             SELECT u.id, u.record_id, u.entity, u.scope, u.field, u.kind, u.yours, u.theirs,
                 u.kept, u.mutation_id, $12, $13, u.theirs_hlc, $14
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::jsonb[], $8::jsonb[], $9::jsonb[], $10::uuid[], $11::jsonb[])
                  AS u(id, record_id, entity, scope, field, kind, yours, theirs, kept,
                       mutation_id, theirs_hlc)",
        )
        .bind(xs.iter().map(|x| x.id).collect::<Vec<_>>())
        .bind(xs.iter().map(|x| x.record_id).collect::<Vec<_>>())
        .bind(xs.iter().map(|x| x.entity).collect::<Vec<_>>())
        .bind(xs.iter().map(|x| x.scope.as_str()).collect::<Vec<_>>())
        .bind(xs.iter().map(|x| x.field.as_str()).collect::<Vec<_>>())
        .bind(xs.iter().map(|x| kind_str(x.kind)).collect::<Vec<_>>())
        .bind(xs.iter().map(|x| Json(&x.yours)).collect::<Vec<_>>())
        .bind(xs.iter().map(|x| Json(&x.theirs)).collect::<Vec<_>>())
        .bind(xs.iter().map(|x| Json(&x.kept)).collect::<Vec<_>>())
        .bind(xs.iter().map(|x| x.mutation_id).collect::<Vec<_>>())
        .bind(
            xs.iter()
                .map(|x| x.theirs_hlc.as_ref().map(Json))
                .collect::<Vec<_>>(),
        )
        .bind(b.device_id)
        .bind(b.user_id)
        .bind(b.now_ms)
        .execute(&mut *c)
        .await?;
    }
    if b.records.is_empty() {
        return Ok(true);
    }
    let rs = &b.records;
    let created = rs.iter().filter(|r| r.created).count();
    // Under the head row's lock from here to commit: take the numbers and write every record
    // in one statement. `ord` numbers the rows 1..n inside the batch.
    let inserted: i64 = sqlx::query_scalar(
        "WITH head AS (
             UPDATE sync_head SET seq = seq + $1 WHERE id = 1 RETURNING seq - $1 AS base
         ), rows AS (
             SELECT * FROM UNNEST($2::int8[], $3::bool[], $4::uuid[], $5::text[], $6::text[],
                                  $7::int8[], $8::bool[], $9::jsonb[], $10::jsonb[], $11::jsonb[],
                                  $12::uuid[])
                 AS u(ord, created, id, entity, scope, version, deleted, fields, meta, gps, by)
         ), inserted AS (
             INSERT INTO records (id, entity, scope, version, seq, deleted, fields, meta, gps,
                                  created_at, updated_at, created_by, updated_by)
             SELECT r.id, r.entity, r.scope, r.version, head.base + r.ord, r.deleted, r.fields,
                    r.meta, r.gps, $13, $13, r.by, r.by
             FROM rows r, head WHERE r.created
             ON CONFLICT (id) DO NOTHING
             RETURNING 1
         ), updated AS (
             UPDATE records t SET version = r.version, seq = head.base + r.ord,
                 deleted = r.deleted, fields = r.fields, meta = r.meta,
                 gps = COALESCE(r.gps, t.gps), updated_at = $13, updated_by = r.by
             FROM rows r, head WHERE NOT r.created AND t.id = r.id
             RETURNING 1
         )
         SELECT (SELECT COUNT(*) FROM inserted) + 0 * (SELECT COUNT(*) FROM updated)",
    )
    .bind(i64::try_from(rs.len()).unwrap_or(i64::MAX))
    .bind(
        (1..=rs.len())
            .map(|i| i64::try_from(i).unwrap_or(i64::MAX))
            .collect::<Vec<_>>(),
    )
    .bind(rs.iter().map(|r| r.created).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.entity).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.scope.as_str()).collect::<Vec<_>>())
    .bind(
        rs.iter()
            .map(|r| to_i64(r.state.version))
            .collect::<Vec<_>>(),
    )
    .bind(rs.iter().map(|r| r.state.deleted).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| Json(&r.state.fields)).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| Json(&r.state.meta)).collect::<Vec<_>>())
    .bind(
        rs.iter()
            .map(|r| r.gps.as_ref().map(Json))
            .collect::<Vec<_>>(),
    )
    .bind(rs.iter().map(|r| r.user_id).collect::<Vec<_>>())
    .bind(b.now_ms)
    .fetch_one(&mut *c)
    .await?;
    // Another transaction inserted one of these ids after we looked: run the batch again, and
    // that create will be refused as a duplicate id.
    Ok(inserted == i64::try_from(created).unwrap_or(i64::MAX))
}

/// Row counts of the sync tables (for `/metrics`, admin and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncStats {
    pub head_seq: i64,
    pub records: i64,
    pub mutations: i64,
    pub conflicts: i64,
    pub open_conflicts: i64,
}

impl Store {
    pub async fn sync_stats(&self) -> Result<SyncStats> {
        let (head_seq, records, mutations, conflicts, open_conflicts) = fetch_as!(
            self.reader(),
            fetch_one,
            (i64, i64, i64, i64, i64),
            "SELECT (SELECT seq FROM sync_head WHERE id = 1),
                    (SELECT COUNT(*) FROM records),
                    (SELECT COUNT(*) FROM mutations),
                    (SELECT COUNT(*) FROM conflicts),
                    (SELECT COUNT(*) FROM conflicts WHERE resolved_at IS NULL)",
        )?;
        Ok(SyncStats {
            head_seq,
            records,
            mutations,
            conflicts,
            open_conflicts,
        })
    }

    /// The highest sequence number committed so far.
    pub async fn head_seq(&self) -> Result<i64> {
        Ok(fetch_scalar!(
            self.reader(),
            fetch_one,
            i64,
            "SELECT seq FROM sync_head WHERE id = 1"
        )?)
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
            "SELECT id, entity, scope, version, seq, deleted, fields FROM records
             WHERE scope = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
            village,
            after,
            upto,
            limit,
        )?;
        self.opened(rows)
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
        let rows = match self.reader() {
            Engine::Sqlite(p) => {
                let list = serde_json::to_string(villages)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query_as(
                    "SELECT id, entity, scope, version, seq, deleted, fields FROM records
                     WHERE scope IN (SELECT value FROM json_each($1)) AND seq > $2
                     ORDER BY seq LIMIT $3",
                )
                .bind(list)
                .bind(after)
                .bind(limit)
                .fetch_all(p)
                .await?
            }
            Engine::Postgres(p) => {
                sqlx::query_as(
                    "SELECT id, entity, scope, version, seq, deleted, fields FROM records
                     WHERE scope = ANY($1) AND seq > $2 ORDER BY seq LIMIT $3",
                )
                .bind(villages)
                .bind(after)
                .bind(limit)
                .fetch_all(p)
                .await?
            }
        };
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
