//! Impossible travel does not depend on the order in which a phone's fixes reach the server:
//! a late earlier fix is held against the fixes on both sides of it in time, and a stored later
//! fix it makes impossible is revised (a new version that phones pull).

use std::collections::BTreeSet;

use fieldsync_protocol::Role;
use fieldsync_protocol::gps::{Crs, GpsFix};
use fieldsync_protocol::push::{Mutation, Status};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::helpers::*;

/// 银川鼓楼 in 兴庆区 (WGS-84), inside VILLAGE_A's county.
const HOME: (f64, f64) = (38.4680, 106.2719);
/// About 200 km south, in 固原.
const AWAY: (f64, f64) = (36.7159, 106.2425);

/// One fix of the day: minutes before now, and where.
struct Fix {
    minutes_ago: i64,
    at: (f64, f64),
}

/// The day, in time order. Held each against the one before: 10→15 min ago, 200 km in five
/// minutes (doubted); 15→100 fine; 100→110 min back home in ten minutes (doubted); the last
/// one fine. So exactly the fixes at indices 1 and 3 are doubted, in any order of arrival.
const DAY: [Fix; 5] = [
    Fix {
        minutes_ago: 170,
        at: HOME,
    },
    Fix {
        minutes_ago: 165,
        at: AWAY,
    },
    Fix {
        minutes_ago: 100,
        at: AWAY,
    },
    Fix {
        minutes_ago: 90,
        at: HOME,
    },
    Fix {
        minutes_ago: 10,
        at: HOME,
    },
];
const DOUBTED: [usize; 2] = [1, 3];

fn check_in(p: &mut Phone, fix: &Fix) -> Mutation {
    let taken = OffsetDateTime::now_utc() - time::Duration::minutes(fix.minutes_ago);
    let mut m = p.dev.create(
        "presence",
        p.dev.new_id(),
        json!({
            "village_code": VILLAGE_A,
            "captured_at": taken.format(&time::format_description::well_known::Rfc3339).unwrap(),
        }),
    );
    m.gps = Some(GpsFix {
        lat: fix.at.0,
        lon: fix.at.1,
        accuracy_m: 10.0,
        crs: Crs::Wgs84,
        fix_at: taken,
        mocked: false,
    });
    m
}

/// Pushes the day's fixes in `order`, cut into batches after the positions in `cuts`, and
/// returns the indices (into `DAY`) of the records whose pulled verdict says impossible travel.
async fn doubted_after(app: &TestApp, order: &[usize], cuts: &[usize]) -> BTreeSet<usize> {
    let mut p = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let mutations: Vec<Mutation> = DAY.iter().map(|f| check_in(&mut p, f)).collect();
    let ids: Vec<Uuid> = mutations.iter().map(|m| m.id).collect();
    let mut batch = Vec::new();
    for (pos, &i) in order.iter().enumerate() {
        batch.push(mutations[i].clone());
        if cuts.contains(&pos) || pos + 1 == order.len() {
            let r = p.api.push(std::mem::take(&mut batch)).await.unwrap();
            assert!(
                r.results.iter().all(|r| r.status == Status::Applied),
                "{r:?}"
            );
        }
    }
    let (changes, _, _) = p.api.pull_all(None, None).await.unwrap();
    let latest = latest(&changes);
    ids.iter()
        .enumerate()
        .filter(|(_, id)| {
            latest[*id].gps_verdict.as_ref().is_some_and(|v| {
                v["reasons"]
                    .as_array()
                    .is_some_and(|r| r.contains(&json!("impossible_travel")))
                    && v["ok"] == json!(false)
            })
        })
        .map(|(i, _)| i)
        .collect()
}

/// A small deterministic generator, so a failing order can be replayed from its case number.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

#[tokio::test]
async fn any_order_of_sync_doubts_the_same_fixes() {
    let app = spawn_app().await;
    let expected: BTreeSet<usize> = DOUBTED.into_iter().collect();
    // The two orders of the issue first: in time order, and the latest first.
    let mut cases: Vec<(Vec<usize>, Vec<usize>)> = vec![
        (vec![0, 1, 2, 3, 4], vec![0, 1, 2, 3]),
        (vec![4, 3, 2, 1, 0], vec![0, 1, 2, 3]),
        (vec![4, 3, 2, 1, 0], vec![]),
        (vec![1, 0, 3, 2, 4], vec![]),
    ];
    let mut rng = Lcg(16);
    for _ in 0..12 {
        let mut order: Vec<usize> = (0..DAY.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let cuts: Vec<usize> = (0..DAY.len() - 1).filter(|_| rng.below(2) == 0).collect();
        cases.push((order, cuts));
    }
    for (order, cuts) in cases {
        assert_eq!(
            doubted_after(&app, &order, &cuts).await,
            expected,
            "fixes pushed in the order {order:?}, batches cut after positions {cuts:?}"
        );
    }
}

#[tokio::test]
async fn a_late_earlier_fix_revises_the_stored_later_one() {
    let app = spawn_app().await;
    let mut p = app.phone(Role::FirstSecretary, &[VILLAGE_A]).await;
    let early = check_in(&mut p, &DAY[0]);
    let late = check_in(&mut p, &DAY[1]);
    let (early_id, late_id) = (early.id, late.id);

    // 10:05 first: nothing before it, nothing to doubt.
    p.api.push(vec![late]).await.unwrap();
    let (changes, _, cursor) = p.api.pull_all(None, None).await.unwrap();
    let first = latest(&changes)[&late_id].clone();
    assert_eq!(first.gps_verdict.as_ref().unwrap()["ok"], json!(false));
    let reasons = first.gps_verdict.as_ref().unwrap()["reasons"].clone();
    assert!(
        !reasons
            .as_array()
            .unwrap()
            .contains(&json!("impossible_travel")),
        "{reasons}"
    );

    // Then 10:00, 200 km away: the 10:05 record comes back with a new version and the doubt;
    // the 10:00 one itself has nothing before it.
    p.api.push(vec![early]).await.unwrap();
    let (changes, _, _) = p.api.pull_all(Some(&cursor), None).await.unwrap();
    let latest = latest(&changes);
    let revised = latest
        .get(&late_id)
        .expect("the later record is pulled again");
    assert!(revised.version > first.version, "{revised:?}");
    assert_eq!(revised.fields, first.fields, "only the verdict changes");
    let v = revised.gps_verdict.clone().unwrap();
    assert!(
        v["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("impossible_travel")),
        "{v}"
    );
    let v = latest[&early_id].gps_verdict.clone().unwrap();
    assert!(
        !v["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("impossible_travel")),
        "{v}"
    );
}
