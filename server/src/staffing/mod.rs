//! Staffing by village class (分类定村, 宁党厅字〔2021〕18号 §一): which class a village is in
//! ([`category`]), the resident team its class requires, and when a village's team falls short
//! of it, today or on a later day its team changes ([`gaps`]): a two-year rotation must never
//! leave a village without its first secretary or its work team.
//!
//! Pure: the caller loads the assignments and the administrator's designations
//! (`service::staffing`).

pub mod category;
pub mod gaps;

pub use category::{Category, Need};
pub use gaps::{Gap, Post, Posting, Staff, gaps};
