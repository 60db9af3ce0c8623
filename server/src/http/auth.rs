//! `POST /v1/auth/login`, `/v1/auth/refresh`, `/v1/auth/logout`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use fieldsync_protocol::ErrorCode;
use fieldsync_protocol::auth::{
    LoginRequest, PasswordChange, RefreshRequest, TokenResponse, UserInfo,
};
use fieldsync_protocol::error::ErrorBody;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{AppJson, AuthUser, ClientIp};
use crate::auth::token::Claims;
use crate::auth::{password, token};
use crate::clock;
use crate::ratelimit::{self, Verdict};
use crate::service::credentials;
use crate::state::AppState;
use crate::store::{Binding, EndReason, Spent, UserRow};

#[derive(utoipa::OpenApi)]
#[openapi(paths(login, refresh, logout, change_password))]
pub(super) struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/password", post(change_password))
}

/// Changing one's password ends every other session of the user (a cadre who suspects the
/// initial password leaked logs the copy out). Wrong current passwords are throttled like
/// logins (per user and per session): a stolen session must not become a way to guess the
/// password and lock the owner out, so the session that keeps guessing is ended.
#[utoipa::path(post, operation_id = "changePassword", path = "/v1/auth/password", tag = "auth", request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; every other session of the user has ended"),
        (status = 401, description = "`invalid_credentials` (at `current_password`; after the last try the window allows, this session has ended too), or the login ended", body = ErrorBody),
        (status = 422, description = "`invalid_value`: the new password is too short, too long or the current one", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many wrong passwords for this user or session; `Retry-After` says when to try again", body = ErrorBody),
    ))]
async fn change_password(
    State(state): State<AppState>,
    auth: AuthUser,
    AppJson(req): AppJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let new_len = req.new_password.chars().count();
    if !(password::MIN_LEN..=1024).contains(&new_len) {
        return Err(ApiError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidValue,
            format!("a password has {} to 1024 characters", password::MIN_LEN),
        )
        .at("new_password"));
    }
    if req.new_password == req.current_password {
        return Err(ApiError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidValue,
            "the new password is the current one",
        )
        .at("new_password"));
    }
    let now = clock::now_ms();
    let user = state
        .store()
        .user_by_id(auth.user_id)
        .await?
        .ok_or_else(bad_credentials)?;
    let limits = &state.settings().limits;
    // Checked before the password, so a right guess while limited is refused like a wrong one.
    if let Verdict::Limited { retry_after_s } =
        ratelimit::check_change(state.store(), limits, &user.username, auth.session_id, now).await?
    {
        return Err(too_many("wrong passwords", retry_after_s));
    }
    let (stored, current, new) = (user.password_hash, req.current_password, req.new_password);
    let hash = tokio::task::spawn_blocking(move || {
        password::verify(&stored, &current).then(|| password::hash(&new))
    })
    .await
    .map_err(ApiError::internal)?;
    let hash = match hash {
        Some(h) => h.map_err(ApiError::internal)?,
        None => {
            let spent = ratelimit::failed_change(
                state.store(),
                limits,
                &user.username,
                auth.session_id,
                now,
            )
            .await?;
            if spent {
                state
                    .store()
                    .end_session(auth.session_id, EndReason::PasswordGuessing, now)
                    .await?;
                tracing::warn!(user = %auth.user_id, session = %auth.session_id, "wrong current passwords: session ended");
                return Err(ApiError::unauthorized(
                    ErrorCode::InvalidCredentials,
                    "wrong password, too many times: this login has ended; log in again",
                )
                .at("current_password"));
            }
            return Err(bad_credentials().at("current_password"));
        }
    };
    state
        .store()
        .change_password(auth.user_id, &hash, auth.session_id, now)
        .await?;
    ratelimit::succeeded_change(state.store(), &user.username, auth.session_id).await?;
    tracing::info!(user = %auth.user_id, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

/// 429 with `Retry-After`, as the login and the password change answer while limited.
fn too_many(what: &str, retry_after_s: u64) -> ApiError {
    credentials::too_many(what, retry_after_s).into()
}

fn bad_credentials() -> ApiError {
    credentials::wrong_credentials().into()
}

/// Logs in on one device: the tokens are bound to `device_id`. A device belongs to the user it
/// was first registered to; another user's login on it is refused until an administrator
/// hands it over (`fieldsync admin hand-over-device`).
#[utoipa::path(post, operation_id = "login", path = "/v1/auth/login", tag = "auth", security(()), request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 401, description = "`invalid_credentials`", body = ErrorBody),
        (status = 403, description = "`device_revoked`: this device was revoked for this user", body = ErrorBody),
        (status = 409, description = "`device_taken` (at `device_id`): this phone is registered to another account; nothing of that account changed. An administrator hands a phone over", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many failed logins; `Retry-After` says when to try again", body = ErrorBody),
    ))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(req): AppJson<LoginRequest>,
) -> Result<AppJson<TokenResponse>, ApiError> {
    let now = clock::now_ms();
    let user = credentials::check_credentials(&state, ip, &req.username, req.password, now).await?;
    match state
        .store()
        .bind_device(req.device_id, user.id, now)
        .await?
    {
        Binding::Bound => {}
        Binding::Revoked => {
            return Err(ApiError::forbidden(
                ErrorCode::DeviceRevoked,
                "this device was revoked; ask an administrator",
            ));
        }
        Binding::Taken => {
            tracing::info!(user = %user.id, device = %req.device_id, "login refused: device of another user");
            return Err(ApiError::client(
                StatusCode::CONFLICT,
                ErrorCode::DeviceTaken,
                "this phone is registered to another account; ask an administrator to hand it over",
            )
            .at("device_id"));
        }
    }
    let (refresh_token, hash) = token::new_refresh_token();
    let session = state
        .store()
        .open_session(
            req.device_id,
            user.id,
            &hash,
            now,
            refresh_expiry(&state, now),
        )
        .await?;
    tracing::info!(user = %user.id, device = %req.device_id, session = %session, "login");
    issue(
        &state,
        &user,
        req.device_id,
        session,
        refresh_token,
        None,
        now,
    )
    .map(AppJson)
}

/// Trades a refresh token for new tokens. Each refresh token works once; presenting a used one
/// ends the session (it was copied), unless it is its own device asking again for a pair it
/// never received (the answer was lost: the pair is still unused), which is answered anew.
#[utoipa::path(post, operation_id = "refreshToken", path = "/v1/auth/refresh", tag = "auth", security(()), request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        (status = 401, description = "`unauthorized` (unknown, expired or of an ended session) or `device_revoked` (a spent token presented again after the tokens it bought were used: the session is ended); log in again", body = ErrorBody),
    ))]
async fn refresh(
    State(state): State<AppState>,
    AppJson(req): AppJson<RefreshRequest>,
) -> Result<AppJson<TokenResponse>, ApiError> {
    let now = clock::now_ms();
    let presented = token::hash_refresh_token(&req.refresh_token);
    let (next_token, next_hash) = token::new_refresh_token();
    let ended = || {
        ApiError::unauthorized(
            ErrorCode::Unauthorized,
            "the refresh token is not valid any more; log in again",
        )
    };
    match state
        .store()
        .rotate_refresh_token(
            &presented,
            req.device_id,
            &next_hash,
            now,
            refresh_expiry(&state, now),
        )
        .await?
    {
        Spent::Fresh {
            session_id,
            user_id,
        } => {
            let auth = state
                .store()
                .session_auth(session_id)
                .await?
                .filter(|s| s.is_alive())
                .ok_or_else(ended)?;
            let user = state
                .store()
                .user_by_id(auth.user_id)
                .await?
                .ok_or_else(ended)?;
            debug_assert_eq!(user.id, user_id);
            let pair = Some(token::pair_of(&next_hash));
            issue(
                &state,
                &user,
                req.device_id,
                session_id,
                next_token,
                pair,
                now,
            )
            .map(AppJson)
        }
        Spent::Reused => {
            tracing::warn!(device = %req.device_id, "a spent refresh token was presented again: session ended");
            Err(ApiError::unauthorized(
                ErrorCode::DeviceRevoked,
                "this session was ended because its refresh token was used twice; log in again",
            ))
        }
        Spent::Invalid => Err(ended()),
    }
}

/// Ends this device's session.
#[utoipa::path(post, operation_id = "logout", path = "/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "Logged out")))]
async fn logout(State(state): State<AppState>, auth: AuthUser) -> Result<StatusCode, ApiError> {
    state
        .store()
        .end_session(auth.session_id, EndReason::Logout, clock::now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn refresh_expiry(state: &AppState, now_ms: i64) -> i64 {
    let days = i64::try_from(state.settings().auth.refresh_ttl_days).unwrap_or(30);
    now_ms + days * 86_400_000
}

fn issue(
    state: &AppState,
    user: &UserRow,
    device_id: Uuid,
    session: Uuid,
    refresh_token: String,
    pair: Option<Uuid>,
    now_ms: i64,
) -> Result<TokenResponse, ApiError> {
    let role = user.role()?;
    let ttl = state.settings().auth.access_ttl_s;
    let now_s = u64::try_from(now_ms / 1000).unwrap_or_default();
    Ok(TokenResponse {
        access_token: state.keys().issue(&Claims {
            pair,
            ..Claims::new(user.id, device_id, session, role, now_s, ttl)
        }),
        refresh_token,
        expires_in: ttl,
        token_type: "Bearer".into(),
        user: UserInfo {
            id: user.id,
            username: user.username.clone(),
            role,
        },
    })
}
