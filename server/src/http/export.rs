//! `GET /v1/export/households.csv` and `GET /v1/export/households.xlsx`: the households of the
//! caller's villages (those below `?division=CODE` when given) with their current check status,
//! personal data disclosed as the caller's role allows (see `crate::export`).
//!
//! Neither response is held in memory. The CSV is streamed as it is made: a task turns one page
//! of households after another into CSV lines and sends them down a small channel, so a slow
//! download slows the reading instead of piling up pages. An XLSX cannot be sent before it is
//! finished (the zip directory comes last), so it is written to an unnamed temporary file on a
//! blocking thread and then streamed from that file. Each page is entered in the audit log
//! before any of it is sent.

use std::io::{Seek, SeekFrom};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::Instrument;

use super::error::ApiError;
use super::extract::{AppQuery, AuthUser};
use crate::export::{self, ExportError, Format, csv_preamble, csv_rows};
use crate::service::ServiceError;
use crate::service::export::{self as export_service, Opened};
use crate::state::AppState;
use fieldsync_protocol::error::ErrorBody;

/// Pieces of a response made ahead of the client: enough to keep the connection busy, few
/// enough that a stalled download holds little memory.
const IN_FLIGHT: usize = 4;

/// Bytes sent per piece of an XLSX file.
const FILE_CHUNK: usize = 64 * 1024;

type Chunk = Result<Bytes, std::io::Error>;

#[derive(utoipa::OpenApi)]
#[openapi(paths(households_csv, households_xlsx))]
pub(super) struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/export/households.csv", get(households_csv))
        .route("/v1/export/households.xlsx", get(households_xlsx))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Params {
    /// A division code of any level; default: all the caller's villages.
    #[param(schema_with = super::openapi::division_code)]
    division: Option<String>,
}

/// The households of the caller's villages (or of one division) as CSV (UTF-8 with a BOM, for
/// Excel), streamed; personal data as the role may see it.
#[utoipa::path(get, operation_id = "exportHouseholdsCsv", path = "/v1/export/households.csv", tag = "export", params(Params),
    responses(
        (status = 200, description = "CSV", body = String, content_type = "text/csv"),
        (status = 403, description = "`forbidden_role` or `forbidden_scope` (`division`)", body = ErrorBody),
        (status = 404, description = "`not_found`: none of the caller's villages lies in this division", body = ErrorBody),
    ))]
async fn households_csv(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(params): AppQuery<Params>,
) -> Result<Response, ApiError> {
    let Opened {
        mut households,
        name,
    } = export_service::households(&state, &auth, params.division.as_deref()).await?;
    // The first page is read before answering, so a failure at the start is a proper error
    // rather than a cut-off download.
    let mut first = csv_preamble().map_err(ApiError::internal)?;
    if let Some(rows) = households.next_page().await? {
        first.extend(csv_rows(&rows).map_err(ApiError::internal)?);
    }
    let (tx, rx) = mpsc::channel::<Chunk>(IN_FLIGHT);
    tokio::spawn(
        async move {
            if tx.send(Ok(first.into())).await.is_err() {
                return;
            }
            loop {
                let page = match households.next_page().await {
                    Ok(None) => return,
                    Ok(Some(rows)) => csv_rows(&rows).map_err(ExportError::from),
                    Err(e) => Err(e.into()),
                };
                let sent = match page {
                    Ok(bytes) => tx.send(Ok(bytes.into())).await,
                    Err(e) => {
                        // An error in the body cuts the download off: the client sees a broken
                        // transfer, never a file that looks complete.
                        tracing::error!(error = %e, "CSV export failed");
                        let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                        return;
                    }
                };
                if sent.is_err() {
                    tracing::info!("CSV export abandoned by the client");
                    return;
                }
            }
        }
        .in_current_span(),
    );
    Ok(attachment(Format::Csv, &name, None, rx))
}

/// The same list as an Excel workbook.
#[utoipa::path(get, operation_id = "exportHouseholdsXlsx", path = "/v1/export/households.xlsx", tag = "export", params(Params),
    responses(
        (status = 200, description = "XLSX", body = super::openapi::Binary, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, description = "`forbidden_role` or `forbidden_scope` (`division`)", body = ErrorBody),
        (status = 404, description = "`not_found`: none of the caller's villages lies in this division", body = ErrorBody),
    ))]
async fn households_xlsx(
    State(state): State<AppState>,
    auth: AuthUser,
    AppQuery(params): AppQuery<Params>,
) -> Result<Response, ApiError> {
    let Opened {
        mut households,
        name,
    } = export_service::households(&state, &auth, params.division.as_deref()).await?;
    let runtime = tokio::runtime::Handle::current();
    let span = tracing::Span::current();
    let file = tokio::task::spawn_blocking(move || {
        let _span = span.enter();
        let mut file = tempfile::tempfile()?;
        export::write_xlsx(&mut households, &runtime, &mut file, |_| {})?;
        file.seek(SeekFrom::Start(0))?;
        Ok::<_, ExportError>(file)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ServiceError::from)?;
    let size = file.metadata().map_err(ApiError::internal)?.len();
    let (tx, rx) = mpsc::channel::<Chunk>(IN_FLIGHT);
    tokio::spawn(send_file(tokio::fs::File::from_std(file), tx).in_current_span());
    Ok(attachment(Format::Xlsx, &name, Some(size), rx))
}

/// A download response whose body is what arrives on `rx`.
fn attachment(
    format: Format,
    name: &str,
    size: Option<u64>,
    rx: mpsc::Receiver<Chunk>,
) -> Response {
    let mut res = Body::from_stream(ReceiverStream::new(rx)).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let disposition = format!("attachment; filename=\"{name}.{}\"", format.extension());
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(size) = size {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    res
}

/// Streams a finished file, a chunk at a time, until it ends or the client goes.
async fn send_file(mut file: tokio::fs::File, tx: mpsc::Sender<Chunk>) {
    loop {
        let mut buf = vec![0; FILE_CHUNK];
        let chunk = match file.read(&mut buf).await {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                Ok(Bytes::from(buf))
            }
            Err(e) => {
                tracing::error!(error = %e, "reading the XLSX export back failed");
                Err(e)
            }
        };
        let failed = chunk.is_err();
        if tx.send(chunk).await.is_err() || failed {
            return;
        }
    }
}
