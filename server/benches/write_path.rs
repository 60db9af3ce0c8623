//! Write path benchmark: `cargo bench -p fieldsync-server --bench write_path`.
//!
//! Pushes as phones really send them, against a server in this process over real HTTP: one
//! record per request from 1, 8 and 32 phones at once, and batches of 100 from 1 and 4 phones,
//! each for `FIELDSYNC_BENCH_SECONDS` (default 10) seconds, of two kinds of record: a survey
//! submission of a 20-field form, and a household. For each: records per second, p50 and p99
//! request latency, CPU seconds per 1,000 records of the server and its database (this
//! process's threads but the load generator's, which run on a runtime of their own, plus every
//! `postgres` process) and of the whole machine (from `/proc/stat`: client, server and
//! database share its two cores), and the benchmark process's peak resident memory (client and
//! server). Then the same rows written raw (multi-row `INSERT`s into a copy
//! of the records table, durable commits) in the same shapes, the floor the sync stack is
//! measured against.
//!
//! `FIELDSYNC_BENCH_SHAPES=survey:32x1,household:1x100` runs only the shapes it names.
//!
//! SQLite always; PostgreSQL when `FIELDSYNC_BENCH_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) names a server where the benchmark may create
//! and drop a database of its own.

use std::time::{Duration, Instant};

use fieldsync_client::{Api, Device};
use fieldsync_protocol::Role;
use fieldsync_protocol::forms::FormDef;
use fieldsync_protocol::push::{Mutation, Status};
use fieldsync_server::auth::password;
use fieldsync_server::clock;
use fieldsync_server::testing::ScratchDatabase;
use fieldsync_server::testing::memory::{peak_kib, reset_peak};
use serde_json::{Map, Value, json};
use uuid::Uuid;

// Each benchmark uses some of what `common` holds.
#[allow(dead_code)]
mod common;

use common::raw_insert;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const VILLAGE: &str = "640422100004";
const PHONES: usize = 32;
/// One record a request from this many phones at once.
const SINGLE: [usize; 3] = [1, 8, 32];
/// Batches of [`BATCH`] from this many phones at once.
const BATCHED: [usize; 2] = [1, 4];
const BATCH: usize = 100;
const FORM: &str = "bench_household_survey";
const HOUSEHOLDS: usize = 200;
/// `/proc/stat` counts in these (`getconf CLK_TCK` on Linux).
const TICKS_PER_S: f64 = 100.0;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Survey,
    Household,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Survey => "survey (20 fields)",
            Kind::Household => "household",
        }
    }
}

struct Row {
    engine: &'static str,
    kind: Kind,
    phones: usize,
    batch: usize,
    per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_s_per_1000: f64,
    server_cpu_s_per_1000: f64,
    peak_mib: f64,
    raw_per_s: f64,
}

/// Only the shapes `FIELDSYNC_BENCH_SHAPES` names (`survey:32x1,household:1x100`), when set:
/// for profiling one of them.
fn chosen(kind: Kind, phones: usize, batch: usize) -> bool {
    let Ok(wanted) = std::env::var("FIELDSYNC_BENCH_SHAPES") else {
        return true;
    };
    let name = match kind {
        Kind::Survey => "survey",
        Kind::Household => "household",
    };
    let shape = format!("{name}:{phones}x{batch}");
    wanted.split(',').any(|w| w.trim() == shape)
}

fn seconds() -> f64 {
    common::setting("FIELDSYNC_BENCH_SECONDS", 10.0)
}

#[tokio::main]
async fn main() {
    let all: Vec<Row> = fieldsync_server::testing::on_each_engine("write_path", run)
        .await
        .into_iter()
        .flatten()
        .collect();
    println!();
    println!(
        "| engine | record | phones × records a request | records/s | p50 | p99 | CPU s / 1,000 records: server + database | machine | peak RSS | raw INSERT rows/s | raw ÷ sync |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &all {
        println!(
            "| {} | {} | {} × {} | {:.0} | {:.1} ms | {:.1} ms | {:.2} | {:.2} | {:.0} MiB | {:.0} | {:.1}× |",
            r.engine,
            r.kind.name(),
            r.phones,
            r.batch,
            r.per_s,
            r.p50_ms,
            r.p99_ms,
            r.server_cpu_s_per_1000,
            r.cpu_s_per_1000,
            r.peak_mib,
            r.raw_per_s,
            r.raw_per_s / r.per_s
        );
    }
}

/// A form of 20 questions, as a grid worker's household survey has.
fn form() -> FormDef {
    let mut fields = Vec::new();
    for i in 0..20 {
        fields.push(match i % 4 {
            0 => json!({"name": format!("q{i}"), "label": format!("问题 {i}"), "type": "integer", "min": 0, "max": 100}),
            1 => json!({"name": format!("q{i}"), "label": format!("问题 {i}"), "type": "choice",
                        "options": ["yes", "no", "unknown"]}),
            2 => json!({"name": format!("q{i}"), "label": format!("问题 {i}"), "type": "text", "max_chars": 200}),
            _ => json!({"name": format!("q{i}"), "label": format!("问题 {i}"), "type": "bool"}),
        });
    }
    serde_json::from_value(
        json!({"key": FORM, "version": 1, "title": "入户调查", "fields": fields}),
    )
    .expect("a form")
}

fn answers(n: usize) -> Value {
    let mut a = Map::new();
    for i in 0..20 {
        let v = match i % 4 {
            0 => json!((n + i) % 100),
            1 => json!(["yes", "no", "unknown"][(n + i) % 3]),
            2 => json!(format!("住房情况良好，第 {n} 户的第 {i} 项")),
            _ => json!((n + i).is_multiple_of(2)),
        };
        a.insert(format!("q{i}"), v);
    }
    Value::Object(a)
}

fn household(n: usize) -> Value {
    json!({"village_code": VILLAGE, "head_name": format!("户主{n}"), "phone": format!("139{:08}", n % 100_000_000),
           "address": format!("{}组 {} 号", n % 9 + 1, n), "poverty_status": "out_of_poverty",
           "labour_capacity": "full", "household_size": 4, "per_capita_income": 7200.5})
}

fn record(kind: Kind, dev: &mut Device, households: &[Uuid], n: usize) -> Mutation {
    match kind {
        Kind::Survey => dev.create(
            "survey_submission",
            dev.new_id(),
            json!({"household_id": households[n % households.len()].to_string(), "form_key": FORM,
                   "form_version": 1, "answers": answers(n),
                   "captured_at": clock::rfc3339_of_ms(clock::now_ms())}),
        ),
        Kind::Household => dev.create("household", dev.new_id(), household(n)),
    }
}

/// Busy CPU time of the whole machine so far, in seconds.
fn machine_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …: all but idle and iowait.
    let busy: f64 = ticks
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .take(7)
        .map(|(_, t)| t)
        .sum();
    busy / TICKS_PER_S
}

/// The load generator's runtime: its threads are told apart from the server's by name.
fn client_runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(CLIENT_THREAD)
            .enable_all()
            .build()
            .expect("client runtime")
    })
}

const CLIENT_THREAD: &str = "bench-client";

/// User and system time of a `/proc/…/stat` line, in seconds.
fn stat_cpu_s(stat: &str) -> Option<(String, f64)> {
    // The name is in parentheses and may hold spaces; the fields after it are numbered from 3.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat[open + 1..close].to_owned();
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let ticks = |i: usize| fields.get(i - 3)?.parse::<f64>().ok();
    Some((name, (ticks(14)? + ticks(15)?) / TICKS_PER_S))
}

/// CPU time so far of the server and its database: this process less the load generator's
/// threads, plus every `postgres` process.
fn server_cpu_s() -> f64 {
    let read = |p: &std::path::Path| std::fs::read_to_string(p).ok();
    let own = read("/proc/self/stat".as_ref())
        .and_then(|s| stat_cpu_s(&s))
        .map_or(0.0, |(_, t)| t);
    let mut client = 0.0;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            if let Some((name, cpu)) = read(&t.path().join("stat")).and_then(|s| stat_cpu_s(&s))
                && name.starts_with(CLIENT_THREAD)
            {
                client += cpu;
            }
        }
    }
    let mut database = 0.0;
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for p in procs.flatten() {
            if let Some((name, cpu)) = read(&p.path().join("stat")).and_then(|s| stat_cpu_s(&s))
                && name == "postgres"
            {
                database += cpu;
            }
        }
    }
    own - client + database
}

async fn run(engine: &'static str, db: &ScratchDatabase) -> Vec<Row> {
    eprintln!("== {engine}");
    let server = common::serve(db, Some(PHONES as u32 + 8)).await;
    let base = server.base_url();
    let store = server.store.clone();
    store
        .publish_form(&form(), None, clock::now_ms())
        .await
        .expect("form");
    let hash = password::hash(common::PASSWORD).expect("hash");
    let mut phones: Vec<(Api, Device)> = Vec::new();
    for i in 0..PHONES {
        // Logged in from the load generator's runtime, so that its connections live there.
        let (store, base, hash) = (store.clone(), base.clone(), hash.clone());
        let phone = client_runtime().spawn(async move {
            common::login(
                &store,
                &base,
                &hash,
                &format!("worker{i}"),
                Role::GridWorker,
                VILLAGE,
            )
            .await
        });
        phones.push(phone.await.expect("login"));
    }
    // The households the surveys are about.
    let households: Vec<Uuid> = {
        let (api, dev) = &mut phones[0];
        let ids: Vec<Uuid> = (0..HOUSEHOLDS).map(|_| dev.new_id()).collect();
        for (c, chunk) in ids.chunks(BATCH).enumerate() {
            let batch = chunk
                .iter()
                .enumerate()
                .map(|(i, id)| dev.create("household", *id, household(c * BATCH + i)))
                .collect();
            let api = api.clone();
            client_runtime()
                .spawn(async move { api.push(batch).await.expect("seed") })
                .await
                .expect("seed");
        }
        ids
    };

    let mut rows = Vec::new();
    let mut n = 0;
    for kind in [Kind::Survey, Kind::Household] {
        let shapes = SINGLE
            .iter()
            .map(|p| (*p, 1))
            .chain(BATCHED.iter().map(|p| (*p, BATCH)));
        for (count, batch) in shapes {
            if !chosen(kind, count, batch) {
                continue;
            }
            let (moved, row) =
                measure(engine, kind, phones, count, batch, &households, &mut n).await;
            phones = moved;
            let raw_per_s = raw_insert::rows_per_s(
                &db.url,
                engine,
                &raw_insert::Shape {
                    clients: count,
                    rows_per_commit: batch,
                    commits_per_client: (row.per_s * 3.0 / (count * batch) as f64).ceil() as usize
                        + 1,
                    scope: VILLAGE,
                    fields: match kind {
                        Kind::Survey => json!({"household_id": households[0].to_string(), "form_key": FORM,
                                               "form_version": 1, "answers": answers(1),
                                               "captured_at": clock::rfc3339_of_ms(clock::now_ms())}),
                        Kind::Household => household(1),
                    },
                },
            )
            .await;
            rows.push(Row { raw_per_s, ..row });
        }
    }
    rows
}

/// `count` phones push `batch` records a request, each as soon as its last was answered, for
/// the benchmark's seconds.
async fn measure(
    engine: &'static str,
    kind: Kind,
    mut phones: Vec<(Api, Device)>,
    count: usize,
    batch: usize,
    households: &[Uuid],
    n: &mut usize,
) -> (Vec<(Api, Device)>, Row) {
    let run_for = Duration::from_secs_f64(seconds());
    let idle: Vec<(Api, Device)> = phones.split_off(count);
    reset_peak();
    let cpu_before = machine_cpu_s();
    let server_before = server_cpu_s();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (p, (api, mut dev)) in phones.into_iter().enumerate() {
        let households = households.to_vec();
        let first = *n + p * 10_000_000;
        tasks.push(client_runtime().spawn(async move {
            let mut latencies = Vec::new();
            let mut k = first;
            while started.elapsed() < run_for {
                let records: Vec<Mutation> = (0..batch)
                    .map(|i| record(kind, &mut dev, &households, k + i))
                    .collect();
                k += batch;
                let t = Instant::now();
                let res = api.push(records).await.expect("push");
                latencies.push(t.elapsed());
                assert!(
                    res.results.iter().all(|r| r.status == Status::Applied),
                    "{:?}",
                    res.results.iter().find(|r| r.status != Status::Applied)
                );
            }
            ((api, dev), latencies)
        }));
    }
    let mut back = Vec::new();
    let mut latencies = Vec::new();
    for t in tasks {
        let (phone, lat) = t.await.expect("phone");
        back.push(phone);
        latencies.extend(lat);
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = machine_cpu_s() - cpu_before;
    let server_cpu = server_cpu_s() - server_before;
    let peak_mib = peak_kib() as f64 / 1024.0;
    *n += 100_000_000;
    back.extend(idle);
    latencies.sort_unstable();
    let records = latencies.len() * batch;
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
    };
    let row = Row {
        engine,
        kind,
        phones: count,
        batch,
        per_s: records as f64 / secs,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        cpu_s_per_1000: cpu / records as f64 * 1000.0,
        server_cpu_s_per_1000: server_cpu / records as f64 * 1000.0,
        peak_mib,
        raw_per_s: 0.0,
    };
    eprintln!(
        "   {} {count}×{batch}: {:.0} records/s, p50 {:.1} ms, p99 {:.1} ms, CPU s / 1,000: {:.2} server + database, {:.2} machine",
        kind.name(),
        row.per_s,
        row.p50_ms,
        row.p99_ms,
        row.server_cpu_s_per_1000,
        row.cpu_s_per_1000
    );
    (back, row)
}
