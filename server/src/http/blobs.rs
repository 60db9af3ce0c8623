//! Photos over HTTP:
//! - `PUT /v1/blobs/{sha256}`: upload, whole or in chunks with `Content-Range`;
//! - `HEAD /v1/blobs/{sha256}`: how much the server has (`Upload-Offset`), to resume;
//! - `GET /v1/blobs/{sha256}`: the stored original (EXIF removed), with ranges;
//! - `GET /v1/blobs/{sha256}/thumb`: the JPEG thumbnail (202 while it is being made);
//! - `GET /v1/blobs/{sha256}/meta`: state, size, pixels, where and when the camera says.
//!
//! A photo is visible to every device that uploaded it (sent every byte, hashed) and to
//! whoever may read a record linked to it (see `store::blob_links`); to anyone else it does not
//! exist: every answer of `HEAD`, `GET`, `/meta`, `/thumb` and `PUT` is the one a photo the
//! server never had gets. Every answer is sent after the rest of the body was read (within
//! the size limit, see `app::unread`), so clients that write their whole body first read it.
//! Who sees a photo is decided in `service::photos`; the bytes are answered by `web::photo`,
//! as the console's are.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::blob::{BlobInfo, BlobState, is_sha256_hex};
use fieldsync_protocol::error::ErrorBody;

use super::error::ApiError;
use super::extract::{AppJson, AppPath, AuthUser};
use crate::blobs::parse_content_range;
use crate::service::photos;
use crate::state::AppState;
use crate::web::photo::photo;

#[derive(utoipa::OpenApi)]
#[openapi(paths(upload, progress, original, thumbnail, meta))]
pub(super) struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/blobs/{sha256}",
            put(upload).head(progress).get(original),
        )
        .route("/v1/blobs/{sha256}/thumb", get(thumbnail))
        .route("/v1/blobs/{sha256}/meta", get(meta))
}

/// Uploads a photo, whole or a chunk at a time (`Content-Range: bytes 0-65535/1048576`); after
/// a dropped connection, `HEAD` says where to go on. The bytes must hash to the name.
///
/// A photo the server already holds becomes the caller's only when every byte of it was sent. A
/// bodyless `PUT` finishes the caller's own upload whose chunks are all in, or answers what the
/// server has of a photo the caller may already see; for any other photo it gets what a photo
/// the server never had gets. Every answer comes after the rest of the body was read (up to the
/// size limit); with `Expect: 100-continue`, an answer that needs no body comes without it.
#[utoipa::path(put, operation_id = "uploadPhoto", path = "/v1/blobs/{sha256}", tag = "photos", params(("sha256" = String, Path, description = "SHA-256 of the photo's bytes as taken, 64 lower-case hex digits", pattern = "^[0-9a-f]{64}$")),
    request_body(content = super::openapi::Binary, content_type = "application/octet-stream", description = "The photo (JPEG or PNG) or one chunk of it"),
    responses(
        (status = 200, description = "A chunk was stored; more to come", body = BlobInfo, headers(("Upload-Offset" = u64, description = "Bytes held"))),
        (status = 201, description = "Complete and the hash matched (or, bodyless, a photo the caller may see)", body = BlobInfo, headers(("Upload-Offset" = u64, description = "Bytes held"))),
        (status = 409, description = "`upload_offset`: the chunk does not start where the server is (`field` says `upload_offset=N`)", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_format` (HEIC and others)", body = ErrorBody),
        (status = 422, description = "`hash_mismatch` or `bad_photo`", body = ErrorBody),
        (status = 429, description = "`quota_exceeded`: the device's daily upload quota is spent", body = ErrorBody),
    ))]
async fn upload(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(sha256): AppPath<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let chunk = match headers.get(header::CONTENT_RANGE) {
        Some(v) => {
            let text = v.to_str().map_err(|_| {
                ApiError::bad_request(ErrorCode::InvalidRequest, "Content-Range is not text")
            })?;
            Some(parse_content_range(text)?)
        }
        None => None,
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Whether the caller may see the photo already matters only to a bodyless PUT (see
    // `Blobs::put`).
    let visible = chunk.is_none()
        && declared.unwrap_or(0) == 0
        && is_sha256_hex(&sha256)
        && photos::seen(&state, &auth, &sha256).await?.is_some();
    let body = request.into_body().into_data_stream();
    // In a task of its own: when the phone's connection drops, hyper drops this handler, but
    // the part that did arrive must still be stored and counted so the phone can resume.
    // Whatever of the body is left unread when this answers is read by `unread`.
    let blobs = state.blobs().clone();
    let device = auth.device_id;
    let info = tokio::spawn(async move {
        blobs
            .put(&sha256, device, chunk, declared, visible, body)
            .await
    })
    .await
    .map_err(ApiError::internal)??;
    let status = match info.state {
        BlobState::Receiving => StatusCode::OK,
        _ => StatusCode::CREATED,
    };
    let offset = offset_header(&info);
    Ok((status, [offset], AppJson(info)).into_response())
}

fn offset_header(info: &BlobInfo) -> (header::HeaderName, HeaderValue) {
    (
        header::HeaderName::from_static("upload-offset"),
        HeaderValue::from(info.received),
    )
}

/// `HEAD`: 200 with `Upload-Offset` (bytes held), `Upload-Length` and `Blob-State` when the
/// server has any of it; 404 when it has nothing, so the phone starts from byte 0.
#[utoipa::path(head, operation_id = "getUploadProgress", path = "/v1/blobs/{sha256}", tag = "photos", params(("sha256" = String, Path, description = "SHA-256 of the photo's bytes as taken, 64 lower-case hex digits", pattern = "^[0-9a-f]{64}$")),
    responses(
        (status = 200, description = "The server holds some or all of it", headers(
            ("Upload-Offset" = u64, description = "Bytes held"),
            ("Upload-Length" = u64, description = "The whole size, when known"),
            ("Blob-State" = String, description = "`receiving`, `processing`, `ready`, `rejected` or `missing` (send it again from byte 0)"),
        )),
        (status = 404, description = "Nothing of it, or nothing the caller may see (a photo someone else sent is sent whole, as proof): start from byte 0"),
    ))]
async fn progress(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(sha256): AppPath<String>,
) -> Result<Response, ApiError> {
    let info = photos::visible(&state, &auth, &sha256).await?;
    let mut headers = HeaderMap::new();
    let (k, v) = offset_header(&info);
    headers.insert(k, v);
    if let Some(size) = info.size {
        headers.insert("upload-length", HeaderValue::from(size));
    }
    headers.insert(
        "blob-state",
        HeaderValue::from_static(state_name(info.state)),
    );
    Ok((StatusCode::OK, headers).into_response())
}

/// What the server knows of a photo: state, size, pixels, where and when the camera says.
#[utoipa::path(get, operation_id = "getPhotoMeta", path = "/v1/blobs/{sha256}/meta", tag = "photos", params(("sha256" = String, Path, description = "SHA-256 of the photo's bytes as taken, 64 lower-case hex digits", pattern = "^[0-9a-f]{64}$")),
    responses(
        (status = 200, description = "The photo's state", body = BlobInfo),
        (status = 404, description = "`not_found`: unknown, or not the caller's to see", body = ErrorBody),
    ))]
async fn meta(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(sha256): AppPath<String>,
) -> Result<AppJson<BlobInfo>, ApiError> {
    Ok(AppJson(photos::visible(&state, &auth, &sha256).await?))
}

/// The stored photo (EXIF removed), one byte range if asked; cacheable for good.
#[utoipa::path(get, operation_id = "getPhoto", path = "/v1/blobs/{sha256}", tag = "photos", params(("sha256" = String, Path, description = "SHA-256 of the photo's bytes as taken, 64 lower-case hex digits", pattern = "^[0-9a-f]{64}$")),
    responses(
        (status = 200, description = "The photo (JPEG or PNG, as taken)", content(
            (super::openapi::Binary = "image/jpeg"),
            (super::openapi::Binary = "image/png"),
        )),
        (status = 202, description = "Still arriving or being processed, or `missing` (its phone is to send it again)", body = BlobInfo),
        (status = 206, description = "The asked-for range", content(
            (super::openapi::Binary = "image/jpeg"),
            (super::openapi::Binary = "image/png"),
        )),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 416, description = "The range is outside the photo"),
        (status = 422, description = "`bad_photo` or `unsupported_format`: the photo was not accepted", body = ErrorBody),
    ))]
async fn original(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(sha256): AppPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    Ok(photo(&state, &auth, &sha256, false, &headers).await?)
}

/// The JPEG thumbnail.
#[utoipa::path(get, operation_id = "getThumbnail", path = "/v1/blobs/{sha256}/thumb", tag = "photos", params(("sha256" = String, Path, description = "SHA-256 of the photo's bytes as taken, 64 lower-case hex digits", pattern = "^[0-9a-f]{64}$")),
    responses(
        (status = 200, description = "The thumbnail", body = super::openapi::Binary, content_type = "image/jpeg"),
        (status = 202, description = "Still arriving or being processed, or `missing` (its phone is to send it again)", body = BlobInfo),
        (status = 206, description = "The asked-for range", body = super::openapi::Binary, content_type = "image/jpeg"),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 416, description = "The range is outside the thumbnail"),
        (status = 422, description = "`bad_photo` or `unsupported_format`", body = ErrorBody),
    ))]
async fn thumbnail(
    State(state): State<AppState>,
    auth: AuthUser,
    AppPath(sha256): AppPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    Ok(photo(&state, &auth, &sha256, true, &headers).await?)
}

fn state_name(s: BlobState) -> &'static str {
    match s {
        BlobState::Receiving => "receiving",
        BlobState::Processing => "processing",
        BlobState::Ready => "ready",
        BlobState::Rejected => "rejected",
        BlobState::Missing => "missing",
    }
}
