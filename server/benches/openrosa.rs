//! OpenRosa benchmark: `cargo bench -p fieldsync-server --bench openrosa`.
//!
//! ODK Collect sends one submission per request. For SQLite and PostgreSQL, against a server
//! running in this process over real HTTP, at 1, 8 and 32 concurrent clients, in the same run
//! and interleaved (this machine's speed drifts from minute to minute):
//! - the native API's one-record push (`POST /v1/sync/push` of one housing check);
//! - an OpenRosa submission of the same check (`POST …/submission`, multipart, as Collect
//!   sends it), without a photo;
//! - the same with a unique ~300 KB photo in each submission.
//!
//! Each cell runs for [`CELL`] and is repeated [`REPEATS`] times; the median rate is printed
//! with the range and the p99 latency. The issue's reference: ODK Central v2026.2 on this
//! machine, 135–183 submissions/s at 8 clients, 94–196/s at 32, ~40/s with a unique 300 KB
//! photo.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fieldsync_client::{Api, Device};
use fieldsync_protocol::Role;
use fieldsync_protocol::push::Status;
use fieldsync_server::auth::password;
use fieldsync_server::clock;
use fieldsync_server::service::collect;
use fieldsync_server::testing::ScratchDatabase;
use fieldsync_server::testing::photo::TestPhoto;
use serde_json::json;
use tokio::sync::Mutex;
use uuid::Uuid;

mod common;

use common::{PASSWORD, login};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const VILLAGE: &str = "640422100004";
const CLIENTS: [usize; 3] = [1, 8, 32];
const CELL: Duration = Duration::from_secs(4);
const REPEATS: usize = 3;
/// Bytes of the photo in each submission "with a photo" (a small JPEG and a trailer).
const PHOTO_BYTES: usize = 300 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Native,
    OpenRosa,
    OpenRosaPhoto,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Native => "native push, 1 record",
            Mode::OpenRosa => "OpenRosa submission",
            Mode::OpenRosaPhoto => "OpenRosa + 300 KB photo",
        }
    }
}

const MODES: [Mode; 3] = [Mode::Native, Mode::OpenRosa, Mode::OpenRosaPhoto];

/// A client of both kinds: a native phone and a Collect key of the same cadre.
struct Client {
    api: Api,
    dev: Device,
    collect_url: String,
    household: Uuid,
}

struct Cell {
    engine: &'static str,
    mode: Mode,
    clients: usize,
    /// Submissions per second of each repeat.
    rates: Vec<f64>,
    p99_ms: f64,
}

#[tokio::main]
async fn main() {
    let all = fieldsync_server::testing::on_each_engine("openrosa", run).await;
    println!();
    println!("| engine | what | clients | per s (median, range of {REPEATS}) | p99 ms |");
    println!("|---|---|---|---|---|");
    for cells in &all {
        for c in cells {
            let mut r = c.rates.clone();
            r.sort_by(f64::total_cmp);
            println!(
                "| {} | {} | {} | {:.0} ({:.0}–{:.0}) | {:.0} |",
                c.engine,
                c.mode.name(),
                c.clients,
                r[r.len() / 2],
                r[0],
                r[r.len() - 1],
                c.p99_ms
            );
        }
    }
    for cells in &all {
        for clients in CLIENTS {
            let rate = |mode: Mode| {
                cells
                    .iter()
                    .find(|c| c.mode == mode && c.clients == clients)
                    .map(|c| {
                        let mut r = c.rates.clone();
                        r.sort_by(f64::total_cmp);
                        r[r.len() / 2]
                    })
                    .unwrap_or(f64::NAN)
            };
            println!(
                "{} at {clients}: native / OpenRosa = {:.2}",
                cells[0].engine,
                rate(Mode::Native) / rate(Mode::OpenRosa)
            );
        }
    }
}

async fn run(engine: &'static str, db: &ScratchDatabase) -> Vec<Cell> {
    eprintln!("== {engine}");
    let server = common::serve(db, Some(32)).await;
    let base = server.base_url();
    let store = server.store.clone();
    let hash = password::hash(PASSWORD).expect("hash");
    let max = *CLIENTS.iter().max().unwrap_or(&1);
    let mut clients = Vec::new();
    for i in 0..max {
        let name = format!("secretary{i}");
        let (api, mut dev) =
            login(&store, &base, &hash, &name, Role::FirstSecretary, VILLAGE).await;
        let household = dev.new_id();
        let r = api
            .push(vec![dev.create(
                "household",
                household,
                json!({"village_code": VILLAGE, "head_name": format!("户主{i}")}),
            )])
            .await
            .expect("seed");
        assert_eq!(r.results[0].status, Status::Applied);
        let user = store
            .user_by_username(&name)
            .await
            .expect("user")
            .expect("user exists");
        let key = collect::issue(&store, &user, clock::now_ms())
            .await
            .expect("collect key");
        clients.push(Arc::new(Mutex::new(Client {
            api,
            dev,
            collect_url: format!("{base}{}/submission", collect::base_path(&key.key)),
            household,
        })));
    }
    let http = reqwest::Client::new();
    let seed = Arc::new(AtomicU64::new(1));

    // Warm-up, not timed.
    for mode in MODES {
        cell(&http, &clients[..8], mode, Duration::from_secs(1), &seed).await;
    }
    let mut cells: Vec<Cell> = Vec::new();
    for n in CLIENTS {
        for mode in MODES {
            cells.push(Cell {
                engine,
                mode,
                clients: n,
                rates: Vec::new(),
                p99_ms: 0.0,
            });
        }
    }
    let mut latencies: Vec<Vec<Duration>> = vec![Vec::new(); cells.len()];
    for rep in 0..REPEATS {
        // Interleaved: every cell once per repeat.
        for (i, c) in cells.iter_mut().enumerate() {
            let (count, secs, lat) = cell(&http, &clients[..c.clients], c.mode, CELL, &seed).await;
            c.rates.push(count as f64 / secs);
            latencies[i].extend(lat);
            eprintln!(
                "   {engine} rep {} {} ×{}: {:.0}/s",
                rep + 1,
                c.mode.name(),
                c.clients,
                count as f64 / secs
            );
        }
    }
    for (c, mut lat) in cells.iter_mut().zip(latencies) {
        lat.sort_unstable();
        if let Some(p) = lat.get(((lat.len().max(1) - 1) as f64 * 0.99).round() as usize) {
            c.p99_ms = p.as_secs_f64() * 1000.0;
        }
    }
    server.stop().await;
    cells
}

/// Runs `mode` on `clients` at once for `length`; (submissions, seconds, latencies).
async fn cell(
    http: &reqwest::Client,
    clients: &[Arc<Mutex<Client>>],
    mode: Mode,
    length: Duration,
    seed: &Arc<AtomicU64>,
) -> (usize, f64, Vec<Duration>) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in clients {
        let (c, http, seed) = (c.clone(), http.clone(), seed.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = c.lock().await;
            let mut lat = Vec::new();
            while started.elapsed() < length {
                let photo = (mode == Mode::OpenRosaPhoto).then(|| {
                    TestPhoto::new(64, 48)
                        .seed(seed.fetch_add(1, Ordering::Relaxed))
                        .trailer(PHOTO_BYTES)
                        .jpeg()
                });
                let t = Instant::now();
                match mode {
                    Mode::Native => native(&mut client).await,
                    Mode::OpenRosa | Mode::OpenRosaPhoto => {
                        submission(&http, &client, photo).await;
                    }
                }
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client"));
    }
    (all.len(), started.elapsed().as_secs_f64(), all)
}

fn now_text() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

async fn native(c: &mut Client) {
    let id = c.dev.new_id();
    let mut m = c.dev.create(
        "housing_check",
        id,
        json!({"household_id": c.household.to_string(), "appraisal_grade": "B",
               "hazards": ["ageing"], "occupied": true, "captured_at": now_text()}),
    );
    m.gps = Some(fieldsync_protocol::gps::GpsFix {
        lat: 36.0,
        lon: 106.2,
        accuracy_m: 8.0,
        crs: fieldsync_protocol::gps::Crs::Wgs84,
        fix_at: time::OffsetDateTime::now_utc(),
        mocked: false,
    });
    let r = c.api.push(vec![m]).await.expect("push");
    assert_ne!(r.results[0].status, Status::Rejected, "{r:?}");
}

async fn submission(http: &reqwest::Client, c: &Client, photo: Option<Vec<u8>>) {
    let now = now_text();
    let photos = if photo.is_some() {
        "<photo>1.jpg</photo>"
    } else {
        ""
    };
    let xml = format!(
        r#"<data xmlns:orx="http://openrosa.org/xforms" id="housing_check" version="x"><household_id>{}</household_id><gps>36.0 106.2 1100 8</gps><gps_at>{now}</gps_at><appraisal_grade>B</appraisal_grade><hazards>ageing</hazards><occupied>true</occupied><photos>{photos}</photos><orx:meta><orx:instanceID>uuid:{}</orx:instanceID><orx:timeStart>{now}</orx:timeStart><orx:timeEnd>{now}</orx:timeEnd></orx:meta></data>"#,
        c.household,
        Uuid::new_v4()
    );
    let mut form = reqwest::multipart::Form::new().part(
        "xml_submission_file",
        reqwest::multipart::Part::bytes(xml.into_bytes())
            .file_name("instance.xml")
            .mime_str("text/xml")
            .expect("mime"),
    );
    if let Some(bytes) = photo {
        form = form.part(
            "1.jpg",
            reqwest::multipart::Part::bytes(bytes)
                .file_name("1.jpg")
                .mime_str("image/jpeg")
                .expect("mime"),
        );
    }
    let res = http
        .post(&c.collect_url)
        .header("X-OpenRosa-Version", "1.0")
        .multipart(form)
        .send()
        .await
        .expect("POST");
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
}
