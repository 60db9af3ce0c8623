//! The one mapping of what can go wrong on the OpenRosa side to an answer: a status Collect
//! understands and an `OpenRosaResponse` whose message it shows the cadre, in Chinese first.
//! Client mistakes are 4xx, never 5xx; an internal error's text goes to the log only.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::xml_response;
use crate::blobs::{BlobError, PhotoError};
use crate::openrosa::responses::{self, Nature};
use crate::openrosa::{Kind, Problem};
use crate::service::ServiceError;
use crate::web::{self, InternalError};

#[derive(Debug)]
pub enum CollectError {
    Service(ServiceError),
    /// A submission or form the server cannot take, with the words for the cadre.
    Problem(Problem),
    Blob(BlobError),
    /// Not found on the OpenRosa side (a form or file that is not the caller's).
    NotFound(&'static str, &'static str),
}

impl From<ServiceError> for CollectError {
    fn from(e: ServiceError) -> Self {
        CollectError::Service(e)
    }
}

impl From<Problem> for CollectError {
    fn from(p: Problem) -> Self {
        CollectError::Problem(p)
    }
}

impl From<BlobError> for CollectError {
    fn from(e: BlobError) -> Self {
        CollectError::Blob(e)
    }
}

impl From<crate::store::StoreError> for CollectError {
    fn from(e: crate::store::StoreError) -> Self {
        CollectError::Service(e.into())
    }
}

/// Chinese words for an operation's error, before its English detail.
fn service_words(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::Unauthenticated(_) | ServiceError::Forbidden(_) => "没有权限",
        ServiceError::NotFound(_) => "找不到",
        ServiceError::Invalid(_) | ServiceError::Rejected(_) => "数据有误，未保存",
        ServiceError::Conflict(_) => "与已有数据冲突，未保存",
        ServiceError::RateLimited { .. } => "请求过多，请稍后再发送",
        ServiceError::Busy => "服务器忙，未保存，请稍后再发送",
        ServiceError::StorageFull => "服务器存储已满，未保存，请稍后再发送",
        ServiceError::Internal(_) => "服务器出错，已记录",
    }
}

fn problem_status(kind: Kind) -> StatusCode {
    match kind {
        Kind::Malformed | Kind::Invalid => StatusCode::BAD_REQUEST,
        Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Kind::UnknownForm => StatusCode::NOT_FOUND,
        Kind::MissingAttachment | Kind::Unsupported => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn blob_answer(e: BlobError) -> Result<(StatusCode, String), String> {
    let words = match &e {
        BlobError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "照片太大"),
        BlobError::Quota { .. } => (StatusCode::TOO_MANY_REQUESTS, "今天上传的照片已达上限"),
        BlobError::Incomplete => (StatusCode::BAD_REQUEST, "照片没有传完，请重新发送"),
        BlobError::Photo(PhotoError::Unsupported(_)) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "照片格式不支持（请用JPEG或PNG）",
        ),
        BlobError::Photo(PhotoError::Io(_))
        | BlobError::Store(_)
        | BlobError::Io(_)
        | BlobError::Db(_) => return Err(e.to_string()),
        BlobError::Photo(_) => (StatusCode::UNPROCESSABLE_ENTITY, "照片无法读取"),
        BlobError::BadName(_)
        | BlobError::HashMismatch { .. }
        | BlobError::Offset { .. }
        | BlobError::BadRange(_) => (StatusCode::BAD_REQUEST, "照片有误"),
    };
    Ok((words.0, format!("{}\n{e}", words.1)))
}

impl IntoResponse for CollectError {
    fn into_response(self) -> Response {
        let answer = match self {
            CollectError::Problem(p) => Ok((problem_status(p.kind), p.message())),
            CollectError::NotFound(zh, en) => Ok((StatusCode::NOT_FOUND, format!("{zh}\n{en}"))),
            CollectError::Blob(BlobError::Db(s)) => {
                return CollectError::Service(s.into()).into_response();
            }
            CollectError::Blob(e) => blob_answer(e),
            CollectError::Service(e) => {
                let status = web::status_of(&e);
                let words = service_words(&e);
                let retry = e.retry_after_s();
                match e.into_detail() {
                    Ok(d) => {
                        let mut r = respond(status, &format!("{words}\n{}", d.message));
                        if let Some(s) = retry {
                            r.headers_mut()
                                .insert(axum::http::header::RETRY_AFTER, s.into());
                        }
                        return r;
                    }
                    Err(text) => Err(text),
                }
            }
        };
        match answer {
            Ok((status, message)) => respond(status, &message),
            Err(text) => {
                let mut r = respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "服务器出错，已记录\ninternal error; it has been logged",
                );
                r.extensions_mut().insert(InternalError(text));
                r
            }
        }
    }
}

fn respond(status: StatusCode, message: &str) -> Response {
    let mut r = xml_response(responses::response(Nature::Error, message));
    *r.status_mut() = status;
    r
}
