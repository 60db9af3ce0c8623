//! `POST /v1/auth/login`, `/v1/auth/refresh`, `/v1/auth/logout`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::auth::{LoginRequest, RefreshRequest, TokenResponse, UserInfo};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{AppJson, AuthUser};
use crate::app::AppState;
use crate::auth::{password, token};
use crate::clock;
use crate::store::UserRow;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(logout))
}

fn bad_credentials() -> ApiError {
    ApiError::unauthorized(ErrorCode::InvalidCredentials, "wrong username or password")
}

async fn login(
    State(state): State<AppState>,
    AppJson(req): AppJson<LoginRequest>,
) -> Result<AppJson<TokenResponse>, ApiError> {
    if req.username.is_empty() || req.username.len() > 64 || req.password.len() > 1024 {
        return Err(bad_credentials());
    }
    let user = state.store().user_by_username(&req.username).await?;
    let stored = user
        .as_ref()
        .map_or_else(|| password::decoy().to_owned(), |u| u.password_hash.clone());
    let candidate = req.password;
    // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || password::verify(&stored, &candidate))
        .await
        .map_err(ApiError::internal)?;
    let user = match user {
        Some(u) if ok && u.disabled_at.is_none() => u,
        _ => return Err(bad_credentials()),
    };
    let now = clock::now_ms();
    if !state
        .store()
        .bind_device(req.device_id, user.id, now)
        .await?
    {
        return Err(ApiError::forbidden(
            ErrorCode::DeviceRevoked,
            "this device was revoked; ask an administrator",
        ));
    }
    tracing::info!(user = %user.id, device = %req.device_id, "login");
    issue(&state, &user, req.device_id, now).await.map(AppJson)
}

async fn refresh(
    State(state): State<AppState>,
    AppJson(req): AppJson<RefreshRequest>,
) -> Result<AppJson<TokenResponse>, ApiError> {
    let now = clock::now_ms();
    let hash = token::hash_refresh_token(&req.refresh_token);
    let expired = || {
        ApiError::unauthorized(
            ErrorCode::Unauthorized,
            "the refresh token is not valid any more; log in again",
        )
    };
    let user_id = state
        .store()
        .spend_refresh_token(&hash, req.device_id, now)
        .await?
        .ok_or_else(expired)?;
    let device = state
        .store()
        .device(req.device_id)
        .await?
        .ok_or_else(expired)?;
    if device.revoked_at.is_some() || device.user_id != user_id {
        return Err(expired());
    }
    let user = state
        .store()
        .user_by_id(user_id)
        .await?
        .filter(|u| u.disabled_at.is_none())
        .ok_or_else(expired)?;
    issue(&state, &user, req.device_id, now).await.map(AppJson)
}

async fn logout(State(state): State<AppState>, auth: AuthUser) -> Result<StatusCode, ApiError> {
    state.store().end_sessions(auth.device_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn issue(
    state: &AppState,
    user: &UserRow,
    device_id: Uuid,
    now_ms: i64,
) -> Result<TokenResponse, ApiError> {
    let role = user.role()?;
    let auth = &state.settings().auth;
    let now_s = u64::try_from(now_ms / 1000).unwrap_or_default();
    let access_token = state
        .keys()
        .issue(user.id, device_id, role, now_s, auth.access_ttl_s);
    let (refresh_token, hash) = token::new_refresh_token();
    let ttl_ms = i64::try_from(auth.refresh_ttl_days).unwrap_or(30) * 86_400_000;
    state
        .store()
        .insert_refresh_token(&hash, device_id, user.id, now_ms, now_ms + ttl_ms)
        .await?;
    Ok(TokenResponse {
        access_token,
        refresh_token,
        expires_in: auth.access_ttl_s,
        token_type: "Bearer".into(),
        user: UserInfo {
            id: user.id,
            username: user.username.clone(),
            role,
        },
    })
}
