//! Bulk loading for region-scale measurements (`admin seed-region`): rows go straight into
//! `records` with PostgreSQL's `COPY`, numbered after the sync head, which moves past them at
//! the end. Only PostgreSQL: a region never runs on the embedded engine.

use super::{Engine, Result, Store, StoreError};

impl Store {
    /// The sync head, to number seeded rows after it.
    pub async fn seed_start(&self) -> Result<i64> {
        self.head_seq().await
    }

    /// Copies rows given as CSV in the column order of [`SEED_COLUMNS`] into `records` in one
    /// transaction; the number of rows.
    pub async fn seed_records(&self, csv: Vec<u8>) -> Result<u64> {
        let Engine::Postgres(pool) = self.writer() else {
            return Err(StoreError::UnsupportedUrl(
                "sqlite: seeding a region needs PostgreSQL".into(),
            ));
        };
        let mut tx = pool.begin().await?;
        let mut copy = tx
            .copy_in_raw(&format!(
                "COPY records ({SEED_COLUMNS}) FROM STDIN WITH (FORMAT csv)"
            ))
            .await?;
        copy.send(csv).await?;
        let rows = copy.finish().await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Moves the sync head past the seeded rows, so pulls see them and new writes number after.
    pub async fn seed_finish(&self, head: i64) -> Result<()> {
        super::execute!(
            self.writer(),
            "UPDATE sync_head SET seq = GREATEST(seq, $1) WHERE id = 1",
            head
        )?;
        Ok(())
    }
}

/// The columns a seeded row gives, in order.
pub const SEED_COLUMNS: &str = "id, entity, scope, version, seq, deleted, fields, meta, created_at, updated_at, created_by, updated_by, household_id";
