//! Household file benchmark: `cargo bench -p fieldsync-server --bench household_file`.
//!
//! A county's households as the office finds them: 100,000 households of four people (400,000
//! records, names with namesakes, ID-card numbers, phones, household numbers) over the villages
//! of 兴庆区, loaded by the roster import, and one household with checks, a visit and the task
//! a failed check makes. A county officer and a first secretary sign in to the console; then
//! each search and the household's page is asked for 15 times over loopback and its server
//! time read from the answer's own `Server-Timing` header (the whole request inside the server:
//! session check, the villages of the viewer, the search, disclosure, the audit entries
//! written, rendering). The target is under 100 ms at the median. `FIELDSYNC_BENCH_HOUSEHOLDS`
//! sets a smaller count for a quick look.
//!
//! SQLite always; PostgreSQL when `FIELDSYNC_BENCH_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) names a server where the benchmark may create
//! and drop a database of its own.

// Each benchmark uses some of what `common` holds.
#[allow(dead_code)]
mod common;

use std::time::Instant;

use fieldsync_protocol::Role;
use fieldsync_server::auth::password;
use fieldsync_server::clock;
use fieldsync_server::service::push::rules_of;
use fieldsync_server::service::roster::Import;
use fieldsync_server::service::roster::places::Places;
use fieldsync_server::sheets;
use fieldsync_server::store::Needle;
use fieldsync_server::testing::ScratchDatabase;
use serde_json::json;

use common::console::{Session, csrf_of};
use common::roster_file::{self, PEOPLE, id_card, name};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const COUNTY: &str = "640104";
const RUNS: usize = 15;

struct Timing {
    what: String,
    /// Server time of each run, ms, sorted.
    ms: Vec<f64>,
    rows: usize,
}

struct Figures {
    engine: &'static str,
    households: usize,
    timings: Vec<Timing>,
}

#[tokio::main]
async fn main() {
    let all = fieldsync_server::testing::on_each_engine("household_file", run).await;
    println!();
    println!("| engine | households | request | found | median server time | slowest of {RUNS} |");
    println!("|---|---|---|---|---|---|");
    for f in &all {
        for t in &f.timings {
            println!(
                "| {} | {} | {} | {} | {:.1} ms | {:.1} ms |",
                f.engine,
                f.households,
                t.what,
                t.rows,
                t.ms[t.ms.len() / 2],
                t.ms[t.ms.len() - 1]
            );
        }
    }
}

async fn run(engine: &'static str, db: &ScratchDatabase) -> Figures {
    eprintln!("== {engine}");
    let server = common::serve(db, None).await;
    let store = server.store.clone();
    let settings = common::settings(db);
    let villages = store.villages_under(COUNTY).await.expect("villages");
    let n = roster_file::households();

    // The county's roster, imported as the office imports it.
    let started = Instant::now();
    let file = roster_file::roster(COUNTY, &villages, n);
    let actor = roster_file::importer(&store, &villages).await;
    let divisions = store.divisions_under(COUNTY).await.expect("divisions");
    let places = Places::new(&divisions, Some(COUNTY));
    let roster = sheets::read(&file, "roster.csv", None).expect("read");
    let rules = rules_of(&settings, clock::now_ms());
    let report = Import {
        store: &store,
        actor: &actor,
        rules: &rules,
        dry_run: false,
    }
    .run(&roster, &places, &mut |_, _| {})
    .await
    .expect("import");
    assert_eq!(report.totals().bad, 0);
    eprintln!(
        "   imported {n} households ({} people) over {} villages in {:.1} s",
        n * PEOPLE,
        villages.len(),
        started.elapsed().as_secs_f64()
    );

    // The people who look: a county officer, and the first secretary of the first village,
    // whose phone records checks of household 0 (a failed housing check makes a task).
    let hash = password::hash(common::PASSWORD).expect("hash");
    let village = &villages[0];
    let number = format!("{village}{:06}", 0);
    let found = store
        .find_households(
            std::slice::from_ref(village),
            &Needle::Number(number.clone()),
            1,
        )
        .await
        .expect("find");
    let household = found.first().expect("household 0").household_id;
    let base = server.base_url();
    let (api, mut dev) =
        common::login(&store, &base, &hash, "sec", Role::FirstSecretary, village).await;
    let at = clock::rfc3339_of_ms(clock::now_ms());
    let h = household.to_string();
    api.push(vec![
        dev.create("housing_check", dev.new_id(), json!({"household_id": h, "captured_at": at, "appraisal_grade": "D"})),
        dev.create("health_check", dev.new_id(), json!({"household_id": h, "captured_at": at, "insured": true, "family_doctor_signed": false})),
        dev.create("visit", dev.new_id(), json!({"village_code": village, "household_id": h, "started_at": at, "purpose": "routine", "notes": "屋顶漏雨"})),
    ])
    .await
    .expect("push");
    let officer_id = uuid::Uuid::now_v7();
    store
        .create_user(
            &fieldsync_server::store::NewUser {
                id: officer_id,
                username: "officer".into(),
                password_hash: hash.clone(),
                role: Role::CountyOfficer,
                display_name: Some("县级干部".into()),
            },
            &[COUNTY.to_owned()],
            &clock::iso(clock::today()),
            clock::now_ms(),
        )
        .await
        .expect("officer");

    // A household of the whole county for the county officer's searches, and one of the
    // first secretary's village for theirs (households go round the villages in turn).
    let anywhere = 12_345 % n;
    let in_village = villages.len() * (n / villages.len() / 2);
    let searches = |h: usize, only: &str| -> Vec<(String, String, String)> {
        let own = villages[h % villages.len()].clone();
        vec![
            (
                format!("a head's full name ({})", name(h * PEOPLE)),
                name(h * PEOPLE),
                String::new(),
            ),
            ("a surname (马)".into(), "马".into(), String::new()),
            (
                format!("a member's name ({})", name(h * PEOPLE + 2)),
                name(h * PEOPLE + 2),
                String::new(),
            ),
            ("a phone".into(), format!("139{h:08}"), String::new()),
            (
                "an ID-card number (a member's)".into(),
                id_card(COUNTY, h * PEOPLE + 1),
                String::new(),
            ),
            (
                "a household number".into(),
                format!("{own}{h:06}"),
                String::new(),
            ),
            (
                "a surname in one village".into(),
                "马".into(),
                only.to_owned(),
            ),
        ]
    };
    let mut timings = Vec::new();
    for (who, title, asked) in [
        ("officer", "county officer", searches(anywhere, village)),
        ("sec", "first secretary", searches(in_village, "")),
    ] {
        let mut session = Session::new(&base);
        session.sign_in(who, common::PASSWORD).await;
        let (page, _) = session.page("/console/households").await;
        let token = csrf_of(&page);
        for (what, q, only) in &asked {
            // The first secretary has one village: every search of theirs is within it.
            if who == "sec" && what.contains("one village") {
                continue;
            }
            let mut ms = Vec::new();
            let mut rows = 0;
            for _ in 0..RUNS {
                let (body, t) = session
                    .post(
                        "/console/households",
                        &token,
                        &[("q", q), ("village", only)],
                    )
                    .await;
                ms.push(t);
                rows = body.matches("<tr data-id=").count();
            }
            assert!(rows > 0, "{title}: {what}: nothing found");
            timings.push(finish(format!("{title}: search by {what}"), ms, rows));
        }
        let mut ms = Vec::new();
        let mut rows = 0;
        for _ in 0..RUNS {
            let (body, t) = session
                .page(&format!("/console/households/{household}"))
                .await;
            ms.push(t);
            rows = body.matches(r#"<tr data-id="#).count();
            assert!(body.contains(r#"data-testid="tasks""#), "the task is shown");
        }
        timings.push(finish(format!("{title}: the household's page"), ms, rows));
    }
    Figures {
        engine,
        households: n,
        timings,
    }
}

fn finish(what: String, mut ms: Vec<f64>, rows: usize) -> Timing {
    ms.sort_by(f64::total_cmp);
    eprintln!("   {what}: {:.1} ms ({rows} rows)", ms[ms.len() / 2]);
    Timing { what, ms, rows }
}
