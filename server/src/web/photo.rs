//! A photo answered over HTTP, the API's and the console's alike: 202 with its state while it
//! is on its way, its rejection as an error, else the bytes (one range if asked) with an `ETag`
//! and cacheable for good, the name being the content. Who may see it is the operations'
//! question (`service::photos`).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::blob::{BlobInfo, BlobState};
use fieldsync_protocol::error::ErrorDetail;

use crate::blobs::{BlobError, original_key, thumb_key};
use crate::service::{Caller, ServiceError, photos};
use crate::state::AppState;

/// A photo as stored (or its thumbnail), if the caller may see it: the API's and the console's.
pub async fn photo(
    state: &AppState,
    caller: &Caller,
    sha256: &str,
    thumb: bool,
    headers: &HeaderMap,
) -> Result<Response, ServiceError> {
    let info = photos::visible(state, caller, sha256).await?;
    if thumb {
        return serve(state, info, &thumb_key(sha256), "image/jpeg", headers).await;
    }
    let content_type = match info.format.as_deref() {
        Some("png") => "image/png",
        _ => "image/jpeg",
    };
    serve(state, info, &original_key(sha256), content_type, headers).await
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
) -> Result<Response, ServiceError> {
    match info.state {
        // Missing: the photo's phone is sending it again.
        BlobState::Receiving | BlobState::Processing | BlobState::Missing => {
            return Ok((StatusCode::ACCEPTED, axum::Json(info)).into_response());
        }
        BlobState::Rejected => {
            let code = match info.reason.as_deref() {
                Some("unsupported_format") => ErrorCode::UnsupportedFormat,
                _ => ErrorCode::BadPhoto,
            };
            return Err(ServiceError::Rejected(ErrorDetail::new(
                code,
                format!(
                    "the photo was not accepted: {}",
                    info.reason.as_deref().unwrap_or("unknown")
                ),
            )));
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
    let Some(size) = blobs
        .store()
        .size(key)
        .await
        .map_err(|e| ServiceError::internal(BlobError::from(e)))?
    else {
        return Err(ServiceError::internal(
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
        .map_err(|e| ServiceError::internal(BlobError::from(e)))?
    else {
        return Err(ServiceError::internal(
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
