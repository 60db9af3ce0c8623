//! Photo benchmark: `cargo bench -p fieldsync-server --bench photos`.
//!
//! A server in this process (SQLite, local-disk blob store, the default two workers), real HTTP
//! on loopback:
//! - throughput: 40 different 12-megapixel JPEGs (4032 × 3024, made from a real phone photo)
//!   uploaded one after another as a phone's outbox does, until every one is stored without
//!   EXIF and has its thumbnail: photos/s, and CPU time of the whole process per photo
//!   (`getrusage`, so hashing, HTTP, SQLite and the client are included); plus `process()`
//!   alone on one thread;
//! - memory: 8 uploads of 20 MB at once (a 12-MP JPEG with 13 MB of trailing data, streamed
//!   from files), their processing included: the growth of peak RSS (`VmHWM`, reset first).
//!
//! The photos are made from a real one (`iphone_hdr_NO.jpg` of the real-phone corpus, the
//! folder `FIELDSYNC_TEST_PHOTOS` names), so that pixels and EXIF are a camera's; without the
//! corpus the benchmark says so and measures nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fieldsync_client::{Api, Device};
use fieldsync_protocol::Role;
use fieldsync_protocol::blob::{BlobInfo, BlobState};
use fieldsync_server::app;
use fieldsync_server::auth::password;
use fieldsync_server::blobs::photo;
use fieldsync_server::config::Settings;
use fieldsync_server::store::NewUser;
use fieldsync_server::testing::ScratchDatabase;
use fieldsync_server::testing::memory::{peak_kib, reset_peak};
use fieldsync_server::testing::photo as test_photo;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use uuid::Uuid;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SOURCE: &str = "iphone_hdr_NO.jpg";
const PHOTOS: usize = 40;
const BIG: usize = 8;
const BIG_BYTES: usize = 20 * 1024 * 1024;
const PASSWORD: &str = "bench-password";
const VILLAGE: &str = "640104001002";

#[tokio::main]
async fn main() {
    if let Some(work) = std::env::var_os(MEMORY_PHASE) {
        memory_phase(PathBuf::from(work)).await;
        return;
    }
    let Some(corpus) = test_photo::corpus("the photo benchmark") else {
        return;
    };
    let db = ScratchDatabase::sqlite("fieldsync-bench-photos").expect("temp dir");
    let work = db.dir().join("bench");
    std::fs::create_dir_all(&work).expect("work dir");
    let base_jpeg = twelve_megapixels(&test_photo::corpus_file(&corpus, SOURCE), &work);
    let single_ms = process_alone(&base_jpeg, &work);

    let settings = Settings {
        database_url: Some(db.url.clone().into()),
        data_dir: db.dir().to_owned(),
        ..Settings::default()
    };
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = app::start(settings, listener).await.expect("start");
    let api = login(&server.store, &server.base_url()).await;

    // Throughput: distinct photos (a counter in a comment segment changes the hash).
    let photos: Vec<Vec<u8>> = (0..PHOTOS).map(|i| variant(&base_jpeg, i)).collect();
    let cpu_before = cpu_ms();
    let started = Instant::now();
    let client = reqwest::Client::new();
    let mut names = Vec::new();
    for p in &photos {
        let name = sha(p);
        let res = client
            .put(format!("{}/v1/blobs/{name}", server.base_url()))
            .bearer_auth(api.access_token().unwrap_or_default())
            .body(p.clone())
            .send()
            .await
            .expect("upload");
        assert_eq!(res.status(), reqwest::StatusCode::CREATED);
        names.push(name);
    }
    wait_ready(&api, &names).await;
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_ms() - cpu_before;
    drop(photos);

    server.stop().await;

    // Memory: in a fresh process of this benchmark, so that what this one allocated and the
    // allocator kept does not hide (or inflate) the growth.
    let files = big_files(&base_jpeg, &work);
    let out = std::process::Command::new(std::env::current_exe().expect("own path"))
        .env(MEMORY_PHASE, &work)
        .output()
        .expect("memory phase");
    let memory = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(files);
    drop(db);

    println!();
    println!("| measure | figure |");
    println!("|---|---|");
    println!("| `process()` alone, one thread, 12 MP | {single_ms:.0} ms/photo |");
    println!(
        "| {PHOTOS} uploads of 12-MP JPEGs ({:.1} MB each) until stored + thumbnail, {workers} workers | {:.1} photos/s |",
        base_jpeg.len() as f64 / 1e6,
        PHOTOS as f64 / secs
    );
    println!(
        "| CPU time of the whole process per photo | {:.0} ms |",
        cpu / PHOTOS as f64
    );
    print!("{memory}");
}

const MEMORY_PHASE: &str = "FIELDSYNC_BENCH_PHOTO_MEMORY";

/// Eight 20 MB photos: a 12-MP JPEG each with 18 MB of data after its end, written to files.
fn big_files(base_jpeg: &[u8], work: &Path) -> Vec<PathBuf> {
    (0..BIG)
        .map(|i| {
            let mut bytes = variant(base_jpeg, 1000 + i);
            let pad = BIG_BYTES.saturating_sub(bytes.len());
            bytes.extend((0..pad).map(|j| (j.wrapping_mul(2_654_435_761) >> 13) as u8));
            let path = work.join(format!("big-{i}.jpg"));
            std::fs::write(&path, &bytes).expect("write");
            path
        })
        .collect()
}

/// The memory phase, in its own process: a fresh server, the eight uploads at once (streamed
/// from the files), and the growth of the peak resident set from just before them until all
/// are processed.
async fn memory_phase(work: PathBuf) {
    let db = ScratchDatabase::sqlite("fieldsync-bench-photo-memory").expect("temp dir");
    let settings = Settings {
        database_url: Some(db.url.clone().into()),
        data_dir: db.dir().to_owned(),
        ..Settings::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = app::start(settings, listener).await.expect("start");
    let api = login(&server.store, &server.base_url()).await;
    let client = reqwest::Client::new();
    // Hashing the files reads them whole: done before the peak is reset.
    let files: Vec<(PathBuf, String)> = (0..BIG)
        .map(|i| {
            let path = work.join(format!("big-{i}.jpg"));
            let name = sha(&std::fs::read(&path).expect("big file"));
            (path, name)
        })
        .collect();
    let before_kib = reset_peak();
    let started = Instant::now();
    let uploads: Vec<_> = files
        .iter()
        .map(|(path, name)| {
            let client = client.clone();
            let url = format!("{}/v1/blobs/{name}", server.base_url());
            let token = api.access_token().unwrap_or_default().to_owned();
            let path = path.clone();
            tokio::spawn(async move {
                let file = tokio::fs::File::open(&path).await.expect("open");
                let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
                let res = client
                    .put(url)
                    .bearer_auth(token)
                    .header("content-length", BIG_BYTES.to_string())
                    .body(body)
                    .send()
                    .await
                    .expect("upload");
                assert_eq!(res.status(), reqwest::StatusCode::CREATED);
            })
        })
        .collect();
    for u in uploads {
        u.await.expect("join");
    }
    let names: Vec<String> = files.iter().map(|(_, n)| n.clone()).collect();
    wait_ready(&api, &names).await;
    let secs = started.elapsed().as_secs_f64();
    let after_kib = peak_kib();
    server.stop().await;
    println!("| {BIG} uploads of 20 MB at once (fresh process), until processed | {secs:.1} s |");
    println!(
        "| peak RSS growth during them | {:.1} MiB ({:.1} → {:.1} MiB) |",
        after_kib.saturating_sub(before_kib) as f64 / 1024.0,
        before_kib as f64 / 1024.0,
        after_kib as f64 / 1024.0
    );
}

/// The phone photo scaled to 4032 × 3024 (12.2 MP) and encoded as a camera would (quality 90),
/// with the original's EXIF block copied in so that stripping has work to do.
fn twelve_megapixels(source: &[u8], work: &Path) -> Vec<u8> {
    let img = image::load_from_memory(source).expect("decode source");
    let big = img.resize_exact(4032, 3024, image::imageops::FilterType::Triangle);
    let mut encoded = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut encoded, 90);
    big.write_with_encoder(encoder).expect("encode");
    // SOI, then the source's APP1 (EXIF) segment, then the rest of the new file.
    let app1 = source[2..]
        .windows(2)
        .position(|w| w == [0xff, 0xe1])
        .map(|at| {
            let start = at + 2;
            let len = usize::from(u16::from_be_bytes([source[start + 2], source[start + 3]]));
            source[start..start + 2 + len].to_vec()
        })
        .unwrap_or_default();
    let mut out = encoded[..2].to_vec();
    out.extend_from_slice(&app1);
    out.extend_from_slice(&encoded[2..]);
    std::fs::write(work.join("12mp.jpg"), &out).expect("write");
    out
}

/// The same photo with a comment segment holding `n` after SOI: another hash, same pixels.
fn variant(jpeg: &[u8], n: usize) -> Vec<u8> {
    let text = format!("fieldsync bench {n}");
    let len = u16::try_from(text.len() + 2).unwrap_or(u16::MAX);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xfe]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn process_alone(jpeg: &[u8], work: &Path) -> f64 {
    let input = work.join("alone.jpg");
    std::fs::write(&input, jpeg).expect("write");
    let limits = photo::Limits::default();
    let runs = 10;
    let started = Instant::now();
    for _ in 0..runs {
        photo::process(
            &input,
            &work.join("alone-o.jpg"),
            &work.join("alone-t.jpg"),
            &limits,
        )
        .expect("process");
    }
    started.elapsed().as_secs_f64() * 1000.0 / f64::from(runs)
}

async fn wait_ready(api: &Api, names: &[String]) {
    for name in names {
        loop {
            let info: BlobInfo = api
                .get_json(&format!("/v1/blobs/{name}/meta"))
                .await
                .expect("meta");
            match info.state {
                BlobState::Ready => break,
                BlobState::Rejected => panic!("rejected: {info:?}"),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

async fn login(store: &fieldsync_server::store::Store, base: &str) -> Api {
    let user = NewUser {
        id: Uuid::now_v7(),
        username: "photographer".into(),
        password_hash: password::hash(PASSWORD).expect("hash"),
        role: Role::GridWorker,
        display_name: None,
    };
    let today = fieldsync_server::clock::iso(fieldsync_server::clock::today());
    store
        .create_user(
            &user,
            &[VILLAGE.to_owned()],
            &today,
            fieldsync_server::clock::now_ms(),
        )
        .await
        .expect("user");
    let dev = Device::new();
    let mut api = Api::new(base, dev.id);
    api.login("photographer", PASSWORD).await.expect("login");
    api
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// User + system CPU time of this process so far, in ms.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    // USER_HZ is 100 on Linux.
    ticks * 10.0
}
