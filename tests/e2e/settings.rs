//! Every command reads the same settings. An operator typically creates the first user before
//! the server has ever run, so `admin` must create and migrate the configured database itself,
//! and `serve` must then find that user in the same place.

use serde_json::json;

use crate::harness::{TestEnv, UserLine, VILLAGE};

#[tokio::test]
async fn settings_are_read_by_every_command() {
    let mut env = TestEnv::new().await;
    // Somewhere no command has been yet: a data dir several levels below nothing and, on
    // SQLite, a database file named by URL outside it.
    let data_dir = env.root().join("srv/fieldsync/data");
    env.set("FIELDSYNC_DATA_DIR", data_dir.display().to_string());
    let sqlite_file = env.root().join("elsewhere.db");
    if !env.is_postgres() {
        env.set(
            "FIELDSYNC_DATABASE_URL",
            format!("sqlite:{}", sqlite_file.display()),
        );
    }

    env.create_user("ma", "grid_worker", VILLAGE).await;
    if !env.is_postgres() {
        assert!(
            sqlite_file.is_file(),
            "admin created the database it was told to use"
        );
        assert!(
            !data_dir.join("fieldsync.db").exists(),
            "FIELDSYNC_DATABASE_URL wins over the default file in the data dir"
        );
    }

    let server = env.serve().await;
    let mut ma = server.phone("ma").await;
    let h = ma.dev.new_id();
    let res = ma
        .api
        .push(vec![ma.dev.create(
            "household",
            h,
            json!({"village_code": VILLAGE, "head_name": "马"}),
        )])
        .await
        .unwrap();
    assert_eq!(res.results[0].version, Some(1), "{res:?}");

    // And admin, run again while serve holds the database, sees the same users.
    assert_eq!(
        env.users().await,
        vec![UserLine {
            username: "ma".into(),
            role: "grid_worker".into(),
            divisions: VILLAGE.into(),
        }]
    );
}
