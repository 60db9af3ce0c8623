//! The one error of the operations, in the domain's terms: who may not, what does not exist,
//! what does not fit, what the state forbids, and trouble that passes by itself.
//!
//! Client mistakes carry the contract's `ErrorDetail` (code, message, field path): the code
//! is what a phone or a page acts on. Each front end maps this type to its answers in one
//! place (`http/error.rs` to JSON bodies and statuses, `console/error.rs` to pages), so an
//! operation never decides how it is shown. Internal errors keep their text for the log only.

use fieldsync_protocol::error::{ErrorCode, ErrorDetail};

use crate::store::StoreError;
use crate::sync::push::PushError;
use crate::sync::resolve::ResolveError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No caller, or not this one: wrong credentials, an ended session, a revoked device.
    #[error("{}", .0.message)]
    Unauthenticated(ErrorDetail),
    /// The caller's role or villages do not allow it.
    #[error("{}", .0.message)]
    Forbidden(ErrorDetail),
    /// Unknown, or outside what the caller may see: the two look the same to the caller.
    #[error("{}", .0.message)]
    NotFound(ErrorDetail),
    /// The request is malformed: a value missing, unreadable or out of range.
    #[error("{}", .0.message)]
    Invalid(ErrorDetail),
    /// The request is well-formed but breaks a rule of the data (a value that does not fit its
    /// field, a step the procedure does not allow).
    #[error("{}", .0.message)]
    Rejected(ErrorDetail),
    /// The state forbids it now: already decided, already exists, locked.
    #[error("{}", .0.message)]
    Conflict(ErrorDetail),
    /// Too many attempts; try again after `retry_after_s`.
    #[error("{}", .detail.message)]
    RateLimited {
        detail: ErrorDetail,
        retry_after_s: u64,
    },
    /// The database is busy or out of reach for a moment (contention that outlasted the
    /// retries included): nothing was kept, retry shortly.
    #[error("the server is busy; retry shortly")]
    Busy,
    /// The database's disk is full: nothing was kept and nothing is lost; retry later.
    #[error("the server's storage is full; nothing was saved, retry later")]
    StorageFull,
    /// A fault on the server; the text is for the log, never for the caller.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    pub fn forbidden(code: ErrorCode, message: impl Into<String>) -> Self {
        ServiceError::Forbidden(ErrorDetail::new(code, message))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ServiceError::NotFound(ErrorDetail::new(ErrorCode::NotFound, message))
    }

    pub fn invalid(code: ErrorCode, message: impl Into<String>) -> Self {
        ServiceError::Invalid(ErrorDetail::new(code, message))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        ServiceError::Conflict(ErrorDetail::new(ErrorCode::Conflict, message))
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        ServiceError::Internal(e.to_string())
    }

    /// A client mistake of the kind its code implies (a refused mutation's reason, a
    /// reviewer's decision that does not fit).
    pub fn from_detail(detail: ErrorDetail) -> Self {
        match detail.code {
            ErrorCode::ForbiddenRole | ErrorCode::ForbiddenScope => ServiceError::Forbidden(detail),
            ErrorCode::NotFound => ServiceError::NotFound(detail),
            ErrorCode::Conflict | ErrorCode::AlreadyExists => ServiceError::Conflict(detail),
            ErrorCode::InvalidJson | ErrorCode::InvalidRequest | ErrorCode::InvalidCursor => {
                ServiceError::Invalid(detail)
            }
            _ => ServiceError::Rejected(detail),
        }
    }

    /// The same error about `field` (a path in the request: `comment`, `village`).
    pub fn at(self, field: &str) -> Self {
        use ServiceError as E;
        match self {
            E::Unauthenticated(d) => E::Unauthenticated(d.at(field)),
            E::Forbidden(d) => E::Forbidden(d.at(field)),
            E::NotFound(d) => E::NotFound(d.at(field)),
            E::Invalid(d) => E::Invalid(d.at(field)),
            E::Rejected(d) => E::Rejected(d.at(field)),
            E::Conflict(d) => E::Conflict(d.at(field)),
            E::RateLimited {
                detail,
                retry_after_s,
            } => E::RateLimited {
                detail: detail.at(field),
                retry_after_s,
            },
            other @ (E::Busy | E::StorageFull | E::Internal(_)) => other,
        }
    }

    /// What the caller is told (the code, the message, the field), or, for an internal error,
    /// the text that is for the log only.
    pub fn into_detail(self) -> Result<ErrorDetail, String> {
        match self {
            ServiceError::Unauthenticated(d)
            | ServiceError::Forbidden(d)
            | ServiceError::NotFound(d)
            | ServiceError::Invalid(d)
            | ServiceError::Rejected(d)
            | ServiceError::Conflict(d)
            | ServiceError::RateLimited { detail: d, .. } => Ok(d),
            ServiceError::Busy => Ok(ErrorDetail::new(
                ErrorCode::Unavailable,
                ServiceError::Busy.to_string(),
            )),
            ServiceError::StorageFull => Ok(ErrorDetail::new(
                ErrorCode::StorageFull,
                ServiceError::StorageFull.to_string(),
            )),
            ServiceError::Internal(text) => Err(text),
        }
    }

    /// When trying again makes sense: busy, a moment; a full disk, a minute (retrying every
    /// second would only add load); throttled, when the window ends.
    pub fn retry_after_s(&self) -> Option<u64> {
        match self {
            ServiceError::Busy => Some(1),
            ServiceError::StorageFull => Some(60),
            ServiceError::RateLimited { retry_after_s, .. } => Some(*retry_after_s),
            _ => None,
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Retry | StoreError::Busy => ServiceError::Busy,
            StoreError::Full => ServiceError::StorageFull,
            StoreError::Duplicate(what) => ServiceError::conflict(format!("{what} already exists")),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<PushError> for ServiceError {
    fn from(e: PushError) -> Self {
        let code = match e {
            PushError::Store(s) => return s.into(),
            PushError::UnknownDevice | PushError::DeviceRevoked => ErrorCode::DeviceRevoked,
            PushError::DeviceMismatch => ErrorCode::DeviceMismatch,
            PushError::Session(r) => return super::caller::refused(r),
            // Judged with a role or assignments that are no longer the caller's: the phone sends
            // it again, and that request reads them.
            PushError::CallerChanged => return ServiceError::Busy,
        };
        ServiceError::Unauthenticated(ErrorDetail::new(code, e.to_string()))
    }
}

impl From<ResolveError> for ServiceError {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::Store(s) => s.into(),
            ResolveError::NotFound => ServiceError::not_found("no such conflict"),
            ResolveError::Invalid(d) => ServiceError::from_detail(d),
            ResolveError::AlreadyResolved => ServiceError::conflict(e.to_string()),
        }
    }
}
