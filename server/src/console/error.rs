//! The console's one error type and its mapping to pages: a missing sign-in goes to the
//! sign-in page, everything else is a small page in both languages with the reason and the
//! way back. The operations' errors ([`ServiceError`]) keep the status the API answers them
//! with (a client mistake is never a 5xx); a busy database or a full disk is a 503 page saying
//! to try again, with `Retry-After`; internal ones show a generic text and carry their own to
//! the logging middleware.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, html};

use super::i18n::Lang;
use crate::service::ServiceError;
use crate::store::StoreError;
use crate::web::{InternalError, status_of};

#[derive(Debug)]
pub enum ConsoleError {
    /// No sign-in, or it ended: sign in, then come back to `next`.
    SignIn { next: String },
    /// A form without this session's CSRF token, or from another site.
    Csrf,
    /// What the operations answered.
    Service(ServiceError),
    /// A client error already given its status elsewhere: the API's photo handler, which the
    /// console calls until photo access moves onto the operations layer.
    Answered {
        status: StatusCode,
        message: String,
        retry_after_s: Option<u64>,
    },
}

impl From<ServiceError> for ConsoleError {
    fn from(e: ServiceError) -> Self {
        ConsoleError::Service(e)
    }
}

impl From<StoreError> for ConsoleError {
    fn from(e: StoreError) -> Self {
        ConsoleError::Service(e.into())
    }
}

impl ConsoleError {
    pub fn not_found() -> Self {
        ConsoleError::Service(ServiceError::not_found("no such page"))
    }

    pub fn bad(message: impl Into<String>) -> Self {
        ConsoleError::Service(ServiceError::invalid(
            fieldsync_protocol::ErrorCode::InvalidRequest,
            message,
        ))
    }
}

/// A refusal the person at the form can act on (a value that does not fit, a village not theirs,
/// a change that met another one), to show on the form beside what they typed, led by the form's
/// own label of the field it is about (`label` of the refusal's field, when it names one);
/// every other error is the console's error page.
pub fn correctable(
    l: Lang,
    e: ServiceError,
    label: impl Fn(&str) -> Option<&'static str>,
) -> Result<String, ConsoleError> {
    let detail = match e {
        ServiceError::Invalid(d)
        | ServiceError::Rejected(d)
        | ServiceError::Conflict(d)
        | ServiceError::Forbidden(d) => d,
        e => return Err(e.into()),
    };
    Ok(match detail.field.as_deref().and_then(label) {
        Some(label) => format!("{label}{}{}", l.t("：", ": "), detail.message),
        None => detail.message,
    })
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, message, internal, retry_after_s) = match self {
            ConsoleError::SignIn { next } => {
                let target = format!("/console/login?next={}", super::url_encode(&next));
                let mut r = StatusCode::SEE_OTHER.into_response();
                if let Ok(v) = HeaderValue::from_str(&target) {
                    r.headers_mut().insert(header::LOCATION, v);
                }
                return r;
            }
            ConsoleError::Csrf => (
                StatusCode::FORBIDDEN,
                "the form did not carry this sign-in's security token (it is old, or came from another site); open the page again and repeat".to_owned(),
                None,
                None,
            ),
            ConsoleError::Answered {
                status,
                message,
                retry_after_s,
            } => (status, message, None, retry_after_s),
            ConsoleError::Service(e) => {
                let (status, retry_after_s) = (status_of(&e), e.retry_after_s());
                match e.into_detail() {
                    Ok(detail) => (status, detail.message, None, retry_after_s),
                    Err(text) => (
                        status,
                        "internal error; it has been logged".to_owned(),
                        Some(text),
                        None,
                    ),
                }
            }
        };
        let title = match status {
            StatusCode::NOT_FOUND => "找不到 · Not found",
            StatusCode::FORBIDDEN => "不允许 · Not allowed",
            // A busy or unreachable database, a full disk: it passes by itself.
            StatusCode::SERVICE_UNAVAILABLE => "请稍后再试 · Try again shortly",
            s if s.is_server_error() => "服务器出错 · Server error",
            _ => "未完成 · Not done",
        };
        let page = html! {
            (DOCTYPE)
            html lang="zh-CN" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) }
                    link rel="stylesheet" href=(super::assets::CSS_PATH);
                }
                body.error-page {
                    main.card {
                        h1 { (title) }
                        p.message data-testid="error-message" { (message) }
                        p { a href="/console/" { "← 返回首页 · Back to the console" } }
                    }
                }
            }
        };
        let mut response = (status, Html(page.into_string())).into_response();
        if let Some(s) = retry_after_s.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, s);
        }
        if let Some(text) = internal {
            response.extensions_mut().insert(InternalError(text));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A full disk or a busy database is a page saying to try again, with `Retry-After`, as
    /// the API answers it.
    #[tokio::test]
    async fn storage_trouble_is_a_page_saying_try_again() {
        for e in [StoreError::Full, StoreError::Busy] {
            let r = ConsoleError::from(e).into_response();
            assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(r.headers().contains_key(header::RETRY_AFTER));
            assert!(r.extensions().get::<InternalError>().is_none());
            let body = axum::body::to_bytes(r.into_body(), 65536).await.unwrap();
            assert!(String::from_utf8_lossy(&body).contains("Try again shortly"));
        }
    }
}
