//! Storage faults answer 503 with `Retry-After` and a code a phone can show, and pass by
//! themselves, with no restart: a full disk (`storage_full`), a database busy past the wait or
//! out of reach (`unavailable`). `/readyz` says so while it lasts.

use std::time::Duration;

use fieldsync_protocol::Role;
use fieldsync_protocol::auth::LoginRequest;
use fieldsync_protocol::push::{Mutation, PushRequest, PushResponse, Status};
use fieldsync_server::store::Kind;
use fieldsync_server::testing::limit_sqlite_growth;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

/// An answer as the phone sees it.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
}

impl Answer {
    /// 503 with `Retry-After` and `code`; the message says nothing of the server's insides.
    fn assert_retry_later(&self, code: &str) {
        assert_eq!(self.status, 503, "{self:?}");
        assert!(self.retry_after.is_some_and(|s| s > 0), "{self:?}");
        assert_eq!(self.body["error"]["code"], code, "{self:?}");
        let message = self.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            !message.contains("sqlite") && !message.contains("database error"),
            "{message}"
        );
    }
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = res.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        retry_after,
        body,
    }
}

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: &impl Serialize) -> Answer {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", app.base))
        .json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    send(req).await
}

async fn push(app: &TestApp, phone: &Phone, mutations: &[Mutation]) -> Answer {
    let body = PushRequest {
        device_id: phone.api.device_id(),
        mutations: mutations.to_vec(),
        client: None,
        pull: None,
    };
    post(app, "/v1/sync/push", phone.api.access_token(), &body).await
}

/// A login of `username` from a new device.
async fn login(app: &TestApp, username: &str) -> Answer {
    let body = LoginRequest {
        username: username.to_owned(),
        password: PASSWORD.to_owned(),
        device_id: Uuid::now_v7(),
    };
    post(app, "/v1/auth/login", None, &body).await
}

async fn readyz(app: &TestApp) -> Answer {
    send(reqwest::Client::new().get(format!("{}/readyz", app.base))).await
}

/// Households with long notes: far more than a few free pages of the file can hold.
/// A grid worker of village A, logged in on a phone: the phone and the username.
async fn worker(app: &TestApp) -> (Phone, String) {
    let (user_id, username) = app.user(Role::GridWorker, &[VILLAGE_A]).await;
    (app.login(user_id, &username).await, username)
}

/// Whether the test runs on this app's engine; says why it is skipped when it does not.
fn runs_on(app: &TestApp, engine: Kind, skipped: &str) -> bool {
    if app.store.kind() != engine {
        eprintln!("{skipped}");
    }
    app.store.kind() == engine
}

fn big_batch(phone: &mut Phone, n: usize) -> Vec<Mutation> {
    let notes = "记".repeat(2000);
    (0..n)
        .map(|i| {
            let id = phone.dev.new_id();
            phone.dev.create(
                "household",
                id,
                json!({"village_code": VILLAGE_A, "head_name": format!("户主{i}"), "notes": notes}),
            )
        })
        .collect()
}

/// The full disk, made with SQLite's `max_page_count`: the push answers
/// `storage_full` and keeps nothing, `/readyz` says so, and once space is back the same server
/// takes the same push (applied, not `duplicate`: nothing of it was kept before) and logins.
/// Before the fix, a write that SQLite rolled back whole (here the readiness probe's single
/// insert; on a real disk a failed COMMIT) left the write connection counting an open
/// transaction, and every later write answered 500 ("begin_with at non-zero transaction
/// depth"), space or not.
#[tokio::test]
async fn a_full_disk_answers_storage_full_and_heals_without_a_restart() {
    let app = spawn_app().await;
    if !runs_on(
        &app,
        Kind::Sqlite,
        "skipped on PostgreSQL: its disk cannot be filled from a test; disk_full (53100) is mapped to storage_full in store::fault's unit tests",
    ) {
        return;
    }
    let (mut phone, username) = worker(&app).await;
    assert_eq!(readyz(&app).await.status, 200);
    let batch = big_batch(&mut phone, 40);

    // The disk fills. The failed write may cost the server its write connection (SQLite rolls
    // the transaction back itself); the limit is set again on whichever connection is there, as
    // a full disk would stay full for it.
    for _ in 0..2 {
        limit_sqlite_growth(&app.store, Some(0)).await.unwrap();
        push(&app, &phone, &batch)
            .await
            .assert_retry_later("storage_full");
    }
    limit_sqlite_growth(&app.store, Some(0)).await.unwrap();
    readyz(&app).await.assert_retry_later("storage_full");

    // Space is freed: no restart.
    limit_sqlite_growth(&app.store, None).await.unwrap();
    let answer = push(&app, &phone, &batch).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let res: PushResponse = serde_json::from_value(answer.body).unwrap();
    assert_eq!(res.results.len(), batch.len());
    assert!(
        res.results.iter().all(|r| r.status == Status::Applied),
        "a failed push kept part of the batch: {res:?}"
    );
    assert_eq!(login(&app, &username).await.status, 200);
    assert_eq!(readyz(&app).await.status, 200);
}

/// No connection comes free within the wait (the single SQLite writer, or every PostgreSQL
/// connection, held): a push and a login answer 503 `unavailable`, not 500, and work once the
/// connection is free. Before the fix the acquire timeout inside `Store::begin` became a 500.
#[tokio::test]
async fn a_pool_without_a_free_connection_answers_unavailable() {
    let app = spawn_app_with(|s| {
        s.max_connections = 1;
        s.database_wait_ms = 300;
    })
    .await;
    let (mut phone, username) = worker(&app).await;
    let batch = big_batch(&mut phone, 1);

    let held = app.store.begin().await.unwrap();
    let (pushed, logged_in) = tokio::join!(push(&app, &phone, &batch), login(&app, &username));
    pushed.assert_retry_later("unavailable");
    logged_in.assert_retry_later("unavailable");
    drop(held);

    assert_eq!(push(&app, &phone, &batch).await.status, 200);
    assert_eq!(login(&app, &username).await.status, 200);
}

/// Another process (an admin command, a backup) holds SQLite's write lock past the wait: the
/// write that waited for the lock and those queued behind it for the connection all answer 503
/// `unavailable`, `/readyz` too, and everything works once the lock is let go.
#[tokio::test]
async fn another_process_holding_the_sqlite_write_lock_answers_unavailable() {
    use sqlx::Connection;

    let app = spawn_app_with(|s| s.database_wait_ms = 300).await;
    if !runs_on(
        &app,
        Kind::Sqlite,
        "skipped on PostgreSQL: it has no database-wide write lock; a_terminated_postgres_connection_answers_unavailable covers its trouble",
    ) {
        return;
    }
    let (mut phone, username) = worker(&app).await;
    let first = big_batch(&mut phone, 1);
    let second = big_batch(&mut phone, 1);

    let mut other = sqlx::SqliteConnection::connect(&app.db_url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let (a, b, c) = tokio::join!(
        push(&app, &phone, &first),
        push(&app, &phone, &second),
        login(&app, &username)
    );
    for answer in [a, b, c] {
        answer.assert_retry_later("unavailable");
    }
    readyz(&app).await.assert_retry_later("unavailable");
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();

    assert_eq!(push(&app, &phone, &first).await.status, 200);
    assert_eq!(login(&app, &username).await.status, 200);
    assert_eq!(readyz(&app).await.status, 200);
}

/// PostgreSQL ends the connection a push is using (`pg_terminate_backend`, as a restart or a
/// failover would): the push answers 503 `unavailable`, not 500, and the next requests find
/// fresh connections. The push is held inside the database by a lock on `sync_head` until
/// the connection is cut.
#[tokio::test]
async fn a_terminated_postgres_connection_answers_unavailable() {
    use sqlx::Connection;

    let app = spawn_app().await;
    if !runs_on(
        &app,
        Kind::Postgres,
        "skipped on SQLite: it has no server connection to lose; set FIELDSYNC_TEST_DATABASE_URL to run it",
    ) {
        return;
    }
    let (mut phone, username) = worker(&app).await;
    let batch = big_batch(&mut phone, 1);

    let mut other = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query("LOCK TABLE sync_head IN ACCESS EXCLUSIVE MODE")
        .execute(&mut other)
        .await
        .unwrap();
    let pushing = {
        let (base, token, device) = (
            app.base.clone(),
            phone.api.access_token().unwrap_or_default().to_owned(),
            phone.api.device_id(),
        );
        let body = PushRequest {
            device_id: device,
            mutations: batch.clone(),
            client: None,
            pull: None,
        };
        tokio::spawn(async move {
            send(
                reqwest::Client::new()
                    .post(format!("{base}/v1/sync/push"))
                    .bearer_auth(token)
                    .json(&body),
            )
            .await
        })
    };
    // Until the push waits for the lock. Watched from outside `other`'s transaction, in which
    // `pg_stat_activity` would stay as it was at its first reading.
    let mut watcher = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let waiting = "SELECT count(*) FROM pg_stat_activity
                   WHERE datname = current_database() AND pid <> pg_backend_pid()
                     AND wait_event_type = 'Lock'";
    let mut waited = Duration::ZERO;
    while sqlx::query_scalar::<_, i64>(waiting)
        .fetch_one(&mut watcher)
        .await
        .unwrap()
        == 0
    {
        assert!(waited < Duration::from_secs(10), "the push never waited");
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&mut other)
    .await
    .unwrap();
    pushing.await.unwrap().assert_retry_later("unavailable");
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();

    let answer = push(&app, &phone, &batch).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(login(&app, &username).await.status, 200);
    assert_eq!(readyz(&app).await.status, 200);
}

/// PostgreSQL ends every connection while the server is idle (a restart or a failover between
/// two pushes): the next push is applied, not answered "retry later". The push committer keeps
/// a connection of its own outside the pool, which no ping checks: its `BEGIN` finds it cut,
/// and the group begins again on a fresh one.
#[tokio::test]
async fn a_push_after_postgres_ended_every_idle_connection_is_applied() {
    use sqlx::Connection;

    let app = spawn_app().await;
    if !runs_on(
        &app,
        Kind::Postgres,
        "skipped on SQLite: it has no server connection to lose; set FIELDSYNC_TEST_DATABASE_URL to run it",
    ) {
        return;
    }
    let (mut phone, _) = worker(&app).await;
    for round in 0..2 {
        let batch = big_batch(&mut phone, 1);
        let answer = push(&app, &phone, &batch).await;
        assert_eq!(answer.status, 200, "round {round}: {answer:?}");
        let pushed: PushResponse = serde_json::from_value(answer.body).unwrap();
        assert_eq!(pushed.results[0].status, Status::Applied, "round {round}");

        let mut other = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
        // Waits (up to 5 s) until each has ended, so that the push below cannot find one alive.
        let ended: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(&mut other)
        .await
        .unwrap();
        assert!(!ended.is_empty(), "the server kept no connection");
    }
    let batch = big_batch(&mut phone, 1);
    let again = push(&app, &phone, &batch).await;
    assert_eq!(again.status, 200, "{again:?}");
}

/// Between groups the push committer's connection waits inside the next group's transaction,
/// begun with the last group's commit. It must hold nothing anyone else could wait for: no
/// snapshot (`VACUUM` is not held back) and no lock (a schema change goes through at once), and
/// the next push is applied in it.
#[tokio::test]
async fn the_push_connection_waits_begun_holding_nothing() {
    use sqlx::Connection;

    let app = spawn_app().await;
    if !runs_on(
        &app,
        Kind::Postgres,
        "skipped on SQLite: its pushes keep no connection waiting; set FIELDSYNC_TEST_DATABASE_URL to run it",
    ) {
        return;
    }
    let (mut phone, _) = worker(&app).await;
    let batch = big_batch(&mut phone, 1);
    assert_eq!(push(&app, &phone, &batch).await.status, 200);

    let mut other = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let waiting: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT backend_xmin::text, backend_xid::text FROM pg_stat_activity
         WHERE datname = current_database() AND state = 'idle in transaction'",
    )
    .fetch_all(&mut other)
    .await
    .unwrap();
    assert_eq!(
        waiting,
        vec![(None, None)],
        "one connection waits begun, with no snapshot or id"
    );
    sqlx::raw_sql(
        "SET lock_timeout = '2s';
         BEGIN;
         LOCK TABLE sync_head, records, mutations, devices IN ACCESS EXCLUSIVE MODE;
         ROLLBACK;",
    )
    .execute(&mut other)
    .await
    .expect("the waiting transaction holds no lock");

    let batch = big_batch(&mut phone, 1);
    let again = push(&app, &phone, &batch).await;
    assert_eq!(again.status, 200, "{again:?}");
    let pushed: PushResponse = serde_json::from_value(again.body).unwrap();
    assert_eq!(pushed.results[0].status, Status::Applied);

    // A quiet spell ends the waiting transaction (before PostgreSQL's idle timeout would end
    // the connection), and the push after it begins one of its own.
    app.store.rest_pushes().await;
    let begun: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND state = 'idle in transaction'",
    )
    .fetch_one(&mut other)
    .await
    .unwrap();
    assert_eq!(
        begun, 0,
        "the rested connection waits outside any transaction"
    );
    let batch = big_batch(&mut phone, 1);
    let after = push(&app, &phone, &batch).await;
    assert_eq!(after.status, 200, "{after:?}");
    let pushed: PushResponse = serde_json::from_value(after.body).unwrap();
    assert_eq!(pushed.results[0].status, Status::Applied);
}
