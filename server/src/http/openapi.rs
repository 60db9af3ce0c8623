//! The OpenAPI 3.1 document of the HTTP API.
//!
//! Each resource module describes its own operations next to its router (`#[utoipa::path]` on
//! the handler, `ToSchema` on the types it answers with); this module merges them and adds what
//! every operation shares: the bearer login, the phone's health headers and the error body.
//! The document is served at `GET /v1/openapi.json` and committed as
//! `mobile-contract/openapi.json`; `server/tests/api/openapi.rs` fails when the two differ.

use axum::Router;
use axum::routing::get;
use fieldsync_protocol::client::{APP_VERSION_HEADER, OLDEST_UNSENT_HEADER, OUTBOX_DEPTH_HEADER};
use fieldsync_protocol::error::ErrorBody;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder, ServerBuilder};
use utoipa::{OpenApi as _, PartialSchema, ToSchema};

use super::extract::AppJson;
use super::{
    attendance, audit, auth, blobs, conflicts, devices, export, health, households, reports, sync,
    work,
};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/openapi.json", get(document))
}

/// Raw bytes: a photo, a spreadsheet.
pub struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for Binary {}

/// A village's 12-digit statistical code.
pub fn village_code() -> Schema {
    pattern("^[0-9]{12}$", "A village's 12-digit statistical code")
}

/// A division code of any level (province 2 digits … village 12).
pub fn division_code() -> Schema {
    pattern(
        "^[0-9]{2,12}$",
        "A division code of any level (county 6 digits, township 9, village 12)",
    )
}

/// `YYYY-MM`.
pub fn month() -> Schema {
    pattern("^[0-9]{4}-(0[1-9]|1[0-2])$", "`YYYY-MM`")
}

/// A monitoring case's state.
pub fn case_state() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(
            fieldsync_protocol::registry::work::CASE_STATES
                .iter()
                .copied(),
        ))
        .into()
}

fn pattern(pattern: &str, description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

/// This document.
#[utoipa::path(get, operation_id = "getOpenApi", path = "/v1/openapi.json", tag = "operations", security(()),
    responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
async fn document() -> AppJson<&'static OpenApi> {
    // Made once: it only depends on the code.
    static DOC: std::sync::OnceLock<OpenApi> = std::sync::OnceLock::new();
    AppJson(DOC.get_or_init(openapi))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "fieldsync",
        description = "The sync server of the phones village cadres carry on household visits. \
            Phones push their offline edits (`POST /v1/sync/push`) and pull every change of \
            their villages (`GET /v1/sync/pull`); photos are uploaded by their SHA-256 \
            (`PUT /v1/blobs/{sha256}`). Every error answers with `ErrorBody`; its codes and \
            their meanings are listed in `mobile-contract/schemas/errors.json`. The fields of \
            each entity (what a mutation's `fields` and a change's `fields` hold) are in \
            `mobile-contract/schemas/entities.json`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(document),
    security(("bearer" = [])),
    tags(
        (name = "auth", description = "Login, token refresh, logout, password"),
        (name = "sync", description = "Push and pull, receipts"),
        (name = "photos", description = "Photo upload (resumable) and download"),
        (name = "review", description = "Conflicts, households' checks, audit log, phones"),
        (name = "attendance", description = "Monthly attendance sheets, review, coverage"),
        (name = "work", description = "Tasks, monitoring cases, self-reports"),
        (name = "export", description = "Household lists as CSV and XLSX"),
        (name = "operations", description = "Probes, metrics, this document"),
    ),
)]
struct Base;

/// The whole document.
pub fn openapi() -> OpenApi {
    let mut doc = Base::openapi();
    for part in [
        health::Api::openapi(),
        auth::Api::openapi(),
        sync::Api::openapi(),
        conflicts::Api::openapi(),
        devices::Api::openapi(),
        audit::Api::openapi(),
        households::Api::openapi(),
        export::Api::openapi(),
        blobs::Api::openapi(),
        attendance::Api::openapi(),
        reports::Api::openapi(),
        work::Api::openapi(),
    ] {
        doc.merge(part);
    }
    doc.info.version = super::SERVER_VERSION.to_owned();
    doc.servers = Some(vec![
        ServerBuilder::new()
            .url("/")
            .description(Some("this server"))
            .build(),
    ]);
    shared(&mut doc);
    doc
}

/// The document as committed in `mobile-contract/openapi.json`: pretty-printed, keys in the
/// order the code gives them.
pub fn to_json() -> String {
    serde_json::to_string_pretty(&openapi()).unwrap_or_default()
}

/// What every operation has in common.
fn shared(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "The `access_token` of `POST /v1/auth/login` or `/v1/auth/refresh`.",
                ))
                .build(),
        ),
    );
    components
        .schemas
        .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
    for (name, schema) in {
        let mut s = Vec::new();
        ErrorBody::schemas(&mut s);
        s
    } {
        components.schemas.insert(name, schema);
    }
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.head,
        ]
        .into_iter()
        .flatten()
        {
            common_parameters(op);
            common_responses(op);
        }
    }
}

/// The phone's health, sent on every request (`fieldsync_protocol::client`). Malformed values
/// are ignored, never refused.
fn common_parameters(op: &mut Operation) {
    let header = |name: &str, description: &str, schema: utoipa::openapi::RefOr<_>| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .description(Some(description))
            .schema(Some(schema))
            .build()
    };
    let params = op.parameters.get_or_insert_with(Vec::new);
    params.push(header(
        APP_VERSION_HEADER,
        "The app's version (`1.4.2`). Older than the server's `clients.min_version` answers 426 `upgrade_required`.",
        String::schema(),
    ));
    params.push(header(
        OUTBOX_DEPTH_HEADER,
        "Mutations waiting in the phone's outbox.",
        u64::schema(),
    ));
    params.push(header(
        OLDEST_UNSENT_HEADER,
        "Age in seconds of the oldest mutation not yet accepted.",
        u64::schema(),
    ));
}

/// Errors any operation can answer with. Each operation lists its own particular ones (403,
/// 404, 409, 413, 422 …) itself.
fn common_responses(op: &mut Operation) {
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                    .build(),
            )
            .build()
    };
    let json_body = op
        .request_body
        .as_ref()
        .is_some_and(|b| b.content.contains_key("application/json"));
    // `security: [{}]` marks the few operations that need no login.
    let public = op
        .security
        .as_ref()
        .is_some_and(|s| s.iter().all(|r| *r == Default::default()));
    let responses = &mut op.responses.responses;
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| error(description).into());
    };
    add(
        "400",
        "`invalid_json` or `invalid_request`: the body, a query parameter or a path segment is malformed",
    );
    if !public {
        add(
            "401",
            "`unauthorized`, `token_expired` (refresh and retry) or `device_revoked` (log in again)",
        );
    }
    if json_body {
        add(
            "413",
            "`body_too_large`: the body is larger than `limits.max_body_bytes`",
        );
        add(
            "415",
            "`invalid_json`: the body was not sent as `Content-Type: application/json`",
        );
    }
    add(
        "426",
        "`upgrade_required`: the app is older than the server accepts; nothing was written",
    );
    // No `default`: every status an operation answers is listed, so a client generator (and
    // schemathesis' status check in CI) knows them all.
    add(
        "500",
        "`internal`: a fault on the server; nothing of the request was written",
    );
    add(
        "503",
        "`unavailable`: the database is busy or out of reach, or the photo store does not answer; `storage_full`: the server's disk is full and nothing was kept. Both pass by themselves: retry after `Retry-After`",
    );
}
