//! The operations more than one front end performs, below all of them: the JSON API
//! (`crate::http`), the review console (`crate::console`) and the front ends to come each
//! turn a request into a call here and the result into their own answer.
//!
//! Every operation takes the [`Caller`] (made from a live session, whichever way it was
//! presented) and applies the same rules whoever asks: the role's permissions, the caller's
//! villages, disclosure of personal data by role, and the audit of its reading. So a front end
//! cannot show or change more than another would let the same person. Each returns domain
//! results (the JSON API serialises them as they are) and one error type, [`ServiceError`],
//! which says what went wrong in the domain's terms; each front end maps it to its answers in
//! one place.
//!
//! This layer imports neither front end nor the module that assembles them (`crate::app`);
//! it stands on the domain (`crate::sync`, `crate::attendance`, `crate::cases` …), the store
//! and the shared state.

pub mod accounts;
pub mod attendance;
mod audit;
pub mod caller;
pub mod collect;
pub mod conflicts;
pub mod credentials;
pub mod disclosure;
mod error;
pub mod export;
pub mod forms;
pub mod household_file;
pub mod households;
pub mod photos;
pub mod push;
pub mod roster;
pub mod staffing;
pub mod work;

pub use caller::Caller;
pub use error::ServiceError;
