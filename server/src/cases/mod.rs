//! Monitoring cases (防止返贫动态监测) and follow-up tasks: the procedure from a report to risk
//! elimination ([`machine`]) and the rules that turn findings into tasks ([`rules`]). The push
//! applies both (`sync::work`).

pub mod escalate;
pub mod machine;
pub mod rules;
