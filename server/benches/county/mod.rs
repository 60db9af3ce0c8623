//! A county's month of data for the benchmarks, written straight through the store: the first
//! villages of 西吉县 (640422), cadres with two judged check-ins a day on 30 days of October
//! 2026 (one in ten doubted) and, one cadre in ten, an approved two-day training; and open
//! follow-up tasks spread over the villages.

// Each benchmark that includes this module uses a part of it.
#![allow(dead_code)]

use fieldsync_protocol::Role;
use fieldsync_protocol::gps::{Doubt, GpsVerdict, LatLon};
use fieldsync_protocol::merge::RecordState;
use fieldsync_server::store::{Author, FixWrite, NewUser, RecordWrite, Store, WriteBatch};
use serde_json::{Map, Value, json};

use uuid::Uuid;

pub const COUNTY: &str = "640422";
pub const MONTH_TEXT: &str = "2026-10";
pub const DAYS: i64 = 30;
/// 2026-10-01 09:00 Beijing time.
const FIRST_MORNING_MS: i64 = 1_790_816_400_000;
const DAY_MS: i64 = 86_400_000;

/// The county's first `n` villages.
pub async fn villages(store: &Store, n: usize) -> Vec<String> {
    let villages: Vec<String> = store
        .villages_under(COUNTY)
        .await
        .expect("villages")
        .into_iter()
        .take(n)
        .collect();
    assert_eq!(villages.len(), n, "the county has {n} villages");
    villages
}

/// `per_village` cadres in each village (a first secretary, then team members), each with a
/// month of check-ins: the cadres' ids and the number of events written.
pub async fn cadres(store: &Store, villages: &[String], per_village: usize) -> (Vec<Uuid>, usize) {
    let mut cadres = Vec::new();
    let mut events = 0;
    for (v, village) in villages.iter().enumerate() {
        for c in 0..per_village {
            let id = Uuid::now_v7();
            let user = NewUser {
                id,
                username: format!("cadre-{v}-{c}"),
                password_hash: "not-used".into(),
                role: if c == 0 {
                    Role::FirstSecretary
                } else {
                    Role::TeamMember
                },
                display_name: None,
            };
            store
                .create_user(&user, std::slice::from_ref(village), "2026-01-01", 0)
                .await
                .expect("user");
            events += month(store, id, village, v * per_village + c).await;
            cadres.push(id);
        }
    }
    (cadres, events)
}

/// A cadre's month: two check-ins on each of 30 days (one in ten doubted), and for one cadre in
/// ten an approved two-day training.
async fn month(store: &Store, user: Uuid, village: &str, n: usize) -> usize {
    let mut records = Vec::new();
    let mut fixes = Vec::new();
    let by = Author {
        device_id: Uuid::now_v7(),
        user_id: user,
    };
    for day in 0..DAYS {
        for (k, hour_ms) in [0, 7 * 3_600_000].into_iter().enumerate() {
            let id = Uuid::now_v7();
            let fix_at_ms = FIRST_MORNING_MS + day * DAY_MS + hour_ms;
            let doubted = (n + day as usize + k).is_multiple_of(10);
            let verdict = GpsVerdict {
                ok: !doubted,
                reasons: if doubted {
                    vec![Doubt::OutsideVillage]
                } else {
                    vec![]
                },
                wgs84: LatLon {
                    lat: 35.97,
                    lon: 105.73,
                },
                against: None,
                outside_by_m: None,
                from_household_m: None,
            };
            let fields =
                json!({"village_code": village, "captured_at": "2026-10-01T09:00:00+08:00"});
            records.push(record(id, "presence", village, fields, user, Some(verdict)));
            fixes.push(FixWrite {
                by,
                record_id: id,
                household_id: None,
                fix_at_ms,
                lat: 35.97,
                lon: 105.73,
            });
        }
    }
    if n.is_multiple_of(10) {
        let request = Uuid::now_v7();
        let fields = json!({"village_code": village, "kind": "training", "first_day": "2026-10-12", "last_day": "2026-10-13"});
        records.push(record(
            request,
            "leave_request",
            village,
            fields,
            user,
            None,
        ));
        let decision = json!({"leave_request_id": request.to_string(), "decision": "approved"});
        records.push(record(
            Uuid::now_v7(),
            "leave_decision",
            village,
            decision,
            user,
            None,
        ));
    }
    let events = fixes.len();
    write(
        store,
        WriteBatch {
            records,
            fixes,
            ..WriteBatch::new(FIRST_MORNING_MS + DAYS * DAY_MS)
        },
    )
    .await;
    events
}

/// `n` open tasks spread over the villages, each assigned to one of `assignees` (a fifth
/// overdue).
pub async fn tasks(store: &Store, villages: &[String], assignees: &[Uuid], n: usize) {
    let mut records = Vec::new();
    for i in 0..n {
        let village = &villages[i % villages.len()];
        let due = if i % 5 == 0 {
            "2026-10-15"
        } else {
            "2026-12-28"
        };
        records.push(record(
            Uuid::now_v7(),
            "task",
            village,
            json!({"village_code": village, "kind": "house_rebuild", "title": format!("危房改造跟进 {i}"),
                   "due_on": due, "status": "open", "source": "manual",
                   "assignee_id": assignees[i % assignees.len()].to_string(),
                   "created_at": "2026-10-01T09:00:00+08:00"}),
            Uuid::nil(),
            None,
        ));
        if records.len() == 1000 {
            write(
                store,
                WriteBatch {
                    records: std::mem::take(&mut records),
                    ..WriteBatch::new(FIRST_MORNING_MS)
                },
            )
            .await;
        }
    }
    if !records.is_empty() {
        write(
            store,
            WriteBatch {
                records,
                ..WriteBatch::new(FIRST_MORNING_MS)
            },
        )
        .await;
    }
}

async fn write(store: &Store, batch: WriteBatch) {
    let mut tx = store.begin().await.expect("begin");
    tx.write(&batch).await.expect("write");
    tx.commit().await.expect("commit");
}

fn record(
    id: Uuid,
    entity: &'static str,
    village: &str,
    fields: Value,
    user: Uuid,
    verdict: Option<GpsVerdict>,
) -> RecordWrite {
    RecordWrite {
        id,
        entity,
        scope: village.to_owned(),
        state: RecordState {
            version: 1,
            fields: fields.as_object().cloned().unwrap_or_else(Map::new),
            ..RecordState::default()
        },
        gps: None,
        gps_verdict: verdict,
        household_id: None,
        created: true,
        user_id: user,
    }
}
