//! The sync domain: what a push does (validate, deduplicate, merge, write), what a pull
//! returns (cursor and scopes), and how a reviewer resolves a conflict. The operations that
//! call it for a caller are in `crate::service`, the front ends above them; SQL in
//! `crate::store`.

mod actor;
mod batch;
pub mod cursor;
pub mod group;
mod household;
mod observe;
mod plan;
pub mod pull;
pub mod push;
pub mod resolve;
mod retry;
mod travel;
mod validate;
mod work;

pub use actor::{Actor, SessionCheck};
pub(crate) use household::household_of;
