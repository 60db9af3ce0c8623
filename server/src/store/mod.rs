//! Storage on two engines, one code path.
//!
//! SQLite (the embedded default) and PostgreSQL run the same SQL wherever the dialects agree
//! (`$1` placeholders work on both); the few statements that differ (row locks, array
//! parameters, bulk inserts) are chosen by a `match` next to each other. The [`Engine`] enum
//! holds either engine's pool, transaction or connection, and the `fetch_as!`, `fetch_scalar!`
//! and `execute!` macros run one query on whichever it holds, so every query is written once
//! and typed on both engines without a generic-bounds maze.
//!
//! SQLite writes go through a pool of one connection and start with `BEGIN IMMEDIATE`: SQLite
//! allows one writer anyway, and queueing in-process is fairer and faster than spinning on
//! `SQLITE_BUSY`. Reads use a separate pool.
//!
//! Every engine error is classified in one place (`fault.rs`): trouble that passes by itself
//! (a busy or unreachable database, a full disk) is told apart from bugs, so it is answered
//! "retry later", and a failed transaction never spoils the pooled connection it ran on.

mod admin;
mod assignments;
mod attendance;
mod audit;
mod batch;
mod blob_links;
mod blobs;
mod checkpoint;
mod columns;
mod conflicts;
mod console;
mod divisions;
mod export;
mod fault;
mod household_file;
mod identity;
mod jobs;
mod keys;
mod limits;
mod observations;
mod opening;
mod openrosa;
mod own_id_cards;
mod probe;
mod push_connection;
mod push_sqlite;
mod roster;
mod rows;
mod sealing;
mod seed;
mod sessions;
mod staffing;
mod stamps;
mod sync;
mod wal_sync;
mod work;
mod write_postgres;
mod write_sqlite;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgConnection, PgPool, SqliteConnection, SqlitePool, Transaction};

use crate::privacy::DataKey;

pub use admin::{
    DeviceHealth, DeviceInfo, ImportAssignment, ImportSummary, ImportUser, ImportedUser,
    PreviousState, UserOutcome,
};
pub use assignments::{Ending, OPEN_END};
pub use attendance::{
    AssignmentSpan, CadreRow, CoverageRow, PlainRecord, PresenceEvent, ReviewRow,
};
pub use audit::{AuditAction, AuditEntry, AuditFilter, AuditRow, village_record};
pub use batch::{
    Author, ConflictWrite, FixWrite, MutationWrite, RecordWrite, WriteBatch, field_names,
};
pub use blobs::{BlobFacts, BlobReference, BlobRow, StaleUpload, UploadRow};
pub use conflicts::{ConflictFilter, ConflictRow};
pub use console::{AccountRow, ConsoleSession, MapPoint, Person, VillageMonth};
pub use divisions::Division;
pub use export::{ExportCheck, ExportHousehold, HouseholdCursor, VillageLabel};
pub use household_file::{Edit, Found, Needle};
pub use identity::{Binding, DeviceRow, HandOver, NewUser, UserRow, village_range};
pub use jobs::JobRow;
pub use observations::{
    DivisionShape, HouseholdRecord, PublishedForm, StoredArea, StoredFix, SurveyForm, VillageArea,
};
pub use opening::{Opening, PushReads};
pub use openrosa::{CollectKey, SeenSubmission, SubmissionNote};
pub use own_id_cards::OwnIdCard;
use push_connection::{PgTx, PushConnection};
use push_sqlite::{HandBegun, SqliteTx};
pub use roster::{Baseline, RosterImport, RosterRecord};
pub use rows::{LoggedMutation, PulledRecord, StoredRecord};
pub use seed::SEED_COLUMNS;
pub use sessions::{CheckedSession, EndReason, Refusal, SessionAuth, SessionWithVillages, Spent};
pub use staffing::{PostingRow, VillageClassRow};
pub use stamps::{Stamps, StampsOf};
pub use sync::{SyncStats, Touch};
pub use wal_sync::Durable;
use wal_sync::WalSync;
pub use work::{Candidate, WorkRecord, village_and_above};
use write_postgres::write_postgres;
use write_sqlite::{CallEnd, write_sqlite};

/// Either engine's value of the same kind (pool, transaction, connection).
pub enum Engine<S, P> {
    Sqlite(S),
    Postgres(P),
}

/// Runs `sqlx::query_as::<_, $row>($sql)` with the given binds on whichever engine `$exec`
/// (an [`Engine`] of executors) holds; `$method` is `fetch_one`, `fetch_optional` or
/// `fetch_all`.
macro_rules! fetch_as {
    ($exec:expr, $method:ident, $row:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $exec {
            $crate::store::Engine::Sqlite(e) => {
                sqlx::query_as::<sqlx::Sqlite, $row>($sql)$(.bind($arg))*.$method(e).await
            }
            $crate::store::Engine::Postgres(e) => {
                sqlx::query_as::<sqlx::Postgres, $row>($sql)$(.bind($arg))*.$method(e).await
            }
        }
    };
}

/// Like `fetch_as!` for a single-column result.
macro_rules! fetch_scalar {
    ($exec:expr, $method:ident, $ty:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $exec {
            $crate::store::Engine::Sqlite(e) => {
                sqlx::query_scalar::<sqlx::Sqlite, $ty>($sql)$(.bind($arg))*.$method(e).await
            }
            $crate::store::Engine::Postgres(e) => {
                sqlx::query_scalar::<sqlx::Postgres, $ty>($sql)$(.bind($arg))*.$method(e).await
            }
        }
    };
}

/// Runs a statement on either engine; evaluates to the number of rows affected.
macro_rules! execute {
    ($exec:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $exec {
            $crate::store::Engine::Sqlite(e) => {
                sqlx::query::<sqlx::Sqlite>($sql)$(.bind($arg))*.execute(e).await.map(|r| r.rows_affected())
            }
            $crate::store::Engine::Postgres(e) => {
                sqlx::query::<sqlx::Postgres>($sql)$(.bind($arg))*.execute(e).await.map(|r| r.rows_affected())
            }
        }
    };
}

pub(crate) use {execute, fetch_as, fetch_scalar};

/// Entity names from the registry as an SQL list (`'visit', 'housing_check', …`), for the few
/// queries that ask for a family of entities (checks, records made at a household), so that the
/// registry stays the only list of them. Such a query is formatted once (a `LazyLock`). The
/// names are the registry's identifiers, never input; anything else is refused loudly.
pub(super) fn entity_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| {
            assert!(
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "not a registry entity name: {n:?}"
            );
            format!("'{n}'")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A unique constraint (named) was violated: the caller maps it to a client error.
    #[error("duplicate value for {0}")]
    Duplicate(String),
    /// The transaction met a concurrent writer (deadlock, serialization failure, a racing
    /// insert) and may simply be run again.
    #[error("transaction must be retried")]
    Retry,
    /// The database cannot serve this request now, and will by itself: no connection came free
    /// within the wait (the server is overloaded, or another process held SQLite's write lock
    /// all along), the connection was lost, or the database is restarting or short of memory
    /// or connections. Not retried inside (another wait would only add to the load); the client
    /// is told to retry.
    #[error("the database is busy or out of reach")]
    Busy,
    /// The database cannot grow: its disk is full. The transaction was rolled back; writes
    /// work again, with no restart, once space is freed.
    #[error("the database's disk is full")]
    Full,
    #[error("unsupported database URL {0:?}: use sqlite:PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which engine a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// Both pools and the key that encrypts personal data at rest: ID-card numbers are sealed on
/// the way into the database and opened on the way out, so code above the store sees plain
/// values and the database never does (see `crate::privacy`).
#[derive(Clone)]
pub struct Store {
    read: Engine<SqlitePool, PgPool>,
    write: Engine<SqlitePool, PgPool>,
    key: Arc<DataKey>,
    /// SQLite's checkpointer (`checkpoint`), stopped with the store.
    checkpoints: Option<Arc<checkpoint::Checkpoints>>,
    /// SQLite's WAL syncer for group commits that do not sync themselves (`wal_sync`).
    wal: Option<Arc<WalSync>>,
    /// PostgreSQL: the push committer's own connection (`push_connection`).
    push: Option<Arc<PushConnection>>,
    /// SQLite: whether the push committer left a transaction open on the write connection
    /// (`push_sqlite`).
    hand_begun: Option<Arc<HandBegun>>,
    /// The form definitions pushes have read (`observations::FormCache`).
    forms: Arc<observations::FormCache>,
}

impl Clone for Engine<SqlitePool, PgPool> {
    fn clone(&self) -> Self {
        match self {
            Engine::Sqlite(p) => Engine::Sqlite(p.clone()),
            Engine::Postgres(p) => Engine::Postgres(p.clone()),
        }
    }
}

/// An open write transaction on either engine.
pub struct Tx {
    engine: Engine<SqliteTx, PgTx>,
    key: Arc<DataKey>,
    /// Its commit does not sync itself (`Store::begin_unsynced`).
    wal: Option<Arc<WalSync>>,
    /// The lowest sequence number its records had or took (SQLite), for
    /// [`Tx::commit_unsynced`].
    floor: Option<i64>,
    /// It moved existing records to new sequence numbers.
    moved: bool,
    /// The store's form definitions (`Tx::open_push`).
    forms: Arc<observations::FormCache>,
}

impl Tx {
    pub(crate) fn key(&self) -> &DataKey {
        &self.key
    }

    pub(crate) fn conn(&mut self) -> Engine<&mut SqliteConnection, &mut PgConnection> {
        match &mut self.engine {
            Engine::Sqlite(t) => Engine::Sqlite(t.conn()),
            Engine::Postgres(t) => Engine::Postgres(t.conn()),
        }
    }

    /// Commits; a transaction begun with [`Store::begin_unsynced`] returns when its commit is
    /// visible to writers and the returned [`Durable`] resolves once it is synced (and visible
    /// to readers). Only for a writer that answers nobody before that.
    pub async fn commit_unsynced(self) -> Result<Durable> {
        let Tx {
            engine,
            wal,
            floor,
            moved,
            ..
        } = self;
        let (t, wal) = match (engine, wal) {
            (Engine::Sqlite(t), Some(wal)) => (t, wal),
            (Engine::Sqlite(t), None) => {
                t.commit().await.map_err(StoreError::from_db)?;
                return Ok(Durable::Now);
            }
            (Engine::Postgres(t), _) => {
                t.commit().await.map_err(StoreError::from_db)?;
                return Ok(Durable::Now);
            }
        };
        // Held before the commit shows anything; a failed commit is synced all the same (the
        // hold's drop), since whether it committed is not always known.
        let hold = wal.hold(floor);
        t.commit().await.map_err(StoreError::from_db)?;
        let durable = hold.committed();
        if moved {
            // Readers stay below the old places of the moved records until the sync: waited
            // for here, so that it never spans the groups after this one.
            durable.wait().await?;
            return Ok(Durable::Now);
        }
        Ok(durable)
    }

    /// Commits; returns once the commit is durable.
    pub async fn commit(self) -> Result<()> {
        self.commit_unsynced().await?.wait().await
    }
}

/// Connection settings that are not part of the URL.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub max_connections: u32,
    /// How long a request waits for the database before it is answered busy: for a free
    /// connection, and on SQLite for the write lock while another process holds it.
    pub wait: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            max_connections: 16,
            wait: Duration::from_secs(10),
        }
    }
}

/// The SQLite writer's page cache: 32 MiB (negative: KiB, as SQLite takes it).
const WRITE_CACHE_KIB: &str = "-32768";
/// WAL pages before the writer checkpoints (16,384 of 4 KiB: 64 MiB, against SQLite's 1,000),
/// when the checkpointer's connection could not be opened.
const WAL_CHECKPOINT_PAGES: &str = "16384";

impl Store {
    /// Opens the database named by `url` (`sqlite:PATH` or `postgres://…`), creating an SQLite
    /// file if missing. Does not migrate; call [`Store::migrate`].
    pub async fn connect(url: &str, opts: &ConnectOptions, key: DataKey) -> Result<Store> {
        let key = Arc::new(key);
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // A transaction left open by a stuck client would hold row locks (the sequence row
            // among them) and stall every push: PostgreSQL ends it after 60 s.
            let connect = PgConnectOptions::from_str(url)?
                .options([("idle_in_transaction_session_timeout", "60s")]);
            // sqlx's ping as a connection is taken stays: after a restart or a failover it is
            // what finds the cut connections, so the next request gets a fresh one instead of
            // an error (`tests/api/faults.rs`). Without it a lone push cost 3-5 % less CPU.
            let pool = PgPoolOptions::new()
                .max_connections(opts.max_connections)
                .acquire_timeout(opts.wait)
                .connect_with(connect.clone())
                .await?;
            return Ok(Store {
                read: Engine::Postgres(pool.clone()),
                write: Engine::Postgres(pool),
                key,
                checkpoints: None,
                wal: None,
                push: Some(Arc::new(PushConnection::new(&connect, opts.wait))),
                hand_begun: None,
                forms: Arc::default(),
            });
        }
        if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a push the phone saw acknowledged must survive a power cut, or the
                // phone, which has emptied its outbox, would lose the edit.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(opts.wait)
                .pragma("temp_store", "memory");
            // The one writer keeps the B-tree pages it works on: with SQLite's default 2 MB
            // cache a push of a thousand records read and wrote most index pages again, and a
            // checkpoint after every such commit copied them once more.
            // Checkpoints run on a connection of their own when it opens (`checkpoint`).
            let checkpoints = checkpoint::start(&connect).await.map(Arc::new);
            let writer = connect
                .clone()
                .pragma("cache_size", WRITE_CACHE_KIB)
                .pragma(
                    "wal_autocheckpoint",
                    if checkpoints.is_some() {
                        "0"
                    } else {
                        WAL_CHECKPOINT_PAGES
                    },
                );
            // A database in memory has no file and no WAL to sync later: its commits stay plain.
            let wal = WalSync::start(connect.get_filename()).map(Arc::new);
            let restore = wal.clone();
            let hand_begun = Arc::new(HandBegun::default());
            let left_open = hand_begun.clone();
            // No ping on acquire (sqlx's default): sqlx pings every connection as it goes back
            // to the pool and closes one that fails, and a SQLite connection's worker thread,
            // which the ping reaches, cannot die while the connection sits idle. A ping is a
            // round trip to that thread: on a one-record push the acquire's were 2 of its ~14.
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .acquire_timeout(opts.wait)
                // Transactions run here only; readers never begin one. A connection goes back
                // outside any transaction and syncing its commits again.
                .after_release(move |conn, _| {
                    let restore = restore.clone();
                    let left_open = left_open.clone();
                    Box::pin(async move {
                        // A push's own transaction first: sqlx's check below does not see it.
                        let rolled_back = left_open.end(conn).await;
                        let clean = fault::released_clean(conn).await? && rolled_back;
                        if clean && let Some(wal) = &restore {
                            wal.restore(conn).await?;
                        }
                        Ok(clean)
                    })
                })
                .connect_with(writer)
                .await?;
            // Where SQLite could not switch to WAL mode, there is no WAL file to sync.
            let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&write)
                .await?;
            let wal = wal.filter(|_| journal.eq_ignore_ascii_case("wal"));
            let read = SqlitePoolOptions::new()
                .max_connections(opts.max_connections.clamp(1, 8))
                .test_before_acquire(false)
                .acquire_timeout(opts.wait)
                .connect_with(connect.read_only(true))
                .await?;
            return Ok(Store {
                read: Engine::Sqlite(read),
                write: Engine::Sqlite(write),
                key,
                checkpoints,
                wal,
                push: None,
                hand_begun: Some(hand_begun),
                forms: Arc::default(),
            });
        }
        Err(StoreError::UnsupportedUrl(redact(url)))
    }

    /// The default embedded database inside `data_dir`.
    pub fn sqlite_url(data_dir: &Path) -> String {
        format!("sqlite:{}", data_dir.join("fieldsync.db").display())
    }

    /// A consistent copy of the SQLite database into a new file, while it is in use.
    pub async fn vacuum_into(&self, file: &Path) -> Result<()> {
        match self.writer() {
            Engine::Sqlite(p) => {
                sqlx::query("VACUUM INTO ?")
                    .bind(file.display().to_string())
                    .execute(p)
                    .await?;
                Ok(())
            }
            Engine::Postgres(_) => Err(StoreError::Corrupt(
                "VACUUM INTO is SQLite's; back up PostgreSQL with pg_dump".into(),
            )),
        }
    }

    pub fn kind(&self) -> Kind {
        match self.write {
            Engine::Sqlite(_) => Kind::Sqlite,
            Engine::Postgres(_) => Kind::Postgres,
        }
    }

    pub async fn migrate(&self) -> Result<()> {
        match &self.write {
            Engine::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await?,
            Engine::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await?,
        }
        self.decide_earlier_links().await?;
        Ok(())
    }

    /// Starts a write transaction. On SQLite it holds the write lock from the start, so a
    /// read-then-write transaction cannot fail half-way on a concurrent writer.
    pub async fn begin(&self) -> Result<Tx> {
        let engine = match &self.write {
            Engine::Sqlite(p) => Engine::Sqlite(SqliteTx::Pooled(
                p.begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(StoreError::from_db)?,
            )),
            Engine::Postgres(p) => {
                Engine::Postgres(PgTx::Pooled(p.begin().await.map_err(StoreError::from_db)?))
            }
        };
        Ok(self.tx(engine, None))
    }

    /// Starts a push group's transaction: on SQLite [`Store::begin_unsynced`] when `later`,
    /// else one begun inside the group's first call ([`Tx::open_push`]) and committed inside its
    /// write ([`Tx::write_and_commit`], `push_sqlite`); on PostgreSQL on the committer's own
    /// connection, with the push's planner settings (`push_connection`). Only the push
    /// committer calls it, one group at a time, and calls [`Tx::open_push`] first.
    pub async fn begin_push(&self, later: bool) -> Result<Tx> {
        match (&self.write, &self.push, &self.hand_begun) {
            (Engine::Postgres(_), Some(push), _) => {
                Ok(self.tx(Engine::Postgres(push.begin().await?), None))
            }
            (Engine::Sqlite(_), _, _) if later => self.begin_unsynced().await,
            (Engine::Sqlite(pool), _, Some(open)) => {
                let conn = pool.acquire().await.map_err(StoreError::from_db)?;
                Ok(self.tx(Engine::Sqlite(SqliteTx::hand(conn, open.clone())), None))
            }
            _ => self.begin().await,
        }
    }

    fn tx(&self, engine: Engine<SqliteTx, PgTx>, wal: Option<Arc<WalSync>>) -> Tx {
        Tx {
            engine,
            key: self.key.clone(),
            wal,
            floor: None,
            moved: false,
            forms: self.forms.clone(),
        }
    }

    /// Starts a write transaction whose commit is synced beside the work that follows it
    /// ([`Tx::commit_unsynced`], `wal_sync`): on SQLite with a WAL file; elsewhere [`Store::begin`].
    pub async fn begin_unsynced(&self) -> Result<Tx> {
        let (Engine::Sqlite(pool), Some(wal)) = (&self.write, &self.wal) else {
            return self.begin().await;
        };
        let mut conn = pool.acquire().await.map_err(StoreError::from_db)?;
        // SQLite takes the setting only outside a transaction; the pool's release hook puts it
        // back before anyone else has the connection.
        wal.relax();
        sqlx::query("PRAGMA synchronous = NORMAL")
            .execute(&mut *conn)
            .await
            .map_err(StoreError::from_db)?;
        // `Transaction::begin` is how sqlx's own `Acquire` impls start a transaction on a
        // connection they own; a pool's `begin_with` would take a connection of its choosing.
        let t = Transaction::begin(conn, Some(sqlx::SqlStr::from_static("BEGIN IMMEDIATE")))
            .await
            .map_err(StoreError::from_db)?;
        Ok(self.tx(Engine::Sqlite(SqliteTx::Pooled(t)), Some(wal.clone())))
    }

    pub(crate) fn key(&self) -> &DataKey {
        &self.key
    }

    /// The highest sequence number a reader may hand out: below the lowest place a commit not
    /// yet synced had or took (`wal_sync`).
    pub(crate) fn visible_upto(&self) -> i64 {
        self.wal.as_ref().map_or(i64::MAX, |w| w.visible_upto())
    }

    pub(crate) fn reader(&self) -> Engine<&SqlitePool, &PgPool> {
        match &self.read {
            Engine::Sqlite(p) => Engine::Sqlite(p),
            Engine::Postgres(p) => Engine::Postgres(p),
        }
    }

    pub(crate) fn writer(&self) -> Engine<&SqlitePool, &PgPool> {
        match &self.write {
            Engine::Sqlite(p) => Engine::Sqlite(p),
            Engine::Postgres(p) => Engine::Postgres(p),
        }
    }

    /// Tells the store that no push came for a while (the push committer's quiet spell): on
    /// PostgreSQL the committer's connection stops waiting inside a begun transaction
    /// (`push_connection`). Nothing on SQLite.
    pub async fn rest_pushes(&self) {
        if let Some(p) = &self.push {
            p.rest().await;
        }
    }

    pub async fn close(&self) {
        if let Some(c) = &self.checkpoints {
            c.stop();
        }
        if let Some(p) = &self.push {
            p.close().await;
        }
        for pool in [&self.read, &self.write] {
            match pool {
                Engine::Sqlite(p) => p.close().await,
                Engine::Postgres(p) => p.close().await,
            }
        }
    }
}

/// Hides the password of a database URL, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A migrated SQLite store in `dir`, for the store's unit tests.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) async fn test_sqlite(dir: &Path) -> Store {
    let key = crate::privacy::DataKey::from_secret(&[7; 32]);
    let store = Store::connect(&Store::sqlite_url(dir), &Default::default(), key)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_passwords_only() {
        assert_eq!(
            redact("postgres://u:secret@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert_eq!(redact("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(
            redact("sqlite:data/fieldsync.db"),
            "sqlite:data/fieldsync.db"
        );
    }
}
