//! Photos that must never be lost: a photo answered `201` survives the blob store failing for
//! a while (it is retried, with its uploaded bytes kept, until the store is back), a photo
//! whose uploaded bytes are gone is asked for again (`missing`) and comes back with the
//! phone's next upload, and the photos earlier versions gave up on come back with the upgrade.
//!
//! The outage is a [`FailingStore`] in front of the server's real store (local disk, and S3
//! when `FIELDSYNC_TEST_S3_ENDPOINT` names an S3-protocol server), refusing every write of a
//! processed photo until it is told to recover.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use fieldsync_protocol::Role;
use fieldsync_protocol::blob::{BlobInfo, BlobState};
use fieldsync_server::blobs::{BlobStore, BlobStoreError, Listed, Object};
use fieldsync_server::config::{BlobBackend, Settings};
use reqwest::StatusCode;

use crate::helpers::*;
// A photo's name, as phones make it.
use fieldsync_client::photo_name as sha;

/// Waits short enough for a test: 20 ms doubling up to 200 ms (5 s up to 15 min in service).
fn quick_retries(s: &mut Settings) {
    s.blobs.retry_first_ms = 20;
    s.blobs.retry_max_ms = 200;
}

/// The switch of a [`FailingStore`]: on from the start, until `recover`.
#[derive(Clone)]
struct Outage {
    on: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
}

impl Outage {
    fn start() -> Outage {
        Outage {
            on: Arc::new(AtomicBool::new(true)),
            refused: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn recover(&self) {
        self.on.store(false, Ordering::SeqCst);
    }

    /// Writes refused so far: one per processing attempt (the original is written first).
    fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    /// Puts a [`FailingStore`] switched by this outage in front of the server's store.
    fn wrap(&self) -> impl FnOnce(Arc<dyn BlobStore>) -> Arc<dyn BlobStore> + Send + use<> {
        let outage = self.clone();
        move |inner| Arc::new(FailingStore { inner, outage })
    }
}

/// A blob store whose writes of processed photos (`originals/`, `thumbs/`) fail during an
/// outage, as a full disk or an S3 endpoint answering 503 would; uploads still arrive.
struct FailingStore {
    inner: Arc<dyn BlobStore>,
    outage: Outage,
}

#[async_trait::async_trait]
impl BlobStore for FailingStore {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn put_file(&self, key: &str, file: &Path) -> Result<(), BlobStoreError> {
        let processed = key.starts_with("originals/") || key.starts_with("thumbs/");
        if processed && self.outage.on.load(Ordering::SeqCst) {
            self.outage.refused.fetch_add(1, Ordering::SeqCst);
            return Err(BlobStoreError::Io(std::io::Error::other(
                "no space left on device (test outage)",
            )));
        }
        self.inner.put_file(key, file).await
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, BlobStoreError> {
        self.inner.size(key).await
    }

    async fn get(
        &self,
        key: &str,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<Option<Object>, BlobStoreError> {
        self.inner.get(key, range).await
    }

    async fn fetch_to_file(&self, key: &str, out: &Path) -> Result<bool, BlobStoreError> {
        self.inner.fetch_to_file(key, out).await
    }

    async fn delete(&self, key: &str) -> Result<(), BlobStoreError> {
        self.inner.delete(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, BlobStoreError> {
        self.inner.list(prefix).await
    }

    async fn check(&self) -> Result<(), BlobStoreError> {
        self.inner.check().await
    }
}

async fn put(app: &TestApp, p: &Phone, name: &str, body: Vec<u8>) -> (StatusCode, BlobInfo) {
    let res = reqwest::Client::new()
        .put(format!("{}/v1/blobs/{name}", app.base))
        .bearer_auth(p.api.access_token().unwrap_or_default())
        .body(body)
        .send()
        .await
        .expect("request");
    let status = res.status();
    (status, res.json().await.expect("a BlobInfo"))
}

async fn meta(p: &Phone, name: &str) -> BlobInfo {
    p.api
        .get_json(&format!("/v1/blobs/{name}/meta"))
        .await
        .expect("meta")
}

/// Polls `what` every 10 ms until it holds, for at most 10 s.
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..1000 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("still not {what} after 10 s");
}

/// Upload during an outage of the processed-photo store: `201`, then attempt after attempt
/// fails while the photo stays `processing` with its uploaded bytes kept (a re-upload is
/// answered `201 processing`, not `rejected`); once the store is back the photo is ready and
/// served.
async fn survives_an_outage(app: &TestApp, outage: &Outage) {
    let p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let bytes = small_jpeg(1);
    let name = sha(&bytes);
    let (status, info) = put(app, &p, &name, bytes.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{info:?}");

    // Well past the five attempts within ~40 ms after which the photo used to be given up.
    until("failed 8 times", async || outage.refused() >= 8).await;
    let info = meta(&p, &name).await;
    assert_eq!(info.state, BlobState::Processing, "{info:?}");
    assert_eq!(info.reason, None);
    let incoming = format!("incoming/{name}");
    assert!(
        app.blobs.store().size(&incoming).await.unwrap().is_some(),
        "the uploaded bytes are kept until the photo is processed"
    );
    let (status, _, _) = get_bytes(app, &p, &format!("/v1/blobs/{name}")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, again) = put(app, &p, &name, bytes.clone()).await;
    assert_eq!(
        (status, again.state),
        (StatusCode::CREATED, BlobState::Processing)
    );

    outage.recover();
    until("ready", async || {
        meta(&p, &name).await.state == BlobState::Ready
    })
    .await;
    let (status, headers, stored) = get_bytes(app, &p, &format!("/v1/blobs/{name}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/jpeg");
    let decoded = image::load_from_memory(&stored).expect("the stored photo decodes");
    assert_eq!((decoded.width(), decoded.height()), (64, 48));
    let (status, _, _) = get_bytes(app, &p, &format!("/v1/blobs/{name}/thumb")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        app.blobs.store().size(&incoming).await.unwrap().is_none(),
        "the uploaded bytes go once the photo is ready"
    );
}

#[tokio::test]
async fn a_photo_survives_an_outage_of_the_local_store() {
    let outage = Outage::start();
    let app = spawn_app_wrapping_store(quick_retries, outage.wrap()).await;
    survives_an_outage(&app, &outage).await;
}

#[tokio::test]
async fn a_photo_survives_an_outage_of_s3() {
    let Some(s3) = fieldsync_server::testing::s3_test_bucket("fieldsync-test").await else {
        return;
    };
    let outage = Outage::start();
    let app = spawn_app_wrapping_store(
        |s| {
            quick_retries(s);
            s.blobs.backend = BlobBackend::S3;
            s.blobs.s3 = s3;
        },
        outage.wrap(),
    )
    .await;
    survives_an_outage(&app, &outage).await;
}

/// The uploaded bytes of a photo in the queue disappear: after a few attempts the photo is
/// `missing` (not `corrupt`), `HEAD` tells the phone to send it from byte 0, and the upload
/// that follows puts it back in the queue; it is ready once the store is back.
#[tokio::test]
async fn a_photo_whose_bytes_are_gone_is_asked_for_again() {
    let outage = Outage::start();
    let app = spawn_app_wrapping_store(quick_retries, outage.wrap()).await;
    let p = app.phone(Role::GridWorker, &[VILLAGE_A]).await;
    let bytes = small_jpeg(2);
    let name = sha(&bytes);
    assert_eq!(
        put(&app, &p, &name, bytes.clone()).await.0,
        StatusCode::CREATED
    );
    until("tried", async || outage.refused() >= 1).await;
    app.blobs
        .store()
        .delete(&format!("incoming/{name}"))
        .await
        .unwrap();

    until("missing", async || {
        meta(&p, &name).await.state == BlobState::Missing
    })
    .await;
    let info = meta(&p, &name).await;
    assert_eq!(
        (info.received, info.reason.as_deref()),
        (0, None),
        "{info:?}"
    );
    assert_eq!(p.api.photo_offset(&name).await.unwrap(), 0);
    let (status, _, _) = get_bytes(&app, &p, &format!("/v1/blobs/{name}")).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // The phone's upload (in chunks, as the reference client sends after HEAD) brings it back.
    let info = p.api.upload_photo(&name, &bytes, 700).await.unwrap();
    assert_eq!(info.state, BlobState::Processing, "{info:?}");
    outage.recover();
    until("ready", async || {
        meta(&p, &name).await.state == BlobState::Ready
    })
    .await;
    let (status, _, _) = get_bytes(&app, &p, &format!("/v1/blobs/{name}")).await;
    assert_eq!(status, StatusCode::OK);
}

/// The queue as the workers see it: a photo released after a failed attempt is held back
/// until its retry is due (or its phone sends it again), a `missing` one is looked at again
/// when due, and a re-upload puts it back in the queue and ends any claim on it, so that a
/// worker that found the bytes absent a moment before changes nothing.
#[tokio::test]
async fn the_queue_holds_a_failed_photo_back_until_it_is_due() {
    let (_db, settings) = scratch().await;
    // The store alone, without a server whose workers would take the photo.
    let store = fieldsync_server::app::open_store(&settings).await.unwrap();
    let name = sha(&small_jpeg(5));
    let t = fieldsync_server::clock::now_ms();
    let lease = |now: i64| now - 30_000;
    store
        .add_blob(&name, 10, uuid::Uuid::now_v7(), t)
        .await
        .unwrap();

    let row = store.claim_blob("w1", t, lease(t)).await.unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.attempts), ("processing", 1));
    store.release_blob(&name, "w1", t + 60_000).await.unwrap();
    let claim = async |who: &str, now: i64| store.claim_blob(who, now, lease(now)).await.unwrap();
    assert!(claim("w2", t + 1).await.is_none(), "not due yet");
    assert!(store.retry_blob_now(&name).await.unwrap(), "sent again");
    let row = claim("w2", t + 2).await.unwrap();
    assert_eq!(row.attempts, 2);

    store.blob_missing(&name, "w2", t + 60_000).await.unwrap();
    assert_eq!(store.blob(&name).await.unwrap().unwrap().state, "missing");
    assert!(
        !store.retry_blob_now(&name).await.unwrap(),
        "a missing photo needs its bytes"
    );
    assert!(claim("w3", t + 3).await.is_none(), "not due yet");
    assert_eq!(claim("w3", t + 60_000).await.unwrap().attempts, 3);

    store.requeue_blob(&name).await.unwrap();
    store.blob_missing(&name, "w3", t + 60_000).await.unwrap();
    let facts = fieldsync_server::store::BlobFacts::default();
    assert!(!store.blob_ready(&name, "w3", &facts, t).await.unwrap());
    let row = store.blob(&name).await.unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.attempts), ("processing", 0));
    let row = claim("w4", t + 4).await.unwrap();
    assert!(store.blob_ready(&name, "w4", &facts, t + 5).await.unwrap());
    assert_eq!(
        store.blob(&row.sha256).await.unwrap().unwrap().state,
        "ready"
    );
}

/// A fresh database (kept while the first is held) and settings for a server on it, with
/// quick retries.
async fn scratch() -> (fieldsync_server::testing::ScratchDatabase, Settings) {
    let db = fieldsync_server::testing::ScratchDatabase::from_env(
        "FIELDSYNC_TEST_DATABASE_URL",
        "fieldsync_test",
    )
    .await
    .unwrap();
    let mut settings = Settings {
        database_url: Some(db.url.clone().into()),
        data_dir: db.dir().to_owned(),
        ..Settings::default()
    };
    quick_retries(&mut settings);
    (db, settings)
}

/// Rows as the version before migration 0013 left them: a photo given up after five failed
/// attempts (its uploaded bytes kept), one rejected as corrupt because its bytes were gone, and
/// one rejected for itself. The upgrade processes the first, asks for the second again and
/// leaves the third alone.
#[tokio::test]
async fn photos_given_up_by_earlier_versions_come_back() {
    let (db, settings) = scratch().await;
    let given_up = small_jpeg(3);
    let (given_up_sha, gone_sha, bad_sha) =
        (sha(&given_up), sha(&small_jpeg(4)), sha(b"not a photo"));
    let rows = [
        (
            given_up_sha.as_str(),
            "processing_failed",
            "the server could not process this photo",
        ),
        (
            gone_sha.as_str(),
            "corrupt",
            "image is corrupt: the uploaded bytes are gone from the blob store",
        ),
        (
            bad_sha.as_str(),
            "corrupt",
            "image is corrupt: invalid JPEG marker",
        ),
    ];
    before_0013(&db.url, &rows).await;
    let photos = db.dir().join("photos");
    let local = fieldsync_server::blobs::LocalDisk::new(photos).unwrap();
    let file = db.dir().join("given-up.jpg");
    std::fs::write(&file, &given_up).unwrap();
    local
        .put_file(&format!("incoming/{given_up_sha}"), &file)
        .await
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = fieldsync_server::app::start(settings, listener)
        .await
        .unwrap();
    let state = async |sha: &str| server.store.blob(sha).await.unwrap().unwrap().state;
    until("processed", async || state(&given_up_sha).await == "ready").await;
    assert!(
        server
            .blobs
            .store()
            .size(&fieldsync_server::blobs::original_key(&given_up_sha))
            .await
            .unwrap()
            .is_some()
    );
    until("missing", async || state(&gone_sha).await == "missing").await;
    let bad = server.store.blob(&bad_sha).await.unwrap().unwrap();
    assert_eq!(
        (bad.state.as_str(), bad.reason.as_deref()),
        ("rejected", Some("corrupt"))
    );
}

/// Brings a fresh database to the schema before migration 0013 and writes `rows` (name,
/// reason, detail) as rejected photos.
async fn before_0013(url: &str, rows: &[(&str, &str, &str)]) {
    let now = fieldsync_server::clock::now_ms();
    let device = uuid::Uuid::now_v7();
    // The same statements on either engine's pool (of different types).
    macro_rules! seed {
        ($pool:expr, $migrations:literal) => {{
            let pool = $pool;
            sqlx::migrate!($migrations).run_to(12, &pool).await.unwrap();
            for (sha, reason, detail) in rows {
                sqlx::query(
                    "INSERT INTO blobs (sha256, state, size, uploaded_by, uploaded_at,
                         touched_at, attempts, processed_at, reason, detail)
                     VALUES ($1, 'rejected', 1000, $2, $3, $3, 5, $3, $4, $5)",
                )
                .bind(sha)
                .bind(device)
                .bind(now)
                .bind(reason)
                .bind(detail)
                .execute(&pool)
                .await
                .unwrap();
            }
            pool.close().await;
        }};
    }
    if url.starts_with("postgres") {
        seed!(
            sqlx::PgPool::connect(url).await.unwrap(),
            "./migrations/postgres"
        );
    } else {
        let file = std::str::FromStr::from_str(url)
            .map(|o: sqlx::sqlite::SqliteConnectOptions| o.create_if_missing(true));
        seed!(
            sqlx::SqlitePool::connect_with(file.unwrap()).await.unwrap(),
            "./migrations/sqlite"
        );
    }
}
