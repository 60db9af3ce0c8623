//! Group commits on SQLite whose WAL is synced beside the next group's work.
//!
//! A commit with `synchronous=FULL` writes its WAL frames and then waits for the disk to sync
//! them, holding the one write connection meanwhile: on this project's machines that sync was a
//! third of a group's time, with the committer and the connection both idle. The push committer
//! (`sync::group`) therefore commits a group, when pushes came in during the one before it, with
//! `synchronous=NORMAL` (the frames are written, not synced) and hands the sync to this task,
//! which syncs the WAL file while the next group is planned and written. What a push is
//! promised does not change:
//! - durable once answered: the group's pushes are answered only after a sync that began after
//!   their commit returned (one sync serves every commit that came before it);
//! - pull never skips: a pull must not see a record that a power cut could still take back, or
//!   its cursor would pass sequence numbers that the server hands out again after restarting.
//!   From just before such a commit until its sync, readers see sequence numbers only below the
//!   commit's first ([`WalSync::visible_upto`]); a later commit that syncs on its own is held
//!   back with it (a sync of the WAL covers every frame before it, so none is durable sooner);
//! - other writers stay durable: the write connection is put back to `FULL` before anyone else
//!   gets it ([`WalSync::restore`], from the pool's release hook).
//!
//! A process crash loses nothing either way: written frames are in the operating system's cache.
//! A failed sync answers the group "retry later"; its phones send again and hear `duplicate` once
//! a later sync has gone through.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use tokio::sync::{Notify, oneshot};

use super::StoreError;

/// The syncer of one SQLite database's WAL.
pub(crate) struct WalSync {
    wal: PathBuf,
    state: Mutex<State>,
    /// Wakes the syncer: a commit to sync, or the store gone.
    wake: std::sync::Arc<Notify>,
    /// Sequence numbers above this are not durable yet; `i64::MAX` when nothing waits.
    upto: AtomicI64,
    /// The write connection was left with `synchronous=NORMAL`.
    relaxed: AtomicBool,
}

#[derive(Default)]
struct State {
    /// The commits made visible before their sync, oldest first.
    pending: Vec<Pending>,
    next_ticket: u64,
}

struct Pending {
    ticket: u64,
    /// Its first sequence number (`i64::MAX` if it wrote no records).
    first_seq: i64,
    /// Its commit returned: the next sync covers it.
    committed: bool,
    /// Told when it is synced; taken once told.
    waiter: Option<oneshot::Sender<Result<(), StoreError>>>,
}

/// A commit whose WAL may not be synced yet: [`Durable::wait`] returns once it is.
pub enum Durable {
    Now,
    Later(oneshot::Receiver<Result<(), StoreError>>),
}

impl Durable {
    pub async fn wait(self) -> Result<(), StoreError> {
        match self {
            Durable::Now => Ok(()),
            // The syncer is gone (the store was closed): whether the frames reached the disk is
            // not known, so the phone is told to try again.
            Durable::Later(rx) => rx.await.unwrap_or(Err(StoreError::Busy)),
        }
    }
}

impl WalSync {
    /// The syncer of the database file `db` (its WAL is `<db>-wal`), started on the runtime.
    pub(crate) fn start(db: PathBuf) -> std::sync::Arc<WalSync> {
        let mut wal = db.into_os_string();
        wal.push("-wal");
        let sync = std::sync::Arc::new(WalSync {
            wal: PathBuf::from(wal),
            state: Mutex::new(State::default()),
            wake: std::sync::Arc::new(Notify::new()),
            upto: AtomicI64::new(i64::MAX),
            relaxed: AtomicBool::new(false),
        });
        tokio::spawn(run(std::sync::Arc::downgrade(&sync), sync.wake.clone()));
        sync
    }

    /// The highest sequence number readers may see now.
    pub(crate) fn visible_upto(&self) -> i64 {
        self.upto.load(Ordering::SeqCst)
    }

    /// Called before a commit that will not sync itself, whose records start at `first_seq`
    /// (`None`: it writes no records): from now until its sync, readers see only the numbers
    /// below. Returns the ticket for [`WalSync::committed`] or [`WalSync::abandon`].
    pub(crate) fn hold(&self, first_seq: Option<i64>) -> u64 {
        let mut s = self.lock();
        let ticket = s.next_ticket;
        s.next_ticket += 1;
        s.pending.push(Pending {
            ticket,
            first_seq: first_seq.unwrap_or(i64::MAX),
            committed: false,
            waiter: None,
        });
        self.publish(&s);
        ticket
    }

    /// The commit of `ticket` returned: the next sync will cover it.
    pub(crate) fn committed(&self, ticket: u64) -> Durable {
        let (tx, rx) = oneshot::channel();
        {
            let mut s = self.lock();
            match s.pending.iter_mut().find(|p| p.ticket == ticket) {
                Some(p) => {
                    p.committed = true;
                    p.waiter = Some(tx);
                }
                None => return Durable::Now,
            }
        }
        self.wake.notify_one();
        Durable::Later(rx)
    }

    /// The commit of `ticket` failed: nothing of it is visible, readers need not wait for it.
    pub(crate) fn abandon(&self, ticket: u64) {
        let mut s = self.lock();
        s.pending.retain(|p| p.ticket != ticket);
        self.publish(&s);
    }

    /// The write connection is being set to `synchronous=NORMAL`: [`WalSync::restore`] puts
    /// it back.
    pub(crate) fn relax(&self) {
        self.relaxed.store(true, Ordering::SeqCst);
    }

    /// Puts the write connection back to `synchronous=FULL` if a relaxed commit left it so;
    /// run as the connection goes back to its pool.
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

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a list changed in one step each; a panic elsewhere cannot leave it half
        // changed.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn publish(&self, s: &State) {
        let upto = s
            .pending
            .iter()
            .map(|p| p.first_seq)
            .min()
            .map_or(i64::MAX, |first| first - 1);
        self.upto.store(upto, Ordering::SeqCst);
    }
}

impl Drop for WalSync {
    fn drop(&mut self) {
        // The syncer holds no strong reference while it waits: wake it to see the store gone.
        self.wake.notify_one();
    }
}

/// Syncs the WAL whenever committed groups wait for it; one sync serves all that committed
/// before it began. Ends when the store is dropped.
async fn run(sync: std::sync::Weak<WalSync>, wake: std::sync::Arc<Notify>) {
    loop {
        let Some(s) = sync.upgrade() else { return };
        let ready: Vec<u64> = s
            .lock()
            .pending
            .iter()
            .filter(|p| p.committed)
            .map(|p| p.ticket)
            .collect();
        if ready.is_empty() {
            let notified = wake.notified();
            drop(s);
            // A commit noted between the look and here has notified already: `Notify` keeps
            // that one permit for `notified`.
            notified.await;
            continue;
        }
        let wal = s.wal.clone();
        let synced = tokio::task::spawn_blocking(move || {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&wal)
                .and_then(|f| f.sync_data())
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        let mut waiters = Vec::with_capacity(ready.len());
        {
            let mut st = s.lock();
            for p in st.pending.iter_mut().filter(|p| ready.contains(&p.ticket)) {
                waiters.extend(p.waiter.take());
            }
            // After a failed sync the frames stay unsynced and hidden from readers; the
            // next sync tries them again.
            if synced.is_ok() {
                st.pending.retain(|p| !ready.contains(&p.ticket));
                s.publish(&st);
            }
        }
        for w in waiters {
            let _ = w.send(synced.as_ref().map(|_| ()).map_err(|_| StoreError::Busy));
        }
        if let Err(e) = synced {
            tracing::warn!(error = %e, "syncing the WAL failed; its pushes are told to retry");
            drop(s);
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::store::{Engine, Store};

    /// Readers see up to the first number of the oldest commit not yet synced; a failed sync
    /// keeps them there, and the next one that works lets them on.
    #[tokio::test]
    async fn readers_wait_for_the_oldest_unsynced_commit() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let sync = WalSync::start(db.clone());
        assert_eq!(sync.visible_upto(), i64::MAX);
        let a = sync.hold(Some(10));
        let b = sync.hold(Some(15));
        let none = sync.hold(None);
        assert_eq!(sync.visible_upto(), 9);
        sync.abandon(a);
        assert_eq!(sync.visible_upto(), 14);
        // No WAL file yet: the sync fails, the push is told to retry, readers still wait.
        let failed = sync.committed(b).wait().await;
        assert!(matches!(failed, Err(StoreError::Busy)), "{failed:?}");
        assert_eq!(sync.visible_upto(), 14);
        std::fs::write(dir.path().join("x.db-wal"), b"frames").unwrap();
        sync.committed(none).wait().await.unwrap();
        // The failed commit's frames were synced with the next one.
        for _ in 0..50 {
            if sync.visible_upto() == i64::MAX {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
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
        tx.first_seq = Some(last - n + 1);
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
        let key = crate::privacy::DataKey::from_secret(&[7; 32]);
        let store = Store::connect(&Store::sqlite_url(dir.path()), &Default::default(), key)
            .await
            .unwrap();
        store.migrate().await.unwrap();
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
        // A plain transaction commits durably, as before.
        let mut tx = store.begin().await.unwrap();
        take_seqs(&mut tx, 1).await;
        tx.commit().await.unwrap();
        assert_eq!(store.head_seq().await.unwrap(), first + 3);
    }
}
