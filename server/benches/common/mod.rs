//! What the benchmarks share: a server on a scratch database, and users with a password, made
//! straight through the store and logged in over HTTP like a phone.

pub mod console;
pub mod raw_insert;
pub mod roster_file;

use fieldsync_client::{Api, Device};
use fieldsync_protocol::Role;
use fieldsync_server::config::Settings;
use fieldsync_server::store::{NewUser, Store};
use fieldsync_server::testing::ScratchDatabase;
use fieldsync_server::{app, clock};
use tokio::net::TcpListener;
use uuid::Uuid;

/// The settings of a server on `db`, the rest default.
pub fn settings(db: &ScratchDatabase) -> Settings {
    Settings {
        database_url: Some(db.url.clone().into()),
        data_dir: db.dir().to_owned(),
        ..Settings::default()
    }
}

/// The store on `db`, migrated and loaded with the division list, for benchmarks that call
/// the library without a server; with the settings it was opened with. (Benchmarks that start
/// a server do not call it: each bench is its own crate.)
#[allow(dead_code)]
pub async fn open(db: &ScratchDatabase) -> (Settings, Store) {
    let settings = settings(db);
    let store = app::open_store(&settings).await.expect("open");
    app::prepare(&store).await.expect("prepare");
    (settings, store)
}

/// A server in this process on `db`, real HTTP on a loopback port; `max_connections` when the
/// benchmark needs more database connections than the default.
pub async fn serve(db: &ScratchDatabase, max_connections: Option<u32>) -> app::Running {
    let mut settings = settings(db);
    if let Some(n) = max_connections {
        settings.max_connections = n;
    }
    app::start(
        settings,
        TcpListener::bind("127.0.0.1:0").await.expect("bind"),
    )
    .await
    .expect("start")
}

/// The password of every benchmark user.
pub const PASSWORD: &str = "bench-password";

/// Creates a user assigned to `division` from today (with `hash`, the hash of [`PASSWORD`],
/// made once) and logs a new device in as them.
pub async fn login(
    store: &Store,
    base: &str,
    hash: &str,
    name: &str,
    role: Role,
    division: &str,
) -> (Api, Device) {
    create_user(store, hash, name, role, division).await;
    let dev = Device::new();
    let mut api = Api::new(base, dev.id);
    api.login(name, PASSWORD).await.expect("login");
    (api, dev)
}

/// Creates a user assigned to `division` from today, with `hash` (of [`PASSWORD`]).
pub async fn create_user(store: &Store, hash: &str, name: &str, role: Role, division: &str) {
    let user = NewUser {
        id: Uuid::now_v7(),
        username: name.into(),
        password_hash: hash.into(),
        role,
        display_name: None,
    };
    store
        .create_user(
            &user,
            &[division.to_owned()],
            &clock::iso(clock::today()),
            clock::now_ms(),
        )
        .await
        .expect("user");
}

/// A benchmark's setting from the environment (a smaller run for a quick look), else `default`.
pub fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
