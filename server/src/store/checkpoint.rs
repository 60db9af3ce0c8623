//! SQLite's WAL checkpoints, off the commit path.
//!
//! With `wal_autocheckpoint` the connection whose commit takes the WAL past its limit copies the
//! WAL back into the database file and syncs it before its commit returns: on the one writer,
//! every push waiting behind that commit waits for the copy too. Here a connection of its own
//! runs a `PASSIVE` checkpoint every [`EVERY`] instead (it never blocks the writer, who keeps
//! appending to the WAL meanwhile; SQLite starts the WAL over at the next write once all of it
//! is copied and no reader needs it), and the writer's own checkpoints are turned off. Durability
//! is unchanged: a commit is synced in the WAL, and a checkpoint syncs the database file before
//! the WAL frames it copied can be reused.

use std::sync::Mutex;
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio::sync::oneshot;

/// How often the checkpointer looks: a pass with nothing to copy reads the WAL index only.
const EVERY: Duration = Duration::from_millis(200);

/// Stops the checkpointer when the store is closed or its last copy is dropped.
pub(super) struct Checkpoints(Mutex<Option<oneshot::Sender<()>>>);

impl Checkpoints {
    pub(super) fn stop(&self) {
        if let Ok(mut stop) = self.0.lock() {
            stop.take();
        }
    }
}

/// Opens the checkpointer's connection and starts it; `None` (the writer keeps checkpointing
/// itself) if the connection cannot be opened.
pub(super) async fn start(options: &SqliteConnectOptions) -> Option<Checkpoints> {
    let conn = match options.connect().await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "no checkpoint connection: the writer checkpoints itself");
            return None;
        }
    };
    let (stop, stopped) = oneshot::channel();
    tokio::spawn(run(conn, stopped));
    Some(Checkpoints(Mutex::new(Some(stop))))
}

async fn run(mut conn: SqliteConnection, mut stopped: oneshot::Receiver<()>) {
    // Told once when checkpoints start failing (a full disk) and once when they work again.
    let mut failing = false;
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            () = tokio::time::sleep(EVERY) => {}
        }
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut conn)
            .await
        {
            Ok(_) if failing => {
                failing = false;
                tracing::info!("WAL checkpoints work again");
            }
            Ok(_) => {}
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "a WAL checkpoint failed; the WAL grows until one works");
            }
            Err(_) => {}
        }
    }
    let _ = conn.close().await;
}
