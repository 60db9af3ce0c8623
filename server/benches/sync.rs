//! Sync benchmark: `cargo bench -p fieldsync-server --bench sync`.
//!
//! For SQLite and PostgreSQL, against a server running in this process over real HTTP:
//! - push throughput with 32 devices pushing batches of 50 mutations at once, 10 % of them
//!   updates that conflict with another device's edit, and p50/p99 batch latency;
//! - raw-insert throughput of the same rows (plain multi-row INSERTs in transactions of 50,
//!   32 at once, no HTTP, no merge, no log), so the cost of sync shows as a ratio;
//! - initial pull of one village of 600 households and 2,400 members: time and bytes (JSON and
//!   as sent with gzip).
//!
//! PostgreSQL: `FIELDSYNC_BENCH_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! names a server where the benchmark creates and drops its own database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldsync_client::{Api, Device};
use fieldsync_protocol::Role;
use fieldsync_protocol::push::{Mutation, Status};
use fieldsync_server::auth::password;

use fieldsync_server::testing::ScratchDatabase;
use serde_json::{Value, json};
use uuid::Uuid;

mod common;

use common::{PASSWORD, login, raw_insert};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DEVICES: usize = 32;
const BATCH: usize = 50;
const ROUNDS: usize = 20;
const REPEATS: usize = 3;
const CONFLICTING_PER_BATCH: usize = 5;
const PULL_VILLAGE: &str = "640422100002";
const PUSH_VILLAGE: &str = "640422100004";

struct Figures {
    engine: &'static str,
    push_per_s: f64,
    push_range: (f64, f64),
    p50_ms: f64,
    p99_ms: f64,
    conflicts: usize,
    raw_per_s: f64,
    pull_records: usize,
    pull_ms: f64,
    pull_json_bytes: usize,
    pull_gzip_bytes: usize,
}

#[tokio::main]
async fn main() {
    let all = fieldsync_server::testing::on_each_engine("sync", run).await;
    print_table(&all);
}

async fn run(engine: &'static str, db: &ScratchDatabase) -> Figures {
    eprintln!("== {engine}");
    let url = db.url.clone();
    let server = common::serve(db, Some(32)).await;
    let base = server.base_url();
    let store = server.store.clone();
    let hash = password::hash(PASSWORD).expect("hash");

    // Phones: 32 grid workers of the push village.
    let mut phones = Vec::new();
    for i in 0..DEVICES {
        phones.push(
            login(
                &store,
                &base,
                &hash,
                &format!("worker{i}"),
                Role::GridWorker,
                PUSH_VILLAGE,
            )
            .await,
        );
    }
    // Households every device edits at once, for the conflicting 10 %.
    let (first_api, mut first_dev) = phones.remove(0);
    let shared: Vec<Uuid> = (0..200).map(|_| first_dev.new_id()).collect();
    for chunk in shared.chunks(BATCH) {
        let batch = chunk
            .iter()
            .map(|id| {
                first_dev.create(
                    "household",
                    *id,
                    json!({"village_code": PUSH_VILLAGE, "head_name": "共"}),
                )
            })
            .collect();
        first_api.push(batch).await.expect("seed");
    }
    phones.insert(0, (first_api, first_dev));
    let shared = Arc::new(shared);

    // Warm-up round, not timed. Then the timed run, three times: this machine's speed drifts
    // from minute to minute, so the median is reported with the range.
    push_rounds(&mut phones, &shared, 0..1).await;
    let mut rates = Vec::new();
    let mut latencies = Vec::new();
    let mut conflicts = 0;
    for rep in 0..REPEATS {
        let first = 1 + rep * ROUNDS;
        let started = Instant::now();
        let (lat, c) = push_rounds(&mut phones, &shared, first..first + ROUNDS).await;
        let secs = started.elapsed().as_secs_f64();
        rates.push((DEVICES * BATCH * ROUNDS) as f64 / secs);
        eprintln!(
            "   run {}: {} mutations in {secs:.2} s",
            rep + 1,
            DEVICES * BATCH * ROUNDS
        );
        latencies.extend(lat);
        conflicts += c;
    }
    rates.sort_by(f64::total_cmp);
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
    };

    let raw_per_s = raw_insert::rows_per_s(
        &url,
        engine,
        &raw_insert::Shape {
            clients: DEVICES,
            rows_per_commit: BATCH,
            commits_per_client: ROUNDS,
            scope: PUSH_VILLAGE,
            fields: household_fields(PUSH_VILLAGE, 1),
        },
    )
    .await;

    // One village of 600 households and 2,400 members, then a new phone pulls it.
    let (writer_api, mut writer) = login(
        &store,
        &base,
        &hash,
        "loader",
        Role::FirstSecretary,
        PULL_VILLAGE,
    )
    .await;
    let mut muts: Vec<Mutation> = Vec::new();
    for h in 0..600 {
        let hid = writer.new_id();
        muts.push(writer.create("household", hid, household_fields(PULL_VILLAGE, h)));
        for m in 0..4 {
            muts.push(writer.create("member", writer.new_id(), member_fields(hid, m)));
        }
    }
    for chunk in muts.chunks(500) {
        writer_api.push(chunk.to_vec()).await.expect("load village");
    }
    let (reader, _) = login(
        &store,
        &base,
        &hash,
        "reader",
        Role::TeamMember,
        PULL_VILLAGE,
    )
    .await;
    let t = Instant::now();
    let (changes, _, _) = reader.pull_all(None, Some(2000)).await.expect("pull");
    let pull_ms = t.elapsed().as_secs_f64() * 1000.0;
    let (json_bytes, gzip_bytes) =
        pull_bytes(&base, reader.access_token().unwrap_or_default()).await;

    server.stop().await;
    Figures {
        engine,
        push_per_s: rates[rates.len() / 2],
        push_range: (rates[0], rates[rates.len() - 1]),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        conflicts,
        raw_per_s,
        pull_records: changes.len(),
        pull_ms,
        pull_json_bytes: json_bytes,
        pull_gzip_bytes: gzip_bytes,
    }
}

fn household_fields(village: &str, n: usize) -> Value {
    json!({"village_code": village, "head_name": format!("户主{n}"), "phone": format!("139{:08}", n), "address": format!("{}组 {} 号", n % 9 + 1, n),
           "poverty_status": "out_of_poverty", "labour_capacity": "full", "household_size": 4, "per_capita_income": 7200.5})
}

fn member_fields(household: Uuid, m: usize) -> Value {
    let relation = ["head", "spouse", "child", "parent"][m % 4];
    json!({"household_id": household.to_string(), "name": format!("成员{m}"), "relation": relation,
           "gender": if m.is_multiple_of(2) { "male" } else { "female" }, "birth_date": "1980-05-17", "insurance_status": "enrolled", "school_status": "not_school_age"})
}

/// Every device pushes its batches one after the other, all devices at once: each batch 45 new
/// records and 5 stale edits of shared households' phone numbers. Returns batch latencies and
/// the number of conflicts.
async fn push_rounds(
    phones: &mut [(Api, Device)],
    shared: &Arc<Vec<Uuid>>,
    rounds: std::ops::Range<usize>,
) -> (Vec<Duration>, usize) {
    let mut tasks = Vec::new();
    for (d, (api, dev)) in phones.iter_mut().enumerate() {
        let mut batches = Vec::new();
        for round in rounds.clone() {
            let mut batch = Vec::with_capacity(BATCH);
            for i in 0..BATCH - CONFLICTING_PER_BATCH {
                batch.push(dev.create(
                    "household",
                    dev.new_id(),
                    household_fields(PUSH_VILLAGE, round * 1000 + i),
                ));
            }
            for k in 0..CONFLICTING_PER_BATCH {
                // Devices edit different shared households at the same moment, and every shared
                // household is edited by many devices over the run, always on the stale version 1.
                let id = shared[(d * 37 + round * CONFLICTING_PER_BATCH + k) % shared.len()];
                batch.push(dev.update(
                    "household",
                    id,
                    1,
                    json!({"phone": format!("137{:04}{:04}", d, round * 10 + k)}),
                ));
            }
            batches.push(batch);
        }
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for batch in batches {
                let t = Instant::now();
                let res = api.push(batch).await.expect("push");
                let conflicts = res
                    .results
                    .iter()
                    .filter(|r| r.status == Status::Conflict)
                    .count();
                assert!(
                    res.results.iter().all(|r| r.status != Status::Rejected),
                    "{:?}",
                    res.results.iter().find(|r| r.status == Status::Rejected)
                );
                out.push((t.elapsed(), conflicts));
            }
            out
        }));
    }
    let mut lat = Vec::new();
    let mut conflicts = 0;
    for t in tasks {
        for (d, c) in t.await.expect("task") {
            lat.push(d);
            conflicts += c;
        }
    }
    (lat, conflicts)
}

/// Bytes of the initial pull as JSON and as sent gzip-compressed, page by page.
async fn pull_bytes(base: &str, token: &str) -> (usize, usize) {
    let raw = reqwest::Client::builder()
        .no_gzip()
        .no_zstd()
        .build()
        .expect("client");
    let (mut json_bytes, mut gzip_bytes) = (0, 0);
    let mut cursor: Option<String> = None;
    loop {
        let mut q: Vec<(&str, String)> = vec![("limit", "2000".into())];
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let plain = raw
            .get(format!("{base}/v1/sync/pull"))
            .bearer_auth(token)
            .query(&q)
            .send()
            .await
            .expect("pull")
            .bytes()
            .await
            .expect("body");
        let response = raw
            .get(format!("{base}/v1/sync/pull"))
            .bearer_auth(token)
            .header("accept-encoding", "gzip")
            .query(&q)
            .send()
            .await
            .expect("pull");
        assert!(response.status().is_success(), "{}", response.status());
        assert_eq!(
            response
                .headers()
                .get("content-encoding")
                .and_then(|v| v.to_str().ok()),
            Some("gzip")
        );
        let zipped = response.bytes().await.expect("body");
        json_bytes += plain.len();
        gzip_bytes += zipped.len();
        let page: Value = serde_json::from_slice(&plain).expect("json");
        cursor = page["cursor"].as_str().map(str::to_owned);
        if page["has_more"] != json!(true) {
            return (json_bytes, gzip_bytes);
        }
    }
}

fn print_table(all: &[Figures]) {
    println!();
    println!(
        "| engine | push mutations/s (median of {REPEATS}, range) | batch p50 | batch p99 | conflicts | raw insert rows/s | raw ÷ push | initial pull | pull size JSON / gzip |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for f in all {
        println!(
            "| {} | {:.0} ({:.0}–{:.0}) | {:.1} ms | {:.1} ms | {} | {:.0} | {:.2}× | {} records in {:.0} ms | {:.1} MB / {:.2} MB |",
            f.engine,
            f.push_per_s,
            f.push_range.0,
            f.push_range.1,
            f.p50_ms,
            f.p99_ms,
            f.conflicts,
            f.raw_per_s,
            f.raw_per_s / f.push_per_s,
            f.pull_records,
            f.pull_ms,
            f.pull_json_bytes as f64 / 1e6,
            f.pull_gzip_bytes as f64 / 1e6,
        );
    }
}
