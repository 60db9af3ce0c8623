//! The push committer's own PostgreSQL connection.
//!
//! A push group's transaction ran on a pooled connection, and sqlx pings a pooled connection as
//! it is taken and again as it goes back: two of a lone push's seven round trips, each a
//! message each way and a wake-up of both processes. The committer is one task running one
//! transaction at a time, so it keeps a connection of its own, outside the pool, and begins and
//! commits on it by hand. That connection is opened with the push's planner settings
//! ([`PUSH_SETTINGS`]), so its `BEGIN` carries none.
//!
//! The next group's `BEGIN` is sent with this group's `COMMIT`, in one message: the kept
//! connection waits inside a transaction in which nothing has run, so a group makes four round
//! trips (its two reads, its write, the commit), not five. Such a transaction holds no lock and
//! no snapshot (PostgreSQL takes one at the first statement), so it holds nothing back: not
//! `VACUUM`, not a schema change. `pg_stat_activity` shows it as `idle in transaction`. After
//! a quiet spell (no push for 20 s, `sync::group`) the transaction is ended
//! ([`PushConnection::rest`]) before PostgreSQL's `idle_in_transaction_session_timeout` would
//! end the connection, and the next group begins with a `BEGIN` of its own.
//!
//! A transaction dropped before its commit (an error on the way) takes the connection with it:
//! closing it ends the transaction in the database, and the next group opens a fresh one. A
//! kept connection that was cut while it waited (a restart, a failover, an
//! `idle_in_transaction_session_timeout`) fails at the group's first statement, before anything
//! was done, so the group is run again from the start on a fresh connection
//! ([`PgTx::took_waiting`]): what the pool's ping on taking a connection did before.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, Postgres};
use sqlx::{Connection, Transaction};
use tokio_stream::StreamExt;

use super::{Result, StoreError};

/// The push's planner settings. A push's statements take their rows as arrays, and PostgreSQL
/// plans such a statement anew on each call (its plan for a counted list looks cheaper than the
/// generic one): planning was a quarter of the database's CPU for a lone push (`perf`). So the
/// push's statements use the plan made at their first call on the connection; and sequential
/// scans are ruled out, so that a plan made while a table was small does not go on scanning it
/// as it grows (every read of a push is by key). Other requests keep PostgreSQL's defaults:
/// their statements were not checked for scans they need. Measured: `ARCHITECTURE.md`.
const PUSH_SETTINGS: [(&str, &str); 2] = [
    ("plan_cache_mode", "force_generic_plan"),
    ("enable_seqscan", "off"),
];

/// The committer's connection while no group runs on it.
pub(super) struct PushConnection {
    options: PgConnectOptions,
    /// How long opening a connection may take before the group is answered "retry later".
    wait: Duration,
    idle: Mutex<Option<Kept>>,
}

/// The kept connection, and whether it waits inside a transaction begun for the next group.
struct Kept {
    conn: PgConnection,
    begun: bool,
}

/// A PostgreSQL write transaction: sqlx's on a pooled connection, or one begun by hand on the
/// committer's own connection.
pub(super) enum PgTx {
    Pooled(Transaction<'static, Postgres>),
    Own {
        conn: PgConnection,
        home: Arc<PushConnection>,
        /// It was kept, begun, from the last group, and nothing has run in it yet.
        waiting: bool,
    },
}

impl PushConnection {
    pub(super) fn new(options: &PgConnectOptions, wait: Duration) -> PushConnection {
        PushConnection {
            options: options.clone().options(PUSH_SETTINGS),
            wait,
            idle: Mutex::new(None),
        }
    }

    /// The kept connection, its transaction begun with the last group's commit; or begun now
    /// if it was rested ([`PushConnection::rest`]); or a new one, if there is none or it died.
    pub(super) async fn begin(self: &Arc<Self>) -> Result<PgTx> {
        let kept = self.slot().take();
        if let Some(Kept { mut conn, begun }) = kept {
            if begun {
                return Ok(self.own(conn, true));
            }
            if sqlx::raw_sql("BEGIN").execute(&mut conn).await.is_ok() {
                return Ok(self.own(conn, false));
            }
            tracing::info!("the push connection broke while idle: opening another");
        }
        let mut conn = tokio::time::timeout(self.wait, PgConnection::connect_with(&self.options))
            .await
            .map_err(|_| {
                // The pool's timeouts are logged by `StoreError::from_db`; this one is ours.
                tracing::warn!(wait = ?self.wait, "database: no push connection within the wait");
                StoreError::Busy
            })?
            .map_err(StoreError::from_db)?;
        sqlx::raw_sql("BEGIN")
            .execute(&mut conn)
            .await
            .map_err(StoreError::from_db)?;
        Ok(self.own(conn, false))
    }

    /// Ends the transaction the kept connection waits in, when no group came for a while:
    /// PostgreSQL would end the connection after `idle_in_transaction_session_timeout` (which
    /// guards the pool's connections against a stuck request holding locks), and log it as
    /// fatal. The next group begins with a round trip of its own, as after a restart.
    pub(super) async fn rest(&self) {
        let kept = self.slot().take();
        // A connection whose `ROLLBACK` failed is dropped; the next group opens another.
        if let Some(Kept { mut conn, begun }) = kept
            && (!begun || sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.is_ok())
        {
            self.keep(conn, false);
        }
    }

    /// Closes the kept connection (the store is closing).
    pub(super) async fn close(&self) {
        let kept = self.slot().take();
        if let Some(Kept { conn, .. }) = kept {
            // It was idle: nothing is lost if the goodbye fails.
            let _ = conn.close().await;
        }
    }

    fn own(self: &Arc<Self>, conn: PgConnection, waiting: bool) -> PgTx {
        PgTx::Own {
            conn,
            home: self.clone(),
            waiting,
        }
    }

    fn keep(&self, conn: PgConnection, begun: bool) {
        *self.slot() = Some(Kept { conn, begun });
    }

    fn slot(&self) -> MutexGuard<'_, Option<Kept>> {
        // The lock is never held across an await or a panic point that leaves the slot wrong.
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl PgTx {
    pub(super) fn conn(&mut self) -> &mut PgConnection {
        match self {
            PgTx::Pooled(t) => t,
            PgTx::Own { conn, .. } => conn,
        }
    }

    /// Whether this is the transaction's first statement on a connection that waited, begun,
    /// since the last group: if that statement finds the connection cut, the group begins
    /// again on a new one (`StoreError::Retry`; see the module). Asked once, before it.
    pub(super) fn took_waiting(&mut self) -> bool {
        match self {
            PgTx::Pooled(_) => false,
            PgTx::Own { waiting, .. } => std::mem::take(waiting),
        }
    }

    pub(super) async fn commit(self) -> sqlx::Result<()> {
        match self {
            PgTx::Pooled(t) => t.commit().await,
            PgTx::Own { mut conn, home, .. } => {
                // The next group's `BEGIN` rides in the same message. Each statement is answered
                // in turn, so a `BEGIN` that failed after the `COMMIT` was answered (the
                // connection cut between the two) still counts as committed.
                let mut answered = 0;
                let mut results = sqlx::raw_sql("COMMIT; BEGIN").execute_many(&mut conn);
                let ended = loop {
                    match results.next().await {
                        Some(Ok(_)) => answered += 1,
                        Some(Err(e)) => break Err(e),
                        None => break Ok(()),
                    }
                };
                drop(results);
                match ended {
                    // Kept, begun, for the next group.
                    Ok(()) => home.keep(conn, true),
                    Err(e) if answered > 0 => {
                        tracing::info!(error = %e, "the push connection broke after a commit: the next group opens another");
                    }
                    // A failed commit drops the connection.
                    Err(e) => return Err(e),
                }
                Ok(())
            }
        }
    }
}
