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

#[path = "county/mod.rs"]
mod county;

use std::time::Instant;

use fieldsync_server::app;
use fieldsync_server::attendance::load;
use fieldsync_server::config::Settings;
use fieldsync_server::testing::ScratchDatabase;
use fieldsync_server::testing::memory::{peak_kib, reset_peak};
use time::Month;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const VILLAGES: usize = 300;
const CADRES_PER_VILLAGE: usize = 3;
const MONTH: (i32, Month) = (2026, Month::October);

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
    let villages = county::villages(&store, VILLAGES).await;
    let started = Instant::now();
    let (cadres, events) = county::cadres(&store, &villages, CADRES_PER_VILLAGE).await;
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
        let reviews = store
            .reviews(cadre, county::MONTH_TEXT)
            .await
            .expect("reviews");
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
        .cadres_under(county::COUNTY, "2026-10-01", "2026-10-31")
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
