//! Signing in from a browser, and what every console request knows of its caller.
//!
//! The sign-in cookie holds a random token (only its hash is stored) and is `HttpOnly`,
//! `SameSite=Lax` and, behind TLS, `Secure`. Every state-changing request is a form POST that
//! must carry the sign-in's CSRF token (a second random value, stored with the session and
//! written into each form); [`Posted`] checks it before a handler sees the form, so no handler
//! can forget. A form from another site is also refused by its `Origin`. The sign-in form
//! itself, before any session, carries a double-submit token (cookie and field must match).

use std::net::IpAddr;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldsync_protocol::Role;
use maud::html;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::ConsoleError;
use super::i18n::{self, Lang};
use super::layout;
use crate::auth::token;
use crate::clock;
use crate::service::credentials::check_credentials;
use crate::service::{Caller, ServiceError};
use crate::state::AppState;
use crate::store::EndReason;

const SESSION_COOKIE: &str = "fs_console";
const LOGIN_COOKIE: &str = "fs_login";
/// Largest console form; the longest is a comment of 1,000 characters.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Roles that work in the console; the others work on phones.
const CONSOLE_ROLES: &[Role] = &[
    Role::Admin,
    Role::CountyOfficer,
    Role::TownshipSupervisor,
    Role::FirstSecretary,
    Role::HotlineOperator,
];

/// The signed-in caller of a console page.
pub struct Viewer {
    /// The caller every operation takes, the same as the API's for the same person.
    pub caller: Caller,
    pub csrf: String,
    pub lang: Lang,
    pub name: String,
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

pub fn lang_of(headers: &HeaderMap) -> Lang {
    cookie(headers, i18n::COOKIE)
        .and_then(Lang::from_code)
        .unwrap_or_default()
}

/// Equal in time independent of where they differ: the CSRF token is a secret.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let next = parts
            .uri
            .path_and_query()
            .map_or("/console/", |p| p.as_str())
            .to_owned();
        let sign_in = || ConsoleError::SignIn { next: next.clone() };
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(sign_in)?;
        let now = clock::now_ms();
        let found = state
            .store()
            .console_session(&token::hash_refresh_token(token), now)
            .await?
            .ok_or_else(sign_in)?;
        // Alive as a phone's session is: not ended, account active, device not revoked.
        let caller = match Caller::of_session(state.store(), found.session_id, None).await {
            Ok(caller) => caller,
            Err(ServiceError::Unauthenticated(_)) => return Err(sign_in()),
            Err(e) => return Err(e.into()),
        };
        if !CONSOLE_ROLES.contains(&caller.role) {
            return Err(sign_in());
        }
        Ok(Viewer {
            caller,
            csrf: found.csrf,
            lang: lang_of(&parts.headers),
            name: found.display_name.unwrap_or(found.username),
        })
    }
}

/// A form POSTed by a signed-in viewer, its CSRF token checked.
pub struct Posted<T> {
    pub viewer: Viewer,
    pub form: T,
}

#[derive(Deserialize)]
struct TokenOnly {
    csrf: Option<String>,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = ConsoleError;

    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        if !same_site(&parts.headers) {
            return Err(ConsoleError::Csrf);
        }
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| ConsoleError::bad("the form is larger than the console accepts"))?;
        let sent: TokenOnly = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| ConsoleError::bad(format!("not a form: {e}")))?;
        if !sent
            .csrf
            .as_deref()
            .is_some_and(|t| same_secret(t, &viewer.csrf))
        {
            return Err(ConsoleError::Csrf);
        }
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| ConsoleError::bad(format!("the form is not complete: {e}")))?;
        Ok(Posted { viewer, form })
    }
}

/// The CSRF checks of [`Posted`], for a form read another way (a file upload): the request
/// came from this site and carries this session's token.
pub fn check_csrf(
    viewer: &Viewer,
    headers: &HeaderMap,
    token: Option<&str>,
) -> Result<(), ConsoleError> {
    if same_site(headers) && token.is_some_and(|t| same_secret(t, &viewer.csrf)) {
        Ok(())
    } else {
        Err(ConsoleError::Csrf)
    }
}

/// A browser says where a form came from (`Sec-Fetch-Site`, `Origin`); one from another site
/// is refused whatever it carries. Old browsers that say nothing rely on the token alone.
fn same_site(headers: &HeaderMap) -> bool {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match (text(header::ORIGIN), text(header::HOST)) {
        (Some("null"), _) => false,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority == host),
        _ => true,
    }
}

/// Where to go after signing in: a console page of this server, never another site.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/console/") && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/console/",
    }
}

fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.settings().console.secure_cookie.unwrap_or_else(|| {
        state.settings().limits.trust_forwarded_for
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|p| p.eq_ignore_ascii_case("https"))
    })
}

fn set_cookie(response: &mut Response, cookie: String) {
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn cookie_text(name: &str, value: &str, path: &str, max_age_s: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age_s}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// The sign-in page.
pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<LoginQuery>,
) -> Response {
    login_form(&state, &headers, q.next.as_deref(), None, StatusCode::OK)
}

fn login_form(
    state: &AppState,
    headers: &HeaderMap,
    next: Option<&str>,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let lang = lang_of(headers);
    let l = lang;
    let (form_token, _) = token::new_refresh_token();
    let body = html! {
        main.card.login {
            h1 { (l.t("防止返贫监测 · 审核工作台", "Poverty-relapse monitoring · Review console")) }
            @if let Some(p) = problem {
                p.flash.bad role="alert" data-testid="login-problem" { (p) }
            }
            form method="post" action="/console/login" {
                input type="hidden" name="csrf" value=(form_token);
                input type="hidden" name="next" value=(safe_next(next));
                label { (l.t("用户名", "Username")) input name="username" autocomplete="username" required autofocus; }
                label { (l.t("密码", "Password")) input name="password" type="password" autocomplete="current-password" required; }
                button type="submit" { (l.t("登录", "Sign in")) }
            }
            p.lang-switch { (layout::lang_links(l, "/console/login")) }
        }
    };
    let mut response = (status, layout::bare(l, l.t("登录", "Sign in"), body)).into_response();
    set_cookie(
        &mut response,
        cookie_text(
            LOGIN_COOKIE,
            &form_token,
            "/console/login",
            3600,
            secure(state, headers),
        ),
    );
    response
}

#[derive(Deserialize)]
pub struct SignIn {
    username: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

/// Checks the password as the phone's login does (same throttling) and opens a session.
pub async fn sign_in(
    State(state): State<AppState>,
    parts: Parts,
    axum::extract::Form(form): axum::extract::Form<SignIn>,
) -> Result<Response, ConsoleError> {
    let headers = parts.headers.clone();
    let l = lang_of(&headers);
    let next = form.next.as_deref();
    if !same_site(&headers)
        || !cookie(&headers, LOGIN_COOKIE).is_some_and(|c| same_secret(c, &form.csrf))
    {
        return Err(ConsoleError::Csrf);
    }
    // The address the API's login reads, for the same throttling.
    let ip = crate::web::client_ip(&parts, state.settings().limits.trust_forwarded_for)
        .ok_or_else(|| ServiceError::internal("the server was started without connection info"))?;
    sign_in_checked(
        &state,
        ip,
        &headers,
        form.username.trim(),
        form.password,
        next,
    )
    .await
    .or_else(|e| match e {
        ConsoleError::Service(ServiceError::Unauthenticated(_)) => Ok(login_form(
            &state,
            &headers,
            next,
            Some(l.t("用户名或密码不对", "Wrong username or password")),
            StatusCode::UNAUTHORIZED,
        )),
        ConsoleError::Service(ServiceError::RateLimited { .. }) => Ok(login_form(
            &state,
            &headers,
            next,
            Some(l.t(
                "登录失败次数过多，请15分钟后再试",
                "Too many failed sign-ins; try again in 15 minutes",
            )),
            StatusCode::TOO_MANY_REQUESTS,
        )),
        ConsoleError::Service(ServiceError::Forbidden(_)) => Ok(login_form(
            &state,
            &headers,
            next,
            Some(l.t(
                "此账号不使用审核工作台，请用手机应用",
                "This account does not use the console; use the phone app",
            )),
            StatusCode::FORBIDDEN,
        )),
        other => Err(other),
    })
}

async fn sign_in_checked(
    state: &AppState,
    ip: IpAddr,
    headers: &HeaderMap,
    username: &str,
    password: String,
    next: Option<&str>,
) -> Result<Response, ConsoleError> {
    let now = clock::now_ms();
    let user = check_credentials(state, ip, username, password, now).await?;
    let role = user.role()?;
    if !CONSOLE_ROLES.contains(&role) {
        return Err(ServiceError::forbidden(
            fieldsync_protocol::ErrorCode::ForbiddenRole,
            "not a console role",
        )
        .into());
    }
    let hours = i64::from(state.settings().console.session_hours);
    let (cookie_token, hash) = token::new_refresh_token();
    let (csrf, _) = token::new_refresh_token();
    let session = state
        .store()
        .open_console_session(user.id, &hash, &csrf, now, now + hours * 3_600_000)
        .await?;
    tracing::info!(user = %user.id, session = %session, "console sign-in");
    let secure = secure(state, headers);
    let mut response = see_other(safe_next(next));
    set_cookie(
        &mut response,
        cookie_text(
            SESSION_COOKIE,
            &cookie_token,
            "/console",
            hours * 3600,
            secure,
        ),
    );
    set_cookie(
        &mut response,
        cookie_text(LOGIN_COOKIE, "", "/console/login", 0, secure),
    );
    Ok(response)
}

/// Ends the sign-in's session, as a phone's logout does.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    posted: Posted<serde::de::IgnoredAny>,
) -> Result<Response, ConsoleError> {
    state
        .store()
        .end_session(
            posted.viewer.caller.session_id,
            EndReason::Logout,
            clock::now_ms(),
        )
        .await?;
    let mut response = see_other("/console/login");
    set_cookie(
        &mut response,
        cookie_text(SESSION_COOKIE, "", "/console", 0, secure(&state, &headers)),
    );
    Ok(response)
}

#[derive(Deserialize)]
pub struct LangQuery {
    to: String,
    next: Option<String>,
}

/// Switches the language and goes back to the page.
pub async fn set_lang(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<LangQuery>,
) -> Result<Response, ConsoleError> {
    let lang = Lang::from_code(&q.to).ok_or_else(|| ConsoleError::bad("to is zh or en"))?;
    let next = match q.next.as_deref() {
        Some("/console/login") => "/console/login",
        other => safe_next(other),
    };
    let mut response = see_other(next);
    set_cookie(
        &mut response,
        cookie_text(
            i18n::COOKIE,
            lang.code(),
            "/console",
            365 * 86_400,
            secure(&state, &headers),
        ),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_pages_are_followed_after_sign_in() {
        assert_eq!(
            safe_next(Some("/console/tasks?page=2")),
            "/console/tasks?page=2"
        );
        assert_eq!(safe_next(Some("https://evil.example/")), "/console/");
        assert_eq!(safe_next(Some("//evil.example/console/")), "/console/");
        assert_eq!(safe_next(Some("/console/\\evil")), "/console/");
        assert_eq!(safe_next(None), "/console/");
    }

    #[test]
    fn forms_from_other_sites_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(
            header::HOST,
            HeaderValue::from_static("fieldsync.local:8080"),
        );
        assert!(
            same_site(&h),
            "a browser that says nothing relies on the token"
        );
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://fieldsync.local:8080"),
        );
        assert!(same_site(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_site(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_site(&h));
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_site(&h));
    }

    #[test]
    fn cookies_are_read_from_every_header() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; fs_lang=en"));
        h.append(header::COOKIE, HeaderValue::from_static("fs_console=tok"));
        assert_eq!(cookie(&h, "fs_lang"), Some("en"));
        assert_eq!(cookie(&h, "fs_console"), Some("tok"));
        assert_eq!(cookie(&h, "b"), None);
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("a", "ab"));
    }
}
