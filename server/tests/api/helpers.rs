//! Starting a server on a fresh database, and phones to talk to it.

use std::sync::{Arc, Once};

use fieldsync_client::{Api, Device};
use fieldsync_protocol::Role;
use fieldsync_protocol::pull::Change;
use fieldsync_server::app;
use fieldsync_server::auth::password;
use fieldsync_server::blobs::BlobStore;
use fieldsync_server::config::Settings;
use fieldsync_server::store::{NewUser, Store};
use fieldsync_server::testing::ScratchDatabase;
use fieldsync_server::{clock, telemetry};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use uuid::Uuid;

/// Two villages of one township (兴庆区凤凰北街街道).
pub const VILLAGE_A: &str = "640104001002";
pub const VILLAGE_B: &str = "640104001003";
pub const TOWNSHIP: &str = "640104001";
pub const PASSWORD: &str = "test-password-1";

pub struct TestApp {
    pub base: String,
    pub store: Store,
    /// The database URL, for tests that inspect what is stored.
    pub db_url: String,
    /// The settings the server was started with.
    pub settings: Settings,
    /// The photo service of the server, for running collection in tests.
    pub blobs: fieldsync_server::blobs::Blobs,
    _server: app::Running,
    _db: ScratchDatabase,
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            telemetry::init(Default::default());
        }
    });
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_wrapping_store(tweak, |blob_store| blob_store).await
}

/// [`spawn_app_with`], with the server's blob store seen through `wrap` (a store that fails on
/// purpose, in front of the real one).
pub async fn spawn_app_wrapping_store(
    tweak: impl FnOnce(&mut Settings),
    wrap: impl FnOnce(Arc<dyn BlobStore>) -> Arc<dyn BlobStore> + Send,
) -> TestApp {
    init_logs();
    let db = ScratchDatabase::from_env("FIELDSYNC_TEST_DATABASE_URL", "fieldsync_test")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut settings = Settings {
        database_url: Some(db.url.clone().into()),
        data_dir: db.dir().to_owned(),
        ..Settings::default()
    };
    tweak(&mut settings);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = app::start_wrapping_blob_store(settings.clone(), listener, wrap)
        .await
        .expect("start server");
    TestApp {
        base: server.base_url(),
        store: server.store.clone(),
        db_url: db.url.clone(),
        settings,
        blobs: server.blobs.clone(),
        _server: server,
        _db: db,
    }
}

/// A logged-in phone.
pub struct Phone {
    pub api: Api,
    pub dev: Device,
    pub user_id: Uuid,
}

impl TestApp {
    /// Creates a user with `role`, assigned to `divisions` from today, and returns its username.
    pub async fn user(&self, role: Role, divisions: &[&str]) -> (Uuid, String) {
        self.user_since(role, divisions, &clock::iso(clock::today()))
            .await
    }

    /// Like [`TestApp::user`], assigned from `since` (`YYYY-MM-DD`).
    pub async fn user_since(&self, role: Role, divisions: &[&str], since: &str) -> (Uuid, String) {
        let username = format!(
            "{}-{}",
            role.as_str().replace('_', "-"),
            &Uuid::now_v7().simple().to_string()[20..]
        );
        let hash = password_hash();
        let user = NewUser {
            id: Uuid::now_v7(),
            username: username.clone(),
            password_hash: hash,
            role,
            display_name: None,
        };
        let divisions: Vec<String> = divisions.iter().map(|d| (*d).to_owned()).collect();
        self.store
            .create_user(&user, &divisions, since, clock::now_ms())
            .await
            .expect("create user");
        (user.id, username)
    }

    /// A new user with a phone, logged in.
    pub async fn phone(&self, role: Role, divisions: &[&str]) -> Phone {
        let (user_id, username) = self.user(role, divisions).await;
        self.login(user_id, &username).await
    }

    /// A logged-in phone of a user assigned to `divisions` since `since` (`YYYY-MM-DD`).
    pub async fn phone_since(&self, role: Role, divisions: &[&str], since: &str) -> Phone {
        let (user_id, username) = self.user_since(role, divisions, since).await;
        self.login(user_id, &username).await
    }

    /// Another phone of an existing user.
    pub async fn login(&self, user_id: Uuid, username: &str) -> Phone {
        let dev = Device::new();
        let mut api = Api::new(&self.base, dev.id);
        api.login(username, PASSWORD).await.expect("login");
        Phone { api, dev, user_id }
    }
}

/// Hashing once per test binary: argon2 is slow by design.
fn password_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| password::hash(PASSWORD).expect("hash"))
        .clone()
}

pub fn household(village: &str, head: &str) -> Value {
    json!({"village_code": village, "head_name": head})
}

/// The newest version of each record among `changes`.
pub fn latest(changes: &[Change]) -> std::collections::HashMap<Uuid, &Change> {
    let mut out: std::collections::HashMap<Uuid, &Change> = std::collections::HashMap::new();
    for c in changes {
        match out.get(&c.id) {
            Some(prev) if prev.version >= c.version => {}
            _ => {
                out.insert(c.id, c);
            }
        }
    }
    out
}

/// A GET with the phone's access token, answered in full: status, headers and body bytes (for
/// downloads that are not JSON).
pub async fn get_bytes(
    app: &TestApp,
    phone: &Phone,
    path: &str,
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let res = reqwest::Client::new()
        .get(format!("{}{path}", app.base))
        .bearer_auth(phone.api.access_token().unwrap_or_default())
        .send()
        .await
        .expect("request");
    let (status, headers) = (res.status(), res.headers().clone());
    let body = res.bytes().await.expect("body").to_vec();
    (status, headers, body)
}

/// Writes `n` households straight through the store (no push, no merge), in batches, and
/// returns their ids: for tests that need more households than pushing them would allow.
pub async fn insert_households(store: &Store, village: &str, n: usize, user_id: Uuid) -> Vec<Uuid> {
    use fieldsync_protocol::merge::RecordState;
    use fieldsync_server::store::{RecordWrite, WriteBatch};

    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    for chunk in ids.chunks(2000) {
        let records = chunk
            .iter()
            .map(|id| RecordWrite {
                id: *id,
                entity: "household",
                scope: village.to_owned(),
                state: RecordState {
                    version: 1,
                    fields: household(village, "户")
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                    ..RecordState::default()
                },
                gps: None,
                gps_verdict: None,
                household_id: Some(*id),
                created: true,
                user_id,
            })
            .collect();
        let batch = WriteBatch {
            records,
            ..WriteBatch::new(clock::now_ms())
        };
        let mut tx = store.begin().await.expect("begin");
        tx.write(&batch).await.expect("write");
        tx.commit().await.expect("commit");
    }
    ids
}

/// A server whose photos go to S3, when `FIELDSYNC_TEST_S3_ENDPOINT` names an S3-protocol
/// server (a fresh bucket per test); `None` (and a notice) without one.
pub async fn spawn_app_on_s3() -> Option<TestApp> {
    let s3 = fieldsync_server::testing::s3_test_bucket("fieldsync-test").await?;
    Some(
        spawn_app_with(|settings| {
            settings.blobs.backend = fieldsync_server::config::BlobBackend::S3;
            settings.blobs.s3 = s3;
        })
        .await,
    )
}

/// What a server that died after an upload's last chunk leaves: `bytes` staged in two parts
/// (split at `split`) under the device, with keys as `blobs::staging_prefix` makes them, and the
/// upload counted complete, nothing assembled.
pub async fn stage_finished_upload(
    app: &TestApp,
    device: Uuid,
    name: &str,
    bytes: &[u8],
    split: usize,
) {
    let prefix = format!("staging/{}/{name}/", device.simple());
    let dir = tempfile::tempdir().unwrap();
    for (start, part) in [(0usize, &bytes[..split]), (split, &bytes[split..])] {
        let file = dir.path().join(format!("{start}"));
        std::fs::write(&file, part).unwrap();
        app.blobs
            .store()
            .put_file(&format!("{prefix}{start:012}"), &file)
            .await
            .unwrap();
    }
    let total = bytes.len() as i64;
    app.store
        .set_upload(name, device, total, total, clock::now_ms())
        .await
        .unwrap();
}

/// A small JPEG made here (64×48), different for each `seed`.
pub fn small_jpeg(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, seed])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode a JPEG");
    out.into_inner()
}

/// Runs `$query.$method` on a connection of its own to the app's database, on either engine (a
/// test reaching under the server, as a crash or an old release would have left the data). The
/// query is written once and typed for each engine.
macro_rules! on_database {
    // What a statement reports differs by engine; nobody here reads it.
    ($app:expr, $query:expr, execute) => {{
        use sqlx::Connection;
        if $app.db_url.starts_with("postgres") {
            let mut c = sqlx::PgConnection::connect(&$app.db_url).await.unwrap();
            $query.execute(&mut c).await.unwrap();
        } else {
            let mut c = sqlx::SqliteConnection::connect(&$app.db_url).await.unwrap();
            $query.execute(&mut c).await.unwrap();
        }
    }};
    ($app:expr, $query:expr, $method:ident) => {{
        use sqlx::Connection;
        if $app.db_url.starts_with("postgres") {
            let mut c = sqlx::PgConnection::connect(&$app.db_url).await.unwrap();
            $query.$method(&mut c).await.unwrap()
        } else {
            let mut c = sqlx::SqliteConnection::connect(&$app.db_url).await.unwrap();
            $query.$method(&mut c).await.unwrap()
        }
    }};
}
pub(crate) use on_database;

/// Runs one statement on the app's database, on either engine.
pub async fn execute_sql(app: &TestApp, sql: &'static str) {
    on_database!(app, sqlx::query(sql), execute);
}
