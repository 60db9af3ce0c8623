//! HTTP calls of the sync protocol.

use fieldsync_protocol::auth::{LoginRequest, RefreshRequest, TokenResponse};
use fieldsync_protocol::blob::{BlobInfo, BlobState};
use fieldsync_protocol::error::ErrorBody;
use fieldsync_protocol::pull::{Change, PullRequest, PullResponse};
use fieldsync_protocol::push::{ClientInfo, Mutation, PushRequest, PushResponse};
use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("network: {0}")]
    Http(#[from] reqwest::Error),
    /// The server answered with an error body.
    #[error("server said {status}: {}", body.error.message)]
    Api { status: StatusCode, body: ErrorBody },
    #[error("not logged in")]
    NotLoggedIn,
    /// The request could not be written (a body that is not JSON, a compressor that failed).
    #[error("encoding the request: {0}")]
    Encode(String),
}

impl ClientError {
    /// The error code the server gave, if it gave one.
    pub fn code(&self) -> Option<fieldsync_protocol::ErrorCode> {
        match self {
            ClientError::Api { body, .. } => Some(body.error.code),
            _ => None,
        }
    }
}

/// The version this client reports in `X-Fieldsync-App-Version` unless told another.
pub const CLIENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Request bodies of at least this many bytes go compressed with zstd (`Content-Encoding:
/// zstd`, which the server takes on every endpoint): the JSON of records shrinks several times,
/// and the uplink is the narrowest part of a village's link. A smaller body (a login, a
/// one-field edit) fits one packet either way.
const COMPRESS_FROM: usize = 512;
/// zstd's level for request bodies: the default, which a phone's CPU does in well under a
/// millisecond for a day's records.
const COMPRESS_LEVEL: i32 = 3;

/// `body` as a JSON request body, compressed when it is worth it.
fn with_json<B: Serialize + ?Sized>(
    req: reqwest::RequestBuilder,
    body: &B,
) -> Result<reqwest::RequestBuilder, ClientError> {
    let json = serde_json::to_vec(body).map_err(|e| ClientError::Encode(e.to_string()))?;
    let req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
    if json.len() < COMPRESS_FROM {
        return Ok(req.body(json));
    }
    let packed = zstd::bulk::compress(&json, COMPRESS_LEVEL)
        .map_err(|e| ClientError::Encode(e.to_string()))?;
    Ok(req
        .header(reqwest::header::CONTENT_ENCODING, "zstd")
        .body(packed))
}

/// A connection to one server for one device.
#[derive(Clone, Debug)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    device_id: Uuid,
    tokens: Option<(String, String)>,
    /// When the access token runs out (by this process's clock).
    expires_at: Option<std::time::Instant>,
    app_version: String,
    health: Option<(u64, u64)>,
    /// The upload rate last measured on this connection, shared by its clones.
    pace: std::sync::Arc<UploadRate>,
}

/// About how long one chunk of a paced photo upload takes (see [`Api::upload_photo_paced`]).
pub const CHUNK_SECONDS: f64 = 15.0;
const FIRST_CHUNK: usize = 256 * 1024;
const MIN_CHUNK: usize = 64 * 1024;

/// How photo chunks are sized.
#[derive(Clone, Copy, Debug)]
enum Pace {
    Fixed(usize),
    Link,
}

/// The upload rate of the last chunk, in bytes a second (0: not measured yet).
#[derive(Debug, Default)]
struct UploadRate(std::sync::atomic::AtomicU64);

impl UploadRate {
    fn next_chunk(&self) -> usize {
        match self.0.load(std::sync::atomic::Ordering::Relaxed) {
            0 => FIRST_CHUNK,
            rate => usize::try_from((rate as f64 * CHUNK_SECONDS) as u64)
                .unwrap_or(usize::MAX)
                .max(MIN_CHUNK),
        }
    }

    fn measured(&self, bytes: usize, took: std::time::Duration) {
        // A chunk that went in a blink (a few bytes, a loopback) says nothing of the link.
        if bytes >= MIN_CHUNK && took.as_secs_f64() > 0.0 {
            let rate = (bytes as f64 / took.as_secs_f64()) as u64;
            self.0
                .store(rate.max(1), std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl Api {
    pub fn new(base_url: &str, device_id: Uuid) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Api {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            device_id,
            tokens: None,
            expires_at: None,
            app_version: CLIENT_VERSION.to_owned(),
            health: None,
            pace: std::sync::Arc::default(),
        }
    }

    /// Whether the access token runs out within a minute: refresh before a long sync.
    pub fn token_expiring(&self) -> bool {
        self.expires_at
            .is_some_and(|t| t <= std::time::Instant::now() + std::time::Duration::from_secs(60))
    }

    /// The app version sent with every request (the server may refuse one that is too old).
    pub fn with_app_version(mut self, version: &str) -> Self {
        version.clone_into(&mut self.app_version);
        self
    }

    /// The outbox's state, sent with every request from now on: how many mutations wait and
    /// how old the oldest is, in seconds.
    pub fn set_health(&mut self, outbox_depth: u64, oldest_unsent_s: u64) {
        self.health = Some((outbox_depth, oldest_unsent_s));
    }

    pub fn device_id(&self) -> Uuid {
        self.device_id
    }

    /// Reaches the server at another address from now on (a phone that moved from the office's
    /// Wi-Fi to the village's cell, a benchmark that puts a link in between); the session stays.
    pub fn set_base_url(&mut self, base_url: &str) {
        base_url.trim_end_matches('/').clone_into(&mut self.base);
        // Another link: its rate is measured afresh.
        self.pace = std::sync::Arc::default();
    }

    /// Treats the access token as run out, as it has after a phone spent the day offline: the
    /// next sync refreshes it first.
    pub fn assume_expired(&mut self) {
        self.expires_at = Some(std::time::Instant::now());
    }

    pub fn access_token(&self) -> Option<&str> {
        self.tokens.as_ref().map(|(a, _)| a.as_str())
    }

    pub async fn login(
        &mut self,
        username: &str,
        password: &str,
    ) -> Result<TokenResponse, ClientError> {
        let req = LoginRequest {
            username: username.to_owned(),
            password: password.to_owned(),
            device_id: self.device_id,
        };
        let t: TokenResponse = self
            .send(with_json(
                self.described(self.http.post(self.url("/v1/auth/login"))),
                &req,
            )?)
            .await?;
        self.tokens = Some((t.access_token.clone(), t.refresh_token.clone()));
        self.expires_at =
            Some(std::time::Instant::now() + std::time::Duration::from_secs(t.expires_in));
        Ok(t)
    }

    /// Trades the refresh token for a new pair (each refresh token is good once).
    pub async fn refresh(&mut self) -> Result<TokenResponse, ClientError> {
        let (_, refresh_token) = self.tokens.clone().ok_or(ClientError::NotLoggedIn)?;
        let req = RefreshRequest {
            refresh_token,
            device_id: self.device_id,
        };
        let t: TokenResponse = self
            .send(with_json(
                self.described(self.http.post(self.url("/v1/auth/refresh"))),
                &req,
            )?)
            .await?;
        self.tokens = Some((t.access_token.clone(), t.refresh_token.clone()));
        self.expires_at =
            Some(std::time::Instant::now() + std::time::Duration::from_secs(t.expires_in));
        Ok(t)
    }

    /// Ends this device's session on the server and forgets the tokens.
    pub async fn logout(&mut self) -> Result<(), ClientError> {
        let res = self
            .authed(self.http.post(self.url("/v1/auth/logout")))
            .send()
            .await?;
        if !res.status().is_success() {
            return Err(answer_error(res).await);
        }
        self.tokens = None;
        Ok(())
    }

    /// Changes the user's password; the server ends the user's other sessions.
    pub async fn change_password(&self, current: &str, new: &str) -> Result<(), ClientError> {
        let body = fieldsync_protocol::auth::PasswordChange {
            current_password: current.to_owned(),
            new_password: new.to_owned(),
        };
        let res = with_json(
            self.authed(self.http.post(self.url("/v1/auth/password"))),
            &body,
        )?
        .send()
        .await?;
        if !res.status().is_success() {
            return Err(answer_error(res).await);
        }
        Ok(())
    }

    pub async fn push(&self, mutations: Vec<Mutation>) -> Result<PushResponse, ClientError> {
        self.push_with(mutations, None).await
    }

    pub async fn push_with(
        &self,
        mutations: Vec<Mutation>,
        client: Option<ClientInfo>,
    ) -> Result<PushResponse, ClientError> {
        self.push_and_pull(mutations, client, None).await
    }

    /// A push that carries a pull: the answer's `pull` is the page after `pull.cursor`, read
    /// after the push committed (absent if the server could not answer it: pull with `GET`).
    pub async fn push_and_pull(
        &self,
        mutations: Vec<Mutation>,
        client: Option<ClientInfo>,
        pull: Option<PullRequest>,
    ) -> Result<PushResponse, ClientError> {
        let req = PushRequest {
            device_id: self.device_id,
            mutations,
            client,
            pull,
        };
        self.post_json("/v1/sync/push", &req).await
    }

    /// Posts any JSON (for testing how the server treats malformed input).
    pub async fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let req = with_json(self.authed(self.http.post(self.url(path))), body)?;
        self.send(req).await
    }

    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path_and_query: &str,
    ) -> Result<T, ClientError> {
        let req = self.authed(self.http.get(self.url(path_and_query)));
        self.send(req).await
    }

    /// One page of changes after `cursor`.
    pub async fn pull(
        &self,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<PullResponse, ClientError> {
        let mut req = self.authed(self.http.get(self.url("/v1/sync/pull")));
        if let Some(c) = cursor {
            req = req.query(&[("cursor", c)]);
        }
        if let Some(l) = limit {
            req = req.query(&[("limit", l)]);
        }
        self.send(req).await
    }

    /// Pulls until `has_more` is false. Returns the changes, the scopes to drop (from any
    /// page) and the final cursor.
    pub async fn pull_all(
        &self,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<(Vec<Change>, Vec<String>, String), ClientError> {
        let mut cursor = cursor.map(str::to_owned);
        let mut changes = Vec::new();
        let mut dropped = Vec::new();
        loop {
            let page = self.pull(cursor.as_deref(), limit).await?;
            changes.extend(page.changes);
            dropped.extend(page.drop_scopes);
            cursor = Some(page.cursor);
            if !page.has_more {
                break;
            }
        }
        Ok((changes, dropped, cursor.unwrap_or_default()))
    }

    /// How many bytes of the photo the server holds: 0 when it has none.
    pub async fn photo_offset(&self, sha256: &str) -> Result<u64, ClientError> {
        let req = self.authed(self.http.head(self.url(&format!("/v1/blobs/{sha256}"))));
        let res = req.send().await?;
        match res.status() {
            StatusCode::NOT_FOUND => Ok(0),
            s if s.is_success() => Ok(res
                .headers()
                .get("upload-offset")
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(0)),
            status => Err(ClientError::Api {
                status,
                body: ErrorBody {
                    error: fieldsync_protocol::error::ErrorDetail::new(
                        fieldsync_protocol::ErrorCode::Internal,
                        format!("HEAD answered {status}"),
                    ),
                },
            }),
        }
    }

    /// Uploads a photo as a phone on a weak link does: asks how much the server already holds,
    /// then sends the rest in chunks of `chunk` bytes. After a dropped connection, calling it
    /// again continues where the server's copy ends. A photo the server has and the phone may see
    /// (its own upload, or through a record) is not sent again; one that someone else sent is
    /// sent whole, as the server asks proof of possession (`HEAD` answers it 404).
    pub async fn upload_photo(
        &self,
        sha256: &str,
        bytes: &[u8],
        chunk: usize,
    ) -> Result<BlobInfo, ClientError> {
        self.upload(sha256, bytes, Pace::Fixed(chunk), true).await
    }

    /// [`Api::upload_photo`] with chunks sized to the link: each takes about
    /// [`CHUNK_SECONDS`] at the upload rate this connection last measured (a quarter of a
    /// megabyte to start with, 64 KiB at least). The server keeps every byte that arrives, even
    /// of a chunk cut short, so the size does not decide what a drop costs; it bounds what a
    /// proxy that buffers whole requests would lose, keeps each request well inside the
    /// client's timeout, and costs one round trip per chunk: a few percent of the time on
    /// EDGE, and on 4G a 3 MB photo goes in two requests instead of twelve.
    ///
    /// `resume`: ask the server first how much it holds (`HEAD`), as after an interrupted try.
    /// A photo this phone never tried to send starts at byte 0 without asking, saving a round
    /// trip; should the server hold part of it after all, its `409 upload_offset` says where.
    pub async fn upload_photo_paced(
        &self,
        sha256: &str,
        bytes: &[u8],
        resume: bool,
    ) -> Result<BlobInfo, ClientError> {
        self.upload(sha256, bytes, Pace::Link, resume).await
    }

    async fn upload(
        &self,
        sha256: &str,
        bytes: &[u8],
        pace: Pace,
        resume: bool,
    ) -> Result<BlobInfo, ClientError> {
        let url = self.url(&format!("/v1/blobs/{sha256}"));
        let total = bytes.len();
        let mut offset = if resume {
            usize::try_from(self.photo_offset(sha256).await?).unwrap_or(total)
        } else {
            0
        };
        // Corrections of the offset by the server in a row: a server that keeps moving it is
        // answered with its error rather than chased for ever.
        let mut corrected: u64 = 0;
        loop {
            if offset >= total {
                // Complete already: the server answers with what it has, without a body.
                match self.send(self.authed(self.http.put(&url))).await {
                    // Every byte is there but another request of this phone (one whose
                    // answer was lost) is still finishing it: ask again in a moment.
                    Err(ClientError::Api { status, .. })
                        if status == StatusCode::BAD_REQUEST && corrected < 5 =>
                    {
                        corrected += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(200 * corrected)).await;
                        offset = usize::try_from(self.photo_offset(sha256).await?).unwrap_or(total);
                        continue;
                    }
                    done => return done,
                }
            }
            let chunk = match pace {
                Pace::Fixed(n) => n,
                Pace::Link => self.pace.next_chunk(),
            };
            let end = (offset + chunk.max(1)).min(total);
            let req = self
                .authed(self.http.put(&url))
                .header(
                    "content-range",
                    format!("bytes {offset}-{}/{total}", end - 1),
                )
                .body(bytes[offset..end].to_vec());
            let started = std::time::Instant::now();
            let info: BlobInfo = match self.send(req).await {
                Ok(info) => {
                    self.pace.measured(end - offset, started.elapsed());
                    info
                }
                // The server holds another amount than the phone sent from (a chunk whose
                // answer was lost with a server that stopped, or a `HEAD` answered before it
                // arrived): `409 upload_offset` says where its copy ends; go on from there.
                Err(ClientError::Api { body, .. })
                    if body.error.code == fieldsync_protocol::ErrorCode::UploadOffset
                        && corrected < 5
                        && let Some(held) = held_offset(&body) =>
                {
                    corrected += 1;
                    offset = held.min(total);
                    continue;
                }
                Err(e) => return Err(e),
            };
            corrected = 0;
            if info.state != BlobState::Receiving {
                return Ok(info);
            }
            offset = usize::try_from(info.received).unwrap_or(total);
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let req = self.described(req);
        match &self.tokens {
            Some((access, _)) => req.bearer_auth(access),
            None => req,
        }
    }

    /// Every request says which app it is and, once known, how its outbox stands.
    fn described(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        use fieldsync_protocol::client::{
            APP_VERSION_HEADER, OLDEST_UNSENT_HEADER, OUTBOX_DEPTH_HEADER,
        };
        let req = req.header(APP_VERSION_HEADER, &self.app_version);
        match self.health {
            Some((depth, age)) => req
                .header(OUTBOX_DEPTH_HEADER, depth)
                .header(OLDEST_UNSENT_HEADER, age),
            None => req,
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let res = req.send().await?;
        if res.status().is_success() {
            return Ok(res.json().await?);
        }
        Err(answer_error(res).await)
    }
}

/// An error answer. A proxy in between may answer with a page of its own (nginx's HTML 502):
/// still an answer with a status — a 5xx is retried like any other — not a broken connection.
async fn answer_error(res: reqwest::Response) -> ClientError {
    let status = res.status();
    let bytes = match res.bytes().await {
        Ok(b) => b,
        Err(e) => return ClientError::Http(e),
    };
    let body = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| ErrorBody {
        error: fieldsync_protocol::ErrorDetail::new(
            if status.is_server_error() {
                fieldsync_protocol::ErrorCode::Unavailable
            } else {
                fieldsync_protocol::ErrorCode::InvalidRequest
            },
            format!("{status} without an error body (from a proxy in between?)"),
        ),
    });
    ClientError::Api { status, body }
}

/// How many bytes of an upload a `409 upload_offset` says the server holds (its `field` is
/// `upload_offset=N`).
fn held_offset(body: &ErrorBody) -> Option<usize> {
    body.error
        .field
        .as_deref()?
        .strip_prefix("upload_offset=")?
        .parse()
        .ok()
}
