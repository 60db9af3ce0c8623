//! Pushes committed together (`fieldsync_server::sync::group`) are answered only after their
//! commit. If the server dies between the commit and the answers, the phones, which heard
//! nothing, send the same pushes again to the restarted server: each of their mutations must
//! come back `duplicate` with the version it was given, and no record may be lost or applied
//! twice.

use std::collections::HashMap;
use std::time::Duration;

use fieldsync_client::Device;
use fieldsync_protocol::push::{Mutation, Status};
use fieldsync_server::sync::group::CRASH_AFTER_GROUP_VAR;
use serde_json::json;
use uuid::Uuid;

use crate::harness::{Phone, TestEnv, VILLAGE};

const PHONES: usize = 8;
const PUSHES_PER_PHONE: usize = 6;

/// A phone's outbox: pushes of one household and one member each.
fn outbox(phone: &mut Phone, n: usize) -> Vec<Vec<Mutation>> {
    (0..n)
        .map(|i| {
            let h = phone.dev.new_id();
            let m = phone.dev.new_id();
            vec![
                phone.dev.create(
                    "household",
                    h,
                    json!({"village_code": VILLAGE, "head_name": format!("户主{i}")}),
                ),
                phone.dev.create(
                    "member",
                    m,
                    json!({"household_id": h.to_string(), "name": format!("成员{i}")}),
                ),
            ]
        })
        .collect()
}

/// Sends the outbox in order, one push a request, until the server stops answering; returns
/// the pushes not acknowledged (the phone keeps them).
async fn send_until_cut(phone: &Phone, outbox: Vec<Vec<Mutation>>) -> Vec<Vec<Mutation>> {
    let mut left = outbox.into_iter();
    while let Some(push) = left.next() {
        match phone.api.push(push.clone()).await {
            Ok(res) => assert!(
                res.results.iter().all(|r| r.status == Status::Applied),
                "{res:?}"
            ),
            Err(_) => return std::iter::once(push).chain(left).collect(),
        }
    }
    Vec::new()
}

#[tokio::test]
async fn a_crash_between_group_commit_and_answers_loses_and_doubles_nothing() {
    let env = TestEnv::new().await;
    for i in 0..PHONES {
        env.create_user(&format!("grid{i}"), "grid_worker", VILLAGE)
            .await;
    }
    let mut server = env.serve_with(&[(CRASH_AFTER_GROUP_VAR, "1".into())]).await;
    let mut phones = Vec::new();
    let mut all_ids: Vec<Uuid> = Vec::new();
    for i in 0..PHONES {
        let mut phone = server.phone(&format!("grid{i}")).await;
        let outbox = outbox(&mut phone, PUSHES_PER_PHONE);
        all_ids.extend(outbox.iter().flatten().map(|m| m.id));
        phones.push((phone, outbox));
    }

    // Every phone sends at once: pushes meet in groups, and the first group of two or more
    // ends the process after its commit, before its answers.
    let mut sending = Vec::new();
    for (i, (phone, outbox)) in phones.into_iter().enumerate() {
        sending.push(tokio::spawn(async move {
            let left = send_until_cut(&phone, outbox).await;
            (i, phone.dev, left)
        }));
    }
    let mut kept: Vec<(usize, Device, Vec<Vec<Mutation>>)> = Vec::new();
    for s in sending {
        kept.push(s.await.expect("phone task"));
    }
    let status = server.exited(Duration::from_secs(30)).await;
    assert!(
        status.is_some_and(|s| !s.success()),
        "the server should have aborted after a group commit: {status:?}\n{}",
        server.log()
    );
    assert!(
        server.log().contains(CRASH_AFTER_GROUP_VAR),
        "{}",
        server.log()
    );
    drop(server);

    // The phones send what they kept to the restarted server.
    let server = env.serve().await;
    let mut duplicates = 0;
    let mut phones_with_duplicates = 0;
    for (i, dev, left) in kept {
        let phone = server.rejoin(&format!("grid{i}"), dev).await;
        let mut had_duplicate = false;
        for push in left {
            let res = phone.api.push(push).await.expect("push after the restart");
            for r in &res.results {
                match r.status {
                    Status::Applied => {}
                    Status::Duplicate => {
                        // Committed before the crash: the same answer it would have had.
                        assert_eq!(r.original_status, Some(Status::Applied), "{r:?}");
                        assert_eq!(r.version, Some(1), "{r:?}");
                        duplicates += 1;
                        had_duplicate = true;
                    }
                    other => panic!("{other:?}: {r:?}"),
                }
            }
        }
        phones_with_duplicates += usize::from(had_duplicate);
    }
    // The group that crashed held pushes of at least two phones, committed but unanswered.
    assert!(
        phones_with_duplicates >= 2,
        "{phones_with_duplicates} phones met a committed push again ({duplicates} mutations)"
    );

    // Every record is there once, at version 1: nothing lost, nothing applied twice.
    let reader = server.phone("grid0").await;
    let (changes, _, _) = reader.api.pull_all(None, None).await.expect("pull");
    let mut seen: HashMap<Uuid, u64> = HashMap::new();
    for c in &changes {
        *seen.entry(c.id).or_default() += 1;
        if all_ids.contains(&c.id) {
            assert_eq!((c.version, c.deleted), (1, false), "{c:?}");
        }
    }
    for id in &all_ids {
        assert_eq!(seen.get(id), Some(&1), "record {id}");
    }
}
