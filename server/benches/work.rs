//! Follow-up work benchmark: `cargo bench -p fieldsync-server --bench work`.
//!
//! Against a server running in this process over real HTTP, SQLite and PostgreSQL:
//! - checks pushed into a busy village: 2,000 households, each already with an open task;
//!   8 devices at once push batches of 50 housing checks, every other one failing (a task, or
//!   the open one kept) and the rest passing (closing the open task): checks/s, p50/p99 batch
//!   latency. The rules, the assignment and the closing run inside the push transaction, so
//!   this is what follow-up work costs a phone's sync.
//! - the team leader's list: `GET /v1/tasks` for a county officer over 10,000 tasks in 20
//!   villages: median of 5 requests (server time plus local HTTP).
//!
//! PostgreSQL: `FIELDSYNC_BENCH_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).

use std::time::{Duration, Instant};

use fieldsync_protocol::Role;
use fieldsync_protocol::merge::RecordState;
use fieldsync_protocol::push::Status;
use fieldsync_server::auth::password;
use fieldsync_server::clock;
use fieldsync_server::store::{RecordWrite, Store, WriteBatch};
use fieldsync_server::testing::ScratchDatabase;
use serde_json::{Map, Value, json};
use uuid::Uuid;

mod common;

use common::{PASSWORD, login};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const COUNTY: &str = "640422";
const HOUSEHOLDS: usize = 2_000;
const DEVICES: usize = 8;
const BATCH: usize = 50;
const ROUNDS: usize = 10;
const LIST_VILLAGES: usize = 20;
const LIST_TASKS_PER_VILLAGE: usize = 500;

struct Figures {
    engine: &'static str,
    checks_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    tasks_made: usize,
    list_tasks: usize,
    list_ms: f64,
    list_bytes: usize,
}

#[tokio::main]
async fn main() {
    let all = fieldsync_server::testing::on_each_engine("work", run).await;
    println!();
    println!(
        "| engine | checks/s (busy village) | p50 batch | p99 batch | tasks made | task list | list time | list size |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for f in &all {
        println!(
            "| {} | {:.0} | {:.0} ms | {:.0} ms | {} | {} tasks | {:.0} ms | {:.1} MiB |",
            f.engine,
            f.checks_per_s,
            f.p50_ms,
            f.p99_ms,
            f.tasks_made,
            f.list_tasks,
            f.list_ms,
            f.list_bytes as f64 / (1024.0 * 1024.0)
        );
    }
}

async fn run(engine: &'static str, db: &ScratchDatabase) -> Figures {
    eprintln!("== {engine}");
    let server = common::serve(db, Some(16)).await;
    let base = server.base_url();
    let store = server.store.clone();
    let hash = password::hash(PASSWORD).expect("hash");
    let villages: Vec<String> = store
        .villages_under(COUNTY)
        .await
        .expect("villages")
        .into_iter()
        .take(LIST_VILLAGES + 1)
        .collect();
    let busy = villages[0].clone();

    let started = Instant::now();
    let households = seed_households(&store, &busy, HOUSEHOLDS).await;
    seed_tasks(&store, &busy, &households).await;
    for village in &villages[1..] {
        let hs = seed_households(&store, village, LIST_TASKS_PER_VILLAGE).await;
        seed_tasks(&store, village, &hs).await;
    }
    eprintln!("   seeded in {:.1} s", started.elapsed().as_secs_f64());

    login(
        &store,
        &base,
        &hash,
        "secretary",
        Role::FirstSecretary,
        &busy,
    )
    .await;
    let mut phones = Vec::new();
    for i in 0..DEVICES {
        let name = format!("member{i}");
        phones.push(login(&store, &base, &hash, &name, Role::TeamMember, &busy).await);
    }
    let tasks_before = count_tasks(&store).await;

    let started = Instant::now();
    let mut handles = Vec::new();
    for (d, (api, mut dev)) in phones.into_iter().enumerate() {
        let mine: Vec<Uuid> = households
            .iter()
            .skip(d)
            .step_by(DEVICES)
            .copied()
            .collect();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for round in 0..ROUNDS {
                let batch = (0..BATCH)
                    .map(|i| {
                        let h = mine[(round * BATCH + i) % mine.len()];
                        let grade = if (round + i) % 2 == 0 { "D" } else { "A" };
                        dev.create(
                            "housing_check",
                            dev.new_id(),
                            json!({"household_id": h.to_string(),
                                   "captured_at": clock::rfc3339_of_ms(clock::now_ms()),
                                   "appraisal_grade": grade}),
                        )
                    })
                    .collect();
                let t = Instant::now();
                let res = api.push(batch).await.expect("push");
                lat.push(t.elapsed());
                assert!(
                    res.results.iter().all(|r| r.status == Status::Applied),
                    "{:?}",
                    res.results.iter().find(|r| r.status != Status::Applied)
                );
            }
            lat
        }));
    }
    let mut lat: Vec<Duration> = Vec::new();
    for h in handles {
        lat.extend(h.await.expect("device"));
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let tasks_made = count_tasks(&store).await - tasks_before;

    let (officer, _) = login(&store, &base, &hash, "officer", Role::CountyOfficer, COUNTY).await;
    let mut times = Vec::new();
    let mut list_tasks = 0;
    let mut list_bytes = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let list: Value = officer
            .get_json("/v1/tasks?status=all")
            .await
            .expect("list");
        times.push(t.elapsed());
        list_tasks = list["tasks"].as_array().map_or(0, Vec::len);
        list_bytes = list.to_string().len();
    }
    times.sort();
    Figures {
        engine,
        checks_per_s: (DEVICES * ROUNDS * BATCH) as f64 / secs,
        p50_ms: pct(0.5).as_secs_f64() * 1000.0,
        p99_ms: pct(0.99).as_secs_f64() * 1000.0,
        tasks_made,
        list_tasks,
        list_ms: times[2].as_secs_f64() * 1000.0,
        list_bytes,
    }
}

async fn count_tasks(store: &Store) -> usize {
    store.work_records("task", None).await.expect("tasks").len()
}

/// Writes records straight through the store, in transactions of 1,000.
async fn write(store: &Store, records: Vec<RecordWrite>) {
    let mut records = records;
    while !records.is_empty() {
        let rest = records.split_off(records.len().min(1000));
        let batch = WriteBatch {
            records,
            ..WriteBatch::new(clock::now_ms())
        };
        let mut tx = store.begin().await.expect("begin");
        tx.write(&batch).await.expect("write");
        tx.commit().await.expect("commit");
        records = rest;
    }
}

fn record(
    id: Uuid,
    entity: &'static str,
    village: &str,
    household: Uuid,
    fields: Value,
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
        gps_verdict: None,
        household_id: Some(household),
        created: true,
        user_id: Uuid::nil(),
    }
}

async fn seed_households(store: &Store, village: &str, n: usize) -> Vec<Uuid> {
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    let records = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            record(
                *id,
                "household",
                village,
                *id,
                json!({"village_code": village, "head_name": format!("户主{i}")}),
            )
        })
        .collect();
    write(store, records).await;
    ids
}

/// One open "house rebuild" task per household, as a failing housing check would have made.
async fn seed_tasks(store: &Store, village: &str, households: &[Uuid]) {
    let records = households
        .iter()
        .map(|h| {
            record(
                Uuid::now_v7(),
                "task",
                village,
                *h,
                json!({"village_code": village, "household_id": h.to_string(),
                       "kind": "house_rebuild", "title": "危房改造跟进", "due_on": "2026-12-28",
                       "status": "open", "source": "housing_check", "rule": "dangerous_house",
                       "created_at": "2026-11-28T09:00:00+08:00"}),
            )
        })
        .collect();
    write(store, records).await;
}
