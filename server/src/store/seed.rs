//! Bulk loading for region-scale measurements (`admin seed-region`): rows go straight into
//! `records` with PostgreSQL's `COPY`. Only PostgreSQL: a region never runs on the embedded
//! engine.

use super::{Engine, Result, Store, StoreError};

impl Store {
    /// Copies `rows` records, made by `build` as CSV in the column order of [`SEED_COLUMNS`]
    /// and numbered after the base it is given, into `records` in one transaction. The block of
    /// sequence numbers is taken from the sync head in that transaction first: the head always
    /// covers what is committed (a seeding stopped half-way leaves nothing a push could collide
    /// with), and pushes meanwhile take their numbers after the block.
    pub async fn seed_chunk(&self, rows: i64, build: impl FnOnce(i64) -> Vec<u8>) -> Result<u64> {
        let Engine::Postgres(pool) = self.writer() else {
            return Err(StoreError::UnsupportedUrl(
                "sqlite: seeding a region needs PostgreSQL".into(),
            ));
        };
        let mut tx = pool.begin().await?;
        let base: i64 = sqlx::query_scalar(
            "UPDATE sync_head SET seq = seq + $1 WHERE id = 1 RETURNING seq - $1",
        )
        .bind(rows)
        .fetch_one(&mut *tx)
        .await?;
        let mut copy = tx
            .copy_in_raw(&format!(
                "COPY records ({SEED_COLUMNS}) FROM STDIN WITH (FORMAT csv)"
            ))
            .await?;
        copy.send(build(base)).await?;
        let copied = copy.finish().await?;
        tx.commit().await?;
        Ok(copied)
    }
}

/// The columns a seeded row gives, in order.
pub const SEED_COLUMNS: &str = "id, entity, scope, version, seq, deleted, fields, meta, created_at, updated_at, created_by, updated_by, household_id";
