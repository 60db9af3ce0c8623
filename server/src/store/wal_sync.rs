//! Group commits on SQLite whose WAL is synced beside the next group's work.
//!
//! A commit with `synchronous=FULL` writes its WAL frames and then waits for the disk to sync
//! them, holding the one write connection meanwhile: on this project's machines that sync was a
//! third of a group's time, with the committer and the connection both idle. The push committer
//! (`sync::group`) therefore begins a group, when pushes came in during the one before it, with
//! `synchronous=NORMAL` (its commit writes the frames, not syncs them) and hands the sync to the
//! thread here, which syncs the WAL file while the next group is planned and written. What a
//! push is promised does not change:
//! - durable once answered: the group's pushes are answered only after a sync that began after
//!   their commit returned (one sync serves every commit before it);
//! - pull never skips: a pull must not see a sequence number that a power cut could still take
//!   back, or its cursor would pass numbers the server hands out again after restarting, or pass
//!   the old place of a record whose move to a new number was lost. From just before such a
//!   commit until its sync, readers see numbers only below the lowest its records had or took
//!   ([`WalSync::visible_upto`]); a later commit is held back with it (a sync of the WAL covers
//!   every frame before it). A commit that moved existing records is waited for before the
//!   committer goes on (`Tx::commit_unsynced`), so that holding back the place of an old record
//!   never lasts longer than one sync;
//! - other writers stay durable: the write connection is put back to `FULL` before anyone else
//!   gets it ([`WalSync::restore`], from the pool's release hook);
//! - a failed sync stops the process, as PostgreSQL does (a WAL file that cannot be opened only
//!   answers "retry later": nothing was given up): after a failed `fdatasync` Linux may
//!   have dropped the unwritten pages and report later syncs as good, and every later WAL frame
//!   depends on the lost ones, so no later commit could be called durable. SQLite recovers from
//!   the WAL on disk at the next start; the pushes of the lost frames were never answered.
//!
//! A process crash loses nothing either way: written frames are in the operating system's cache.
//! Readers that hand out no sequence numbers (the console, entity lists) may see a commit a few
//! milliseconds before its sync; a power cut in that window takes back what the pushing phone was
//! never told was kept, and that phone sends it again.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use super::StoreError;

/// How long the syncer waits before it opens a WAL file that could not be opened again.
const RETRY_OPEN: std::time::Duration = std::time::Duration::from_millis(100);

/// The syncer of one SQLite database's WAL, with the thread that syncs it.
pub(crate) struct WalSync {
    shared: Arc<Shared>,
    /// The write connection was set to `synchronous=NORMAL` (there is one write connection).
    relaxed: AtomicBool,
}

struct Shared {
    wal: PathBuf,
    state: Mutex<State>,
    /// Wakes the thread: a commit to sync, or the store gone.
    wake: Condvar,
    /// Sequence numbers at or above the lowest of a commit not synced yet are hidden; this is
    /// the highest visible, `i64::MAX` when nothing waits.
    upto: AtomicI64,
}

#[derive(Default)]
struct State {
    /// The commits made visible before their sync, oldest first.
    pending: Vec<Pending>,
    next_ticket: u64,
    /// The store is gone: the thread ends.
    closed: bool,
}

struct Pending {
    ticket: u64,
    /// The lowest sequence number its records had or took (`i64::MAX` if it wrote none).
    floor: i64,
    /// Its commit returned, or may have: the next sync covers it.
    committed: bool,
    /// Told when it is synced.
    waiter: Option<oneshot::Sender<()>>,
}

/// A commit whose WAL may not be synced yet: [`Durable::wait`] returns once it is.
#[must_use = "a commit not yet synced may be lost to a power cut: wait before answering"]
pub enum Durable {
    Now,
    Later(oneshot::Receiver<()>),
}

impl Durable {
    pub async fn wait(self) -> Result<(), StoreError> {
        match self {
            Durable::Now => Ok(()),
            // The syncer is gone with its store: whether the frames reached the disk is not
            // known, so the phone is told to try again.
            Durable::Later(rx) => rx.await.map_err(|_| StoreError::Busy),
        }
    }
}

impl WalSync {
    /// The syncer of the database file `db` (its WAL is `<db>-wal`, beside the file a
    /// symbolic link names, as SQLite puts it); `None` if `db` is not a file on disk.
    pub(crate) fn start(db: &std::path::Path) -> Option<WalSync> {
        let mut wal = std::fs::canonicalize(db).ok()?.into_os_string();
        wal.push("-wal");
        let shared = Arc::new(Shared {
            wal: PathBuf::from(wal),
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            upto: AtomicI64::new(i64::MAX),
        });
        let thread = shared.clone();
        std::thread::Builder::new()
            .name("wal-sync".into())
            .spawn(move || run(&thread))
            .ok()?;
        Some(WalSync {
            shared,
            relaxed: AtomicBool::new(false),
        })
    }

    /// The highest sequence number readers may see now.
    pub(crate) fn visible_upto(&self) -> i64 {
        self.shared.upto.load(Ordering::SeqCst)
    }

    /// Called before a commit that does not sync itself, `floor` being the lowest sequence
    /// number its records had or took (`None`: it wrote no records): from now until its sync,
    /// readers see only the numbers below. The returned hold marks the commit for the next sync
    /// when it is dropped, whatever became of the commit.
    pub(crate) fn hold(&self, floor: Option<i64>) -> Hold<'_> {
        let mut s = self.shared.lock();
        let ticket = s.next_ticket;
        s.next_ticket += 1;
        s.pending.push(Pending {
            ticket,
            floor: floor.unwrap_or(i64::MAX),
            committed: false,
            waiter: None,
        });
        self.shared.publish(&s);
        Hold {
            sync: self,
            ticket,
            marked: false,
        }
    }

    /// The write connection is being set to `synchronous=NORMAL`: [`WalSync::restore`] puts
    /// it back.
    pub(crate) fn relax(&self) {
        self.relaxed.store(true, Ordering::SeqCst);
    }

    /// Puts the write connection back to `synchronous=FULL` if a commit left it relaxed; run as
    /// the connection goes back to its pool.
    pub(crate) async fn restore(
        &self,
        conn: &mut sqlx::SqliteConnection,
    ) -> Result<(), sqlx::Error> {
        if self.relaxed.swap(false, Ordering::SeqCst) {
            sqlx::query("PRAGMA synchronous = FULL")
                .execute(conn)
                .await?;
        }
        Ok(())
    }
}

impl Drop for WalSync {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

/// A commit held back from readers until its sync (see [`WalSync::hold`]).
pub(crate) struct Hold<'a> {
    sync: &'a WalSync,
    ticket: u64,
    marked: bool,
}

impl Hold<'_> {
    /// The commit returned: what to wait for before answering anyone.
    pub(crate) fn committed(mut self) -> Durable {
        let (tx, rx) = oneshot::channel();
        self.mark(Some(tx));
        Durable::Later(rx)
    }

    fn mark(&mut self, waiter: Option<oneshot::Sender<()>>) {
        self.marked = true;
        {
            let mut s = self.sync.shared.lock();
            if let Some(p) = s.pending.iter_mut().find(|p| p.ticket == self.ticket) {
                p.committed = true;
                p.waiter = waiter;
            }
        }
        self.sync.shared.wake.notify_one();
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        // A commit that failed, or whose future was dropped, may have committed all the same:
        // it is synced like any other (a sync of nothing costs little), never left hidden.
        if !self.marked {
            self.mark(None);
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Each change of the state is one step; a panic elsewhere cannot leave it half done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self, s: &State) {
        let upto = s
            .pending
            .iter()
            .map(|p| p.floor)
            .min()
            .map_or(i64::MAX, |floor| floor - 1);
        self.upto.store(upto, Ordering::SeqCst);
    }
}

/// Syncs the WAL whenever commits wait for it; one sync serves all that committed before it
/// began. Ends when the store is dropped.
fn run(shared: &Shared) {
    loop {
        let ready: Vec<u64> = {
            let mut s = shared.lock();
            loop {
                if s.closed {
                    return;
                }
                let ready: Vec<u64> = s
                    .pending
                    .iter()
                    .filter(|p| p.committed)
                    .map(|p| p.ticket)
                    .collect();
                if !ready.is_empty() {
                    break ready;
                }
                s = shared.wake.wait(s).unwrap_or_else(PoisonError::into_inner);
            }
        };
        let file = match std::fs::File::open(&shared.wal) {
            Ok(f) => f,
            Err(e) => {
                // Nothing was synced, so nothing was given up: the frames stay unsynced and
                // hidden, their pushes are told to retry, and the next look tries again (the
                // data directory is gone, or going with its store).
                tracing::warn!(error = %e, "the WAL file could not be opened to sync it");
                {
                    let mut s = shared.lock();
                    for p in s.pending.iter_mut().filter(|p| ready.contains(&p.ticket)) {
                        p.waiter = None;
                    }
                }
                std::thread::sleep(RETRY_OPEN);
                continue;
            }
        };
        if let Err(e) = file.sync_data() {
            // See the module's notes: nothing after a failed sync can be called durable.
            tracing::error!(error = %e, "syncing the WAL failed; stopping so that SQLite recovers from what is on disk");
            eprintln!("fieldsync: syncing the WAL failed ({e}); stopping");
            std::process::abort();
        }
        let mut waiters = Vec::with_capacity(ready.len());
        {
            let mut s = shared.lock();
            s.pending.retain_mut(|p| {
                if ready.contains(&p.ticket) {
                    waiters.extend(p.waiter.take());
                    false
                } else {
                    true
                }
            });
            shared.publish(&s);
        }
        for w in waiters {
            let _ = w.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::store::{Engine, Store};

    /// Readers see up to the lowest number of the oldest commit not yet synced; a commit whose
    /// outcome is unknown (its hold dropped) is synced too, and then readers go on.
    #[tokio::test]
    async fn readers_wait_for_the_oldest_unsynced_commit() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        assert!(WalSync::start(&db).is_none(), "no file, no syncer");
        std::fs::write(&db, b"").unwrap();
        let sync = WalSync::start(&db).unwrap();
        // No WAL file to open: the commit is told to retry and stays hidden.
        let early = sync.hold(Some(5));
        assert!(matches!(
            early.committed().wait().await,
            Err(StoreError::Busy)
        ));
        assert_eq!(sync.visible_upto(), 4);
        std::fs::write(dir.path().join("x.db-wal"), b"frames").unwrap();
        let a = sync.hold(Some(10));
        let b = sync.hold(Some(15));
        let none = sync.hold(None);
        b.committed().wait().await.unwrap();
        // The early commit was synced with this one.
        assert_eq!(sync.visible_upto(), 9, "the older commit still waits");
        drop(a);
        none.committed().wait().await.unwrap();
        assert_eq!(sync.visible_upto(), i64::MAX);
    }

    /// Takes `n` sequence numbers as a push's write does; returns the first.
    async fn take_seqs(tx: &mut crate::store::Tx, n: i64) -> i64 {
        let Engine::Sqlite(c) = tx.conn() else {
            unreachable!()
        };
        let last: i64 =
            sqlx::query_scalar("UPDATE sync_head SET seq = seq + $1 WHERE id = 1 RETURNING seq")
                .bind(n)
                .fetch_one(&mut *c)
                .await
                .unwrap();
        tx.floor = Some(last - n + 1);
        last - n + 1
    }

    async fn synchronous(store: &Store) -> i64 {
        let Engine::Sqlite(pool) = store.writer() else {
            unreachable!()
        };
        sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(pool)
            .await
            .unwrap()
    }

    /// An unsynced commit: readers see its numbers once it is synced, and the write connection
    /// is back to `synchronous=FULL` (2) for whoever takes it next.
    #[tokio::test]
    async fn an_unsynced_commit_is_read_after_its_sync_and_leaves_the_writer_full() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::test_sqlite(dir.path()).await;
        assert_eq!(synchronous(&store).await, 2);
        let before = store.head_seq().await.unwrap();
        let mut tx = store.begin_unsynced().await.unwrap();
        let first = take_seqs(&mut tx, 3).await;
        assert_eq!(first, before + 1);
        let durable = tx.commit_unsynced().await.unwrap();
        assert!(matches!(durable, Durable::Later(_)));
        // Until the sync, readers stop before it (or the sync was quicker than this look).
        let seen = store.head_seq().await.unwrap();
        assert!(seen == before || seen == first + 2, "{seen}");
        durable.wait().await.unwrap();
        assert_eq!(store.head_seq().await.unwrap(), first + 2);
        assert_eq!(synchronous(&store).await, 2);
        // A commit that moved records is waited for before it returns.
        let mut tx = store.begin_unsynced().await.unwrap();
        take_seqs(&mut tx, 1).await;
        tx.moved = true;
        let durable = tx.commit_unsynced().await.unwrap();
        assert!(matches!(durable, Durable::Now));
        assert_eq!(store.head_seq().await.unwrap(), first + 3);
        assert_eq!(synchronous(&store).await, 2);
        // A plain transaction commits durably, as before.
        let mut tx = store.begin().await.unwrap();
        take_seqs(&mut tx, 1).await;
        tx.commit().await.unwrap();
        assert_eq!(store.head_seq().await.unwrap(), first + 4);
    }
}
