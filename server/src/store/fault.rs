//! What an engine error means for the caller, and how a failed transaction is kept from
//! spoiling the connection it ran on.
//!
//! Guarantees:
//! - Every `sqlx::Error` becomes a [`StoreError`] in one place ([`StoreError::from_db`], also
//!   behind `?`), so no path (a `begin`, a query macro, an extractor) can turn a transient fault
//!   into an internal error. Transient means it goes away by itself: no connection free in time,
//!   a lock held elsewhere, a connection lost or a database restarting, too little memory or too
//!   many connections ([`StoreError::Busy`]), and a full disk ([`StoreError::Full`]).
//! - A connection goes back to its pool only outside any transaction. On PostgreSQL sqlx sees
//!   to it (the rollback of a dropped transaction is sent before the release's ping, and a
//!   connection that fails it is closed). On SQLite it did not: SQLite rolls a whole
//!   transaction back by itself on some errors (a full disk among them), sqlx's own rollback
//!   then fails, its transaction count stays at one for good, and every later `BEGIN` on that
//!   connection failed until a restart. The write pool now closes such a connection and opens
//!   a fresh one ([`released_clean`]).

use sqlx::{Connection, SqliteConnection};

use super::StoreError;

/// Every engine error is classified, not only those of statements that expect contention.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::from_db(e)
    }
}

impl StoreError {
    /// Classifies an engine error: contention to run again ([`StoreError::Retry`]), transient
    /// trouble to answer "retry later" ([`StoreError::Busy`], [`StoreError::Full`]), a unique
    /// key ([`StoreError::Duplicate`]), or anything else ([`StoreError::Db`]).
    pub fn from_db(e: sqlx::Error) -> StoreError {
        let fault = match &e {
            // No connection came free in time, the pool is shutting down, the connection broke
            // (PostgreSQL restarted, a proxy cut it) or SQLite's thread for it died: the pool
            // replaces the connection and the next request finds the database again.
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => Some(StoreError::Busy),
            sqlx::Error::Database(db) => {
                let code = db.code();
                if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                    code.and_then(|c| c.parse::<i32>().ok())
                        .and_then(sqlite_fault)
                } else {
                    code.as_deref().and_then(sqlstate_fault)
                }
            }
            _ => None,
        };
        match fault {
            // The client is only told to retry later; the operator needs the cause. Engine
            // messages of these errors name no values.
            Some(f @ (StoreError::Busy | StoreError::Full)) => {
                tracing::warn!(error = %e, "database: {f}");
                f
            }
            Some(f) => f,
            None => match &e {
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    StoreError::Duplicate(db.constraint().unwrap_or("unique key").to_owned())
                }
                _ => StoreError::Db(e),
            },
        }
    }
}

/// Whether `e` says the connection is gone (cut by the network, a restart, a failover or one of
/// PostgreSQL's timeouts), as opposed to the statement failing on it.
pub(super) fn is_cut(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| sqlstate_cut(&c)),
        _ => false,
    }
}

/// The SQLSTATEs of a connection PostgreSQL ended: class 08, connection exception;
/// admin_shutdown (`pg_terminate_backend`, a fast shutdown), crash_shutdown,
/// cannot_connect_now (starting up); idle_in_transaction_session_timeout, transaction_timeout.
fn sqlstate_cut(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "25P03" | "25P04")
}

/// The transient SQLite result codes (extended codes carry the primary one in the low byte).
fn sqlite_fault(code: i32) -> Option<StoreError> {
    match code & 0xff {
        // SQLITE_BUSY after the whole busy timeout: another process (an admin command, a backup)
        // held the write lock all along. Running the transaction again would make the phone
        // wait that long once more while every queued write waits behind it.
        5 => Some(StoreError::Busy),
        // SQLITE_LOCKED: a conflict inside this process; running again helps.
        6 => Some(StoreError::Retry),
        // SQLITE_NOMEM, SQLITE_PROTOCOL (a WAL lock race that outlasted SQLite's own retries).
        7 | 15 => Some(StoreError::Busy),
        // SQLITE_FULL: the disk (or `max_page_count`) does not let the file grow.
        13 => Some(StoreError::Full),
        // SQLITE_IOERR_NOMEM.
        10 if code == 10 | (12 << 8) => Some(StoreError::Busy),
        _ => None,
    }
}

/// The transient PostgreSQL SQLSTATEs.
fn sqlstate_fault(code: &str) -> Option<StoreError> {
    Some(match code {
        // serialization_failure, deadlock_detected: another transaction got in the way.
        "40001" | "40P01" => StoreError::Retry,
        // disk_full.
        "53100" => StoreError::Full,
        // Class 53, insufficient resources: out_of_memory, too_many_connections, ….
        c if c.starts_with("53") => StoreError::Busy,
        // The connection ended ([`sqlstate_cut`]): the pool opens another.
        c if sqlstate_cut(c) => StoreError::Busy,
        // query_canceled; lock_not_available (a `lock_timeout` set on the role),
        // read_only_sql_transaction (a failover left this connection on a standby).
        "57014" | "55P03" | "25006" => StoreError::Busy,
        _ => return None,
    })
}

/// Whether a connection handed back to the SQLite write pool may serve again: only outside any
/// transaction. A dropped transaction queues its rollback on the connection's worker; the ping
/// runs behind it, so the count read afterwards is the one the rollback left. A connection
/// already outside any transaction (every commit) has no rollback queued, since one is queued
/// only for an open transaction: it goes back without the round trip to its worker.
pub(super) async fn released_clean(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    conn.ping().await?;
    let clean = !conn.is_in_transaction();
    if !clean {
        tracing::warn!("a failed transaction left its connection unusable; closing it");
    }
    Ok(clean)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn postgres_transient_states_answer_retry_later() {
        for code in [
            "53200", "53300", "53400", "08000", "08006", "08003", "57P01", "57P03",
        ] {
            assert!(
                matches!(sqlstate_fault(code), Some(StoreError::Busy)),
                "{code}"
            );
        }
        assert!(matches!(sqlstate_fault("53100"), Some(StoreError::Full)));
        assert!(matches!(sqlstate_fault("40001"), Some(StoreError::Retry)));
        assert!(matches!(sqlstate_fault("40P01"), Some(StoreError::Retry)));
        // unique_violation, syntax_error, undefined_table: not transient.
        for code in ["23505", "42601", "42P01", "XX000"] {
            assert!(sqlstate_fault(code).is_none(), "{code}");
        }
    }

    #[test]
    fn sqlite_transient_codes_answer_retry_later() {
        assert!(matches!(sqlite_fault(13), Some(StoreError::Full)));
        assert!(matches!(sqlite_fault(5), Some(StoreError::Busy)));
        // SQLITE_BUSY_RECOVERY, an extended code.
        assert!(matches!(sqlite_fault(5 | (1 << 8)), Some(StoreError::Busy)));
        assert!(matches!(sqlite_fault(6), Some(StoreError::Retry)));
        assert!(matches!(
            sqlite_fault(10 | (12 << 8)),
            Some(StoreError::Busy)
        ));
        // SQLITE_CONSTRAINT_UNIQUE, SQLITE_ERROR, SQLITE_IOERR_WRITE, SQLITE_CORRUPT.
        for code in [2067, 1, 10 | (3 << 8), 11] {
            assert!(sqlite_fault(code).is_none(), "{code}");
        }
    }

    #[test]
    fn lost_connections_and_pool_timeouts_are_busy() {
        let lost = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection reset");
        for e in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
            sqlx::Error::Io(lost),
        ] {
            assert!(matches!(StoreError::from(e), StoreError::Busy));
        }
        assert!(matches!(
            StoreError::from_db(sqlx::Error::RowNotFound),
            StoreError::Db(_)
        ));
    }

    /// A full disk, as SQLite sees it when `max_page_count` stops the file growing: the error
    /// is `Full`, SQLite has rolled the transaction back by itself, and the store still begins
    /// the next transaction (before `released_clean`, every later `begin` failed with
    /// "attempted to call begin_with at non-zero transaction depth").
    #[tokio::test]
    async fn a_full_disk_does_not_spoil_the_write_connection() {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::store::Store::sqlite_url(dir.path());
        let key = crate::privacy::DataKey::from_secret(&[7; 32]);
        let store = crate::store::Store::connect(&url, &Default::default(), key)
            .await
            .unwrap();
        let crate::store::Engine::Sqlite(pool) = store.writer() else {
            unreachable!()
        };
        sqlx::query("CREATE TABLE t (b BLOB)")
            .execute(pool)
            .await
            .unwrap();
        for _ in 0..3 {
            // The limit belongs to the connection, which the failure may have replaced.
            crate::testing::limit_sqlite_growth(&store, Some(0))
                .await
                .unwrap();
            let mut tx = store.begin().await.expect("begin after a full disk");
            let crate::store::Engine::Sqlite(c) = tx.conn() else {
                unreachable!()
            };
            let err = sqlx::query("INSERT INTO t (b) VALUES (zeroblob(100000))")
                .execute(&mut *c)
                .await
                .unwrap_err();
            assert!(matches!(StoreError::from_db(err), StoreError::Full));
        }
        let mut tx = store.begin().await.expect("begin after a full disk");
        let crate::store::Engine::Sqlite(c) = tx.conn() else {
            unreachable!()
        };
        sqlx::query("INSERT INTO t (b) VALUES (x'00')")
            .execute(&mut *c)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
}
