//! The reference client: what a phone does to sync with fieldsync, in Rust.
//!
//! [`Api`] speaks the HTTP protocol (login, push, pull) and [`Device`] makes mutations the way
//! a phone must: UUID v7 ids made on the device and every edit stamped by the device's hybrid
//! logical clock. The phone app team reads this crate as the executable specification of
//! client behaviour; the server's tests drive the server through it.

mod api;
mod device;
pub mod replica;
pub mod sim;

pub use api::{Api, CLIENT_VERSION, ClientError};
pub use device::Device;
pub use replica::{Replica, ReplicaError, SyncReport};

/// The name of a photo: the SHA-256 of its bytes as the camera wrote them, in lower-case hex.
/// Records list these names in `photos`; `Api::upload_photo` sends the bytes under them.
pub fn photo_name(bytes: &[u8]) -> String {
    use sha2::Digest;
    use std::fmt::Write;
    sha2::Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
