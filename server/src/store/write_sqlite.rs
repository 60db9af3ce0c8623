//! The SQLite half of [`super::batch`]: one writer at a time, the whole batch in one call.

use sqlx::types::Json;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::batch::{RecordWrite, WriteBatch, kind_str, to_i64};
use super::stamps::StampsOf;
use super::sync::push_in_ids;

/// What follows the batch's call in its transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum CallEnd {
    /// More statements, or a commit that syncs itself.
    Open,
    /// A commit that syncs later (`wal_sync`): the call also answers the old places of the
    /// records it moves.
    Unsynced,
    /// Nothing: the call ends with the transaction's `COMMIT` (a transaction begun by hand,
    /// `push_sqlite`, which always syncs itself).
    Commit,
}

/// The sequence number the head has reached, inside the statements that follow its update.
const HEAD: &str = "(SELECT seq FROM sync_head WHERE id = 1)";

/// SQLite: one writer at a time, so the order of statements does not matter for pulls. Every
/// statement sent on its own crosses to sqlx's SQLite thread and back (two thread wake-ups, the
/// most of a lone push's cost), so the batch's statements go as one multi-statement call: the
/// head moved first, each record numbered from it in SQL, new rows in multi-row `INSERT`s. The
/// old places of moved records are looked up only for a commit that syncs later
/// ([`CallEnd::Unsynced`]).
pub(super) async fn write_sqlite(
    c: &mut sqlx::SqliteConnection,
    b: &WriteBatch,
    end: CallEnd,
) -> sqlx::Result<Places> {
    // SQLite allows 32,766 parameters per statement; at most 15 per row here.
    const ROWS_PER_INSERT: usize = 2000;
    let n = i64::try_from(b.records.len()).unwrap_or(i64::MAX);
    // A record's place relative to the head after the update: the batch's records take the n
    // numbers up to it, in order.
    let numbered: Vec<(i64, &RecordWrite)> = (1 - n..).zip(&b.records).collect();
    let (created, updated): (Vec<_>, Vec<_>) = numbered.into_iter().partition(|(_, r)| r.created);
    let mut qb = QueryBuilder::<Sqlite>::new("");
    // Row 1, when asked for: the old places of the records about to move, for a commit that
    // syncs later (`wal_sync`).
    let old_places = end == CallEnd::Unsynced && !updated.is_empty();
    if old_places {
        push_in_ids(
            &mut qb,
            "SELECT MIN(seq) FROM records WHERE id",
            updated.iter().map(|(_, r)| r.id),
        );
        qb.push("; ");
    }
    // The next row: the head after the batch.
    qb.push("UPDATE sync_head SET seq = seq + ");
    qb.push_bind(n);
    qb.push(" WHERE id = 1 RETURNING seq;");
    for chunk in created.chunks(ROWS_PER_INSERT) {
        qb.push(
            " INSERT INTO records (id, entity, scope, version, seq, deleted, fields, meta, gps, \
             created_at, updated_at, created_by, updated_by, household_id, gps_verdict) ",
        );
        qb.push_values(chunk, |mut row, (place, r)| {
            row.push_bind(r.id)
                .push_bind(r.entity)
                .push_bind(r.scope.as_str())
                .push_bind(to_i64(r.state.version))
                .push(HEAD)
                .push_unseparated(" + ")
                .push_bind_unseparated(*place)
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
        qb.push(";");
    }
    let moved = !updated.is_empty();
    for (place, r) in updated {
        qb.push(
            " UPDATE records SET (version, seq, deleted, fields, meta, gps, updated_at, \
             updated_by, gps_verdict, household_id) = (",
        );
        qb.separated(", ")
            .push_bind(to_i64(r.state.version))
            .push(HEAD)
            .push_unseparated(" + ")
            .push_bind_unseparated(place)
            .push_bind(r.state.deleted)
            .push_bind(Json(&r.state.fields))
            .push_bind(Json(StampsOf(&r.state.meta)))
            .push("COALESCE(")
            .push_bind_unseparated(r.gps.as_ref().map(Json))
            .push_unseparated(", gps)")
            .push_bind(b.now_ms)
            .push_bind(r.user_id)
            .push("COALESCE(")
            .push_bind_unseparated(r.gps_verdict.as_ref().map(Json))
            .push_unseparated(", gps_verdict)")
            // A case that named only a person learns its household at the home verification.
            .push("COALESCE(")
            .push_bind_unseparated(r.household_id)
            .push_unseparated(", household_id)");
        qb.push(") WHERE id = ");
        qb.push_bind(r.id);
        qb.push(";");
    }
    for chunk in b.fixes.chunks(ROWS_PER_INSERT) {
        qb.push(" INSERT INTO gps_fixes (record_id, device_id, household_id, fix_at, lat, lon) ");
        qb.push_values(chunk, |mut row, f| {
            row.push_bind(f.record_id)
                .push_bind(f.by.device_id)
                .push_bind(f.household_id)
                .push_bind(f.fix_at_ms)
                .push_bind(f.lat)
                .push_bind(f.lon);
        });
        qb.push(" ON CONFLICT (record_id) DO NOTHING;");
    }
    for chunk in b.mutations.chunks(ROWS_PER_INSERT) {
        qb.push(
            " INSERT INTO mutations (mutation_id, device_id, user_id, record_id, entity, op, \
             status, version, fields, hlc, gps, received_at, household_id, scope) ",
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
        qb.push(";");
    }
    for chunk in b.conflicts.chunks(ROWS_PER_INSERT) {
        qb.push(
            " INSERT INTO conflicts (id, record_id, entity, scope, field, kind, yours, theirs, \
             kept, mutation_id, device_id, user_id, theirs_hlc, created_at) ",
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
        qb.push(";");
    }
    if end == CallEnd::Commit {
        qb.push(" COMMIT;");
    }
    let rows = qb.build().fetch_all(&mut *c).await?;
    let value = |i: usize| -> sqlx::Result<Option<i64>> {
        rows.get(i)
            .ok_or_else(|| sqlx::Error::RowNotFound)?
            .try_get(0)
    };
    let (old, last) = if old_places {
        (value(0)?, value(1)?)
    } else {
        (None, value(0)?)
    };
    let last = last.ok_or(sqlx::Error::RowNotFound)?;
    let floor = (n > 0).then_some(last - n + 1).into_iter().chain(old).min();
    Ok(Places { floor, moved })
}

/// Where a write put its records in the sequence.
pub(super) struct Places {
    /// The lowest sequence number its records had or took.
    pub floor: Option<i64>,
    /// It gave existing records new numbers.
    pub moved: bool,
}
