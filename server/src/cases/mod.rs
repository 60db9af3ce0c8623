//! Monitoring cases (防止返贫动态监测): the procedure from a report to risk elimination.
//! So far the procedure itself ([`machine`]); the records, self-reports and tasks that drive it
//! are the rest of issue 7.

pub mod machine;
