//! The JSON API the phones use: one router per resource, merged here. A thin adapter: each
//! handler reads the request, calls the operation (`crate::service`) and answers JSON.

mod attendance;
mod audit;
mod auth;
// The console serves photos through `blobs::photo` until photo access moves onto the
// operations layer.
pub(crate) mod blobs;
mod conflicts;
mod devices;
pub mod error;
mod export;
pub mod extract;
mod health;
mod households;
pub mod openapi;
mod reports;
mod sync;
mod work;

use axum::Router;

use crate::state::AppState;

pub const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The API's routes, one router per resource. The layers every request goes through (body
/// and header limits, compression, request span, version headers …) are laid over this and
/// the console together where the application is assembled (`crate::app::router`).
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(auth::router())
        .merge(sync::router())
        .merge(conflicts::router())
        .merge(devices::router())
        .merge(audit::router())
        .merge(households::router())
        .merge(export::router())
        .merge(blobs::router())
        .merge(attendance::router())
        .merge(reports::router())
        .merge(work::router())
        .merge(openapi::router())
}
