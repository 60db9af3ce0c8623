//! Personal data: encrypted at rest, masked by role, every read and write in the audit log;
//! login throttling.

use fieldsync_client::{Api, ClientError};
use fieldsync_protocol::{ErrorCode, Role};
use serde_json::{Value, json};
use sqlx::Connection;
use uuid::Uuid;

use crate::helpers::*;

const ID_CARD: &str = "11010519491231002X";
const PHONE: &str = "13912345678";

/// Everything stored as JSON text, from every table that holds record values.
async fn stored_text(app: &TestApp) -> String {
    let tables = [
        ("fields", "records"),
        ("fields", "mutations"),
        ("yours", "conflicts"),
        ("theirs", "conflicts"),
        ("kept", "conflicts"),
    ];
    let mut out = String::new();
    if app.db_url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
        for (column, table) in tables {
            let sql = format!("SELECT {column}::text FROM {table}");
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut c)
                .await
                .unwrap();
            out.extend(rows);
        }
    } else {
        let mut c = sqlx::SqliteConnection::connect(&app.db_url).await.unwrap();
        for (column, table) in tables {
            let sql = format!("SELECT {column} FROM {table}");
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut c)
                .await
                .unwrap();
            out.extend(rows);
        }
    }
    out
}

#[tokio::test]
async fn id_cards_are_encrypted_at_rest_and_masked_by_role() {
    let app = spawn_app().await;
    let mut a = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let mut b = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let h = a.dev.new_id();
    let m = a.dev.new_id();
    a.api
        .push(vec![
            a.dev.create("household", h, json!({"village_code": VILLAGE_A, "head_name": "马", "phone": PHONE, "head_id_card": ID_CARD})),
            a.dev.create("member", m, json!({"household_id": h.to_string(), "name": "马", "id_card": ID_CARD, "illness": "糖尿病"})),
        ])
        .await
        .unwrap();
    // A conflict on the ID-card field puts both numbers into a conflict record too.
    let other = "640104198506120314";
    let first = a
        .api
        .push(vec![a.dev.update(
            "member",
            m,
            1,
            json!({"id_card": "11010519491231002x"}),
        )])
        .await
        .unwrap();
    assert!(
        first.results[0].conflicts.is_empty(),
        "a lower-case x is the same number"
    );
    let r = b
        .api
        .push(vec![b.dev.update(
            "member",
            m,
            1,
            json!({"id_card": other}),
        )])
        .await
        .unwrap()
        .results
        .remove(0);
    assert_eq!(r.conflicts.len(), 1);

    let dump = stored_text(&app).await;
    for secret in [
        ID_CARD,
        "11010519491231002x",
        other,
        "1101051949",
        "6401041985",
    ] {
        assert!(!dump.contains(secret), "{secret} is stored in clear");
    }
    assert!(
        dump.contains(PHONE),
        "phones are masked on output, not encrypted"
    );

    // Cadres who need it see the number; the township supervisor and the administrator see it masked.
    let secretary = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let (changes, _, _) = secretary.api.pull_all(None, None).await.unwrap();
    let got = latest(&changes);
    assert_eq!(got[&h].fields["head_id_card"], ID_CARD);
    assert_eq!(got[&m].fields["illness"], "糖尿病");
    let supervisor = app.phone(Role::TownshipSupervisor, &[TOWNSHIP]).await;
    let (changes, _, _) = supervisor.api.pull_all(None, None).await.unwrap();
    let got = latest(&changes);
    assert_eq!(got[&h].fields["head_id_card"], "1101**********002X");
    assert_eq!(got[&h].fields["phone"], PHONE);
    assert!(!got[&m].fields.contains_key("illness"));
    let admin = app.phone(Role::Admin, &["640000"]).await;
    let (changes, _, _) = admin.api.pull_all(None, None).await.unwrap();
    assert_eq!(latest(&changes)[&h].fields["phone"], "139****5678");

    // The conflict list masks too.
    let list: Value = supervisor.api.get_json("/v1/conflicts").await.unwrap();
    let c = &list["conflicts"][0];
    assert!(c["yours"].as_str().unwrap().contains("****"), "{c}");
    let list: Value = secretary.api.get_json("/v1/conflicts").await.unwrap();
    assert!(list["conflicts"][0]["yours"] == other || list["conflicts"][0]["theirs"] == other);

    // Lookup by number works without decrypting anything.
    let mut holders = app.store.records_with_id_card(ID_CARD).await.unwrap();
    holders.sort();
    assert_eq!(holders, vec![h]);
    assert_eq!(
        app.store.records_with_id_card(other).await.unwrap(),
        vec![m]
    );
}

#[tokio::test]
async fn a_server_with_another_data_key_refuses_the_database() {
    let app = spawn_app().await;
    let mut settings = app.settings.clone();
    settings.data_key = Some(
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
            .to_owned()
            .into(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = fieldsync_server::app::start(settings, listener)
        .await
        .err()
        .expect("must refuse");
    assert!(err.to_string().contains("different data key"), "{err}");
}

/// Pushes a household of village A named 李 and a member 李小 of it, with `more` of the
/// member's fields: their ids.
async fn household_with_member(worker: &mut Phone, more: Value) -> (Uuid, Uuid) {
    let (h, m) = (worker.dev.new_id(), worker.dev.new_id());
    let mut member = json!({"household_id": h.to_string(), "name": "李小"});
    if let (Some(fields), Value::Object(more)) = (member.as_object_mut(), more) {
        fields.extend(more);
    }
    worker
        .api
        .push(vec![
            worker
                .dev
                .create("household", h, household(VILLAGE_A, "李")),
            worker.dev.create("member", m, member),
        ])
        .await
        .unwrap();
    (h, m)
}

#[tokio::test]
async fn reads_and_writes_of_personal_data_are_audited() {
    let app = spawn_app().await;
    let mut worker = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let (h, m) = household_with_member(&mut worker, json!({"id_card": ID_CARD})).await;
    let reader = app.phone(Role::TeamMember, &[VILLAGE_A]).await;
    reader.api.pull_all(None, None).await.unwrap();
    let outsider = app.phone(Role::TeamMember, &[VILLAGE_B]).await;
    outsider.api.pull_all(None, None).await.unwrap();

    let admin = app.phone(Role::Admin, &["640000"]).await;
    let page: Value = admin
        .api
        .get_json(&format!("/v1/audit?household_id={h}"))
        .await
        .unwrap();
    let entries = page["entries"].as_array().unwrap();
    let summary: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["user_id"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["record_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let (w, r) = (worker.user_id.to_string(), reader.user_id.to_string());
    for expected in [
        (w.clone(), "write", h),
        (w.clone(), "write", m),
        (r.clone(), "read", h),
        (r.clone(), "read", m),
    ] {
        assert!(
            summary.contains(&(
                expected.0.clone(),
                expected.1.to_owned(),
                expected.2.to_string()
            )),
            "{expected:?} missing from {summary:?}"
        );
    }
    assert!(
        !summary
            .iter()
            .any(|(u, _, _)| *u == outsider.user_id.to_string()),
        "the outsider read nothing"
    );
    let member_read = entries
        .iter()
        .find(|e| e["action"] == "read" && e["record_id"] == json!(m))
        .unwrap();
    assert!(
        member_read["fields"]
            .as_array()
            .unwrap()
            .contains(&json!("id_card"))
    );
    assert!(
        !member_read.to_string().contains(ID_CARD),
        "the audit log names fields, never values"
    );

    // By user and time range.
    let by_reader: Value = admin
        .api
        .get_json(&format!("/v1/audit?user_id={}", reader.user_id))
        .await
        .unwrap();
    assert!(
        by_reader["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["user_id"] == json!(reader.user_id))
    );
    let future = fieldsync_server::clock::now_ms() + 60_000;
    let none: Value = admin
        .api
        .get_json(&format!("/v1/audit?from_ms={future}"))
        .await
        .unwrap();
    assert!(none["entries"].as_array().unwrap().is_empty());

    // Only administrators read it.
    let e = reader.api.get_json::<Value>("/v1/audit").await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ForbiddenRole));
}

/// The mutation log names the fields each change wrote and keeps none of their values: the
/// record holds them, and a copy in the log would outlive the record's correction. A log written
/// by an older release, with values, keeps only the names after its migration.
#[tokio::test]
async fn the_mutation_log_names_fields_and_keeps_no_values() {
    let app = spawn_app().await;
    let mut worker = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let (h, m) = household_with_member(&mut worker, json!({"illness": "糖尿病"})).await;
    let logged = || async {
        let text: String = on_database!(
            app,
            sqlx::query_scalar("SELECT CAST(fields AS TEXT) FROM mutations WHERE record_id = $1")
                .bind(m),
            fetch_one
        );
        serde_json::from_str::<Value>(&text).unwrap()
    };
    let mut names: Vec<String> = serde_json::from_value(logged().await).unwrap();
    names.sort();
    assert_eq!(names, ["household_id", "illness", "name"]);
    assert!(!stored_log(&app).await.contains("糖尿病"));

    // An entry as releases before migration 0024 wrote it, with the values.
    on_database!(
        app,
        sqlx::query("UPDATE mutations SET fields = $1 WHERE record_id = $2")
            .bind(sqlx::types::Json(
                json!({"name": "李小", "illness": "糖尿病"})
            ))
            .bind(m),
        execute
    );
    let migration = if app.db_url.starts_with("postgres") {
        include_str!("../../migrations/postgres/0024_log_names_fields.sql")
    } else {
        include_str!("../../migrations/sqlite/0024_log_names_fields.sql")
    };
    on_database!(app, sqlx::raw_sql(migration), execute);
    let mut names: Vec<String> = serde_json::from_value(logged().await).unwrap();
    names.sort();
    assert_eq!(names, ["illness", "name"]);
    assert!(!stored_log(&app).await.contains("糖尿病"));
    // What reads the log lists the same names.
    let edits = app.store.household_edits(h, 10).await.unwrap();
    let member = edits.iter().find(|e| e.record_id == m).unwrap();
    let mut names = member.field_names();
    names.sort();
    assert_eq!(names, ["illness", "name"]);
}

/// The mutation log's `fields` column, every row as text.
async fn stored_log(app: &TestApp) -> String {
    let rows: Vec<String> = on_database!(
        app,
        sqlx::query_scalar("SELECT CAST(fields AS TEXT) FROM mutations"),
        fetch_all
    );
    rows.concat()
}

fn status_of(e: &ClientError) -> u16 {
    match e {
        ClientError::Api { status, .. } => status.as_u16(),
        _ => 0,
    }
}

#[tokio::test]
async fn repeated_wrong_passwords_are_throttled() {
    let app = spawn_app().await;
    let (_, username) = app.user(Role::GridWorker, &[VILLAGE_A]).await;
    let mut api = Api::new(&app.base, Uuid::now_v7());
    for _ in 0..5 {
        assert_eq!(
            api.login(&username, "wrong password")
                .await
                .unwrap_err()
                .code(),
            Some(ErrorCode::InvalidCredentials)
        );
    }
    // Even the right password waits out the window: guessing cannot continue.
    let e = api.login(&username, PASSWORD).await.unwrap_err();
    assert_eq!(
        (status_of(&e), e.code()),
        (429, Some(ErrorCode::RateLimited))
    );
    let r = reqwest::Client::new()
        .post(format!("{}/v1/auth/login", app.base))
        .json(&json!({"username": username, "password": PASSWORD, "device_id": Uuid::now_v7()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");

    // Another account from the same address is still allowed (the address limit is higher).
    let (_, other) = app.user(Role::GridWorker, &[VILLAGE_A]).await;
    Api::new(&app.base, Uuid::now_v7())
        .login(&other, PASSWORD)
        .await
        .unwrap();
}

#[tokio::test]
async fn one_address_guessing_many_accounts_is_throttled() {
    let app = spawn_app_with(|s| s.limits.login_failures_per_ip = 4).await;
    let mut api = Api::new(&app.base, Uuid::now_v7());
    for i in 0..4 {
        assert_eq!(
            api.login(&format!("nobody{i}"), "x")
                .await
                .unwrap_err()
                .code(),
            Some(ErrorCode::InvalidCredentials)
        );
    }
    let e = api.login("nobody9", "x").await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::RateLimited));
}

/// A farmer's own ID-card number (what their reports are checked against) is kept like every
/// other: sealed, with a keyed hash to find the households holding it.
#[tokio::test]
async fn an_accounts_own_id_card_is_sealed_at_rest() {
    let app = spawn_app().await;
    let farmer = app.phone(Role::Farmer, &[VILLAGE_A]).await;
    let mut cadre = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let h = cadre.dev.new_id();
    cadre
        .api
        .push(vec![cadre.dev.create(
            "household",
            h,
            json!({"village_code": VILLAGE_A, "head_name": "马", "head_id_card": ID_CARD}),
        )])
        .await
        .unwrap();
    assert!(
        app.store
            .set_user_id_card(farmer.user_id, Some("11010519491231002x"))
            .await
            .unwrap()
    );
    let sql = "SELECT id_card FROM users WHERE id_card IS NOT NULL";
    let stored: Vec<String> = if app.db_url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::SqliteConnection::connect(&app.db_url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap()
    };
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0].contains("1101051949") && !stored[0].contains("31002"),
        "stored in clear: {}",
        stored[0]
    );
    let own = app
        .store
        .own_id_card(farmer.user_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(own.households, vec![h], "a lower-case x is the same number");
    app.store
        .set_user_id_card(farmer.user_id, None)
        .await
        .unwrap();
    assert_eq!(app.store.own_id_card(farmer.user_id).await.unwrap(), None);
}
