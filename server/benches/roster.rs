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

use std::time::Instant;

use fieldsync_server::clock;
use fieldsync_server::service::push::rules_of;
use fieldsync_server::service::roster::Import;
use fieldsync_server::service::roster::places::Places;
use fieldsync_server::sheets;
use fieldsync_server::testing::ScratchDatabase;
use fieldsync_server::testing::memory::{peak_kib, reset_peak};

use common::roster_file;

// Each benchmark uses some of what `common` holds.
#[allow(dead_code)]
mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const COUNTY: &str = "640104";

struct Figures {
    engine: &'static str,
    run: &'static str,
    rows: usize,
    secs: f64,
    growth_mib: f64,
    written: u64,
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

async fn run(engine: &'static str, db: &ScratchDatabase) -> Vec<Figures> {
    eprintln!("== {engine}");
    let (settings, store) = common::open(db).await;
    let villages = store.villages_under(COUNTY).await.expect("villages");
    let n = roster_file::households();
    let file = roster_file::roster(COUNTY, &villages, n);
    eprintln!(
        "   {n} households, {} rows, {:.1} MB of CSV over {} villages",
        n * roster_file::PEOPLE,
        file.len() as f64 / 1e6,
        villages.len()
    );
    let actor = roster_file::importer(&store, &villages).await;
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
            rows: n * roster_file::PEOPLE,
            secs,
            growth_mib,
            written,
        });
    }
    store.close().await;
    figures
}
