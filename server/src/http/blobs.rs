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

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::blob::{BlobInfo, BlobState, is_sha256_hex};
use fieldsync_protocol::error::ErrorBody;

use super::error::ApiError;
use super::extract::{AppJson, AppPath, AuthUser};
use super::sync::actor;
use crate::access::{self, Action};
use crate::app::AppState;
use crate::blobs::{BlobError, original_key, parse_content_range, thumb_key};
use crate::store::BlobRow;

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
        && seen(&state, &auth, &sha256).await?.is_some();
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
    let info = visible(&state, &auth, &sha256).await?;
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
    Ok(AppJson(visible(&state, &auth, &sha256).await?))
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
    photo(&state, &auth, &sha256, false, &headers).await
}

/// A photo as stored (or its thumbnail), if the caller may see it: the API's and the console's.
pub(crate) async fn photo(
    state: &AppState,
    auth: &AuthUser,
    sha256: &str,
    thumb: bool,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let info = visible(state, auth, sha256).await?;
    if thumb {
        return serve(state, info, &thumb_key(sha256), "image/jpeg", headers).await;
    }
    let content_type = match info.format.as_deref() {
        Some("png") => "image/png",
        _ => "image/jpeg",
    };
    serve(state, info, &original_key(sha256), content_type, headers).await
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
    photo(&state, &auth, &sha256, true, &headers).await
}

/// What the caller may know of the blob; 404 when it is not theirs to see, exactly as for a
/// blob the server has never had, except for the caller's own upload in progress.
async fn visible(state: &AppState, auth: &AuthUser, sha256: &str) -> Result<BlobInfo, ApiError> {
    if !is_sha256_hex(sha256) {
        return Err(BlobError::BadName(sha256.to_owned()).into());
    }
    let seen = seen(state, auth, sha256).await?;
    state
        .blobs()
        .info(sha256, auth.device_id, seen.as_ref())
        .await?
        .ok_or_else(|| ApiError::not_found("no such photo"))
}

/// The blob's row, if the server has it and the caller may see it: their device sent it, or
/// a record they may read links to it (see `store::blob_links`).
async fn seen(
    state: &AppState,
    auth: &AuthUser,
    sha256: &str,
) -> Result<Option<BlobRow>, ApiError> {
    let store = state.store();
    let Some(row) = store.blob(sha256).await? else {
        return Ok(None);
    };
    if store
        .is_blob_owner(sha256, auth.device_id, auth.user_id)
        .await?
    {
        return Ok(Some(row));
    }
    let references = store.blob_references(sha256).await?;
    if references.is_empty() {
        return Ok(None);
    }
    let actor = actor(state, auth).await?;
    let readable = references.iter().any(|r| {
        actor.villages.contains(&r.scope) && access::allowed(auth.role, &r.entity, Action::Read)
    });
    Ok(readable.then_some(row))
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

/// Streams a stored object: 202 with the blob's state while it is being processed, the
/// rejection as an error, else the bytes (one range if asked), cacheable for good: the name is
/// the content.
async fn serve(
    state: &AppState,
    info: BlobInfo,
    key: &str,
    content_type: &'static str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    match info.state {
        // Missing: the photo's phone is sending it again.
        BlobState::Receiving | BlobState::Processing | BlobState::Missing => {
            return Ok((StatusCode::ACCEPTED, AppJson(info)).into_response());
        }
        BlobState::Rejected => {
            let code = match info.reason.as_deref() {
                Some("unsupported_format") => ErrorCode::UnsupportedFormat,
                _ => ErrorCode::BadPhoto,
            };
            return Err(ApiError::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                format!(
                    "the photo was not accepted: {}",
                    info.reason.as_deref().unwrap_or("unknown")
                ),
            ));
        }
        BlobState::Ready => {}
    }
    let etag = format!("\"{}\"", info.sha256);
    let cache = [
        (header::ETAG, etag.clone()),
        (
            header::CACHE_CONTROL,
            "private, max-age=31536000, immutable".to_owned(),
        ),
        (header::ACCEPT_RANGES, "bytes".to_owned()),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    let blobs = state.blobs();
    let Some(size) = blobs.store().size(key).await.map_err(BlobError::from)? else {
        return Err(ApiError::internal(
            "a ready photo is missing from the blob store",
        ));
    };
    let wanted = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(r) => match byte_range(r, size) {
            Some(range) => Some(range),
            None => {
                return Ok((
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{size}"))],
                )
                    .into_response());
            }
        },
        None => None,
    };
    let Some(object) = blobs
        .store()
        .get(key, wanted.clone())
        .await
        .map_err(BlobError::from)?
    else {
        return Err(ApiError::internal(
            "a ready photo is missing from the blob store",
        ));
    };
    let mut response = Response::new(Body::from_stream(object.body));
    if wanted.is_some() {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    let h = response.headers_mut();
    for (k, v) in cache {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    match wanted {
        Some(r) => {
            let value = format!("bytes {}-{}/{}", r.start, r.end - 1, object.size);
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(header::CONTENT_RANGE, v);
            }
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(r.end - r.start));
        }
        None => {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(object.size));
        }
    }
    Ok(response)
}

/// One range of `bytes=a-b`, `bytes=a-` or `bytes=-n`, as `start..end` (end exclusive);
/// `None` when it cannot be satisfied. Several ranges are answered with the first.
fn byte_range(value: &str, size: u64) -> Option<std::ops::Range<u64>> {
    let spec = value
        .trim()
        .strip_prefix("bytes=")?
        .split(',')
        .next()?
        .trim();
    let (a, b) = spec.split_once('-')?;
    let range = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            size.saturating_sub(n)..size
        }
        (a, "") => a.parse().ok()?..size,
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            a..b.saturating_add(1).min(size)
        }
    };
    (range.start < range.end && range.start < size).then_some(range)
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges() {
        assert_eq!(byte_range("bytes=0-99", 1000), Some(0..100));
        assert_eq!(byte_range("bytes=900-", 1000), Some(900..1000));
        assert_eq!(byte_range("bytes=-100", 1000), Some(900..1000));
        assert_eq!(byte_range("bytes=990-2000", 1000), Some(990..1000));
        assert_eq!(byte_range("bytes=1000-", 1000), None);
        assert_eq!(byte_range("bytes=5-1", 1000), None);
        assert_eq!(byte_range("items=0-1", 1000), None);
        assert_eq!(byte_range("bytes=0-0,5-9", 1000), Some(0..1));
    }
}
