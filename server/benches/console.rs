//! Console benchmark: `cargo bench -p fieldsync-server --bench console`.
//!
//! A county's month as the office sees it: 300 villages of 西吉县 with 900 cadres and 54,000
//! judged check-ins (as the attendance benchmark), and 10,000 open tasks over the same
//! villages. A county officer signs in to the console; then each page is asked for 7 times over
//! loopback and its server time read from the page's own `Server-Timing` header (the whole
//! request inside the server: session check, queries, rendering, compression): the attendance
//! list of the 900 cadres, the task list of the 10,000 tasks (first page, and page 100), a
//! cadre's sheet, and the county dashboard. The target is under 300 ms for the two lists. SQLite
//! always; PostgreSQL when `FIELDSYNC_BENCH_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) names a server.

#[path = "county/mod.rs"]
mod county;
// Each benchmark uses some of what `common` holds.
#[allow(dead_code)]
mod common;

use std::time::Instant;

use fieldsync_protocol::Role;
use fieldsync_server::app;
use fieldsync_server::auth::password;
use fieldsync_server::config::Settings;
use fieldsync_server::store::NewUser;
use fieldsync_server::testing::ScratchDatabase;
use tokio::net::TcpListener;

use common::console::Session;
use uuid::Uuid;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const VILLAGES: usize = 300;
const CADRES_PER_VILLAGE: usize = 3;
const TASKS: usize = 10_000;
const RUNS: usize = 7;
const PASSWORD: &str = "bench-password-1";

struct Timing {
    page: &'static str,
    /// Server time of each run, ms, sorted.
    ms: Vec<f64>,
    bytes: usize,
    rows: usize,
}

struct Figures {
    engine: &'static str,
    pages: Vec<Timing>,
}

#[tokio::main]
async fn main() {
    let all = fieldsync_server::testing::on_each_engine("console", run).await;
    println!();
    println!("| engine | page | rows | median server time | slowest of {RUNS} | HTML |");
    println!("|---|---|---|---|---|---|");
    for f in &all {
        for p in &f.pages {
            println!(
                "| {} | {} | {} | {:.0} ms | {:.0} ms | {:.0} KiB |",
                f.engine,
                p.page,
                p.rows,
                p.ms[p.ms.len() / 2],
                p.ms[p.ms.len() - 1],
                p.bytes as f64 / 1024.0
            );
        }
    }
}

async fn run(engine: &'static str, db: &ScratchDatabase) -> Figures {
    eprintln!("== {engine}");
    let settings = Settings {
        database_url: Some(db.url.clone().into()),
        data_dir: db.dir().to_owned(),
        ..Settings::default()
    };
    let server = app::start(
        settings,
        TcpListener::bind("127.0.0.1:0").await.expect("bind"),
    )
    .await
    .expect("start");
    let store = server.store.clone();
    let started = Instant::now();
    let villages = county::villages(&store, VILLAGES).await;
    let (cadres, events) = county::cadres(&store, &villages, CADRES_PER_VILLAGE).await;
    county::tasks(&store, &villages, &cadres, TASKS).await;
    store
        .create_user(
            &NewUser {
                id: Uuid::now_v7(),
                username: "officer".into(),
                password_hash: password::hash(PASSWORD).expect("hash"),
                role: Role::CountyOfficer,
                display_name: Some("县级干部".into()),
            },
            &[county::COUNTY.to_owned()],
            "2026-01-01",
            0,
        )
        .await
        .expect("officer");
    eprintln!(
        "   seeded {} cadres, {events} events, {TASKS} tasks in {:.1} s",
        cadres.len(),
        started.elapsed().as_secs_f64()
    );

    let mut session = Session::new(&server.base_url());
    session.sign_in("officer", PASSWORD).await;
    let month = county::MONTH_TEXT;
    let pages: [(&'static str, String, &'static str); 5] = [
        (
            "attendance list (900 cadres)",
            format!(
                "/console/attendance?division={}&month={month}&show=all",
                county::COUNTY
            ),
            "?month=",
        ),
        (
            "task list (10,000 tasks), page 1",
            "/console/tasks?status=all".into(),
            "data-id=",
        ),
        (
            "task list, page 100",
            "/console/tasks?status=all&page=100".into(),
            "data-id=",
        ),
        (
            "a cadre's sheet",
            format!("/console/attendance/{}?month={month}", cadres[0]),
            "class=\"day ",
        ),
        (
            "county dashboard",
            format!("/console/?division={}&month={month}", county::COUNTY),
            "<rect",
        ),
    ];
    let mut out = Vec::new();
    for (page, path, row) in pages {
        let mut ms = Vec::new();
        let mut bytes = 0;
        let mut rows = 0;
        for _ in 0..RUNS {
            let (body, t) = session.page(&path).await;
            ms.push(t);
            bytes = body.len();
            rows = body.matches(row).count();
        }
        ms.sort_by(f64::total_cmp);
        eprintln!("   {page}: {:.0} ms", ms[ms.len() / 2]);
        out.push(Timing {
            page,
            ms,
            bytes,
            rows,
        });
    }
    // The pages showed what was seeded.
    assert_eq!(out[0].rows, cadres.len(), "every cadre listed");
    assert!(out[1].rows + out[2].rows >= 50, "full task pages");
    assert_eq!(out[3].rows, 31, "a sheet of October");
    Figures { engine, pages: out }
}
