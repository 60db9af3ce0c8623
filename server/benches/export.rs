//! Export benchmark: `cargo bench -p fieldsync-server --bench export`.
//!
//! One village of 100,000 households (written straight through the store in batches of 2,000:
//! head, address, phone, ID card, income …; every tenth household has a water check, every
//! twentieth a failing one, every twenty-fifth a housing check), then, as a county officer
//! would see them, the XLSX export to a file and the CSV export to a file, each through the
//! code `admin export-households` runs (paged reads, rows, audit entries, the writer). For each:
//! time, file size, and peak memory: `VmHWM` of `/proc/self/status` is reset (via
//! `/proc/self/clear_refs`) before the export and read after it, and the increase is reported.
//!
//! SQLite always; PostgreSQL when `FIELDSYNC_BENCH_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) names a server where the benchmark may create
//! and drop a database of its own.

use std::time::Instant;

use fieldsync_protocol::Role;
use fieldsync_protocol::merge::RecordState;
use fieldsync_server::app;
use fieldsync_server::config::Settings;
use fieldsync_server::export::{self, CONSOLE, Households, Reader};
use fieldsync_server::store::{RecordWrite, Store, WriteBatch};
use fieldsync_server::testing::ScratchDatabase;
use fieldsync_server::testing::memory::{peak_kib, reset_peak};
use serde_json::{Map, Value, json};
use uuid::Uuid;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HOUSEHOLDS: usize = 100_000;
const BATCH: usize = 2_000;
const VILLAGE: &str = "640104001002";

struct Figures {
    engine: &'static str,
    format: &'static str,
    households: u64,
    secs: f64,
    bytes: u64,
    hwm_before_kib: u64,
    hwm_after_kib: u64,
}

#[tokio::main]
async fn main() {
    let all: Vec<_> = fieldsync_server::testing::on_each_engine("export", run)
        .await
        .into_iter()
        .flatten()
        .collect();
    print_table(&all);
}

async fn run(engine: &'static str, db: &ScratchDatabase) -> Vec<Figures> {
    eprintln!("== {engine}");
    let settings = Settings {
        database_url: Some(db.url.clone().into()),
        data_dir: db.dir().to_owned(),
        ..Settings::default()
    };
    let store = app::open_store(&settings).await.expect("open");
    app::prepare(&store).await.expect("prepare");
    let started = Instant::now();
    load(&store).await;
    eprintln!(
        "   loaded {HOUSEHOLDS} households in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut figures = Vec::new();
    for format in ["xlsx", "csv"] {
        let path = db.dir().join(format!("export.{format}"));
        let hwm_before_kib = reset_peak();
        let started = Instant::now();
        let reader = Reader {
            user_id: CONSOLE,
            device_id: None,
        };
        let mut households = Households::open(
            store.clone(),
            vec![VILLAGE.to_owned()],
            Role::CountyOfficer,
            reader,
        )
        .await
        .expect("open export");
        let file = std::fs::File::create(&path).expect("create");
        let households_written = if format == "xlsx" {
            let runtime = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                export::write_xlsx(&mut households, &runtime, &file, |_| {})
            })
            .await
            .expect("join")
            .expect("xlsx export")
        } else {
            let out = std::io::BufWriter::new(&file);
            export::write_csv(&mut households, out, |_| {})
                .await
                .expect("csv export")
        };
        let secs = started.elapsed().as_secs_f64();
        let hwm_after_kib = peak_kib();
        let bytes = std::fs::metadata(&path).expect("size").len();
        eprintln!("   {format}: {households_written} households in {secs:.2} s, {bytes} bytes");
        assert_eq!(households_written, HOUSEHOLDS as u64);
        figures.push(Figures {
            engine,
            format,
            households: households_written,
            secs,
            bytes,
            hwm_before_kib,
            hwm_after_kib,
        });
    }
    store.close().await;
    figures
}

/// The households, and checks for some of them, in batches straight through the store.
async fn load(store: &Store) {
    let user = Uuid::now_v7();
    let mut n = 0;
    while n < HOUSEHOLDS {
        let mut records = Vec::with_capacity(BATCH + BATCH / 5);
        for i in n..(n + BATCH).min(HOUSEHOLDS) {
            let id = Uuid::now_v7();
            records.push(record(id, "household", id, household_fields(i), user));
            if i % 10 == 0 {
                let ok = i % 20 != 0;
                let failures: Vec<&str> = if ok { vec![] } else { vec!["water_quality"] };
                let fields = json!({"household_id": id.to_string(), "captured_at": "2026-11-20T10:00:00+08:00",
                    "source": "well", "quantity_ok": true, "quality_ok": ok, "convenience_ok": true,
                    "supply_guaranteed": true, "passing": ok, "failures": failures});
                records.push(record(Uuid::now_v7(), "water_check", id, fields, user));
            }
            if i % 25 == 0 {
                let fields = json!({"household_id": id.to_string(), "captured_at": "2026-11-21T15:30:00+08:00",
                    "appraisal_grade": "B", "passing": true, "failures": []});
                records.push(record(Uuid::now_v7(), "housing_check", id, fields, user));
            }
        }
        n += BATCH;
        let batch = WriteBatch {
            records,
            ..WriteBatch::new(fieldsync_server::clock::now_ms())
        };
        let mut tx = store.begin().await.expect("begin");
        tx.write(&batch).await.expect("write");
        tx.commit().await.expect("commit");
    }
}

fn record(
    id: Uuid,
    entity: &'static str,
    household: Uuid,
    fields: Value,
    user: Uuid,
) -> RecordWrite {
    RecordWrite {
        id,
        entity,
        scope: VILLAGE.to_owned(),
        state: RecordState {
            version: 1,
            fields: fields.as_object().cloned().unwrap_or_else(Map::new),
            ..RecordState::default()
        },
        gps: None,
        gps_verdict: None,
        household_id: Some(household),
        created: true,
        user_id: user,
    }
}

fn household_fields(n: usize) -> Value {
    let surnames = ["马", "李", "王", "张", "杨", "海", "丁", "金"];
    let monitoring = ["none", "unstable_out_of_poverty", "marginal_prone"][n % 3];
    json!({"village_code": VILLAGE, "head_name": format!("{}德{n}", surnames[n % surnames.len()]),
           "address": format!("崇安社区{}组 {} 号", n % 9 + 1, n), "phone": format!("139{:08}", n),
           "head_id_card": format!("6401041985{:08}", n), "poverty_status": "out_of_poverty",
           "monitoring_type": monitoring,
           "labour_capacity": "full", "household_size": n % 6 + 1, "per_capita_income": 7200.5 + (n % 100) as f64})
}

fn print_table(all: &[Figures]) {
    println!();
    println!(
        "| engine | format | households | time | households/s | file size | peak memory increase (VmHWM) | VmHWM before → after |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for f in all {
        println!(
            "| {} | {} | {} | {:.2} s | {:.0} | {:.1} MB | {:.1} MiB | {:.1} → {:.1} MiB |",
            f.engine,
            f.format,
            f.households,
            f.secs,
            f.households as f64 / f.secs,
            f.bytes as f64 / 1e6,
            f.hwm_after_kib.saturating_sub(f.hwm_before_kib) as f64 / 1024.0,
            f.hwm_before_kib as f64 / 1024.0,
            f.hwm_after_kib as f64 / 1024.0,
        );
    }
}
