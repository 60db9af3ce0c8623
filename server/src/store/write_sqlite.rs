//! The SQLite half of [`super::batch`]: one writer at a time, multi-row inserts.

use sqlx::types::Json;
use sqlx::{QueryBuilder, Sqlite};

use uuid::Uuid;

use super::batch::{RecordWrite, WriteBatch, kind_str, to_i64};
use super::stamps::StampsOf;
use super::sync::sqlite_in_ids;

/// SQLite: one writer at a time, so the order of statements does not matter for pulls. Each
/// statement crosses to sqlx's SQLite thread, so new rows go in multi-row `INSERT`s. The old
/// places of moved records are looked up only for a commit that syncs later (`unsynced`).
pub(super) async fn write_sqlite(
    c: &mut sqlx::SqliteConnection,
    b: &WriteBatch,
    unsynced: bool,
) -> sqlx::Result<Places> {
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
    // The old places of the records about to move, for a commit that syncs later (`wal_sync`).
    let mut floor = (n > 0).then_some(last - n + 1);
    if unsynced && !updated.is_empty() {
        let ids: Vec<Uuid> = updated.iter().map(|(_, r)| r.id).collect();
        let old: Option<i64> = sqlite_in_ids("SELECT MIN(seq) FROM records WHERE id", &ids, "")
            .build_query_scalar()
            .fetch_one(&mut *c)
            .await?;
        floor = floor.into_iter().chain(old).min();
    }
    for chunk in created.chunks(ROWS_PER_INSERT) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO records (id, entity, scope, version, seq, deleted, fields, meta, gps, \
             created_at, updated_at, created_by, updated_by, household_id, gps_verdict) ",
        );
        qb.push_values(chunk, |mut row, (seq, r)| {
            row.push_bind(r.id)
                .push_bind(r.entity)
                .push_bind(r.scope.as_str())
                .push_bind(to_i64(r.state.version))
                .push_bind(*seq)
                .push_bind(r.state.deleted)
                .push_bind(Json(&r.state.fields))
                .push_bind(Json(StampsOf(&r.state.meta)))
                .push_bind(r.gps.as_ref().map(Json))
                .push_bind(b.now_ms)
                .push_bind(b.now_ms)
                .push_bind(r.user_id)
                .push_bind(r.user_id)
                .push_bind(r.household_id)
                .push_bind(r.gps_verdict.as_ref().map(Json));
        });
        qb.build().execute(&mut *c).await?;
    }
    let moved = !updated.is_empty();
    for (seq, r) in updated {
        sqlx::query(
            "UPDATE records SET version = $2, seq = $3, deleted = $4, fields = $5, meta = $6,
                 gps = COALESCE($7, gps), updated_at = $8, updated_by = $9,
                 gps_verdict = COALESCE($10, gps_verdict),
                 household_id = COALESCE($11, household_id)
             WHERE id = $1",
        )
        .bind(r.id)
        .bind(to_i64(r.state.version))
        .bind(seq)
        .bind(r.state.deleted)
        .bind(Json(&r.state.fields))
        .bind(Json(StampsOf(&r.state.meta)))
        .bind(r.gps.as_ref().map(Json))
        .bind(b.now_ms)
        .bind(r.user_id)
        .bind(r.gps_verdict.as_ref().map(Json))
        // A case that named only a person learns its household at the home verification.
        .bind(r.household_id)
        .execute(&mut *c)
        .await?;
    }
    for chunk in b.fixes.chunks(ROWS_PER_INSERT) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO gps_fixes (record_id, device_id, household_id, fix_at, lat, lon) ",
        );
        qb.push_values(chunk, |mut row, f| {
            row.push_bind(f.record_id)
                .push_bind(f.by.device_id)
                .push_bind(f.household_id)
                .push_bind(f.fix_at_ms)
                .push_bind(f.lat)
                .push_bind(f.lon);
        });
        qb.push(" ON CONFLICT (record_id) DO NOTHING");
        qb.build().execute(&mut *c).await?;
    }
    for chunk in b.mutations.chunks(ROWS_PER_INSERT) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO mutations (mutation_id, device_id, user_id, record_id, entity, op, status, \
             version, fields, hlc, gps, received_at, household_id, scope) ",
        );
        qb.push_values(chunk, |mut row, m| {
            row.push_bind(m.mutation_id)
                .push_bind(m.by.device_id)
                .push_bind(m.by.user_id)
                .push_bind(m.record_id)
                .push_bind(m.entity)
                .push_bind(m.op.as_str())
                .push_bind(m.status.as_str())
                .push_bind(to_i64(m.version))
                .push_bind(Json(&m.fields))
                .push_bind(Json(m.hlc))
                .push_bind(m.gps.as_ref().map(Json))
                .push_bind(b.now_ms)
                .push_bind(m.household_id)
                .push_bind(m.scope.as_str());
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
                .push_bind(x.scope.as_str())
                .push_bind(x.field.as_str())
                .push_bind(kind_str(x.kind))
                .push_bind(Json(&x.yours))
                .push_bind(Json(&x.theirs))
                .push_bind(Json(&x.kept))
                .push_bind(x.mutation_id)
                .push_bind(x.by.device_id)
                .push_bind(x.by.user_id)
                .push_bind(x.theirs_hlc.map(Json))
                .push_bind(b.now_ms);
        });
        qb.build().execute(&mut *c).await?;
    }
    Ok(Places { floor, moved })
}

/// Where a write put its records in the sequence.
pub(super) struct Places {
    /// The lowest sequence number its records had or took.
    pub floor: Option<i64>,
    /// It gave existing records new numbers.
    pub moved: bool,
}
