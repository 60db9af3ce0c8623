//! Pushes that arrive together are committed together (`sync::group`); what each phone hears
//! must not depend on its neighbours. Many phones push at once, among them a push the database
//! refuses (a trigger stands in for a bug or a corrupt row), a push with bad and out-of-scope
//! mutations, a retry sent alongside its original and one mutation id sent by two devices.
//! Each is answered as if it had been alone, and the records are exactly the accepted ones.

use std::collections::HashMap;

use fieldsync_client::ClientError;
use fieldsync_protocol::push::{Mutation, PushResponse, Status};
use fieldsync_protocol::{ErrorCode, Role};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;
use crate::metrics::{scrape, value};

/// A household the database refuses to store.
const POISON: &str = "POISON";

async fn poison(app: &TestApp) {
    if app.db_url.starts_with("postgres") {
        execute_sql(
            app,
            "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN
                 IF NEW.fields->>'head_name' = 'POISON' THEN RAISE EXCEPTION 'poisoned'; END IF;
                 RETURN NEW;
             END $$ LANGUAGE plpgsql",
        )
        .await;
        execute_sql(
            app,
            "CREATE TRIGGER poison BEFORE INSERT ON records FOR EACH ROW EXECUTE FUNCTION poison()",
        )
        .await;
    } else {
        execute_sql(
            app,
            "CREATE TRIGGER poison BEFORE INSERT ON records
             WHEN json_extract(NEW.fields, '$.head_name') = 'POISON'
             BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
        )
        .await;
    }
}

fn statuses(res: &PushResponse) -> Vec<Status> {
    res.results.iter().map(|r| r.status).collect()
}

/// One round: every phone pushes at once. Returns the ids that must be stored.
async fn round(phones: &mut [Phone]) -> Vec<Uuid> {
    let mut expected = Vec::new();
    let mut sends: Vec<(usize, Vec<Mutation>)> = Vec::new();
    let [poisoned, mixed, retried, twin_a, twin_b, rest @ ..] = phones else {
        panic!("too few phones");
    };

    sends.push((
        0,
        vec![
            poisoned.dev.create(
                "household",
                poisoned.dev.new_id(),
                household(VILLAGE_A, "马"),
            ),
            poisoned.dev.create(
                "household",
                poisoned.dev.new_id(),
                household(VILLAGE_A, POISON),
            ),
        ],
    ));

    let ok = mixed.dev.new_id();
    let mut unknown = mixed
        .dev
        .create("household", mixed.dev.new_id(), household(VILLAGE_A, "李"));
    unknown.entity = "no_such_entity".into();
    sends.push((
        1,
        vec![
            mixed
                .dev
                .create("household", ok, household(VILLAGE_A, "李")),
            unknown,
            mixed
                .dev
                .create("household", mixed.dev.new_id(), household(VILLAGE_B, "王")),
        ],
    ));
    expected.push(ok);

    let again = retried.dev.new_id();
    let twice = vec![
        retried
            .dev
            .create("household", again, household(VILLAGE_A, "张")),
    ];
    sends.push((2, twice.clone()));
    sends.push((2, twice));
    expected.push(again);

    let shared = twin_a
        .dev
        .create("household", twin_a.dev.new_id(), household(VILLAGE_A, "杨"));
    let mut stolen =
        twin_b
            .dev
            .create("household", twin_b.dev.new_id(), household(VILLAGE_A, "杨"));
    stolen.mutation_id = shared.mutation_id;
    sends.push((3, vec![shared.clone()]));
    sends.push((4, vec![stolen.clone()]));

    for (i, p) in rest.iter_mut().enumerate() {
        let ids = [p.dev.new_id(), p.dev.new_id()];
        sends.push((
            5 + i,
            ids.iter()
                .map(|id| p.dev.create("household", *id, household(VILLAGE_A, "周")))
                .collect(),
        ));
        expected.extend(ids);
    }

    let mut tasks = Vec::new();
    for (i, mutations) in sends {
        let api = phones[i].api.clone();
        tasks.push(tokio::spawn(async move { (i, api.push(mutations).await) }));
    }
    let mut answers: HashMap<usize, Vec<Result<PushResponse, ClientError>>> = HashMap::new();
    for t in tasks {
        let (i, res) = t.await.unwrap();
        answers.entry(i).or_default().push(res);
    }

    // The push the database refused fails whole, as it would alone, and only it.
    match &answers[&0][..] {
        [Err(e)] => assert_eq!(e.code(), Some(ErrorCode::Internal), "{e:?}"),
        other => panic!("the poisoned push should fail: {other:?}"),
    }
    let mixed = answers[&1][0].as_ref().unwrap();
    assert_eq!(
        statuses(mixed),
        [Status::Applied, Status::Rejected, Status::Rejected],
        "{mixed:?}"
    );
    assert_eq!(
        mixed.results[2].error.as_ref().map(|e| e.code),
        Some(ErrorCode::ForbiddenScope)
    );
    // The original and its retry, together or not: one applies, the other is its duplicate.
    let mut pair: Vec<Status> = answers[&2]
        .iter()
        .map(|r| r.as_ref().unwrap().results[0].status)
        .collect();
    pair.sort_by_key(|s| s.as_str());
    assert_eq!(pair, [Status::Applied, Status::Duplicate]);
    let versions: Vec<Option<u64>> = answers[&2]
        .iter()
        .map(|r| r.as_ref().unwrap().results[0].version)
        .collect();
    assert_eq!(versions, [Some(1), Some(1)]);
    // One mutation id from two devices: the first to be planned wins.
    let twins: Vec<Status> = [3, 4]
        .iter()
        .map(|i| answers[i][0].as_ref().unwrap().results[0].status)
        .collect();
    match twins[..] {
        [Status::Applied, Status::Rejected] => expected.push(shared.id),
        [Status::Rejected, Status::Applied] => expected.push(stolen.id),
        _ => panic!("{twins:?}"),
    }
    for i in 5..phones.len() {
        let res = answers[&i][0].as_ref().unwrap();
        assert_eq!(statuses(res), [Status::Applied, Status::Applied], "{res:?}");
    }
    expected
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_is_answered_as_if_alone_whatever_its_group_holds() {
    let app = spawn_app().await;
    poison(&app).await;
    let mut phones = Vec::new();
    for _ in 0..12 {
        phones.push(app.phone(Role::GridWorker, &[VILLAGE_A]).await);
    }
    let mut expected = Vec::new();
    // Rounds until the poisoned push has shared a group at least once (almost always the
    // first): the group was run again push by push, and its neighbours were applied.
    let mut split = 0.0;
    for _ in 0..20 {
        expected.extend(round(&mut phones).await);
        let (_, text) = scrape(&app, None).await;
        split = value(&text, "fieldsync_push_groups_split_total").unwrap_or_default();
        if split >= 1.0 {
            let groups = value(&text, "fieldsync_push_groups_total").unwrap_or_default();
            let pushes = value(&text, "fieldsync_push_group_pushes_total").unwrap_or_default();
            assert!(pushes > groups, "{pushes} pushes in {groups} groups");
            break;
        }
    }
    assert!(split >= 1.0, "the poisoned push never shared a group");

    let (changes, _, _) = phones[5].api.pull_all(None, None).await.unwrap();
    let got: HashMap<Uuid, u64> = changes.iter().map(|c| (c.id, c.version)).collect();
    for id in &expected {
        assert_eq!(got.get(id), Some(&1), "record {id}");
    }
    assert_eq!(got.len(), expected.len(), "nothing else was stored");
    assert!(
        changes
            .iter()
            .all(|c| c.fields.get("head_name") != Some(&json!(POISON))),
        "the refused push left nothing"
    );
}
