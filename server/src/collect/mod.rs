//! The OpenRosa front end: what ODK Collect (and KoboCollect, built on it) speaks to, beside
//! the JSON API and the console, on the same operations (`crate::service`) and the same push
//! pipeline. The protocol's documents and the reading of forms and submissions are pure and
//! live in `crate::openrosa`; this module only wires requests to them.
//!
//! Every path is below a key's base, `/openrosa/key/{key}` (see `service::collect`): the key
//! is the credential, so Collect never prompts for a password and works over plain http on a
//! village LAN. Logs name the route template, never the key.
//!
//! | path below the base | answer |
//! |---|---|
//! | `GET formList` | the forms the caller's role fills (`?formID=` narrows it) |
//! | `GET forms/{id}.xml` | one form, byte for byte what the list's `md5:` hash names |
//! | `GET forms/{id}/manifest` | the form's media: entity lists and `villages.csv` |
//! | `GET media/{file}` | `households.csv`, `members.csv` (entity lists), `villages.csv` |
//! | `GET datasets/{list}/integrity?id=…` | which of the phone's entities are gone for it |
//! | `HEAD`/`GET submission` | `204` with `X-OpenRosa-Accept-Content-Length` (Collect's preflight) |
//! | `POST submission` | a multipart submission, or one part of a split one |
//!
//! Every answer carries `X-OpenRosa-Version: 1.0` (Collect refuses a form list or manifest
//! without it) and `X-OpenRosa-Accept-Content-Length` (Collect splits a submission's files
//! into POSTs no larger). Unknown query parameters (`deviceID`, which Collect adds to every
//! request) are ignored.

mod error;
mod forms;
mod keyed;
mod submission;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;

pub use error::CollectError;

/// Room for the instance XML and the multipart framing beside the largest photo a POST carries.
const XML_ROOM: usize = 4 * 1024 * 1024;

pub fn router(state: &AppState) -> Router<AppState> {
    let photo_max = usize::try_from(state.settings().blobs.max_photo_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/openrosa/key/{key}/formList", get(forms::form_list))
        .route("/openrosa/key/{key}/forms/{form}", get(forms::download))
        .route(
            "/openrosa/key/{key}/forms/{form}/manifest",
            get(forms::manifest),
        )
        .route("/openrosa/key/{key}/media/{file}", get(forms::media))
        .route(
            "/openrosa/key/{key}/datasets/{list}/integrity",
            get(forms::integrity),
        )
        .route(
            "/openrosa/key/{key}/submission",
            get(submission::preflight)
                .head(submission::preflight)
                .post(submission::submit)
                .layer(DefaultBodyLimit::max(photo_max.saturating_add(XML_ROOM))),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            openrosa_headers,
        ))
}

/// The largest POST Collect should send: one photo at the limit, with its instance.
fn accept_length(state: &AppState) -> u64 {
    state.settings().blobs.max_photo_bytes
}

async fn openrosa_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert("x-openrosa-version", HeaderValue::from_static("1.0"));
    h.insert(
        "x-openrosa-accept-content-length",
        HeaderValue::from(accept_length(&state)),
    );
    res
}

/// An XML document as Collect wants it: `text/xml; charset=utf-8` ("Collect is particular
/// about this", Central's form-list tests).
fn xml_response(body: String) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    r
}
