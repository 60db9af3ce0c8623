//! Wire types and pure sync logic shared by the fieldsync server and phone clients.
//!
//! Nothing in this crate performs IO: it holds the JSON shapes of the HTTP API, the hybrid
//! logical clock, the entity registry (which fields each entity has and how they merge) and the
//! three-way field merge. The server and the reference client both call the same functions, so
//! a phone can predict what the server will do with its edits.

pub mod auth;
pub mod blob;
pub mod client;
pub mod error;
pub mod forms;
pub mod gps;
pub mod hlc;
pub mod labels;
pub mod merge;
pub mod pull;
pub mod push;
pub mod receipt;
pub mod registry;
pub mod role;

pub use error::{ErrorCode, ErrorDetail};
pub use hlc::{Hlc, HlcClock};
pub use push::{Mutation, Op};
pub use role::Role;

/// The version of this wire protocol; the server sends it in the `X-Fieldsync-Protocol` header.
pub const PROTOCOL_VERSION: u32 = 1;
