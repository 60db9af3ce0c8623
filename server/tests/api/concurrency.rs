//! Pull never skips: many writers push while pullers pull, and every puller ends up with every
//! committed change, none skipped, none delivered twice.
//!
//! A cursor that is a plain sequence number skips rows whose transaction commits after a
//! transaction holding a higher number: a puller reads the higher one, moves its cursor past
//! the lower one, and never sees it. Each record here is written once or twice, so a skipped
//! change would never be delivered later and the final comparison would catch it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use fieldsync_protocol::Role;
use fieldsync_protocol::push::Status;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

const WRITERS: usize = 8;
const PULLERS: usize = 2;
const BATCHES: usize = 25;
const BATCH: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_and_pullers_lose_nothing() {
    let app = spawn_app().await;
    let mut pullers = Vec::new();
    for _ in 0..PULLERS {
        pullers.push(app.phone(Role::TownshipSupervisor, &[TOWNSHIP]).await);
    }
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let village = if w % 2 == 0 { VILLAGE_A } else { VILLAGE_B };
        writers.push((app.phone(Role::GridWorker, &[village]).await, village));
    }

    let done = Arc::new(AtomicBool::new(false));
    let pull_tasks: Vec<_> = pullers
        .into_iter()
        .map(|p| {
            let done = done.clone();
            tokio::spawn(async move {
                let mut cursor: Option<String> = None;
                let mut seen: HashSet<(Uuid, u64)> = HashSet::new();
                let mut newest: HashMap<Uuid, u64> = HashMap::new();
                let mut pulls = 0usize;
                loop {
                    // Read the flag before pulling: the pull after the writers finished
                    // must run to the end.
                    let finished = done.load(Ordering::SeqCst);
                    loop {
                        let page = p
                            .api
                            .pull(cursor.as_deref(), Some(2000))
                            .await
                            .expect("pull");
                        pulls += 1;
                        for c in page.changes {
                            assert!(
                                seen.insert((c.id, c.version)),
                                "{} v{} delivered twice",
                                c.id,
                                c.version
                            );
                            let v = newest.entry(c.id).or_default();
                            *v = (*v).max(c.version);
                        }
                        cursor = Some(page.cursor);
                        if !page.has_more {
                            break;
                        }
                    }
                    if finished {
                        return (newest, pulls);
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();

    let write_tasks: Vec<_> = writers
        .into_iter()
        .map(|(mut phone, village)| {
            tokio::spawn(async move {
                let mut committed: HashMap<Uuid, u64> = HashMap::new();
                let mut created: Vec<Uuid> = Vec::new();
                let mut sent = 0usize;
                for b in 0..BATCHES {
                    let mut batch = Vec::with_capacity(BATCH);
                    for i in 0..BATCH {
                        // Mostly new households; every fifth mutation edits one made earlier.
                        if i % 5 == 4 && !created.is_empty() {
                            let id = created[(b * 7 + i) % created.len()];
                            batch.push(phone.dev.update(
                                "household",
                                id,
                                committed[&id],
                                json!({"grid": format!("{b}-{i}")}),
                            ));
                        } else {
                            let id = phone.dev.new_id();
                            batch.push(phone.dev.create(
                                "household",
                                id,
                                household(village, &format!("{b}-{i}")),
                            ));
                        }
                    }
                    let ids: Vec<Uuid> = batch.iter().map(|m| m.id).collect();
                    sent += batch.len();
                    let res = phone.api.push(batch).await.expect("push");
                    for (id, r) in ids.into_iter().zip(res.results) {
                        assert!(
                            matches!(r.status, Status::Applied | Status::Merged),
                            "{r:?}"
                        );
                        let v = r.version.expect("version");
                        if v == 1 {
                            created.push(id);
                        }
                        let e = committed.entry(id).or_default();
                        *e = (*e).max(v);
                    }
                }
                (committed, sent)
            })
        })
        .collect();

    let mut truth: HashMap<Uuid, u64> = HashMap::new();
    let mut total = 0;
    for t in write_tasks {
        let (committed, sent) = t.await.expect("writer");
        total += sent;
        truth.extend(committed);
    }
    assert_eq!(total, WRITERS * BATCHES * BATCH);
    assert!(total >= 10_000);
    done.store(true, Ordering::SeqCst);

    for t in pull_tasks {
        let (newest, pulls) = t.await.expect("puller");
        assert!(
            pulls > 10,
            "the puller ran alongside the writers ({pulls} pulls)"
        );
        let missing: Vec<_> = truth
            .iter()
            .filter(|(id, v)| newest.get(id) != Some(v))
            .take(5)
            .collect();
        assert!(
            missing.is_empty(),
            "{} of {} records not delivered at their final version, e.g. {missing:?}",
            truth
                .iter()
                .filter(|(id, v)| newest.get(id) != Some(v))
                .count(),
            truth.len()
        );
        assert_eq!(newest.len(), truth.len());
    }
    let stats = app.store.sync_stats().await.unwrap();
    assert_eq!(stats.mutations as usize, total);
}

/// The interleaving that breaks naive cursors, forced: transaction 1 takes its sequence
/// numbers, transaction 2 starts after it, a puller pulls while 1 is still open, then 1
/// commits. Whatever 2 did meanwhile, the puller must still receive 1's record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_commits_late_is_not_skipped() {
    use fieldsync_protocol::merge::RecordState;
    use fieldsync_server::store::{RecordWrite, WriteBatch};

    let app = spawn_app().await;
    let puller = app.phone(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let (_, _, cursor) = puller.api.pull_all(None, None).await.unwrap();
    let user = puller.user_id;
    let batch = |id: Uuid| {
        let mut state = RecordState {
            version: 1,
            ..RecordState::default()
        };
        state.fields = household(VILLAGE_A, "迟").as_object().unwrap().clone();
        WriteBatch {
            records: vec![RecordWrite {
                id,
                entity: "household",
                scope: VILLAGE_A.into(),
                state,
                gps: None,
                created: true,
                user_id: user,
                household_id: None,
                gps_verdict: None,
            }],
            ..WriteBatch::new(0)
        }
    };
    let (late, early) = (Uuid::now_v7(), Uuid::now_v7());

    let mut t1 = app.store.begin().await.unwrap();
    t1.write(&batch(late)).await.unwrap();
    let store = app.store.clone();
    let second = batch(early);
    let t2 = tokio::spawn(async move {
        let mut t2 = store.begin().await.unwrap();
        t2.write(&second).await.unwrap();
        t2.commit().await.unwrap();
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (mid, _, cursor) = puller.api.pull_all(Some(&cursor), None).await.unwrap();
    assert!(
        mid.iter().all(|c| c.id != late),
        "uncommitted data is never pulled"
    );
    t1.commit().await.unwrap();
    t2.await.unwrap();

    let (after, _, _) = puller.api.pull_all(Some(&cursor), None).await.unwrap();
    let got: HashSet<Uuid> = mid.iter().chain(&after).map(|c| c.id).collect();
    assert!(got.contains(&late), "the late commit was skipped");
    assert!(got.contains(&early));
}
