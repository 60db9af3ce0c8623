//! The monthly attendance sheet from visits, checks and check-ins: local days, late sync,
//! doubted fixes, assignments, and who may read whose sheet.

use fieldsync_protocol::gps::{Crs, GpsFix};
use fieldsync_protocol::push::{Mutation, Status};
use fieldsync_protocol::{ErrorCode, Role};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::helpers::*;

/// Assignments in these tests run from before the month the sheets are read for.
const SINCE: &str = "2026-01-01";

/// 银川鼓楼, inside VILLAGE_A's county.
const HERE: (f64, f64) = (38.4680, 106.2719);

fn at(p: &mut Phone, entity: &str, when: OffsetDateTime, mocked: bool) -> Mutation {
    let rfc = when
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let fields = match entity {
        "presence" => json!({"village_code": VILLAGE_A, "captured_at": rfc}),
        _ => json!({"village_code": VILLAGE_A, "started_at": rfc, "purpose": "routine"}),
    };
    let mut m = p.dev.create(entity, p.dev.new_id(), fields);
    // Made when the fix was taken, as on a phone whose clock is right.
    m.hlc.wall_ms = u64::try_from(when.unix_timestamp_nanos() / 1_000_000).unwrap_or_default();
    m.gps = Some(GpsFix {
        lat: HERE.0,
        lon: HERE.1,
        accuracy_m: 10.0,
        crs: Crs::Wgs84,
        fix_at: when,
        mocked,
    });
    m
}

fn state_of(sheet: &Value, day: usize) -> String {
    sheet["days"][day - 1]["state"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_sheet_counts_local_days_from_doubt_free_events() {
    let app = spawn_app().await;
    let mut cadre = app.phone_since(Role::TeamMember, &[VILLAGE_A], SINCE).await;

    // October 2026: 19 days with a check-in at 09:00 Beijing time.
    let mut batch: Vec<Mutation> = (1..=19)
        .map(|d| {
            at(
                &mut cadre,
                "presence",
                datetime!(2026-10-01 01:00 UTC) + time::Duration::days(d - 1),
                false,
            )
        })
        .collect();
    // 31 October at 23:30 Beijing (15:30 UTC): still the 31st.
    batch.push(at(
        &mut cadre,
        "visit",
        datetime!(2026-10-31 15:30 UTC),
        false,
    ));
    // 20 October: only a mocked fix.
    batch.push(at(
        &mut cadre,
        "presence",
        datetime!(2026-10-20 02:00 UTC),
        true,
    ));
    let r = cadre.api.push(batch).await.expect("push");
    assert!(
        r.results.iter().all(|r| r.status == Status::Applied),
        "{r:?}"
    );

    let sheet: Value = cadre
        .api
        .get_json("/v1/attendance?month=2026-10")
        .await
        .expect("sheet");
    assert_eq!(sheet["days"].as_array().map(Vec::len), Some(31));
    assert_eq!(state_of(&sheet, 31), "present");
    assert_eq!(sheet["days"][30]["events"][0]["time"], "23:30");
    assert_eq!(state_of(&sheet, 20), "doubtful");
    assert_eq!(
        sheet["days"][19]["events"][0]["doubts"],
        json!(["mock_location"])
    );
    assert_eq!(
        (sheet["present"].clone(), sheet["meets_requirement"].clone()),
        (json!(20), json!(true))
    );

    // Without the visit of the 31st it would be 19: a check-in synced a week late still
    // counts for its own day.
    assert_eq!(state_of(&sheet, 25), "absent");
    let late = at(
        &mut cadre,
        "presence",
        datetime!(2026-10-25 03:00 UTC),
        false,
    );
    cadre.api.push(vec![late]).await.expect("late push");
    let sheet: Value = cadre
        .api
        .get_json("/v1/attendance?month=2026-10")
        .await
        .expect("sheet");
    assert_eq!(
        (state_of(&sheet, 25), sheet["present"].clone()),
        ("present".to_owned(), json!(21))
    );
}

#[tokio::test]
async fn check_ins_need_a_fix_and_a_clock_set_ahead_proves_nothing() {
    let app = spawn_app().await;
    let mut cadre = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let mut bare = at(&mut cadre, "presence", OffsetDateTime::now_utc(), false);
    bare.gps = None;
    let r = cadre.api.push(vec![bare]).await.expect("push");
    let e = r.results[0].error.clone().expect("refused");
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::InvalidGps, Some("gps"))
    );

    // A phone whose clock was set back two days: its fix (satellite time) is today.
    let now = OffsetDateTime::now_utc();
    let mut back = at(&mut cadre, "presence", now, false);
    back.hlc.wall_ms -= 2 * 86_400_000;
    let r = cadre.api.push(vec![back]).await.expect("push");
    assert_eq!(r.results[0].status, Status::Applied);
    let (changes, _, _) = cadre.api.pull_all(None, None).await.expect("pull");
    let reasons = changes[0].gps_verdict.clone().unwrap_or_default()["reasons"].clone();
    assert_eq!(reasons, json!(["clock_mismatch"]));

    // A fix stamped three days ahead of the server (edited "now").
    let ahead = now + time::Duration::days(3);
    let mut m = at(&mut cadre, "presence", ahead, false);
    m.hlc.wall_ms = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or_default();
    let r = cadre.api.push(vec![m]).await.expect("push");
    assert_eq!(r.results[0].status, Status::Applied);
    let month = format!("{:04}-{:02}", ahead.year(), u8::from(ahead.month()));
    let sheet: Value = cadre
        .api
        .get_json(&format!("/v1/attendance?month={month}"))
        .await
        .expect("sheet");
    let day = usize::from(ahead.to_offset(fieldsync_server::clock::CHINA).day());
    assert_eq!(
        state_of(&sheet, day),
        "doubtful",
        "{}",
        sheet["days"][day - 1]
    );
    assert!(
        sheet["days"][day - 1]["events"][0]["doubts"]
            .as_array()
            .is_some_and(|d| d.contains(&json!("fix_after_sync")))
    );
}

#[tokio::test]
async fn team_leaders_read_the_sheets_of_their_villages_only() {
    let app = spawn_app().await;
    let cadre = app.phone_since(Role::TeamMember, &[VILLAGE_A], SINCE).await;
    let leader = app
        .phone_since(Role::TownshipSupervisor, &[TOWNSHIP], SINCE)
        .await;
    let other_leader = app
        .phone_since(Role::TownshipSupervisor, &["640104002"], SINCE)
        .await;
    let colleague = app.phone_since(Role::TeamMember, &[VILLAGE_A], SINCE).await;
    let path = format!("/v1/attendance?month=2026-10&user_id={}", cadre.user_id);
    let sheet: Value = leader.api.get_json(&path).await.expect("leader reads");
    assert_eq!(sheet["user_id"], json!(cadre.user_id));
    for outsider in [&other_leader, &colleague] {
        let e = outsider
            .api
            .get_json::<Value>(&path)
            .await
            .expect_err("hidden");
        assert_eq!(e.code(), Some(ErrorCode::NotFound));
    }
    let e = cadre
        .api
        .get_json::<Value>("/v1/attendance?month=2026-13")
        .await
        .expect_err("bad month");
    assert_eq!(e.code(), Some(ErrorCode::InvalidRequest));
}

/// Sheets are reviewed by the leaders of the cadres who live in the villages, never upward: a
/// township supervisor's villages lie inside the county officer's county, which does not make
/// the officer's sheet theirs to read or return; nor a fellow supervisor's, nor a grid
/// worker's (grid workers have no attendance duty).
#[tokio::test]
async fn a_supervisor_reads_and_reviews_no_sheet_but_those_of_village_cadres() {
    let app = spawn_app().await;
    let supervisor = app
        .phone_since(Role::TownshipSupervisor, &[TOWNSHIP], SINCE)
        .await;
    let county = app
        .phone_since(Role::CountyOfficer, &["640104"], SINCE)
        .await;
    let fellow = app
        .phone_since(Role::TownshipSupervisor, &[TOWNSHIP], SINCE)
        .await;
    let grid = app.phone_since(Role::GridWorker, &[VILLAGE_A], SINCE).await;
    let cadre = app.phone_since(Role::TeamMember, &[VILLAGE_A], SINCE).await;
    let path = |user: uuid::Uuid| format!("/v1/attendance?month=2026-10&user_id={user}");
    let review = |user: uuid::Uuid| json!({"user_id": user, "month": "2026-10", "action": "return", "comment": "请说明"});
    for (reader, other) in [
        (&supervisor, &county),
        (&supervisor, &fellow),
        (&supervisor, &grid),
        (&county, &supervisor),
    ] {
        let e = reader
            .api
            .get_json::<Value>(&path(other.user_id))
            .await
            .expect_err("not theirs to read");
        assert_eq!(e.code(), Some(ErrorCode::NotFound));
        let e = reader
            .api
            .post_json::<_, Value>("/v1/attendance/review", &review(other.user_id))
            .await
            .expect_err("not theirs to return");
        assert_eq!(e.code(), Some(ErrorCode::NotFound));
    }
    for leader in [&supervisor, &county] {
        let v: Value = leader
            .api
            .post_json("/v1/attendance/review", &review(cadre.user_id))
            .await
            .expect("a village cadre's sheet is reviewed");
        assert_eq!(v["user_id"], json!(cadre.user_id));
    }
    let own: Value = county
        .api
        .get_json("/v1/attendance?month=2026-10")
        .await
        .expect("everyone reads their own sheet");
    assert_eq!(own["user_id"], json!(county.user_id));
}

#[tokio::test]
async fn approved_training_counts_approved_leave_does_not() {
    let app = spawn_app().await;
    let mut cadre = app.phone_since(Role::TeamMember, &[VILLAGE_A], SINCE).await;
    let mut leader = app
        .phone_since(Role::TownshipSupervisor, &[TOWNSHIP], SINCE)
        .await;
    let request = |p: &mut Phone, kind: &str, first: &str, last: &str| {
        p.dev.create("leave_request", p.dev.new_id(), json!({"village_code": VILLAGE_A, "kind": kind, "first_day": first, "last_day": last, "reason": "县里培训"}))
    };
    let training = request(&mut cadre, "training", "2026-10-21", "2026-10-22");
    let leave = request(&mut cadre, "leave", "2026-10-23", "2026-10-23");
    let refused = request(&mut cadre, "leave", "2026-10-24", "2026-10-24");
    let backwards = request(&mut cadre, "leave", "2026-10-24", "2026-10-20");
    let ids = [training.id, leave.id, refused.id];
    let r = cadre
        .api
        .push(vec![training, leave, refused, backwards])
        .await
        .expect("push");
    assert!(
        r.results[..3].iter().all(|r| r.status == Status::Applied),
        "{r:?}"
    );
    let e = r.results[3].error.clone().expect("backwards refused");
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::InvalidValue, Some("fields.last_day"))
    );

    // A cadre cannot answer their own request.
    let own = cadre.dev.create(
        "leave_decision",
        cadre.dev.new_id(),
        json!({"leave_request_id": ids[0].to_string(), "decision": "approved"}),
    );
    let r = cadre.api.push(vec![own]).await.expect("push");
    assert_eq!(
        r.results[0].error.as_ref().map(|e| e.code),
        Some(ErrorCode::ForbiddenRole)
    );

    let decide = |p: &mut Phone, id: uuid::Uuid, decision: &str| {
        p.dev.create(
            "leave_decision",
            p.dev.new_id(),
            json!({"leave_request_id": id.to_string(), "decision": decision}),
        )
    };
    let answers = vec![
        decide(&mut leader, ids[0], "approved"),
        decide(&mut leader, ids[1], "approved"),
        decide(&mut leader, ids[2], "rejected"),
    ];
    let r = leader.api.push(answers).await.expect("decide");
    assert!(
        r.results.iter().all(|r| r.status == Status::Applied),
        "{r:?}"
    );

    let sheet: Value = cadre
        .api
        .get_json("/v1/attendance?month=2026-10")
        .await
        .expect("sheet");
    assert_eq!(
        [21, 22, 23, 24].map(|d| state_of(&sheet, d)),
        ["exempt", "exempt", "leave", "absent"]
    );
    assert_eq!(sheet["days"][23]["absences"][0]["status"], "rejected");
    assert_eq!(
        (sheet["exempt"].clone(), sheet["leave"].clone()),
        (json!(2), json!(1))
    );
}

#[tokio::test]
async fn the_team_leader_returns_accepts_and_approves_and_later_events_become_amendments() {
    let app = spawn_app().await;
    let mut cadre = app
        .phone_since(Role::FirstSecretary, &[VILLAGE_A], SINCE)
        .await;
    let leader = app
        .phone_since(Role::TownshipSupervisor, &[TOWNSHIP], SINCE)
        .await;
    let mut batch: Vec<Mutation> = (1..=18)
        .map(|d| {
            at(
                &mut cadre,
                "presence",
                datetime!(2026-10-01 01:00 UTC) + time::Duration::days(d - 1),
                false,
            )
        })
        .collect();
    let mocked = at(&mut cadre, "visit", datetime!(2026-10-20 02:00 UTC), true);
    let mocked_id = mocked.id;
    batch.push(mocked);
    cadre.api.push(batch).await.expect("push");

    let review = |action: &str, comment: Option<&str>, event: Option<uuid::Uuid>| json!({"user_id": cadre.user_id, "month": "2026-10", "action": action, "comment": comment, "event_id": event});
    let e = leader
        .api
        .post_json::<_, Value>("/v1/attendance/review", &review("return", None, None))
        .await
        .expect_err("no comment");
    assert_eq!(e.code(), Some(ErrorCode::MissingField));
    let e = cadre
        .api
        .post_json::<_, Value>("/v1/attendance/review", &review("approve", None, None))
        .await
        .expect_err("own sheet");
    assert_eq!(e.code(), Some(ErrorCode::ForbiddenRole));

    let v: Value = leader
        .api
        .post_json(
            "/v1/attendance/review",
            &review("return", Some("20日的定位是模拟的，请说明"), None),
        )
        .await
        .expect("return");
    assert_eq!(v["review"]["state"], "returned");
    let v: Value = cadre
        .api
        .post_json(
            "/v1/attendance/reply",
            &json!({"month": "2026-10", "comment": "手机定位软件故障，当天在村委会开会"}),
        )
        .await
        .expect("reply");
    assert_eq!(v["review"]["state"], "answered");

    let v: Value = leader
        .api
        .post_json(
            "/v1/attendance/review",
            &review("accept_event", Some("会议记录为证"), Some(mocked_id)),
        )
        .await
        .expect("accept");
    assert_eq!(state_of(&v, 20), "present");
    assert_eq!(v["days"][19]["events"][0]["accepted"], true);
    assert_eq!(v["present"], 19);

    let v: Value = leader
        .api
        .post_json("/v1/attendance/review", &review("approve", None, None))
        .await
        .expect("approve");
    assert_eq!(
        (v["review"]["state"].clone(), v["review"]["locked"].clone()),
        (json!("approved"), json!(true))
    );
    assert_eq!(v["approved"]["present"], 19);
    let e = leader
        .api
        .post_json::<_, Value>(
            "/v1/attendance/review",
            &review("return", Some("再看看"), None),
        )
        .await
        .expect_err("locked");
    assert_eq!(e.code(), Some(ErrorCode::Conflict));

    // A check-in of the 25th synced after the approval: the approved figures stay, the change
    // shows as an amendment.
    let late = at(
        &mut cadre,
        "presence",
        datetime!(2026-10-25 03:00 UTC),
        false,
    );
    cadre.api.push(vec![late]).await.expect("late");
    let v: Value = cadre
        .api
        .get_json("/v1/attendance?month=2026-10")
        .await
        .expect("sheet");
    assert_eq!(
        (v["present"].clone(), v["approved"]["present"].clone()),
        (json!(20), json!(19))
    );
    assert_eq!(
        v["amendments"],
        json!([{"date": "2026-10-25", "approved": "absent", "now": "present"}])
    );
    assert_eq!(v["review"]["history"].as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn accepted_observations_come_back_with_a_receipt_anyone_can_check() {
    use base64::Engine;
    let app = spawn_app().await;
    let mut cadre = app.phone_since(Role::TeamMember, &[VILLAGE_A], SINCE).await;
    let checkin = at(&mut cadre, "presence", OffsetDateTime::now_utc(), false);
    let fields = serde_json::to_value(&checkin.fields).expect("fields");
    let h = cadre.dev.new_id();
    let household = cadre.dev.create("household", h, household(VILLAGE_A, "马"));
    let r = cadre
        .api
        .push(vec![checkin.clone(), household])
        .await
        .expect("push");
    assert!(
        r.results[1].receipt.is_none(),
        "register edits get no receipt"
    );
    let receipt = r.results[0].receipt.clone().expect("a receipt");

    let key: Value = cadre.api.get_json("/v1/receipts/key").await.expect("key");
    assert_eq!(
        (key["algorithm"].clone(), key["key_id"].clone()),
        (json!("ed25519"), json!(receipt.key_id))
    );
    let public: [u8; 32] = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(key["public_key"].as_str().unwrap_or_default())
        .expect("base64")
        .try_into()
        .expect("32 bytes");
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&public).expect("key");
    let body = fieldsync_server::receipts::verify_with(&verifying, &receipt.key_id, &receipt)
        .expect("valid");
    assert_eq!(
        (
            body.mutation_id,
            body.record_id,
            body.entity.as_str(),
            body.version
        ),
        (checkin.mutation_id, checkin.id, "presence", 1)
    );
    assert_eq!(
        (body.device_id, body.user_id),
        (cadre.dev.id, cadre.user_id)
    );
    assert_eq!(
        body.fields_sha256,
        fieldsync_server::receipts::fields_sha256(&fields)
    );

    // Sent again (the answer was lost): the same facts, signed again.
    let again = cadre.api.push(vec![checkin]).await.expect("again");
    let second = again.results[0]
        .receipt
        .clone()
        .expect("receipt for a duplicate");
    assert_eq!(second.body().map(|b| b.record_id), Some(body.record_id));

    // A push of several observations is signed once, over a tree of its receipts; each one
    // checks alone with the public key, and a neighbour's proof does not fit it.
    let now = OffsetDateTime::now_utc();
    let batch: Vec<Mutation> = (1..=5)
        .map(|h| {
            at(
                &mut cadre,
                "presence",
                now - time::Duration::minutes(h),
                false,
            )
        })
        .collect();
    let r = cadre.api.push(batch.clone()).await.expect("push");
    let receipts: Vec<_> = r
        .results
        .iter()
        .map(|r| r.receipt.clone().expect("a receipt"))
        .collect();
    assert!(
        receipts
            .iter()
            .all(|x| x.signature == receipts[0].signature && !x.proof.is_empty()),
        "{receipts:?}"
    );
    for (receipt, m) in receipts.iter().zip(&batch) {
        let body = fieldsync_server::receipts::verify_with(&verifying, &receipt.key_id, receipt)
            .expect("valid");
        assert_eq!((body.mutation_id, body.record_id), (m.mutation_id, m.id));
    }
    let mut borrowed = receipts[3].clone();
    borrowed.proof = receipts[4].proof.clone();
    assert!(
        fieldsync_server::receipts::verify_with(&verifying, &borrowed.key_id, &borrowed).is_err()
    );
}

#[tokio::test]
async fn the_township_table_has_a_row_per_cadre_and_a_column_per_day() {
    let app = spawn_app().await;
    let mut cadre = app
        .phone_since(Role::FirstSecretary, &[VILLAGE_A], SINCE)
        .await;
    let _other = app.phone_since(Role::TeamMember, &[VILLAGE_B], SINCE).await;
    let leader = app
        .phone_since(Role::TownshipSupervisor, &[TOWNSHIP], SINCE)
        .await;
    let batch: Vec<Mutation> = (1..=3)
        .map(|d| {
            at(
                &mut cadre,
                "presence",
                datetime!(2026-10-01 01:00 UTC) + time::Duration::days(d - 1),
                false,
            )
        })
        .collect();
    cadre.api.push(batch).await.expect("push");

    let path = format!("/v1/attendance/table.csv?division={TOWNSHIP}&month=2026-10");
    let (status, headers, body) = get_bytes(&app, &leader, &path).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap_or_default()
            .contains("attendance-640104001-2026-10.csv")
    );
    let text = String::from_utf8(body).expect("utf-8");
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    assert_eq!(header.len(), 4 + 31 + 7);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2, "both cadres of the township: {text}");
    let row = rows
        .iter()
        .find(|r| r[0] == VILLAGE_A)
        .expect("the cadre's row");
    assert_eq!(&row[4..8], ["√", "√", "√", "×"]);
    assert_eq!((row[35], row[40], row[41]), ("3", "否", "待审核"));

    let (status, headers, body) = get_bytes(&app, &leader, &path.replace(".csv", ".xlsx")).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(
        headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(&body[..2], b"PK", "a zip");
    let (status, _, _) = get_bytes(&app, &cadre, &path).await;
    assert_eq!(status, reqwest::StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn village_coverage_lists_who_was_visited_this_month_and_who_not() {
    let app = spawn_app().await;
    let mut cadre = app.phone_since(Role::TeamMember, &[VILLAGE_A], SINCE).await;
    let (visited, waiting) = (cadre.dev.new_id(), cadre.dev.new_id());
    let setup = vec![
        cadre
            .dev
            .create("household", visited, household(VILLAGE_A, "马")),
        cadre
            .dev
            .create("household", waiting, household(VILLAGE_A, "李")),
    ];
    cadre.api.push(setup).await.expect("households");
    let mut visit = at(&mut cadre, "visit", datetime!(2026-10-15 02:00 UTC), false);
    visit
        .fields
        .insert("household_id".into(), json!(visited.to_string()));
    // Last month's visit to the other household does not count for October.
    let mut old = at(&mut cadre, "visit", datetime!(2026-09-30 02:00 UTC), false);
    old.fields
        .insert("household_id".into(), json!(waiting.to_string()));
    let r = cadre.api.push(vec![visit, old]).await.expect("visits");
    assert!(
        r.results.iter().all(|r| r.status == Status::Applied),
        "{r:?}"
    );

    let c: Value = cadre
        .api
        .get_json(&format!("/v1/villages/{VILLAGE_A}/coverage?month=2026-10"))
        .await
        .expect("coverage");
    assert_eq!(
        (
            c["households"].clone(),
            c["visited"].clone(),
            c["coverage"].clone()
        ),
        (json!(2), json!(1), json!(0.5))
    );
    assert_eq!(c["unvisited"][0]["household_id"], json!(waiting));
    assert_eq!(c["unvisited"][0]["head_name"], "李");
    assert_eq!(c["visited_households"][0]["visits"], 1);
    let outsider = app.phone_since(Role::TeamMember, &[VILLAGE_B], SINCE).await;
    let e = outsider
        .api
        .get_json::<Value>(&format!("/v1/villages/{VILLAGE_A}/coverage?month=2026-10"))
        .await
        .expect_err("not theirs");
    assert_eq!(e.code(), Some(ErrorCode::NotFound));
}

/// What one user's phone sent, written straight through the store (as the benchmark does), so
/// that a test can place fixes, verdicts and receipt times anywhere.
struct Sent {
    user: uuid::Uuid,
    device: uuid::Uuid,
    records: Vec<fieldsync_server::store::RecordWrite>,
    fixes: Vec<fieldsync_server::store::FixWrite>,
}

fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap()
}

/// 09:00 Beijing time on `day` of October 2026.
fn morning(day: i64) -> OffsetDateTime {
    datetime!(2026-10-01 01:00 UTC) + time::Duration::days(day - 1)
}

impl Sent {
    fn new(user: uuid::Uuid) -> Sent {
        Sent {
            user,
            device: uuid::Uuid::now_v7(),
            records: Vec::new(),
            fixes: Vec::new(),
        }
    }

    fn record(
        &mut self,
        entity: &'static str,
        village: &str,
        fields: Value,
        deleted: bool,
    ) -> uuid::Uuid {
        let id = uuid::Uuid::now_v7();
        let mut fields = fields.as_object().cloned().unwrap();
        fields.insert("village_code".into(), json!(village));
        self.records.push(fieldsync_server::store::RecordWrite {
            id,
            entity,
            scope: village.to_owned(),
            state: fieldsync_protocol::merge::RecordState {
                version: 1,
                deleted,
                fields,
                ..Default::default()
            },
            gps: None,
            gps_verdict: None,
            household_id: None,
            created: true,
            user_id: self.user,
        });
        id
    }

    /// An event with a judged fix at `at`, doubted for `doubt` if given.
    fn event(
        &mut self,
        entity: &'static str,
        village: &str,
        at: OffsetDateTime,
        doubt: Option<fieldsync_protocol::gps::Doubt>,
    ) -> uuid::Uuid {
        let id = self.record(entity, village, json!({}), false);
        if let Some(r) = self.records.last_mut() {
            r.gps_verdict = Some(fieldsync_protocol::gps::GpsVerdict {
                ok: doubt.is_none(),
                reasons: doubt.into_iter().collect(),
                wgs84: fieldsync_protocol::gps::LatLon {
                    lat: HERE.0,
                    lon: HERE.1,
                },
                against: None,
                outside_by_m: None,
                from_household_m: None,
            });
        }
        self.fixes.push(fieldsync_server::store::FixWrite {
            by: fieldsync_server::store::Author {
                device_id: self.device,
                user_id: self.user,
            },
            record_id: id,
            household_id: None,
            fix_at_ms: ms(at),
            lat: HERE.0,
            lon: HERE.1,
        });
        id
    }

    fn leave(&mut self, village: &str, kind: &str, days: (&str, &str), extra: Value) -> uuid::Uuid {
        let mut fields =
            json!({"kind": kind, "first_day": days.0, "last_day": days.1, "reason": "家中有事"});
        if let (Some(f), Some(extra)) = (fields.as_object_mut(), extra.as_object()) {
            f.extend(extra.clone());
        }
        self.record("leave_request", village, fields, false)
    }

    fn decide(&mut self, village: &str, request: uuid::Uuid, decision: &str) {
        self.record(
            "leave_decision",
            village,
            json!({"leave_request_id": request.to_string(), "decision": decision}),
            false,
        );
    }

    /// Writes what was sent as received by the server at `received`.
    async fn save(self, store: &fieldsync_server::store::Store, received: OffsetDateTime) {
        let batch = fieldsync_server::store::WriteBatch {
            now_ms: ms(received),
            records: self.records,
            mutations: Vec::new(),
            conflicts: Vec::new(),
            audit: Vec::new(),
            fixes: self.fixes,
        };
        let mut tx = store.begin().await.unwrap();
        tx.write(&batch).await.unwrap();
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn the_sheets_of_a_township_read_at_once_equal_those_read_one_by_one() {
    use fieldsync_protocol::gps::Doubt;
    use fieldsync_server::attendance::{DayState, load};
    use fieldsync_server::store::{CadreRow, ReviewRow};

    /// A village of another township (兴庆区 640104002).
    const FAR: &str = "640104002001";
    let month = (2026, time::Month::October);
    let app = spawn_app().await;
    let store = &app.store;
    let (leader, _) = app
        .user_since(Role::TownshipSupervisor, &[TOWNSHIP], SINCE)
        .await;
    let (c1, _) = app.user_since(Role::TeamMember, &[VILLAGE_A], SINCE).await;
    let (c2, _) = app
        .user_since(Role::FirstSecretary, &[VILLAGE_B], SINCE)
        .await;
    // Moved from B to A in the middle of the month.
    store
        .set_assignments(c2, &[VILLAGE_A.to_owned()], "2026-10-15", "2026-10-14")
        .await
        .unwrap();
    // No events at all.
    let (c3, _) = app.user_since(Role::TeamMember, &[VILLAGE_A], SINCE).await;
    // Also assigned outside the township: events there count, as on the cadre's own sheet.
    let (c4, _) = app
        .user_since(Role::TeamMember, &[VILLAGE_B, FAR], SINCE)
        .await;
    // Not below the township: never read.
    let (stranger, _) = app.user_since(Role::TeamMember, &[FAR], SINCE).await;
    let received = datetime!(2026-11-02 02:00 UTC);

    let mut s = Sent::new(c1);
    for day in 1..=5 {
        s.event("presence", VILLAGE_A, morning(day), None);
    }
    s.event(
        "presence",
        VILLAGE_A,
        morning(6),
        Some(Doubt::OutsideVillage),
    );
    let accepted = s.event("presence", VILLAGE_A, morning(7), Some(Doubt::MockLocation));
    s.event("visit", FAR, morning(8), None);
    // Two events at the same instant: their order must not depend on how they were read.
    s.event(
        "presence",
        VILLAGE_A,
        morning(10),
        Some(Doubt::OutsideVillage),
    );
    s.event("presence", VILLAGE_A, morning(10), None);
    // 23:00 Beijing on 30 September, 23:30 on 31 October.
    s.event("presence", VILLAGE_A, datetime!(2026-09-30 15:00 UTC), None);
    s.event("presence", VILLAGE_A, datetime!(2026-10-31 15:30 UTC), None);
    let training = s.leave(
        VILLAGE_A,
        "training",
        ("2026-10-12", "2026-10-13"),
        json!({}),
    );
    let old = s.leave(VILLAGE_A, "leave", ("2026-10-14", "2026-10-14"), json!({}));
    let pending = s.leave(VILLAGE_A, "leave", ("2026-10-17", "2026-10-17"), json!({}));
    let turned = s.leave(VILLAGE_A, "leave", ("2026-10-16", "2026-10-16"), json!({}));
    let gone = s.record(
        "leave_request",
        VILLAGE_A,
        json!({"kind": "leave", "first_day": "2026-10-18", "last_day": "2026-10-18"}),
        true,
    );
    s.save(store, received).await;
    // A fix stamped four days after the server had it.
    let mut ahead = Sent::new(c1);
    ahead.event("presence", VILLAGE_A, morning(9), None);
    ahead.save(store, morning(5)).await;
    let mut later = Sent::new(c1);
    let new = later.leave(
        VILLAGE_A,
        "leave",
        ("2026-10-14", "2026-10-15"),
        json!({"supersedes": old.to_string()}),
    );
    later.save(store, received + time::Duration::hours(1)).await;

    let mut s = Sent::new(c2);
    for day in 1..=3 {
        s.event("housing_check", VILLAGE_B, morning(day), None);
    }
    s.event("presence", VILLAGE_A, morning(16), None);
    s.event("presence", VILLAGE_A, morning(17), None);
    // After the move: B is no longer the cadre's.
    s.event("presence", VILLAGE_B, morning(20), None);
    let trip = s.leave(
        VILLAGE_B,
        "official_trip",
        ("2026-10-21", "2026-10-22"),
        json!({}),
    );
    s.save(store, received).await;

    let mut s = Sent::new(c4);
    for day in 1..=4 {
        s.event("presence", FAR, morning(day), None);
    }
    s.event(
        "presence",
        VILLAGE_B,
        morning(5),
        Some(Doubt::ImpossibleTravel),
    );
    let c4_leave = s.leave(FAR, "leave", ("2026-10-06", "2026-10-06"), json!({}));
    s.save(store, received).await;

    let mut s = Sent::new(stranger);
    s.event("presence", FAR, morning(1), None);
    s.save(store, received).await;

    let mut d = Sent::new(leader);
    for request in [training, old, new, turned, gone] {
        d.decide(VILLAGE_A, request, "approved");
    }
    d.decide(VILLAGE_B, trip, "approved");
    d.decide(FAR, c4_leave, "approved");
    // Filed in another cadre's village: c1's sheet never looks there.
    d.decide(FAR, pending, "approved");
    d.save(store, received + time::Duration::hours(2)).await;
    let mut d = Sent::new(leader);
    d.decide(VILLAGE_A, turned, "rejected");
    d.save(store, received + time::Duration::hours(3)).await;

    let review = |user, action: &str, event_id| ReviewRow {
        id: uuid::Uuid::now_v7(),
        user_id: user,
        month: "2026-10".into(),
        action: action.into(),
        by_user: if action == "reply" { user } else { leader },
        comment: Some("第8天?".into()),
        event_id,
        snapshot: None,
        at: ms(received) + 1,
    };
    store
        .add_review(&review(c1, "accept_event", Some(accepted)))
        .await
        .unwrap();
    store.add_review(&review(c1, "return", None)).await.unwrap();
    store.add_review(&review(c1, "reply", None)).await.unwrap();
    store
        .add_review(&review(c2, "approve", None))
        .await
        .unwrap();
    // Another month's review is not this month's.
    store
        .add_review(&ReviewRow {
            month: "2026-09".into(),
            ..review(c3, "approve", None)
        })
        .await
        .unwrap();

    let mut cadres = store
        .cadres_under(TOWNSHIP, "2026-10-01", "2026-10-31")
        .await
        .unwrap();
    // c2 has a row for each village.
    assert_eq!(cadres.len(), 5, "{cadres:?}");
    // A row `cadres_under` would not give (the leader is no cadre) is read alone.
    cadres.push(CadreRow {
        user_id: leader,
        username: "leader".into(),
        display_name: None,
        role: "township_supervisor".into(),
        division_code: TOWNSHIP.into(),
    });

    let sheets = load::sheets(store, &cadres, month).await.unwrap();
    let mut users: Vec<_> = sheets.keys().copied().collect();
    users.sort();
    let mut expected = vec![c1, c2, c3, c4, leader];
    expected.sort();
    assert_eq!(users, expected);
    for (user, batched) in &sheets {
        let spans = load::spans(store, *user, month).await.unwrap();
        let reviews = store.reviews(*user, "2026-10").await.unwrap();
        let alone = load::sheet(store, *user, month, &spans, &reviews)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&batched.sheet).unwrap(),
            serde_json::to_value(&alone).unwrap(),
            "sheet of {user}"
        );
        assert_eq!(batched.reviews, reviews, "reviews of {user}");
    }

    // And the mix is the one meant.
    let state = |user, day: usize| sheets[&user].sheet.days[day - 1].state;
    let c1_days: Vec<DayState> = [1, 6, 7, 8, 9, 10, 12, 14, 15, 16, 17, 18, 30, 31]
        .into_iter()
        .map(|d| state(c1, d))
        .collect();
    use DayState::*;
    assert_eq!(
        c1_days,
        [
            Present, Doubtful, Present, Doubtful, Doubtful, Present, Exempt, Leave, Leave, Absent,
            Absent, Absent, Absent, Present
        ]
    );
    assert_eq!(sheets[&c1].sheet.days[16].absences[0].status, "pending");
    assert_eq!(sheets[&c1].sheet.days[9].events.len(), 2);
    assert_eq!(sheets[&c1].review_state(), "answered");
    assert_eq!(
        [2, 16, 20, 21].map(|d| state(c2, d)),
        [Present, Present, Doubtful, Exempt]
    );
    assert_eq!(sheets[&c2].review_state(), "approved");
    assert_eq!(sheets[&c3].sheet.present, 0);
    assert_eq!(sheets[&c3].review_state(), "open");
    assert_eq!([1, 5, 6].map(|d| state(c4, d)), [Present, Doubtful, Leave]);

    let rows = fieldsync_server::attendance::table::rows(store, &cadres, month)
        .await
        .unwrap();
    assert_eq!(rows.len(), cadres.len());
}
