//! The PostgreSQL half of [`super::batch`]: rows passed as arrays, the records last.

use serde::Serialize;
use sqlx::types::Json;

use super::batch::{WriteBatch, kind_str, to_i64};
use super::stamps::StampsOf;

/// PostgreSQL: one statement per table, the rows passed as arrays (`UNNEST`), so a batch costs a
/// handful of round trips whatever its size. Conflicts and fixes go first; the records, with
/// their sequence numbers, and the log in one last statement. Returns `false` if the batch must
/// be run again.
pub(super) async fn write_postgres(
    c: &mut sqlx::PgConnection,
    b: &WriteBatch,
) -> sqlx::Result<bool> {
    if !b.conflicts.is_empty() {
        let xs = &b.conflicts;
        sqlx::query(
            "INSERT INTO conflicts (id, record_id, entity, scope, field, kind, yours, theirs, kept,
                 mutation_id, device_id, user_id, theirs_hlc, created_at)
             SELECT u.id, u.record_id, u.entity, u.scope, u.field, u.kind, u.yours, u.theirs,
                 u.kept, u.mutation_id, u.device_id, u.user_id, u.theirs_hlc, $14
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::jsonb[], $8::jsonb[], $9::jsonb[], $10::uuid[], $11::jsonb[],
                         $12::uuid[], $13::uuid[])
                  AS u(id, record_id, entity, scope, field, kind, yours, theirs, kept,
                       mutation_id, theirs_hlc, device_id, user_id)",
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
        .bind(xs.iter().map(|x| x.by.device_id).collect::<Vec<_>>())
        .bind(xs.iter().map(|x| x.by.user_id).collect::<Vec<_>>())
        .bind(b.now_ms)
        .execute(&mut *c)
        .await?;
    }
    if !b.fixes.is_empty() {
        let fs = &b.fixes;
        sqlx::query(
            "INSERT INTO gps_fixes (record_id, device_id, household_id, fix_at, lat, lon)
             SELECT u.record_id, u.device_id, u.household_id, u.fix_at, u.lat, u.lon
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::int8[], $5::float8[],
                         $6::float8[])
                  AS u(device_id, record_id, household_id, fix_at, lat, lon)
             ON CONFLICT (record_id) DO NOTHING",
        )
        .bind(fs.iter().map(|f| f.by.device_id).collect::<Vec<_>>())
        .bind(fs.iter().map(|f| f.record_id).collect::<Vec<_>>())
        .bind(fs.iter().map(|f| f.household_id).collect::<Vec<_>>())
        .bind(fs.iter().map(|f| f.fix_at_ms).collect::<Vec<_>>())
        .bind(fs.iter().map(|f| f.lat).collect::<Vec<_>>())
        .bind(fs.iter().map(|f| f.lon).collect::<Vec<_>>())
        .execute(&mut *c)
        .await?;
    }
    if b.records.is_empty() && b.mutations.is_empty() {
        return Ok(true);
    }
    let rs = &b.records;
    let ms = &b.mutations;
    let created = rs.iter().filter(|r| r.created).count();
    // Under the head row's lock from here to commit: take the numbers and write every record
    // and the log in one statement (a round trip less for a lone push than the log on its own;
    // the lock is held through the commit's flush anyway). `ord` numbers the rows 1..n inside
    // the batch. A group whose every mutation was rejected has no records and takes no numbers.
    let inserted: i64 = sqlx::query_scalar(
        "WITH logged AS (
             INSERT INTO mutations (mutation_id, device_id, user_id, record_id, entity, op,
                 status, version, fields, hlc, gps, received_at, household_id, scope)
             SELECT u.mutation_id, u.device_id, u.user_id, u.record_id, u.entity, u.op,
                 u.status, u.version, u.fields::json, u.hlc::json, u.gps::json, $13,
                 u.household_id, u.scope
             FROM UNNEST($16::uuid[], $17::uuid[], $18::text[], $19::text[], $20::text[],
                         $21::int8[], $22::text[], $23::text[], $24::text[], $25::uuid[],
                         $26::uuid[], $27::uuid[], $28::text[])
                  AS u(mutation_id, record_id, entity, op, status, version, fields, hlc, gps,
                       device_id, user_id, household_id, scope)
         ), head AS (
             UPDATE sync_head SET seq = seq + $1 WHERE id = 1 AND $1 > 0
             RETURNING seq - $1 AS base
         ), rows AS (
             SELECT * FROM UNNEST($2::int8[], $3::bool[], $4::uuid[], $5::text[], $6::text[],
                                  $7::int8[], $8::bool[], $9::jsonb[], $10::text[], $11::jsonb[],
                                  $12::uuid[], $14::uuid[], $15::jsonb[])
                 AS u(ord, created, id, entity, scope, version, deleted, fields, meta, gps, by,
                      household_id, gps_verdict)
         ), inserted AS (
             INSERT INTO records (id, entity, scope, version, seq, deleted, fields, meta, gps,
                                  created_at, updated_at, created_by, updated_by, household_id,
                                  gps_verdict)
             SELECT r.id, r.entity, r.scope, r.version, head.base + r.ord, r.deleted, r.fields,
                    r.meta::json, r.gps, $13, $13, r.by, r.by, r.household_id, r.gps_verdict
             FROM rows r, head WHERE r.created
             ON CONFLICT (id) DO NOTHING
             RETURNING 1
         ), updated AS (
             UPDATE records t SET version = r.version, seq = head.base + r.ord,
                 deleted = r.deleted, fields = r.fields, meta = r.meta::json,
                 gps = COALESCE(r.gps, t.gps), updated_at = $13, updated_by = r.by,
                 gps_verdict = COALESCE(r.gps_verdict, t.gps_verdict),
                 household_id = COALESCE(r.household_id, t.household_id)
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
    .bind(texts(rs.iter().map(|r| StampsOf(&r.state.meta)))?)
    .bind(
        rs.iter()
            .map(|r| r.gps.as_ref().map(Json))
            .collect::<Vec<_>>(),
    )
    .bind(rs.iter().map(|r| r.user_id).collect::<Vec<_>>())
    .bind(b.now_ms)
    .bind(rs.iter().map(|r| r.household_id).collect::<Vec<_>>())
    .bind(
        rs.iter()
            .map(|r| r.gps_verdict.as_ref().map(Json))
            .collect::<Vec<_>>(),
    )
    .bind(ms.iter().map(|m| m.mutation_id).collect::<Vec<_>>())
    .bind(ms.iter().map(|m| m.record_id).collect::<Vec<_>>())
    .bind(ms.iter().map(|m| m.entity).collect::<Vec<_>>())
    .bind(ms.iter().map(|m| m.op.as_str()).collect::<Vec<_>>())
    .bind(ms.iter().map(|m| m.status.as_str()).collect::<Vec<_>>())
    .bind(ms.iter().map(|m| to_i64(m.version)).collect::<Vec<_>>())
    .bind(texts(ms.iter().map(|m| &m.fields))?)
    .bind(texts(ms.iter().map(|m| &m.hlc))?)
    .bind(texts_or_null(ms.iter().map(|m| m.gps.as_ref()))?)
    .bind(ms.iter().map(|m| m.by.device_id).collect::<Vec<_>>())
    .bind(ms.iter().map(|m| m.by.user_id).collect::<Vec<_>>())
    .bind(ms.iter().map(|m| m.household_id).collect::<Vec<_>>())
    .bind(ms.iter().map(|m| m.scope.as_str()).collect::<Vec<_>>())
    .fetch_one(&mut *c)
    .await?;
    // Another transaction inserted one of these ids after we looked: run the batch again, and
    // that create will be refused as a duplicate id.
    Ok(inserted == i64::try_from(created).unwrap_or(i64::MAX))
}

/// The JSON text of each value, for a `json` column (migration 0023): bound as `text[]` and cast
/// in the statement, so that PostgreSQL checks the text instead of parsing it into `jsonb`.
pub(super) fn texts<T: Serialize>(values: impl Iterator<Item = T>) -> sqlx::Result<Vec<String>> {
    values.map(|v| text(&v)).collect()
}

/// [`texts`] of optional values: `None` stays SQL `NULL` (not JSON `null`).
fn texts_or_null<T: Serialize>(
    values: impl Iterator<Item = Option<T>>,
) -> sqlx::Result<Vec<Option<String>>> {
    values.map(|v| v.map(|v| text(&v)).transpose()).collect()
}

fn text<T: Serialize>(v: &T) -> sqlx::Result<String> {
    serde_json::to_string(v).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}
