//! Group commit: pushes that arrive together share one transaction and one durable commit.
//!
//! Phones send a few records at a time, and in the evening many at once. Committed one by
//! one, every push pays a WAL flush, and on PostgreSQL holds the `sync_head` row lock through
//! it, so pushes queue for the flush however many cores are free. Here a request validates
//! its push on its own task (no database needed), then hands it to a committer: a task that
//! takes every push waiting at that moment, applies them in arrival order in one transaction
//! (`push::apply`: one statement for the devices, one for the log lookup, one lock of the
//! records, one write), commits once, and only then answers each. No push waits for a timer:
//! a lone push is committed at once, and the pushes that arrive during a commit form the next
//! group. On SQLite, when pushes came in during the group before, a group's WAL is synced
//! beside the next group and its pushes are answered after that sync (`store::Durable`, the
//! store's `wal_sync` module).
//!
//! What a push is promised does not change:
//! - answered only once its commit is durable, so an answered push survives a crash or a
//!   power cut;
//! - sequence order is commit order (the group takes its numbers under the head row's lock,
//!   as a single push did);
//! - duplicates and per-device order hold inside a group: a push is planned against the
//!   records and the log as the pushes before it left them;
//! - a push refused whole (a revoked device) or a rejected mutation does not touch its
//!   neighbours; database trouble that is not passing (a bug, a corrupt row) is isolated by
//!   running the group's pushes again one by one, so one bad push fails alone.
//!
//! The figures behind this (and the alternatives measured) are in `ARCHITECTURE.md`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fieldsync_protocol::push::{ClientInfo, MutationResult};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::actor::{Actor, SessionCheck};
use super::push::{Outcome, Pending, PushError, PushRules, WhenSynced, apply};
use super::retry::retrying;
use crate::store::{Durable, Store, StoreError, SubmissionNote};

/// At most this many mutations are committed in one group (a large batch goes alone): a group
/// holds its locks until it commits, and its pushes wait for the last of them.
const GROUP_MUTATIONS: usize = 1_000;
/// Pushes waiting for a committer before new ones wait for room: the requests hold their
/// connections meanwhile, like they would hold a database connection.
const QUEUE: usize = 1_024;
/// No push for this long is a quiet spell: the store is told (`Store::rest_pushes`), so that
/// its PostgreSQL push connection does not wait, begun, until the database's 60 s
/// `idle_in_transaction_session_timeout` ends it.
const QUIET: std::time::Duration = std::time::Duration::from_secs(20);
/// Set (to `n`) only by the crash test: the process aborts right after the `n`th group of two
/// or more pushes has committed, before any of them is answered.
pub const CRASH_AFTER_GROUP_VAR: &str = "FIELDSYNC_TEST_CRASH_AFTER_GROUP_COMMIT";

struct Queued {
    push: Pending,
    answer: oneshot::Sender<Outcome>,
}

/// The committer of one store, fed by one queue.
#[derive(Clone)]
pub struct Committer {
    queue: mpsc::Sender<Queued>,
    stats: Arc<GroupStats>,
}

/// Counts of what the committer did, for the metrics.
#[derive(Default)]
pub struct GroupStats {
    groups: AtomicU64,
    pushes: AtomicU64,
    split: AtomicU64,
    /// Groups of two or more pushes committed (for the crash test).
    shared: AtomicU64,
}

/// A reading of [`GroupStats`].
#[derive(Clone, Copy, Debug, Default)]
pub struct GroupCounts {
    /// Groups committed (or tried).
    pub groups: u64,
    /// Pushes in them.
    pub pushes: u64,
    /// Groups run again push by push after database trouble.
    pub split: u64,
}

impl Committer {
    /// Starts the committer of `store`. One per process on either engine: on SQLite there is
    /// one writer anyway, and on PostgreSQL a second committer, planning a group while the one
    /// before it commits, made groups smaller and cost more than it overlapped (measured:
    /// `ARCHITECTURE.md`).
    pub fn start(store: Store) -> Committer {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let stats = Arc::new(GroupStats::default());
        let crash_after = std::env::var(CRASH_AFTER_GROUP_VAR)
            .ok()
            .and_then(|v| v.parse::<u64>().ok());
        tokio::spawn(commit_loop(store, receiver, stats.clone(), crash_after));
        Committer { queue, stats }
    }

    /// Validates a push and applies it with whatever pushes arrive with it; one result per
    /// mutation, in order.
    /// With `check`, the caller was known from before, and its session is read again in the
    /// group's transaction ([`SessionCheck`]).
    pub async fn push(
        &self,
        actor: &Actor,
        rules: &PushRules,
        raw: Vec<Value>,
        client: &ClientInfo,
        check: Option<SessionCheck>,
    ) -> Result<Vec<MutationResult>, PushError> {
        self.send(Pending::new(actor, rules, raw, client).with_check(check))
            .await
    }

    /// [`Committer::push`] for the mutations an OpenRosa submission became: the submission is
    /// noted as pushed in the group's transaction if none of them is rejected.
    pub async fn push_submission(
        &self,
        actor: &Actor,
        rules: &PushRules,
        raw: Vec<Value>,
        client: &ClientInfo,
        submission: SubmissionNote,
    ) -> Result<Vec<MutationResult>, PushError> {
        self.send(Pending::new(actor, rules, raw, client).with_submission(submission))
            .await
    }

    async fn send(&self, push: Pending) -> Result<Vec<MutationResult>, PushError> {
        let (answer, answered) = oneshot::channel();
        if self.queue.send(Queued { push, answer }).await.is_err() {
            return Err(PushError::Store(StoreError::Busy));
        }
        // A group that failed on a bug (a panic) drops its answers; the phone sends the push
        // again, and hears `duplicate` if it had been committed after all.
        answered
            .await
            .unwrap_or(Err(PushError::Store(StoreError::Busy)))
    }

    /// Notes that a device made contact without pushing (a pull), with the health its phone
    /// reported: written with the next group's device touch instead of in a transaction (and,
    /// on SQLite, an fsync) of its own. Nobody waits for it; `false` if the queue is full (the
    /// caller writes it itself).
    pub fn seen(&self, actor: &Actor, rules: &PushRules, client: &ClientInfo) -> bool {
        let (answer, _) = oneshot::channel();
        let push = Pending::new(actor, rules, Vec::new(), client);
        self.queue.try_send(Queued { push, answer }).is_ok()
    }

    pub fn counts(&self) -> GroupCounts {
        GroupCounts {
            groups: self.stats.groups.load(Ordering::Relaxed),
            pushes: self.stats.pushes.load(Ordering::Relaxed),
            split: self.stats.split.load(Ordering::Relaxed),
        }
    }
}

async fn commit_loop(
    store: Store,
    mut receiver: mpsc::Receiver<Queued>,
    stats: Arc<GroupStats>,
    crash_after: Option<u64>,
) {
    // Pushes came in while the group before was applied: the next group's sync can overlap
    // the one after it. A lone phone's push is committed and synced as before.
    let mut busy = false;
    loop {
        let first = match tokio::time::timeout(QUIET, receiver.recv()).await {
            Ok(next) => next,
            Err(_) => {
                store.rest_pushes().await;
                receiver.recv().await
            }
        };
        let Some(first) = first else { break };
        let mut size = first.push.len();
        let mut group = vec![first];
        while size < GROUP_MUTATIONS {
            match receiver.try_recv() {
                Ok(next) => {
                    size += next.push.len();
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        stats.groups.fetch_add(1, Ordering::Relaxed);
        stats
            .pushes
            .fetch_add(group.len() as u64, Ordering::Relaxed);
        // A panic while applying (a bug) must not end the committer: the group's answers are
        // dropped with its task, and its phones are told to try again.
        let sync = if busy {
            WhenSynced::Later
        } else {
            WhenSynced::Now
        };
        let task = tokio::spawn(commit(
            store.clone(),
            group,
            sync,
            stats.clone(),
            crash_after,
        ));
        if let Err(e) = task.await {
            tracing::error!(error = %e, "a push group failed");
        }
        busy = !receiver.is_empty();
    }
}

/// Commits one group and answers its pushes once the commit is durable. With [`WhenSynced::Later`]
/// the group's WAL is synced while the committer goes on to the next (`store::Durable`): this
/// returns at the commit, and a task of its own answers the group after the sync.
async fn commit(
    store: Store,
    group: Vec<Queued>,
    sync: WhenSynced,
    stats: Arc<GroupStats>,
    crash_after: Option<u64>,
) {
    let (pushes, answers): (Vec<Pending>, Vec<oneshot::Sender<Outcome>>) =
        group.into_iter().map(|q| (q.push, q.answer)).unzip();
    let (outcomes, durable) = match retrying(|| apply(&store, &pushes, sync)).await {
        Ok((outcomes, durable)) => {
            if pushes.len() > 1
                && let Some(n) = crash_after
                && stats.shared.fetch_add(1, Ordering::SeqCst) + 1 >= n
            {
                eprintln!("{CRASH_AFTER_GROUP_VAR}: aborting after a group commit");
                std::process::abort();
            }
            (outcomes, durable)
        }
        // Trouble that passes by itself (busy, disk full, a writer that kept racing) would
        // meet each push again: all are told to retry later.
        Err(e @ (StoreError::Busy | StoreError::Full | StoreError::Retry)) => {
            (retry_later(pushes.len(), &e), Durable::Now)
        }
        Err(e) if pushes.len() == 1 => (vec![Err(PushError::Store(e))], Durable::Now),
        // Anything else may be one push's doing: each runs again alone, and fails alone.
        Err(_) => {
            stats.split.fetch_add(1, Ordering::Relaxed);
            let mut outcomes = Vec::with_capacity(pushes.len());
            for push in &pushes {
                let alone = std::slice::from_ref(push);
                outcomes.push(
                    match retrying(|| apply(&store, alone, WhenSynced::Now)).await {
                        Ok((mut o, _)) => o.pop().unwrap_or_else(|| Ok(Vec::new())),
                        Err(e) => Err(PushError::Store(e)),
                    },
                );
            }
            (outcomes, Durable::Now)
        }
    };
    match durable {
        Durable::Now => answer(answers, outcomes),
        later => {
            tokio::spawn(async move {
                match later.wait().await {
                    Ok(()) => answer(answers, outcomes),
                    // Not known to be on disk: the phones send again, and hear `duplicate`
                    // once a later sync has gone through.
                    Err(e) => answer(answers, retry_later(outcomes.len(), &e)),
                }
            });
        }
    }
}

fn answer(answers: Vec<oneshot::Sender<Outcome>>, outcomes: Vec<Outcome>) {
    for (answer, outcome) in answers.into_iter().zip(outcomes) {
        // The phone may have gone; its push is committed and its retry will be a duplicate.
        let _ = answer.send(outcome);
    }
}

/// "Retry later" for each of `n` pushes, with the passing error `e`.
fn retry_later(n: usize, e: &StoreError) -> Vec<Outcome> {
    (0..n).map(|_| Err(PushError::Store(same(e)))).collect()
}

/// The same passing error for each push of a group.
fn same(e: &StoreError) -> StoreError {
    match e {
        StoreError::Full => StoreError::Full,
        StoreError::Retry => StoreError::Retry,
        _ => StoreError::Busy,
    }
}
