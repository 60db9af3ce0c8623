//! Push: offline creates, idempotent re-sends, field-level merge and conflicts.

use fieldsync_protocol::Role;
use fieldsync_protocol::push::{ConflictKind, Status};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn offline_creates_sync_and_reach_other_phones() {
    let app = spawn_app().await;
    let mut a = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let b = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;

    // Made offline: a household and its member, the member referring to the new household.
    let h = a.dev.new_id();
    let m = a.dev.new_id();
    let batch = vec![
        a.dev.create("household", h, json!({"village_code": VILLAGE_A, "head_name": "马德福", "phone": "13900000000"})),
        a.dev.create("member", m, json!({"household_id": h.to_string(), "name": "马小花", "relation": "child", "birth_date": "2014-03-02"})),
    ];
    let res = a.api.push(batch).await.unwrap();
    assert!(
        res.results
            .iter()
            .all(|r| r.status == Status::Applied && r.version == Some(1)),
        "{res:?}"
    );

    let (changes, dropped, _) = b.api.pull_all(None, None).await.unwrap();
    assert!(dropped.is_empty());
    let got = latest(&changes);
    assert_eq!(got.len(), 2);
    assert_eq!(got[&h].fields["phone"], "13900000000");
    assert_eq!(
        got[&m].scope, VILLAGE_A,
        "a member belongs to its household's village"
    );
    assert_eq!(got[&m].fields["household_id"], h.to_string());
}

/// The phone never hears back (dropped responses) and sends the same batch three more times:
/// the server ends as if it had been sent once.
#[tokio::test]
async fn resending_a_batch_changes_nothing() {
    let app = spawn_app().await;
    let mut a = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let mut b = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let h = a.dev.new_id();
    a.api
        .push(vec![a.dev.create(
            "household",
            h,
            household(VILLAGE_A, "李"),
        )])
        .await
        .unwrap();
    // B edits the phone number first, so A's batch below meets a conflict and a merge.
    b.api
        .push(vec![b.dev.update(
            "household",
            h,
            1,
            json!({"phone": "13911111111"}),
        )])
        .await
        .unwrap();

    let m = a.dev.new_id();
    let batch = vec![
        a.dev.update(
            "household",
            h,
            1,
            json!({"phone": "13922222222", "address": "二组 12 号"}),
        ),
        a.dev.create(
            "member",
            m,
            json!({"household_id": h.to_string(), "name": "李四"}),
        ),
        a.dev
            .update("member", m, 1, json!({"school_status": "enrolled"})),
        a.dev.create(
            "household",
            a.dev.new_id(),
            json!({"village_code": VILLAGE_A, "head_name": "王", "phone": "bad"}),
        ),
    ];
    let first = a.api.push(batch.clone()).await.unwrap();
    let statuses: Vec<_> = first.results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            Status::Conflict,
            Status::Applied,
            Status::Applied,
            Status::Rejected
        ]
    );
    let before = app.store.sync_stats().await.unwrap();

    for _ in 0..3 {
        let again = a.api.push(batch.clone()).await.unwrap();
        for (was, now) in first.results.iter().zip(&again.results) {
            if was.status == Status::Rejected {
                assert_eq!(
                    now.status,
                    Status::Rejected,
                    "rejections are not stored; the re-send is judged again"
                );
                continue;
            }
            assert_eq!(now.status, Status::Duplicate);
            assert_eq!(now.original_status, Some(was.status));
            assert_eq!(now.version, was.version);
            assert_eq!(
                now.conflicts, was.conflicts,
                "the same conflict records, not new ones"
            );
        }
    }
    assert_eq!(app.store.sync_stats().await.unwrap(), before);
}

#[tokio::test]
async fn concurrent_resends_apply_once() {
    let app = spawn_app().await;
    let mut a = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let batch: Vec<_> = (0..20)
        .map(|i| {
            a.dev.create(
                "household",
                a.dev.new_id(),
                household(VILLAGE_A, &format!("户{i}")),
            )
        })
        .collect();
    // A retry that overtakes the original still in flight.
    let sends = (0..4).map(|_| {
        let api = a.api.clone();
        let batch = batch.clone();
        tokio::spawn(async move { api.push(batch).await.unwrap() })
    });
    let mut applied = 0;
    for s in sends {
        let res = s.await.unwrap();
        applied += res
            .results
            .iter()
            .filter(|r| r.status == Status::Applied)
            .count();
        assert!(
            res.results
                .iter()
                .all(|r| matches!(r.status, Status::Applied | Status::Duplicate))
        );
    }
    assert_eq!(applied, 20, "each mutation applied exactly once");
    let stats = app.store.sync_stats().await.unwrap();
    assert_eq!((stats.records, stats.mutations), (20, 20));
}

/// The scenario of the issue: two phones edit the same household offline; one changes the
/// phone number, the other the phone number and the address.
#[tokio::test]
async fn same_field_conflicts_and_other_fields_merge() {
    let app = spawn_app().await;
    let mut a = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let mut b = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    let reviewer = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let h = a.dev.new_id();
    a.api.push(vec![a.dev.create("household", h, json!({"village_code": VILLAGE_A, "head_name": "马", "phone": "13900000000", "address": "一组"}))]).await.unwrap();

    let from_a = a
        .dev
        .update("household", h, 1, json!({"phone": "13911111111"}));
    let from_b = b.dev.update(
        "household",
        h,
        1,
        json!({"phone": "13922222222", "address": "三组 5 号"}),
    );
    let ra = a.api.push(vec![from_a]).await.unwrap().results.remove(0);
    assert_eq!((ra.status, ra.version), (Status::Applied, Some(2)));
    let rb = b.api.push(vec![from_b]).await.unwrap().results.remove(0);
    assert_eq!((rb.status, rb.version), (Status::Conflict, Some(3)));
    assert_eq!(
        rb.conflicts.len(),
        1,
        "only the phone conflicts; the address merges"
    );
    let c = &rb.conflicts[0];
    assert_eq!((c.field.as_str(), c.kind), ("phone", ConflictKind::Field));
    assert_eq!(
        (&c.yours, &c.theirs),
        (&json!("13922222222"), &json!("13911111111"))
    );
    assert_eq!(
        c.kept,
        json!("13922222222"),
        "B's edit carries the later clock stamp"
    );

    let (changes, _, _) = reviewer.api.pull_all(None, None).await.unwrap();
    let rec = latest(&changes)[&h];
    assert_eq!(rec.version, 3);
    assert_eq!(rec.fields["phone"], "13922222222");
    assert_eq!(rec.fields["address"], "三组 5 号");

    // The reviewer sees the conflict record, holding both phone numbers.
    let page: serde_json::Value = reviewer.api.get_json("/v1/conflicts").await.unwrap();
    let list = page["conflicts"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], json!(c.conflict_id));
    assert_eq!(list[0]["yours"], "13922222222");
    assert_eq!(list[0]["theirs"], "13911111111");
    assert_eq!(list[0]["record_id"], json!(h));
}

#[tokio::test]
async fn delete_beats_a_concurrent_update_and_keeps_its_values() {
    let app = spawn_app().await;
    let mut a = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let mut b = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let h = a.dev.new_id();
    a.api
        .push(vec![a.dev.create(
            "household",
            h,
            household(VILLAGE_A, "张"),
        )])
        .await
        .unwrap();

    let del = a
        .api
        .push(vec![a.dev.delete("household", h, 1)])
        .await
        .unwrap()
        .results
        .remove(0);
    assert_eq!((del.status, del.version), (Status::Applied, Some(2)));
    let upd = b
        .api
        .push(vec![b.dev.update(
            "household",
            h,
            1,
            json!({"phone": "13933333333"}),
        )])
        .await
        .unwrap()
        .results
        .remove(0);
    assert_eq!(upd.status, Status::Conflict);
    assert_eq!(upd.version, Some(2), "the tombstone did not change");
    assert_eq!(upd.conflicts[0].kind, ConflictKind::Delete);
    assert_eq!(upd.conflicts[0].yours, json!("13933333333"));

    let (changes, _, _) = b.api.pull_all(None, None).await.unwrap();
    let rec = latest(&changes)[&h];
    assert!(
        rec.deleted && rec.fields.is_empty(),
        "a tombstone carries no personal data"
    );
}

#[tokio::test]
async fn a_grid_worker_may_not_delete_households() {
    let app = spawn_app().await;
    let mut a = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let h = a.dev.new_id();
    a.api
        .push(vec![a.dev.create(
            "household",
            h,
            household(VILLAGE_A, "赵"),
        )])
        .await
        .unwrap();
    let r = a
        .api
        .push(vec![a.dev.delete("household", h, 1)])
        .await
        .unwrap()
        .results
        .remove(0);
    assert_eq!(r.status, Status::Rejected);
    assert_eq!(
        r.error.unwrap().code,
        fieldsync_protocol::ErrorCode::ForbiddenRole
    );
}
