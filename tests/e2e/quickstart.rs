//! The README's first five minutes: start the server on an empty machine, create users with
//! `fieldsync admin`, and sync a household from one phone to another. No configuration file,
//! no division import and no manual database setup may be needed.

use fieldsync_protocol::push::Status;
use serde_json::json;

use crate::harness::{TestEnv, UserLine, VILLAGE};

#[tokio::test]
async fn fresh_machine_quickstart() {
    let env = TestEnv::new().await;
    assert!(!env.data_dir().exists(), "the machine starts empty");
    let server = env.serve().await;
    assert!(
        env.data_dir().join("photos").is_dir(),
        "serve creates the local photo folder"
    );
    if !env.is_postgres() {
        assert!(
            env.data_dir().join("fieldsync.db").is_file(),
            "serve creates the SQLite file in the data dir"
        );
    }

    // The village is known without an import: the built-in Ningxia divisions are loaded.
    env.create_user("ma", "grid_worker", VILLAGE).await;
    env.create_user("secretary", "first_secretary", VILLAGE)
        .await;
    let users = env.users().await;
    assert!(
        users.contains(&UserLine {
            username: "ma".into(),
            role: "grid_worker".into(),
            divisions: VILLAGE.into(),
        }),
        "{users:?}"
    );

    let mut ma = server.phone("ma").await;
    let household = ma.dev.new_id();
    let member = ma.dev.new_id();
    assert_eq!(household.get_version_num(), 7, "ids are made on the phone");
    let batch = vec![
        ma.dev.create(
            "household",
            household,
            json!({"village_code": VILLAGE, "head_name": "马德福"}),
        ),
        ma.dev.create(
            "member",
            member,
            json!({"household_id": household.to_string(), "name": "马小花", "relation": "child"}),
        ),
    ];
    let res = ma.api.push(batch).await.unwrap();
    assert!(
        res.results
            .iter()
            .all(|r| r.status == Status::Applied && r.version == Some(1)),
        "{res:?}"
    );

    let secretary = server.phone("secretary").await;
    let (changes, dropped, _) = secretary.api.pull_all(None, None).await.unwrap();
    assert!(dropped.is_empty());
    assert_eq!(changes.len(), 2, "{changes:?}");
    let h = changes.iter().find(|c| c.id == household).unwrap();
    assert_eq!((h.entity.as_str(), h.version), ("household", 1));
    assert_eq!(h.fields["head_name"], "马德福");
    assert_eq!(h.scope, VILLAGE);
    let m = changes.iter().find(|c| c.id == member).unwrap();
    assert_eq!((m.entity.as_str(), m.version), ("member", 1));
    assert_eq!(m.fields["household_id"], household.to_string());
    assert_eq!(
        m.scope, VILLAGE,
        "a member belongs to its household's village"
    );
}
