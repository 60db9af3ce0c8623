//! OpenRosa, the protocol ODK Collect (and KoboCollect) speaks: the pure parts, with no HTTP,
//! database or console behind them. Values in, values out, so the HTTP routes only wire
//! requests to these functions.
//!
//! - [`xml`]: a safe XML reader and the writer for what the server answers.
//! - [`xform`]: XForms generated from the entity registry and from survey form definitions,
//!   and the reading of any XForm's binds (what a submission's values mean).
//! - [`instance`]: a submitted instance → what it says (ids, meta, typed values, geopoints,
//!   attachments, entity actions).
//! - [`mapping`]: that meaning → the native push mutations.
//! - [`entities`]: households, members and villages as CSV form media.
//! - [`responses`]: form list, manifest and `OpenRosaResponse` documents.
//! - [`problem`]: errors, in Chinese for the cadre and in English.

pub mod entities;
pub mod ids;
pub mod instance;
pub mod labels;
pub mod mapping;
pub mod problem;
pub mod responses;
pub mod xform;
pub mod xml;

pub use problem::{Kind, Problem};

#[cfg(test)]
mod golden_tests;
