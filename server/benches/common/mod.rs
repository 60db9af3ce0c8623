//! What the benchmarks share: users with a password, made straight through the store and
//! logged in over HTTP like a phone.

use fieldsync_client::{Api, Device};
use fieldsync_protocol::Role;
use fieldsync_server::clock;
use fieldsync_server::store::{NewUser, Store};
use uuid::Uuid;

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
