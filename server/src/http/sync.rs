//! `POST /v1/sync/push` and `GET /v1/sync/pull`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::error::ErrorBody;
use fieldsync_protocol::pull::{PullRequest, PullResponse};
use fieldsync_protocol::push::PushRequest;
use fieldsync_protocol::push::{ClientInfo, PushResponse, RawPushRequest, Status};
use fieldsync_protocol::receipt::{ReceiptBody, ReceiptKey};
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{AppJson, AppQuery, AuthActor, AuthUser, ClientHeaders, PushActor};
use crate::clock;
use crate::service::push;
use crate::state::AppState;
use crate::sync::pull;

#[derive(utoipa::OpenApi)]
#[openapi(paths(push_batch, pull_changes, receipt_key))]
pub(super) struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sync/push", post(push_batch))
        .route("/v1/receipts/key", get(receipt_key))
        .route("/v1/sync/pull", get(pull_changes))
}

/// A batch of mutations from one device, each judged on its own: one result per mutation, in
/// order. A malformed or refused mutation is `rejected` alone; the others are applied. With
/// `pull`, the answer also carries the page of changes after the given cursor, read after the
/// push committed: push and pull in one exchange.
#[utoipa::path(post, operation_id = "push", path = "/v1/sync/push", tag = "sync", request_body = PushRequest,
    responses(
        (status = 200, description = "One result per mutation", body = PushResponse),
        (status = 403, description = "`device_mismatch`: `device_id` is not the token's device", body = ErrorBody),
        (status = 413, description = "`batch_too_large` or `body_too_large`", body = ErrorBody),
    ))]
async fn push_batch(
    State(state): State<AppState>,
    PushActor(auth, actor, check): PushActor,
    ClientHeaders(headers): ClientHeaders,
    AppJson(req): AppJson<RawPushRequest>,
) -> Result<AppJson<PushResponse>, ApiError> {
    if req.device_id != auth.device_id {
        return Err(ApiError::forbidden(
            ErrorCode::DeviceMismatch,
            "device_id is not the device this token was issued to",
        )
        .at("device_id"));
    }
    let limits = &state.settings().limits;
    if req.mutations.len() > limits.max_batch {
        return Err(ApiError::client(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::BatchTooLarge,
            format!(
                "{} mutations in one push; send at most {}",
                req.mutations.len(),
                limits.max_batch
            ),
        )
        .at("mutations"));
    }
    let now_ms = clock::now_ms();
    let n = req.mutations.len();
    let subjects: Vec<Option<Subject>> = req.mutations.iter().map(subject).collect();
    // What the body says of the phone wins over the headers; either may be absent.
    let body = req.client.unwrap_or_default();
    let client = ClientInfo {
        app_version: body.app_version.or(headers.app_version),
        outbox_depth: body.outbox_depth.or(headers.outbox_depth),
        oldest_unsent_s: body.oldest_unsent_s.or(headers.oldest_unsent_s),
    };
    let mut results = push::push_as(&state, &actor, req.mutations, &client, now_ms, check).await?;
    // The pull it carries is read after the push committed. Its failure does not fail the
    // push, whose results must reach the phone: the answer goes without `pull`, and the phone's
    // `GET` pull hears what was wrong.
    let pulled = match &req.pull {
        Some(request) => match page(&state, &auth, &actor, request).await {
            Ok(page) => Some(page),
            Err(ApiError::Internal(e)) => {
                tracing::warn!(error = %e, "the pull carried by a push failed");
                None
            }
            Err(ApiError::Client { .. }) => None,
        },
        None => None,
    };
    state
        .metrics()
        .count_results(results.iter().map(|r| r.status));
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    tracing::info!(
        device = %auth.device_id,
        mutations = n,
        applied = count(Status::Applied),
        merged = count(Status::Merged),
        conflict = count(Status::Conflict),
        rejected = count(Status::Rejected),
        duplicate = count(Status::Duplicate),
        "push"
    );
    // One signature for the push's receipts (a tree of them: `fieldsync_protocol::receipt`).
    let mut receipted = Vec::new();
    let mut bodies = Vec::new();
    for (i, (result, subject)) in results.iter().zip(subjects).enumerate() {
        let accepted = matches!(
            result.status,
            Status::Applied | Status::Merged | Status::Conflict | Status::Duplicate
        );
        if let (true, Some(s), Some(mutation_id), Some(version)) =
            (accepted, subject, result.mutation_id, result.version)
        {
            receipted.push(i);
            bodies.push(ReceiptBody {
                mutation_id,
                record_id: s.record_id,
                entity: s.entity,
                version,
                device_id: auth.device_id,
                user_id: auth.user_id,
                fields_sha256: s.fields_sha256,
                received_at_ms: now_ms,
            });
        }
    }
    for (i, receipt) in receipted
        .into_iter()
        .zip(state.receipts().sign_all(&bodies))
    {
        results[i].receipt = Some(receipt);
    }
    Ok(AppJson(PushResponse {
        results,
        server_time_ms: u64::try_from(now_ms).unwrap_or_default(),
        pull: pulled,
    }))
}

/// What a receipt names of a mutation, read before the push consumes it.
struct Subject {
    record_id: uuid::Uuid,
    entity: String,
    fields_sha256: String,
}

/// Observations (append-only entities) get receipts; edits of registers do not.
fn subject(raw: &serde_json::Value) -> Option<Subject> {
    let entity = fieldsync_protocol::registry::entity(raw.get("entity")?.as_str()?)?;
    if !entity.append_only {
        return None;
    }
    Some(Subject {
        record_id: raw.get("id")?.as_str()?.parse().ok()?,
        entity: entity.name.to_owned(),
        fields_sha256: crate::receipts::fields_sha256(raw.get("fields")?),
    })
}

/// The public key that checks receipts; no login needed, so anyone can check one.
#[utoipa::path(get, operation_id = "getReceiptKey", path = "/v1/receipts/key", tag = "sync", security(()),
    responses((status = 200, description = "The Ed25519 public key", body = ReceiptKey)))]
async fn receipt_key(State(state): State<AppState>) -> AppJson<ReceiptKey> {
    AppJson(state.receipts().public())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PullParams {
    /// The `cursor` of the previous pull; absent or empty for the first.
    cursor: Option<String>,
    /// Most changes in one answer (at least 1; the server caps it).
    #[param(minimum = 1)]
    limit: Option<usize>,
}

/// Every change of the caller's villages after the cursor, in the order they were made.
#[utoipa::path(get, operation_id = "pull", path = "/v1/sync/pull", tag = "sync", params(PullParams),
    responses(
        (status = 200, description = "A page of changes; pull again at once while `has_more`", body = PullResponse),
        (status = 400, description = "`invalid_cursor` (pull again without one) or `invalid_request`", body = ErrorBody),
    ))]
async fn pull_changes(
    State(state): State<AppState>,
    AuthActor(auth, actor): AuthActor,
    ClientHeaders(client): ClientHeaders,
    AppQuery(params): AppQuery<PullParams>,
) -> Result<AppJson<PullResponse>, ApiError> {
    // A pull is contact too: a phone that only reads must not look silent to its leader. Noted
    // off the request's path (a pull must never wait for the write lock: on SQLite, a long push
    // holds it), by the push committer, with the devices of its next group.
    let background = state.clone();
    let device = auth.device_id;
    let seen = background
        .committer()
        .seen(&actor, &push::rules(&state, clock::now_ms()), &client);
    if !seen {
        tokio::spawn(async move {
            let store = background.store();
            if let Err(e) = store.device_seen(device, clock::now_ms(), &client).await {
                tracing::debug!(error = %e, "recording a pull's contact failed");
            }
        });
    }
    let request = PullRequest {
        cursor: params.cursor,
        limit: params.limit,
    };
    page(&state, &auth, &actor, &request).await.map(AppJson)
}

/// One page of changes after the request's cursor, for `GET /v1/sync/pull` and for a pull
/// carried by a push.
async fn page(
    state: &AppState,
    auth: &AuthUser,
    actor: &crate::sync::Actor,
    request: &PullRequest,
) -> Result<PullResponse, ApiError> {
    let limits = &state.settings().limits;
    let limit = match request.limit {
        None => limits.default_pull_limit,
        Some(0) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRequest,
                "limit must be at least 1",
            )
            .at("limit"));
        }
        Some(n) => n.min(limits.max_pull_limit),
    };
    let cursor = request.cursor.as_deref().filter(|c| !c.is_empty());
    // How far behind the phone was (changes of its villages after its cursor), measured off
    // the request's path.
    if let Some(from) = cursor
        .and_then(|c| crate::sync::cursor::Cursor::decode(c).ok())
        .map(|c| c.s)
    {
        let background = state.clone();
        let villages: Vec<String> = actor.villages.iter().cloned().collect();
        tokio::spawn(async move {
            if let Ok(behind) = background.store().changes_after(&villages, from).await {
                background.metrics().observe_pull_lag(behind);
            }
        });
    }
    let page = pull::pull(state.store(), actor, cursor, limit, clock::now_ms()).await?;
    tracing::debug!(device = %auth.device_id, changes = page.changes.len(), has_more = page.has_more, "pull");
    Ok(page)
}
