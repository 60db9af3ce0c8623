//! Structured logging. `FIELDSYNC_LOG` (or `RUST_LOG`) sets the filter; `log_format = "json"`
//! gives one JSON object per line for collectors.
//!
//! Privacy: nothing here logs request or response bodies, and handlers log ids and counts,
//! never field values (which hold ID-card numbers, phones and illnesses).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::LogFormat;

const DEFAULT_FILTER: &str = "info,sqlx=warn";

pub fn init(format: LogFormat) {
    let filter = std::env::var("FIELDSYNC_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_ansi(std::io::stdout().is_terminal());
    // A second initialisation (tests, embedding) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.with_target(false).try_init(),
    };
}
