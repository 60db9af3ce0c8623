//! Whether the database takes writes now, for `/readyz`.
//!
//! A database that answers reads may still refuse every write (a full disk, a standby after a
//! failover), and a server in that state must not look ready. The probe is a real write: it
//! makes the database allocate room and commits, so it fails exactly when a push would.

use super::{Engine, Result, Store, execute};

/// The probe's row in `server_keys`: inserted and deleted in one transaction, so no reader
/// ever sees it.
const PROBE: &str = "readyz-probe";

/// Pages the SQLite file must be able to grow by (beyond its free pages) to count as ready.
const GROWTH_PAGES: i64 = 8;

/// With this many free pages inside the file the probe needs no growth: writes have room.
const ENOUGH_FREE_PAGES: i64 = 64;

impl Store {
    /// Writes and commits a probe that needs fresh room in the database, then removes it in
    /// the same transaction: `Err(StoreError::Full)` when the disk is full, `Busy` when the
    /// database is out of reach or locked past the wait.
    ///
    /// On SQLite a write that fits in the file's free pages would succeed on a full disk, and
    /// the probe's own pages become free pages once deleted; so it asks for the free pages
    /// plus [`GROWTH_PAGES`] (at most [`ENOUGH_FREE_PAGES`]): the file must grow, or already
    /// have ample room. The commit appends to the write-ahead log, which a full disk also
    /// refuses.
    pub async fn check_writable(&self) -> Result<()> {
        let mut tx = self.begin().await?;
        let bytes = match tx.conn() {
            Engine::Sqlite(c) => {
                let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
                    .fetch_one(&mut *c)
                    .await?;
                let page: i64 = sqlx::query_scalar("PRAGMA page_size")
                    .fetch_one(&mut *c)
                    .await?;
                (free + GROWTH_PAGES).min(ENOUGH_FREE_PAGES) * page
            }
            // PostgreSQL's disk cannot be watched from here; the commit writes its log.
            Engine::Postgres(_) => 1024,
        };
        let filler = vec![0u8; usize::try_from(bytes).unwrap_or(4096)];
        execute!(
            tx.conn(),
            "INSERT INTO server_keys (name, secret, created_at) VALUES ($1, $2, 0)",
            PROBE,
            filler,
        )?;
        execute!(tx.conn(), "DELETE FROM server_keys WHERE name = $1", PROBE)?;
        tx.commit().await
    }
}
