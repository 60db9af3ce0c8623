//! The push committer's own PostgreSQL connection.
//!
//! A push group's transaction ran on a pooled connection, and sqlx pings a pooled connection as
//! it is taken and again as it goes back: two of a lone push's seven round trips, each a
//! message each way and a wake-up of both processes. The committer is one task running one
//! transaction at a time, so it keeps a connection of its own, outside the pool, and begins and
//! commits on it by hand. That connection is opened with the push's planner settings
//! ([`PUSH_SETTINGS`]), so its `BEGIN` carries none.
//!
//! A transaction dropped before its commit (an error on the way) takes the connection with it:
//! closing it ends the transaction in the database, and the next group opens a fresh one. A
//! kept connection that died while it waited (a restart, a failover) fails at the group's
//! `BEGIN`, which did nothing, so the group begins once more on a fresh connection: what the
//! pool's ping on taking a connection did before.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, Postgres};
use sqlx::{Connection, Transaction};

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
    idle: Mutex<Option<PgConnection>>,
}

/// A PostgreSQL write transaction: sqlx's on a pooled connection, or one begun by hand on the
/// committer's own connection.
pub(super) enum PgTx {
    Pooled(Transaction<'static, Postgres>),
    Own {
        conn: PgConnection,
        home: Arc<PushConnection>,
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

    /// Begins a transaction on the kept connection, or on a new one if there is none or it
    /// died.
    pub(super) async fn begin(self: &Arc<Self>) -> Result<PgTx> {
        let kept = self.slot().take();
        if let Some(mut conn) = kept {
            if sqlx::raw_sql("BEGIN").execute(&mut conn).await.is_ok() {
                return Ok(self.own(conn));
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
        Ok(self.own(conn))
    }

    /// Closes the kept connection (the store is closing).
    pub(super) async fn close(&self) {
        let kept = self.slot().take();
        if let Some(conn) = kept {
            // It was idle: nothing is lost if the goodbye fails.
            let _ = conn.close().await;
        }
    }

    fn own(self: &Arc<Self>, conn: PgConnection) -> PgTx {
        PgTx::Own {
            conn,
            home: self.clone(),
        }
    }

    fn slot(&self) -> MutexGuard<'_, Option<PgConnection>> {
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

    pub(super) async fn commit(self) -> sqlx::Result<()> {
        match self {
            PgTx::Pooled(t) => t.commit().await,
            PgTx::Own { mut conn, home } => {
                sqlx::raw_sql("COMMIT").execute(&mut conn).await?;
                // Kept for the next group; a failed commit drops the connection instead.
                *home.slot() = Some(conn);
                Ok(())
            }
        }
    }
}
