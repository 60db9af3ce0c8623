//! The push committer's SQLite transaction, begun inside its first call and committed inside
//! its last.
//!
//! Every call to a SQLite connection crosses to sqlx's thread for it and back: two thread
//! wake-ups, which on a one-record push cost more than most statements. A lone push made five
//! such calls: `BEGIN`, its reads (`opening`), its write, `COMMIT`, and the pool's ping as the
//! connection goes back (after the answer). Here the `BEGIN` rides at the head of the reads'
//! multi-statement call and the `COMMIT` at the tail of the write's, so the push waits on two.
//!
//! sqlx knows nothing of a transaction begun in a statement of its own, so it would not roll it
//! back if the push fails half-way. [`HandBegun`] remembers that one is open; the write pool's
//! release hook rolls it back before the connection serves anyone else, or closes the
//! connection (SQLite ends the transaction with it) if the rollback fails.
//!
//! Only a group committed and synced at once uses it. A group synced beside the next one
//! (`wal_sync`) sets the connection's `synchronous` first and learns its floor from the write
//! before its commit: it keeps sqlx's transaction, and it comes when pushes are queueing, where
//! a round trip is shared by the group.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection, Transaction};

/// Whether the write connection holds a transaction begun by hand and not yet committed.
#[derive(Default)]
pub(super) struct HandBegun(AtomicBool);

impl HandBegun {
    /// Run as the write connection goes back to its pool: rolls back a transaction begun by
    /// hand and left open. `false`: the rollback failed, and the connection must be closed.
    pub(super) async fn end(&self, conn: &mut SqliteConnection) -> bool {
        if !self.0.swap(false, Ordering::SeqCst) {
            return true;
        }
        // Also fails where there is no transaction left to end: its `BEGIN` failed (another
        // process held the write lock past the wait) or SQLite rolled it back itself (a full
        // disk). A fresh connection costs little there, and a connection left inside a
        // transaction would refuse every later `BEGIN`.
        match sqlx::raw_sql("ROLLBACK").execute(conn).await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "a failed push's transaction was not rolled back; closing its connection"
                );
                false
            }
        }
    }
}

/// A SQLite write transaction: sqlx's, or the push committer's begun by hand.
pub(super) enum SqliteTx {
    Pooled(Transaction<'static, Sqlite>),
    Hand {
        conn: PoolConnection<Sqlite>,
        stage: Stage,
        open: Arc<HandBegun>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Stage {
    /// Nothing sent yet: the first call begins the transaction.
    Waiting,
    Begun,
    Committed,
}

impl SqliteTx {
    pub(super) fn hand(conn: PoolConnection<Sqlite>, open: Arc<HandBegun>) -> SqliteTx {
        SqliteTx::Hand {
            conn,
            stage: Stage::Waiting,
            open,
        }
    }

    pub(super) fn conn(&mut self) -> &mut SqliteConnection {
        match self {
            SqliteTx::Pooled(t) => t,
            SqliteTx::Hand { conn, stage, .. } => {
                // Anything sent before the transaction begins would run outside it.
                debug_assert_eq!(
                    *stage,
                    Stage::Begun,
                    "a hand-begun transaction used unbegun"
                );
                conn
            }
        }
    }

    /// What the first call of the transaction starts with: the `BEGIN` of one begun by hand,
    /// marked open before it is sent (it may run even if the call then fails).
    pub(super) fn begin_prefix(&mut self) -> &'static str {
        match self {
            SqliteTx::Hand { stage, open, .. } if *stage == Stage::Waiting => {
                *stage = Stage::Begun;
                open.0.store(true, Ordering::SeqCst);
                "BEGIN IMMEDIATE; "
            }
            _ => "",
        }
    }

    /// Whether the transaction's last call may end with its `COMMIT` ([`SqliteTx::committed`]
    /// once that call succeeded).
    pub(super) fn commits_inline(&self) -> bool {
        matches!(
            self,
            SqliteTx::Hand {
                stage: Stage::Begun,
                ..
            }
        )
    }

    /// Notes that a call ending with `COMMIT` succeeded.
    pub(super) fn committed(&mut self) {
        if let SqliteTx::Hand { stage, open, .. } = self {
            *stage = Stage::Committed;
            open.0.store(false, Ordering::SeqCst);
        }
    }

    pub(super) async fn commit(self) -> sqlx::Result<()> {
        match self {
            SqliteTx::Pooled(t) => t.commit().await,
            SqliteTx::Hand {
                mut conn,
                stage,
                open,
            } => {
                if stage == Stage::Begun {
                    sqlx::raw_sql("COMMIT").execute(&mut *conn).await?;
                    open.0.store(false, Ordering::SeqCst);
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::store::{Durable, Engine, Store, Tx};

    /// A fresh store (kept alive by its directory) and its head.
    async fn fresh() -> (tempfile::TempDir, Store, i64) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::test_sqlite(dir.path()).await;
        let head = store.head_seq().await.unwrap();
        (dir, store, head)
    }

    /// Sends `sql` as the transaction's call, with its `BEGIN` first when it is the first.
    async fn call(tx: &mut Tx, sql: &str) -> sqlx::Result<()> {
        let Engine::Sqlite(t) = &mut tx.engine else {
            unreachable!()
        };
        let sql = format!("{}{sql}", t.begin_prefix());
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(t.conn())
            .await
            .map(|_| ())
    }

    /// Moves the head on by `n` in the transaction.
    async fn bump(tx: &mut Tx, n: i64) {
        call(
            tx,
            &format!("UPDATE sync_head SET seq = seq + {n} WHERE id = 1"),
        )
        .await
        .unwrap();
    }

    fn hand_begun(store: &Store) -> bool {
        store.hand_begun.as_ref().unwrap().0.load(Ordering::SeqCst)
    }

    /// The transaction begins with the first call and commits with the last; nothing is sent
    /// for either on its own, and the write connection is free again afterwards.
    #[tokio::test]
    async fn a_push_transaction_begins_and_commits_inside_its_calls() {
        let (_dir, store, before) = fresh().await;
        let mut tx = store.begin_push(false).await.unwrap();
        bump(&mut tx, 2).await;
        assert!(hand_begun(&store));
        // Not visible before the commit: it is a transaction.
        assert_eq!(store.head_seq().await.unwrap(), before);
        call(
            &mut tx,
            "UPDATE sync_head SET seq = seq + 1 WHERE id = 1; COMMIT;",
        )
        .await
        .unwrap();
        let Engine::Sqlite(t) = &mut tx.engine else {
            unreachable!()
        };
        t.committed();
        assert!(matches!(tx.commit_unsynced().await.unwrap(), Durable::Now));
        assert!(!hand_begun(&store));
        assert_eq!(store.head_seq().await.unwrap(), before + 3);
        let mut tx = store.begin().await.unwrap();
        bump(&mut tx, 1).await;
        tx.commit().await.unwrap();
        assert_eq!(store.head_seq().await.unwrap(), before + 4);
    }

    /// A push that fails after its `BEGIN` (here its write, at the statement before the
    /// `COMMIT`) or is dropped half-way leaves nothing behind, and the write connection serves
    /// the next transaction instead of refusing its `BEGIN`.
    #[tokio::test]
    async fn a_push_transaction_left_open_is_rolled_back_before_the_connection_serves_again() {
        let (_dir, store, before) = fresh().await;

        let mut tx = store.begin_push(false).await.unwrap();
        bump(&mut tx, 5).await;
        let failed = call(
            &mut tx,
            "INSERT INTO sync_head (id, seq) VALUES (1, 0); COMMIT;",
        )
        .await;
        assert!(failed.is_err(), "the key is taken");
        drop(tx);

        let mut tx = store.begin_push(false).await.unwrap();
        bump(&mut tx, 7).await;
        drop(tx);

        for _ in 0..2 {
            let mut tx = store.begin_push(false).await.unwrap();
            bump(&mut tx, 1).await;
            tx.commit().await.unwrap();
        }
        let mut tx = store.begin().await.unwrap();
        bump(&mut tx, 1).await;
        tx.commit().await.unwrap();
        assert_eq!(store.head_seq().await.unwrap(), before + 3);
        assert!(!hand_begun(&store));
    }
}
