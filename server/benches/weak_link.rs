//! Weak-link benchmark: `cargo bench -p fieldsync-server --bench weak_link`.
//!
//! A cadre's day synced by the reference client (`Replica::sync`) over an emulated mobile link
//! (`fieldsync_server::testing::link`: latency each way, bandwidth, loss played as delay, drops).
//! The day: 30 visits and 20 checks with GPS fixes, 4 household edits, 10 photos of ~3 MB;
//! meanwhile three other phones of the village sent their own day, which the cadre's pull
//! brings home. The cadre's phone last synced in the morning, so its access token has run out.
//!
//! Rows, per profile (`edge`, `3g-weak`, `4g`):
//! - **records**: the day without photos, the sync a cadre makes at the one spot with signal;
//! - **records, drop**: the same, the link dropped for 20 s once the push is halfway up; the
//!   phone syncs again when the link is back;
//! - **photos** (on `4g` unless `FIELDSYNC_BENCH_PHOTO_PROFILES` names more, e.g.
//!   `edge,3g-weak,4g`: 30 MB over EDGE's 100 kbit/s is forty minutes): the day with photos;
//! - **photos, drop**: the same with a 20-s drop in the middle of the fifth photo.
//!
//! `FIELDSYNC_BENCH_PHOTOS=1` sends one photo instead of ten (a photo row over EDGE in minutes).
//!
//! Each row twice: through the native protocol (the reference client: refresh, push, photos,
//! pull) and through OpenRosa as ODK Collect sends the same day (one submission per form, a
//! `HEAD` then a multipart `POST` with the form's photos; then the form list, the manifests and
//! the changed entity lists, which is how Collect sees the other phones' work).
//!
//! Each row: wall time, KB up and down (application bytes: HTTP headers and bodies), round
//! trips (connection handshakes and request turns), connections, and for a drop the bytes sent
//! again (up bytes beyond the same day without a drop) and the bytes the drop lost in flight.
//! `FIELDSYNC_BENCH_PROFILES=edge` limits the profiles. The server runs in this process on
//! SQLite: the link, not the database, is what these rows measure.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::PASSWORD;
use fieldsync_client::{Device, Replica, SyncReport};
use fieldsync_protocol::Role;
use fieldsync_protocol::gps::{Crs, GpsFix};
use fieldsync_protocol::push::{Mutation, Status};
use fieldsync_server::auth::password;
use fieldsync_server::store::Store;
use fieldsync_server::testing::ScratchDatabase;
use fieldsync_server::testing::link::{Counters, Link, PROFILES, Profile};
use fieldsync_server::testing::photo::TestPhoto;
use serde_json::{Value, json};
use uuid::Uuid;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;

use fieldsync_server::clock;
use fieldsync_server::service::collect;

/// A village of 西吉县 (Xiji county), 40 households of 2 people.
const VILLAGE: &str = "640422100004";
const HOUSEHOLDS: usize = 40;
/// The village's other phones, each sending its own day before the cadre syncs.
const OTHER_PHONES: usize = 3;
const VISITS: usize = 30;
const CHECKS: usize = 20;
const EDITS: usize = 4;
const PHOTOS: usize = 10;
const OUTAGE: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Day {
    Records,
    Photos,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    Native,
    OpenRosa,
}

struct Row {
    profile: &'static str,
    protocol: Protocol,
    what: String,
    seconds: f64,
    link: Counters,
    resent: Option<u64>,
    /// What the native sync reported (pushed, pulled, photos …).
    report: Option<SyncReport>,
}

#[tokio::main]
async fn main() {
    let chosen = |var: &str, default: &[&str]| -> Vec<Profile> {
        let names = std::env::var(var).unwrap_or_else(|_| default.join(","));
        PROFILES
            .into_iter()
            .filter(|p| names.split(',').any(|n| n.trim() == p.name))
            .collect()
    };
    let profiles = chosen("FIELDSYNC_BENCH_PROFILES", &["edge", "3g-weak", "4g"]);
    let photo_profiles = chosen("FIELDSYNC_BENCH_PHOTO_PROFILES", &["4g"]);
    let mut rows = Vec::new();
    for p in &profiles {
        let mut days = vec![Day::Records];
        if photo_profiles.contains(p) {
            days.push(Day::Photos);
        }
        for kind in days {
            for protocol in [Protocol::Native, Protocol::OpenRosa] {
                let plain = day(*p, kind, false, protocol).await;
                let dropped = day(*p, kind, true, protocol).await;
                let dropped = resent_against(dropped, &plain);
                rows.push(plain);
                rows.push(dropped);
            }
        }
    }
    println!();
    println!(
        "| profile | day | protocol | seconds | KB up | KB down | round trips | connections | sent again after the drop | lost in flight |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let kb = |b: u64| b as f64 / 1000.0;
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} |",
            r.profile,
            r.what,
            match r.protocol {
                Protocol::Native => "native",
                Protocol::OpenRosa => "OpenRosa",
            },
            r.seconds,
            kb(r.link.up),
            kb(r.link.down),
            r.link.round_trips,
            r.link.connections,
            r.resent.map_or("–".into(), |b| format!("{:.1} KB", kb(b))),
            if r.what.contains("drop") {
                format!("{:.1} KB", kb(r.link.up_lost))
            } else {
                "–".into()
            },
        );
        if let Some(report) = &r.report {
            eprintln!("   {} {}: {report:?}", r.profile, r.what);
        }
    }
}

/// A drop's row, with what it sent beyond the same day without the drop.
fn resent_against(mut dropped: Row, plain: &Row) -> Row {
    dropped.resent = Some(dropped.link.up.saturating_sub(plain.link.up));
    dropped
}

/// One day synced over a fresh link (and a fresh server, so every row starts alike).
async fn day(profile: Profile, kind: Day, drop: bool, protocol: Protocol) -> Row {
    let what = match (kind, drop) {
        (Day::Records, false) => "records".to_owned(),
        (Day::Records, true) => format!("records, {}-s drop", OUTAGE.as_secs()),
        (Day::Photos, false) => format!("records + {} photos", photo_count()),
        (Day::Photos, true) => format!(
            "records + {} photos, {}-s drop",
            photo_count(),
            OUTAGE.as_secs()
        ),
    };
    eprintln!("== {} {what} {protocol:?}", profile.name);
    let db = ScratchDatabase::sqlite("weak-link").expect("scratch database");
    let server = common::serve(&db, None).await;
    let base = server.base_url();
    let hash = password::hash(PASSWORD).expect("hash");
    let village = Village::seed(&server.store, &base, &hash).await;
    common::create_user(&server.store, &hash, "cadre", Role::FirstSecretary, VILLAGE).await;
    let dir = db.dir().join("cadre");
    std::fs::create_dir_all(&dir).expect("phone dir");
    let photos = if kind == Day::Photos {
        photos()
    } else {
        Vec::new()
    };
    let photo_bytes: u64 = photos.iter().map(|p| p.bytes.len() as u64).sum();
    let link = Link::start(server.addr, profile).await.expect("link");
    if drop {
        link.drop_after_up(
            match kind {
                // Inside the first request that carries the day's records.
                Day::Records => 3_000,
                // Halfway through the middle photo (the fifth of ten).
                Day::Photos => {
                    let one = photo_bytes / photos.len().max(1) as u64;
                    one * ((photos.len() as u64).saturating_sub(1) / 2) + one / 2
                }
            },
            OUTAGE,
        );
    }
    let (seconds, report) = match protocol {
        Protocol::Native => {
            let report = native_day(&server, &hash, &link, &village, &dir, &photos).await;
            (report.0, Some(report.1))
        }
        Protocol::OpenRosa => (
            openrosa_day(&server, &hash, &link, &village, &photos).await,
            None,
        ),
    };
    Row {
        profile: profile.name,
        protocol,
        what,
        // The outage is the link's, not the protocol's.
        seconds: if drop {
            seconds - OUTAGE.as_secs_f64()
        } else {
            seconds
        },
        link: link.counters(),
        resent: None,
        report,
    }
}

/// Runs `sync` until it succeeds; after a failure (only a drop may cause one) it waits for
/// the link to come back, as a phone waits for signal. The seconds it took.
/// The other phones of the village send their day (over loopback), while the cadre works.
async fn others_work(store: &Store, base: &str, hash: &str, village: &Village) {
    for n in 0..OTHER_PHONES {
        let (api, mut dev) = common::login(
            store,
            base,
            hash,
            &format!("team{n}"),
            Role::TeamMember,
            VILLAGE,
        )
        .await;
        let day = village.day_of(&mut dev, n + 1);
        let r = api.push(day).await.expect("another phone's day");
        assert!(
            r.results
                .iter()
                .all(|r| matches!(r.status, Status::Applied | Status::Merged)),
            "{r:?}"
        );
    }
}

async fn until_done<F, Fut>(link: &Link, mut sync: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    while let Err(e) = sync().await {
        eprintln!("   a sync failed ({e}); waiting for the link");
        tokio::time::sleep(Duration::from_millis(100)).await;
        while link.is_down() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            started.elapsed() < OUTAGE * 10,
            "the sync does not recover: {e}"
        );
    }
    started.elapsed().as_secs_f64()
}

/// The cadre's day through the native protocol: synced in the morning at the office (over
/// loopback), the day made offline, synced in the evening through the link.
async fn native_day(
    server: &fieldsync_server::app::Running,
    hash: &str,
    link: &Link,
    village: &Village,
    dir: &Path,
    photos: &[Photo],
) -> (f64, SyncReport) {
    let mut phone = Replica::open(&dir.join("phone.db"), &server.base_url())
        .await
        .expect("phone");
    phone.login("cadre", PASSWORD).await.expect("login");
    phone.sync().await.expect("morning sync");
    others_work(&server.store, &server.base_url(), hash, village).await;
    for p in photos {
        let path = dir.join(&p.file);
        std::fs::write(&path, &p.bytes).expect("photo");
        assert_eq!(phone.add_photo(&path).await.expect("add photo"), p.name);
    }
    village.record_day(&mut phone, photos).await;
    phone.api.set_base_url(&link.url());
    phone.api.assume_expired();
    let phone = tokio::sync::Mutex::new(phone);
    let report = tokio::sync::Mutex::new(SyncReport::default());
    let seconds = until_done(link, || async {
        let r = phone.lock().await.sync().await.map_err(|e| e.to_string())?;
        let mut total = report.lock().await;
        *total = add(std::mem::take(&mut *total), r);
        Ok(())
    })
    .await;
    let phone = phone.into_inner();
    assert_eq!(phone.outbox().await.expect("outbox").0, 0, "all sent");
    (seconds, report.into_inner())
}

fn add(a: SyncReport, b: SyncReport) -> SyncReport {
    SyncReport {
        pushed: a.pushed + b.pushed,
        pulled: a.pulled + b.pulled,
        photos: a.photos + b.photos,
        ..b
    }
}

/// The cadre's day through OpenRosa, as ODK Collect sends it: the forms and entity lists
/// fetched in the morning (over loopback), each finished form sent in the evening through the
/// link (`HEAD`, then a multipart `POST` with its photos), then the form list checked and the
/// entity lists whose hash changed fetched again.
async fn openrosa_day(
    server: &fieldsync_server::app::Running,
    hash: &str,
    link: &Link,
    village: &Village,
    photos: &[Photo],
) -> f64 {
    let user = server
        .store
        .user_by_username("cadre")
        .await
        .expect("user")
        .expect("the cadre");
    let key = collect::issue(&server.store, &user, clock::now_ms())
        .await
        .expect("collect key");
    let path = collect::base_path(&key.key);
    // Collect's HTTP stack (OkHttp) asks for gzip answers and sends its own bodies as they are.
    let http = reqwest::Client::builder()
        .no_zstd()
        .timeout(Duration::from_secs(600))
        .build()
        .expect("http");
    let morning = Collect {
        http: http.clone(),
        base: format!("{}{path}", server.base_url()),
    };
    let mut lists = morning
        .update_forms(&BTreeMap::new())
        .await
        .expect("morning forms");
    others_work(&server.store, &server.base_url(), hash, village).await;

    let instances = village.openrosa_day(photos);
    let evening = Collect {
        http,
        base: format!("{}{path}", link.url()),
    };
    let sent = tokio::sync::Mutex::new(0);
    let lists_now = tokio::sync::Mutex::new(std::mem::take(&mut lists));
    until_done(link, || async {
        let mut sent = sent.lock().await;
        // Collect sends what is still unsent, one form at a time.
        for (xml, files) in &instances[*sent..] {
            evening.submit(xml, files).await?;
            *sent += 1;
        }
        let mut lists = lists_now.lock().await;
        *lists = evening.update_forms(&lists).await?;
        Ok(())
    })
    .await
}

/// ODK Collect's requests, to the OpenRosa server at `base`.
struct Collect {
    http: reqwest::Client,
    base: String,
}

impl Collect {
    fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.http
            .get(url)
            .query(&[("deviceID", "collect:bench")])
            .header("X-OpenRosa-Version", "1.0")
    }

    async fn text(&self, url: &str) -> Result<String, String> {
        let res = self.get(url).send().await.map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("GET {url}: {}", res.status()));
        }
        res.text().await.map_err(|e| e.to_string())
    }

    /// `HEAD`, then the form and its photos in one multipart `POST`.
    async fn submit(&self, xml: &str, files: &[(String, Vec<u8>)]) -> Result<(), String> {
        let url = format!("{}/submission", self.base);
        let head = self
            .http
            .head(&url)
            .query(&[("deviceID", "collect:bench")])
            .header("X-OpenRosa-Version", "1.0")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if head.status() != reqwest::StatusCode::NO_CONTENT {
            return Err(format!("HEAD answered {}", head.status()));
        }
        let mut form = reqwest::multipart::Form::new().part(
            "xml_submission_file",
            reqwest::multipart::Part::bytes(xml.as_bytes().to_vec())
                .file_name("submission.xml")
                .mime_str("text/xml")
                .map_err(|e| e.to_string())?,
        );
        for (name, bytes) in files {
            form = form.part(
                name.clone(),
                reqwest::multipart::Part::bytes(bytes.clone())
                    .file_name(name.clone())
                    .mime_str("image/jpeg")
                    .map_err(|e| e.to_string())?,
            );
        }
        let res = self
            .http
            .post(&url)
            .query(&[("deviceID", "collect:bench")])
            .header("X-OpenRosa-Version", "1.0")
            .multipart(form)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status();
        let body = res.text().await.map_err(|e| e.to_string())?;
        // A refusal is a bug of the benchmark, not a failure of the link.
        assert!(
            status == reqwest::StatusCode::CREATED || status.is_server_error(),
            "{status}: {body}"
        );
        if status.is_server_error() {
            return Err(format!("{status}"));
        }
        Ok(())
    }

    /// Collect's form update: the form list, each form's manifest, and each entity list whose
    /// hash is not the one it holds (`held`: list URL → hash). Returns the hashes it holds now.
    async fn update_forms(
        &self,
        held: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, String> {
        let list = self.text(&format!("{}/formList", self.base)).await?;
        let mut now = held.clone();
        for manifest in tags(&list, "manifestUrl") {
            let manifest = self.text(&manifest.replace("&amp;", "&")).await?;
            for file in manifest.split("<mediaFile").skip(1) {
                let (Some(hash), Some(url)) = (
                    tags(file, "hash").into_iter().next(),
                    tags(file, "downloadUrl").into_iter().next(),
                ) else {
                    continue;
                };
                let url = url.replace("&amp;", "&");
                if now.get(&url) != Some(&hash) {
                    self.text(&url).await?;
                    now.insert(url, hash);
                }
            }
        }
        Ok(now)
    }
}

/// The texts of every `<tag>` in `xml`.
fn tags(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|t| Some(t[..t.find(&close)?].to_owned()))
        .collect()
}

fn photo_count() -> usize {
    common::setting("FIELDSYNC_BENCH_PHOTOS", PHOTOS)
}

/// A finished form as Collect sends it: the instance XML and its photos (file name, bytes).
type Submission = (String, Vec<(String, Vec<u8>)>);

/// A photo as the camera wrote it.
struct Photo {
    file: String,
    name: String,
    bytes: Vec<u8>,
}

/// Ten photos of ~3.6 MB (or `FIELDSYNC_BENCH_PHOTOS` of them), as a phone's camera writes
/// them.
fn photos() -> Vec<Photo> {
    (0..photo_count())
        .map(|n| {
            let bytes = TestPhoto::new(1600, 1200)
                .seed(n as u64 + 1)
                .textured()
                .gps(35.97, 105.73)
                .taken_at("2026:05:14 09:30:05", Some("+08:00"))
                .camera("Xiaomi", "Redmi Note 12")
                .trailer(1_900_000)
                .jpeg();
            Photo {
                file: format!("IMG_{n:04}.jpg"),
                name: fieldsync_client::photo_name(&bytes),
                bytes,
            }
        })
        .collect()
}

/// The village as the phones know it: its households and their members.
struct Village {
    households: Vec<(Uuid, [Uuid; 2])>,
}

impl Village {
    /// The roster, entered by the first secretary's office account (over loopback).
    async fn seed(store: &Store, base: &str, hash: &str) -> Village {
        let (api, mut dev) =
            common::login(store, base, hash, "office", Role::FirstSecretary, VILLAGE).await;
        let mut batch = Vec::new();
        let mut households = Vec::new();
        for n in 0..HOUSEHOLDS {
            let h = dev.new_id();
            let members = [dev.new_id(), dev.new_id()];
            batch.push(dev.create("household", h, json!({
                "village_code": VILLAGE, "head_name": format!("马{n}"), "grid": format!("{}组", n % 6 + 1),
                "address": format!("{}组 {} 号", n % 6 + 1, n + 1), "phone": format!("139{:08}", 5_000_000 + n),
                "poverty_status": "out_of_poverty", "labour_capacity": "full", "household_size": 2,
            })));
            batch.push(dev.create(
                "member",
                members[0],
                json!({
                    "household_id": h.to_string(), "name": format!("马{n}"), "relation": "head",
                }),
            ));
            batch.push(dev.create(
                "member",
                members[1],
                json!({
                    "household_id": h.to_string(), "name": format!("马小{n}"), "relation": "child",
                }),
            ));
            households.push((h, members));
        }
        let r = api.push(batch).await.expect("roster");
        assert!(
            r.results.iter().all(|r| r.status == Status::Applied),
            "{r:?}"
        );
        Village { households }
    }

    /// One day of another phone, as a push.
    fn day_of(&self, dev: &mut Device, phone: usize) -> Vec<Mutation> {
        let mut out = Vec::new();
        for (entity, fields) in self.work(phone, &[]) {
            let mut m = dev.create(entity, dev.new_id(), fields);
            m.gps = Some(fix(phone));
            out.push(m);
        }
        for n in 0..EDITS {
            let (h, _) = self.households[(phone * 7 + n) % HOUSEHOLDS];
            out.push(dev.update("household", h, 1, edit(phone, n)));
        }
        out
    }

    /// The cadre's day, made offline on the phone.
    async fn record_day(&self, phone: &mut Replica, photos: &[Photo]) {
        for (entity, fields) in self.work(0, photos) {
            phone
                .create_at(entity, fields, fix(0))
                .await
                .expect("record");
        }
        for n in 0..EDITS {
            let (h, _) = self.households[n * 3 % HOUSEHOLDS];
            phone.update(h, edit(0, n)).await.expect("edit");
        }
    }

    /// The cadre's day as ODK Collect's finished forms: (instance XML, attached photos).
    fn openrosa_day(&self, photos: &[Photo]) -> Vec<Submission> {
        let f = fix(0);
        let fix_at = clock::rfc3339_of_ms(
            i64::try_from(f.fix_at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0),
        );
        let mut out = Vec::new();
        for (n, (entity, fields)) in self.work(0, photos).into_iter().enumerate() {
            let Value::Object(fields) = fields else {
                continue;
            };
            // The capture time is the instance's start (and a visit's end its end).
            let start = fields
                .get("started_at")
                .or(fields.get("captured_at"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let end = fields
                .get("ended_at")
                .and_then(Value::as_str)
                .unwrap_or(&start)
                .to_owned();
            let mut xml = format!(
                r#"<data xmlns:orx="http://openrosa.org/xforms" id="{entity}" version="x">"#
            );
            let mut files = Vec::new();
            for (name, value) in &fields {
                match (name.as_str(), value) {
                    ("started_at" | "ended_at" | "captured_at", _) => {}
                    ("photos", Value::Array(names)) => {
                        xml.push_str("<photos>");
                        for name in names {
                            if let Some(p) = photos
                                .iter()
                                .find(|p| Some(p.name.as_str()) == name.as_str())
                            {
                                xml.push_str(&format!("<photo>{}</photo>", p.file));
                                files.push((p.file.clone(), p.bytes.clone()));
                            }
                        }
                        xml.push_str("</photos>");
                    }
                    (_, Value::Array(items)) => {
                        let items: Vec<String> = items.iter().map(text).collect();
                        xml.push_str(&format!("<{name}>{}</{name}>", items.join(" ")));
                    }
                    (_, v) => xml.push_str(&format!("<{name}>{}</{name}>", text(v))),
                }
            }
            xml.push_str(&format!(
                "<gps>{} {} 1700 {}</gps><gps_at>{fix_at}</gps_at><orx:meta><orx:instanceID>uuid:{}</orx:instanceID><orx:timeStart>{start}</orx:timeStart><orx:timeEnd>{end}</orx:timeEnd></orx:meta></data>",
                f.lat, f.lon, f.accuracy_m, Uuid::from_u128(0xC011EC7 << 64 | n as u128)
            ));
            out.push((xml, files));
        }
        for n in 0..EDITS {
            let (h, _) = self.households[n * 3 % HOUSEHOLDS];
            let e = edit(0, n);
            let now = clock::rfc3339_of_ms(clock::now_ms());
            out.push((format!(
                r#"<data xmlns:orx="http://openrosa.org/xforms" id="household_update" version="x"><household_id>{h}</household_id><grid>{}</grid><household_size>{}</household_size><orig><grid>1组</grid><household_size>2</household_size></orig><meta><instanceID>uuid:{}</instanceID><timeStart>{now}</timeStart><timeEnd>{now}</timeEnd><entity dataset="households" id="{h}" update="1" baseVersion="1" trunkVersion="1" branchId="{}"><label>马</label></entity></meta></data>"#,
                text(&e["grid"]), text(&e["household_size"]), Uuid::from_u128(0xED17 << 64 | n as u128), Uuid::from_u128(0xB7A4C4 << 64 | n as u128)
            ), Vec::new()));
        }
        out
    }

    /// Visits and checks of one phone's day; the photos go on the first visits.
    fn work(&self, phone: usize, photos: &[Photo]) -> Vec<(&'static str, Value)> {
        let at = |minute: usize| {
            fieldsync_server::clock::rfc3339_of_ms(
                fieldsync_server::clock::now_ms() - 8 * 3_600_000
                    + i64::try_from(minute * 60_000).unwrap_or(0),
            )
        };
        let mut out = Vec::new();
        for n in 0..VISITS {
            let (h, _) = self.households[(phone * 11 + n) % HOUSEHOLDS];
            let purpose = ["routine", "checks", "follow_up", "policy_publicity"][n % 4];
            let mut visit = json!({
                "village_code": VILLAGE, "household_id": h.to_string(),
                "started_at": at(n * 15), "ended_at": at(n * 15 + 12),
                "purpose": purpose,
                "notes": format!("入户走访第 {n} 户：家中 2 人，务工收入稳定，住房和饮水正常，已宣传防返贫监测政策。"),
            });
            if let Some(p) = photos.get(n) {
                visit["photos"] = json!([p.name]);
            }
            out.push(("visit", visit));
        }
        for n in 0..CHECKS {
            let (h, [head, child]) = self.households[(phone * 11 + n) % HOUSEHOLDS];
            let (h, at) = (h.to_string(), at(n * 20 + 5));
            out.push(match n % 4 {
                0 => ("housing_check", json!({"household_id": h, "captured_at": at, "appraisal_grade": "B",
                        "hazards": ["ageing"], "repair_status": "not_needed", "occupied": true})),
                1 => ("water_check", json!({"household_id": h, "captured_at": at, "source": "centralised_tap",
                        "quantity_ok": true, "quality_ok": true, "convenience_ok": true, "supply_guaranteed": true})),
                2 => ("education_check", json!({"household_id": h, "captured_at": at, "member_id": child.to_string(),
                        "status": "enrolled", "school": "兴隆镇中心小学", "grade": "三年级"})),
                _ => ("health_check", json!({"household_id": h, "captured_at": at, "member_id": head.to_string(),
                        "insured": true, "family_doctor_signed": true, "treat_first_pay_later": true})),
            });
        }
        out
    }
}

/// A household edit: the grid and the household's size (fields both apps edit).
fn edit(phone: usize, n: usize) -> Value {
    json!({"grid": format!("{}组", (phone + n) % 6 + 1), "household_size": 2 + (phone + n) % 4})
}

/// A value as an XForm instance writes it.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A fix in the village, as the phone's location API gives it.
fn fix(phone: usize) -> GpsFix {
    GpsFix {
        lat: 35.9650 + phone as f64 * 1e-4,
        lon: 105.7310,
        accuracy_m: 8.0,
        crs: Crs::Wgs84,
        fix_at: time::OffsetDateTime::now_utc() - time::Duration::minutes(30),
        mocked: false,
    }
}
