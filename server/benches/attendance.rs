//! Attendance benchmark: `cargo bench -p fieldsync-server --bench attendance`.
//!
//! One county for one month: the first 300 villages of 西吉县 (640422), three cadres each (900),
//! every cadre with two judged check-ins a day on 30 days of October 2026 (one in ten doubted),
//! and one cadre in ten with an approved two-day training: 54,000 events, written straight
//! through the store. Then every cadre's sheet is computed twice: one cadre at a time through
//! the code the API runs for one sheet (`attendance::load::{spans, sheet}`: assignments,
//! events, absences, review log; about six queries each), and all at once as the township table
//! and the console read them (`Store::cadres_under` for the county, then
//! `attendance::load::sheets`: five queries in all). Time, sheets/s and the growth of peak RSS
//! (`VmHWM`, reset first) of each. SQLite always; PostgreSQL when
//! `FIELDSYNC_BENCH_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) names
//! a server where the benchmark may create and drop a database.

use std::time::Instant;

use fieldsync_protocol::Role;
use fieldsync_protocol::gps::{Doubt, GpsVerdict, LatLon};
use fieldsync_protocol::merge::RecordState;
use fieldsync_server::app;
use fieldsync_server::attendance::load;
use fieldsync_server::config::Settings;
use fieldsync_server::store::{FixWrite, NewUser, RecordWrite, Store, WriteBatch};
use fieldsync_server::testing::ScratchDatabase;
use fieldsync_server::testing::memory::{peak_kib, reset_peak};
use serde_json::{Map, Value, json};
use time::Month;
use uuid::Uuid;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const COUNTY: &str = "640422";
const VILLAGES: usize = 300;
const CADRES_PER_VILLAGE: usize = 3;
const DAYS: i64 = 30;
const MONTH: (i32, Month) = (2026, Month::October);
/// 2026-10-01 09:00 Beijing time.
const FIRST_MORNING_MS: i64 = 1_790_816_400_000;
const DAY_MS: i64 = 86_400_000;

struct Figures {
    engine: &'static str,
    events: usize,
    load_s: f64,
    sheets: usize,
    secs: f64,
    present_days: u64,
    growth_kib: u64,
    /// The county's cadre list and all its sheets at once.
    batched_secs: f64,
    batched_growth_kib: u64,
}

#[tokio::main]
async fn main() {
    let all = fieldsync_server::testing::on_each_engine("attendance", run).await;
    println!();
    println!(
        "| engine | events | sheets | one by one | sheets/s | peak RSS growth | at once (list + sheets) | sheets/s | peak RSS growth | present days |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for f in &all {
        println!(
            "| {} | {} (loaded in {:.1} s) | {} | {:.2} s | {:.0} | {:.1} MiB | {:.0} ms | {:.0} | {:.1} MiB | {} |",
            f.engine,
            f.events,
            f.load_s,
            f.sheets,
            f.secs,
            f.sheets as f64 / f.secs,
            f.growth_kib as f64 / 1024.0,
            f.batched_secs * 1000.0,
            f.sheets as f64 / f.batched_secs,
            f.batched_growth_kib as f64 / 1024.0,
            f.present_days,
        );
    }
}

async fn run(engine: &'static str, db: &ScratchDatabase) -> Figures {
    eprintln!("== {engine}");
    let settings = Settings {
        database_url: Some(db.url.clone().into()),
        data_dir: db.dir().to_owned(),
        ..Settings::default()
    };
    let store = app::open_store(&settings).await.expect("open");
    app::prepare(&store).await.expect("prepare");
    let villages: Vec<String> = store
        .villages_under(COUNTY)
        .await
        .expect("villages")
        .into_iter()
        .take(VILLAGES)
        .collect();
    assert_eq!(villages.len(), VILLAGES);

    let started = Instant::now();
    let mut cadres = Vec::new();
    let mut events = 0;
    for (v, village) in villages.iter().enumerate() {
        for c in 0..CADRES_PER_VILLAGE {
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
            events += write_month(&store, id, village, v * CADRES_PER_VILLAGE + c).await;
            cadres.push(id);
        }
    }
    let load_s = started.elapsed().as_secs_f64();
    eprintln!(
        "   loaded {} cadres and {events} events in {load_s:.1} s",
        cadres.len()
    );

    let before = reset_peak();
    let started = Instant::now();
    let mut present_days = 0u64;
    for &cadre in &cadres {
        let spans = load::spans(&store, cadre, MONTH).await.expect("spans");
        let reviews = store.reviews(cadre, "2026-10").await.expect("reviews");
        let sheet = load::sheet(&store, cadre, MONTH, &spans, &reviews)
            .await
            .expect("sheet")
            .expect("a month");
        present_days += u64::from(sheet.present);
    }
    let secs = started.elapsed().as_secs_f64();
    // 30 days each, less the doubted ones (a day needs one of its two check-ins clean).
    assert!(
        present_days > (cadres.len() as u64) * 25,
        "{present_days} present days"
    );
    let growth_kib = peak_kib().saturating_sub(before);

    let before = reset_peak();
    let started = Instant::now();
    let listed = store
        .cadres_under(COUNTY, "2026-10-01", "2026-10-31")
        .await
        .expect("cadres");
    let sheets = load::sheets(&store, &listed, MONTH).await.expect("sheets");
    let batched_secs = started.elapsed().as_secs_f64();
    let batched_growth_kib = peak_kib().saturating_sub(before);
    assert_eq!(sheets.len(), cadres.len());
    let batched_days: u64 = sheets.values().map(|s| u64::from(s.sheet.present)).sum();
    assert_eq!(batched_days, present_days, "the same sheets either way");
    eprintln!(
        "   {} sheets one by one in {secs:.2} s, at once in {:.0} ms",
        cadres.len(),
        batched_secs * 1000.0
    );
    store.close().await;
    Figures {
        engine,
        events,
        load_s,
        sheets: cadres.len(),
        secs,
        present_days,
        growth_kib,
        batched_secs,
        batched_growth_kib,
    }
}

/// A cadre's month: two check-ins on each of 30 days (one in ten doubted), and for one cadre in
/// ten an approved two-day training.
async fn write_month(store: &Store, user: Uuid, village: &str, n: usize) -> usize {
    let device = Uuid::now_v7();
    let mut records = Vec::new();
    let mut fixes = Vec::new();
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
    let batch = WriteBatch {
        device_id: device,
        user_id: user,
        now_ms: FIRST_MORNING_MS + DAYS * DAY_MS,
        records,
        mutations: Vec::new(),
        conflicts: Vec::new(),
        audit: Vec::new(),
        fixes,
    };
    let mut tx = store.begin().await.expect("begin");
    tx.write(&batch).await.expect("write");
    tx.commit().await.expect("commit");
    events
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
