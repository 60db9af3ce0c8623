//! Roster import benchmark: `cargo bench -p fieldsync-server --bench roster`.
//!
//! A county's roster as the national system exports it: 100,000 households of four people
//! (400,000 rows, one per person, each with a valid ID-card number, a phone per household, the
//! usual columns and words) over the villages of 兴庆区, written as CSV (UTF-8) by the benchmark.
//! Then, on each engine, what `admin import-roster` runs: the file read (`sheets::read`) and
//! imported (`service::roster::Import`, through the push pipeline as the import device), and
//! the same file imported again (nothing to write). For each: seconds, person rows per second,
//! and the growth of peak memory (`VmHWM`, reset before the run) over the process before it.
//! `FIELDSYNC_BENCH_HOUSEHOLDS` sets a smaller count for a quick look.
//!
//! SQLite always; PostgreSQL when `FIELDSYNC_BENCH_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) names a server where the benchmark may create
//! and drop a database of its own.

use std::fmt::Write as _;
use std::time::Instant;

use fieldsync_protocol::Role;
use fieldsync_protocol::registry::idcard;
use fieldsync_server::service::push::rules_of;
use fieldsync_server::service::roster::Import;
use fieldsync_server::service::roster::places::Places;
use fieldsync_server::sheets;
use fieldsync_server::store::{NewUser, Store};
use fieldsync_server::sync::Actor;
use fieldsync_server::testing::ScratchDatabase;
use fieldsync_server::testing::memory::{peak_kib, reset_peak};
use fieldsync_server::{auth::password, clock};
use uuid::Uuid;

// Each benchmark uses some of what `common` holds.
#[allow(dead_code)]
mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const COUNTY: &str = "640104";
const PEOPLE: usize = 4;

struct Figures {
    engine: &'static str,
    run: &'static str,
    rows: usize,
    secs: f64,
    growth_mib: f64,
    written: u64,
}

fn households() -> usize {
    std::env::var("FIELDSYNC_BENCH_HOUSEHOLDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

#[tokio::main]
async fn main() {
    let all: Vec<_> = fieldsync_server::testing::on_each_engine("roster", run)
        .await
        .into_iter()
        .flatten()
        .collect();
    println!();
    println!(
        "{:<10} {:<10} {:>9} {:>8} {:>10} {:>12} {:>10}",
        "engine", "run", "rows", "s", "rows/s", "peak +MiB", "records"
    );
    for f in &all {
        println!(
            "{:<10} {:<10} {:>9} {:>8.1} {:>10.0} {:>12.0} {:>10}",
            f.engine,
            f.run,
            f.rows,
            f.secs,
            f.rows as f64 / f.secs,
            f.growth_mib,
            f.written
        );
    }
}

/// A valid ID-card number for person `n` of the county.
fn id_card(n: usize) -> String {
    let birth = time::Date::from_calendar_date(1940, time::Month::January, 1)
        .expect("date")
        .saturating_add(time::Duration::days((n / 1000) as i64));
    let first17 = format!(
        "{COUNTY}{:04}{:02}{:02}{:03}",
        birth.year(),
        u8::from(birth.month()),
        birth.day(),
        n % 1000
    );
    idcard::with_check(&first17).expect("17 digits")
}

/// The file: the national system's columns, one row per person.
fn roster(villages: &[String], households: usize) -> Vec<u8> {
    let mut csv = String::with_capacity(households * PEOPLE * 200);
    csv.push_str("户编号,人编号,行政区划代码,姓名,证件号码,与户主关系,性别,家庭人口数,人均纯收入（元）,联系电话,监测对象类别,在校生状况,健康状况,劳动技能\n");
    let relations = ["户主", "配偶", "之子", "之女"];
    let types = ["边缘易致贫户", "脱贫不稳定户", "突发严重困难户", "无"];
    for h in 0..households {
        let village = &villages[h % villages.len()];
        let no = format!("{village}{h:06}");
        for (p, relation) in relations.iter().enumerate().take(PEOPLE) {
            let n = h * PEOPLE + p;
            let _ = writeln!(
                csv,
                "{no},{no}{p:02},{village},村民{n},{},{},{},{PEOPLE},{}.5,139{:08},{},{},{},{}",
                id_card(n),
                relation,
                if p == 1 || p == 3 { "女" } else { "男" },
                4000 + h % 5000,
                h,
                types[h % types.len()],
                if p >= 2 { "小学" } else { "非在校生" },
                if n.is_multiple_of(7) {
                    "长期慢性病"
                } else {
                    "健康"
                },
                if p >= 2 {
                    "无劳动力"
                } else {
                    "普通劳动力"
                },
            );
        }
    }
    csv.into_bytes()
}

async fn importer(store: &Store, villages: &[String]) -> Actor {
    let now = clock::now_ms();
    let user = NewUser {
        id: Uuid::now_v7(),
        username: "bench-import".into(),
        password_hash: password::hash("bench-password-1").expect("hash"),
        role: Role::Admin,
        display_name: None,
    };
    store
        .create_user(&user, &[], &clock::iso(clock::today()), now)
        .await
        .expect("user");
    Actor {
        user_id: user.id,
        device_id: store.import_device(user.id, now).await.expect("device"),
        role: Role::Admin,
        villages: villages.iter().cloned().collect(),
    }
}

async fn run(engine: &'static str, db: &ScratchDatabase) -> Vec<Figures> {
    eprintln!("== {engine}");
    let (settings, store) = common::open(db).await;
    let villages = store.villages_under(COUNTY).await.expect("villages");
    let n = households();
    let file = roster(&villages, n);
    eprintln!(
        "   {n} households, {} rows, {:.1} MB of CSV over {} villages",
        n * PEOPLE,
        file.len() as f64 / 1e6,
        villages.len()
    );
    let actor = importer(&store, &villages).await;
    let divisions = store.divisions_under(COUNTY).await.expect("divisions");
    let places = Places::new(&divisions, Some(COUNTY));
    let mut figures = Vec::new();
    for name in ["import", "re-import"] {
        let before_kib = reset_peak();
        let started = Instant::now();
        let roster = sheets::read(&file, "roster.csv", None).expect("read");
        let read_s = started.elapsed().as_secs_f64();
        let read_mib = peak_kib().saturating_sub(before_kib) as f64 / 1024.0;
        let rules = rules_of(&settings, clock::now_ms());
        let import = Import {
            store: &store,
            actor: &actor,
            rules: &rules,
            dry_run: false,
        };
        let report = import
            .run(&roster, &places, &mut |_, _| {})
            .await
            .expect("import");
        let secs = started.elapsed().as_secs_f64();
        let growth_mib = peak_kib().saturating_sub(before_kib) as f64 / 1024.0;
        let t = report.totals();
        assert_eq!(
            t.bad,
            0,
            "{:?}",
            report.problems().take(3).collect::<Vec<_>>()
        );
        let written = t.households[0] + t.households[1] + t.people[0] + t.people[1];
        eprintln!(
            "   {name}: read {read_s:.1} s (peak +{read_mib:.0} MiB), in all {secs:.1} s, {written} records written, peak +{growth_mib:.0} MiB"
        );
        figures.push(Figures {
            engine,
            run: name,
            rows: n * PEOPLE,
            secs,
            growth_mib,
            written,
        });
    }
    store.close().await;
    figures
}
