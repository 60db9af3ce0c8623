//! What the benchmarks share: a server on a scratch database, and users with a password, made
//! straight through the store and logged in over HTTP like a phone.

use fieldsync_client::{Api, Device};
use fieldsync_protocol::Role;
use fieldsync_server::config::Settings;
use fieldsync_server::store::{NewUser, Store};
use fieldsync_server::testing::ScratchDatabase;
use fieldsync_server::{app, clock};
use tokio::net::TcpListener;
use uuid::Uuid;

/// A server in this process on `db`, real HTTP on a loopback port; `max_connections` when the
/// benchmark needs more database connections than the default.
pub async fn serve(db: &ScratchDatabase, max_connections: Option<u32>) -> app::Running {
    let mut settings = Settings {
        database_url: Some(db.url.clone().into()),
        data_dir: db.dir().to_owned(),
        ..Settings::default()
    };
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
    let dev = Device::new();
    let mut api = Api::new(base, dev.id);
    api.login(name, PASSWORD).await.expect("login");
    (api, dev)
}
