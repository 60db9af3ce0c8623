//! The error shape every endpoint answers with, and the machine-readable codes.
//!
//! A phone branches on `code`, shows `message` to a person, and uses `field` (a path such as
//! `mutations[3].fields.phone`) to point at the input that was wrong.

use serde::{Deserialize, Serialize};

/// Machine-readable error codes. The set only grows; a client must treat an unknown code like
/// `internal`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not valid JSON, or not the JSON shape the endpoint takes.
    InvalidJson,
    /// A query parameter or path segment is malformed.
    InvalidRequest,
    /// The body is larger than the server accepts.
    BodyTooLarge,
    /// A push carries more mutations than the server accepts in one batch.
    BatchTooLarge,
    /// A mutation is not the shape of a mutation (missing `mutation_id`, bad `op` …).
    InvalidMutation,
    /// An id is not a UUID version 7 where one is required.
    InvalidId,
    /// The entity name is not one the server knows.
    UnknownEntity,
    /// A field name is not declared for the entity.
    UnknownField,
    /// A field value has the wrong JSON type.
    InvalidType,
    /// A field value has the right type but is not allowed (enumeration, range, check digit …).
    InvalidValue,
    /// A required field is missing on create, or set to null.
    MissingField,
    /// The field may only be set when the record is created.
    ImmutableField,
    /// The field is written by the server (a check's outcome), never by a phone.
    ServerField,
    /// A survey names a form version the server does not have, or one retired before the
    /// survey was taken.
    UnknownForm,
    /// An update or delete carries no `base_version`.
    BaseVersionRequired,
    /// `base_version` is newer than the record on the server.
    BaseVersionFromFuture,
    /// The record does not exist.
    NotFound,
    /// A create names an id that already exists.
    AlreadyExists,
    /// The id exists as a different entity.
    EntityMismatch,
    /// A referenced record (such as a member's household) does not exist or is deleted.
    UnknownReference,
    /// The village code is not a village the server knows.
    UnknownVillage,
    /// The entity only takes new records; corrections are new records that supersede old ones.
    AppendOnly,
    /// The caller's role may not do this.
    ForbiddenRole,
    /// The record lies outside the villages the caller is assigned to.
    ForbiddenScope,
    /// A farmer's account reports only about the household its own ID-card number belongs to
    /// (as head or member); this report names another household or another person.
    NotYourHousehold,
    /// A farmer's account has no ID-card number on file, so the server cannot tell which
    /// household is theirs; ask the village (the first secretary) to register it.
    IdCardNotOnFile,
    /// The hybrid logical clock stamp is further in the future than the server tolerates.
    HlcInFuture,
    /// The GPS fix is malformed (coordinates out of range, negative accuracy …).
    InvalidGps,
    /// The pull cursor was not issued by this server.
    InvalidCursor,
    /// No or an invalid access token.
    Unauthorized,
    /// The access token has expired; refresh it.
    TokenExpired,
    /// Username or password is wrong.
    InvalidCredentials,
    /// The device in the request is not the device the token was issued to.
    DeviceMismatch,
    /// The device or its session was revoked; log in again.
    DeviceRevoked,
    /// This phone is registered to another account: a login on it is refused and nothing of
    /// that account changes. Ask an administrator to hand the phone over (HTTP 409).
    DeviceTaken,
    /// Too many requests; retry after the `Retry-After` header.
    RateLimited,
    /// The request conflicts with the state on the server (e.g. a conflict already resolved).
    Conflict,
    /// The uploaded bytes do not hash to the name they were sent under; nothing was kept.
    HashMismatch,
    /// A chunk does not start where the server's copy of the upload ends; ask with `HEAD`
    /// (`Upload-Offset`) and send from there.
    UploadOffset,
    /// The device has uploaded as much as it may today.
    QuotaExceeded,
    /// Not a kind of photo the server takes (JPEG and PNG are).
    UnsupportedFormat,
    /// A photo the server will not decode: truncated, corrupt, or more pixels than allowed.
    BadPhoto,
    /// A case step the procedure does not allow from the case's state, or one the caller's role
    /// may not take.
    InvalidTransition,
    /// A step or a task's closing lacks the evidence it needs (a GPS-verified visit, a passing
    /// check, the income above the line …); the message says which.
    EvidenceRequired,
    /// The app is older than the server accepts (`X-Fieldsync-App-Version` below its minimum):
    /// update the app; unsent records stay on the phone. HTTP 426.
    UpgradeRequired,
    /// An error on the server; the request may be retried.
    Internal,
    /// The server cannot serve the request now and will by itself: it is starting or
    /// shutting down, or its database is busy or out of reach. HTTP 503; retry after the
    /// `Retry-After` header (a push that did reach the database is answered `duplicate`).
    Unavailable,
    /// The server's disk is full: nothing of the request was kept. HTTP 503; keep the data on
    /// the phone and retry after the `Retry-After` header; the server recovers by itself once
    /// space is freed.
    StorageFull,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 48] = [
        ErrorCode::InvalidJson,
        ErrorCode::InvalidRequest,
        ErrorCode::BodyTooLarge,
        ErrorCode::BatchTooLarge,
        ErrorCode::InvalidMutation,
        ErrorCode::InvalidId,
        ErrorCode::UnknownEntity,
        ErrorCode::UnknownField,
        ErrorCode::InvalidType,
        ErrorCode::InvalidValue,
        ErrorCode::MissingField,
        ErrorCode::ImmutableField,
        ErrorCode::ServerField,
        ErrorCode::UnknownForm,
        ErrorCode::BaseVersionRequired,
        ErrorCode::BaseVersionFromFuture,
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::EntityMismatch,
        ErrorCode::UnknownReference,
        ErrorCode::UnknownVillage,
        ErrorCode::AppendOnly,
        ErrorCode::ForbiddenRole,
        ErrorCode::ForbiddenScope,
        ErrorCode::NotYourHousehold,
        ErrorCode::IdCardNotOnFile,
        ErrorCode::HlcInFuture,
        ErrorCode::InvalidGps,
        ErrorCode::InvalidCursor,
        ErrorCode::Unauthorized,
        ErrorCode::TokenExpired,
        ErrorCode::InvalidCredentials,
        ErrorCode::DeviceMismatch,
        ErrorCode::DeviceRevoked,
        ErrorCode::DeviceTaken,
        ErrorCode::RateLimited,
        ErrorCode::Conflict,
        ErrorCode::HashMismatch,
        ErrorCode::UploadOffset,
        ErrorCode::QuotaExceeded,
        ErrorCode::UnsupportedFormat,
        ErrorCode::BadPhoto,
        ErrorCode::InvalidTransition,
        ErrorCode::EvidenceRequired,
        ErrorCode::UpgradeRequired,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
        ErrorCode::StorageFull,
    ];

    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidJson => "invalid_json",
            InvalidRequest => "invalid_request",
            BodyTooLarge => "body_too_large",
            BatchTooLarge => "batch_too_large",
            InvalidMutation => "invalid_mutation",
            InvalidId => "invalid_id",
            UnknownEntity => "unknown_entity",
            UnknownField => "unknown_field",
            InvalidType => "invalid_type",
            InvalidValue => "invalid_value",
            MissingField => "missing_field",
            ImmutableField => "immutable_field",
            ServerField => "server_field",
            UnknownForm => "unknown_form",
            BaseVersionRequired => "base_version_required",
            BaseVersionFromFuture => "base_version_from_future",
            NotFound => "not_found",
            AlreadyExists => "already_exists",
            EntityMismatch => "entity_mismatch",
            UnknownReference => "unknown_reference",
            UnknownVillage => "unknown_village",
            AppendOnly => "append_only",
            ForbiddenRole => "forbidden_role",
            ForbiddenScope => "forbidden_scope",
            NotYourHousehold => "not_your_household",
            IdCardNotOnFile => "id_card_not_on_file",
            HlcInFuture => "hlc_in_future",
            InvalidGps => "invalid_gps",
            InvalidCursor => "invalid_cursor",
            Unauthorized => "unauthorized",
            TokenExpired => "token_expired",
            InvalidCredentials => "invalid_credentials",
            DeviceMismatch => "device_mismatch",
            DeviceRevoked => "device_revoked",
            DeviceTaken => "device_taken",
            RateLimited => "rate_limited",
            Conflict => "conflict",
            HashMismatch => "hash_mismatch",
            UploadOffset => "upload_offset",
            QuotaExceeded => "quota_exceeded",
            UnsupportedFormat => "unsupported_format",
            BadPhoto => "bad_photo",
            InvalidTransition => "invalid_transition",
            EvidenceRequired => "evidence_required",
            UpgradeRequired => "upgrade_required",
            Internal => "internal",
            Unavailable => "unavailable",
            StorageFull => "storage_full",
        }
    }
}

/// One error: what went wrong, where, and a sentence for a person.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

impl ErrorDetail {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorDetail {
            code,
            field: None,
            message: message.into(),
        }
    }

    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Prefixes the field path, e.g. `phone` becomes `fields.phone`.
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field.take() {
            Some(f) if f.starts_with('[') => format!("{prefix}{f}"),
            Some(f) => format!("{prefix}.{f}"),
            None => prefix.to_owned(),
        });
        self
    }
}

/// The body of every non-2xx response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_matches_the_serialised_name() {
        for code in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::String(code.as_str().to_owned())
            );
        }
    }

    #[test]
    fn within_builds_paths() {
        let e = ErrorDetail::new(ErrorCode::InvalidValue, "x").at("phone");
        assert_eq!(e.within("fields").field.as_deref(), Some("fields.phone"));
        let e = ErrorDetail::new(ErrorCode::InvalidValue, "x");
        assert_eq!(e.within("hlc").field.as_deref(), Some("hlc"));
    }
}
