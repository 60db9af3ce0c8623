//! The reference client: what a phone does to sync with fieldsync, in Rust.
//!
//! [`Api`] speaks the HTTP protocol (login, push, pull) and [`Device`] makes mutations the way
//! a phone must: UUID v7 ids made on the device and every edit stamped by the device's hybrid
//! logical clock. The phone app team reads this crate as the executable specification of
//! client behaviour; the server's tests drive the server through it.

mod api;
mod device;

pub use api::{Api, ClientError};
pub use device::Device;
