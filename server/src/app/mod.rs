//! The running server: start-up (migrate, seed, keys), the one router both front ends are
//! served from (`router.rs`), and graceful shutdown.

mod router;
mod unread;

use std::sync::Arc;

use tokio::net::TcpListener;

use secrecy::ExposeSecret;

use crate::auth::TokenKeys;
use crate::blobs::{BlobError, BlobStore, Blobs};
use crate::config::Settings;
use crate::privacy::{DataKey, KeyError};
use crate::receipts::Signer;
use crate::store::{Store, StoreError};
use crate::{clock, divisions};

use crate::state::AppState;
pub use router::router;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database {url}: {source}")]
    Database { url: String, source: StoreError },
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("built-in divisions: {0}")]
    Divisions(#[from] divisions::ParseError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("data key: {0}")]
    DataKey(#[from] KeyError),
    #[error("photo store: {0}")]
    Blobs(#[from] BlobError),
}

/// The key for personal data at rest: from the settings, or the data directory's key file.
fn data_key(settings: &Settings) -> Result<DataKey, StartError> {
    Ok(match &settings.data_key {
        Some(k) => DataKey::from_base64(k.expose_secret())?,
        None => DataKey::load_or_create(&settings.data_dir.join("data.key"))?,
    })
}

/// Where photos live on the local disk (the default blob store).
pub fn photo_dir(settings: &Settings) -> std::path::PathBuf {
    settings.data_dir.join("photos")
}

/// Opens the configured blob store and starts the photo workers and the periodic jobs
/// (`crate::jobs`: task escalation, collection of unused photos) on the current runtime.
pub fn start_blobs(store: &Store, settings: &Settings) -> Result<Blobs, StartError> {
    start_blobs_wrapped(store, settings, |blob_store| blob_store)
}

fn start_blobs_wrapped(
    store: &Store,
    settings: &Settings,
    wrap: impl FnOnce(Arc<dyn BlobStore>) -> Arc<dyn BlobStore>,
) -> Result<Blobs, StartError> {
    let blobs = Blobs::open(
        store.clone(),
        &settings.blobs,
        &photo_dir(settings),
        &settings.data_dir,
    )?
    .wrapping_store(wrap);
    crate::blobs::spawn_workers(&blobs, settings.blobs.workers);
    crate::jobs::Runner::new(
        store.clone(),
        blobs.clone(),
        crate::jobs::schedule(settings),
    )
    .spawn();
    Ok(blobs)
}

/// Opens the configured database, creating the data directory (the SQLite file and the photo
/// folder live there), and brings the schema up to date.
pub async fn open_store(settings: &Settings) -> Result<Store, StartError> {
    let url = settings.database_url();
    let photos = photo_dir(settings);
    std::fs::create_dir_all(&photos).map_err(|source| StartError::DataDir {
        path: photos.display().to_string(),
        source,
    })?;
    let db_err = |source| StartError::Database {
        url: settings.database_url_redacted(),
        source,
    };
    let key = data_key(settings)?;
    let check = key.check_value();
    let store = Store::connect(&url, &settings.connect_options(), key)
        .await
        .map_err(db_err)?;
    store.migrate().await.map_err(db_err)?;
    if store
        .remember("data-key-check", check.clone(), clock::now_ms())
        .await?
        != check
    {
        return Err(StartError::DataKey(KeyError::Mismatch));
    }
    Ok(store)
}

/// The `server_keys` row of the access-token signing key.
pub const TOKEN_KEY: &str = "jwt-hs256";

/// Everything a fresh database needs before it serves: Ningxia's divisions (so villages are
/// known without an import) and the token signing key.
pub async fn prepare(store: &Store) -> Result<TokenKeys, StartError> {
    if store.division_count().await? == 0 {
        let all = divisions::parse(divisions::NINGXIA_CSV)?;
        let n = store.upsert_divisions(&all, |_| {}).await?;
        tracing::info!(divisions = n, "loaded the built-in Ningxia division codes");
    }
    let secret = store.server_secret(TOKEN_KEY, clock::now_ms()).await?;
    let mut keys = TokenKeys::from_secret(&secret);
    // After `admin rotate-token-key`: the old key still verifies the tokens it signed before
    // (the current key's row says when it replaced it).
    if let Some((previous, _)) = store
        .server_secret_at(&format!("{TOKEN_KEY}-previous"))
        .await?
        && let Some((_, rotated_at)) = store.server_secret_at(TOKEN_KEY).await?
    {
        keys = keys.with_previous(&previous, u64::try_from(rotated_at / 1000).unwrap_or(0));
    }
    Ok(keys)
}

/// Serves until `shutdown` resolves, then stops accepting connections and lets in-flight
/// requests (a push half-way through its transaction) finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A server running in this process (tests, benchmarks, embedding): stops when dropped.
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub store: Store,
    pub blobs: Blobs,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, waits for requests in flight, and returns.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Opens the database, prepares it and serves on `listener` in a background task.
pub async fn start(settings: Settings, listener: TcpListener) -> Result<Running, StartError> {
    start_wrapping_blob_store(settings, listener, |blob_store| blob_store).await
}

/// [`start`], with the configured blob store seen through `wrap`: the tests of storage
/// failures put a store that fails on purpose in front of the real one.
pub async fn start_wrapping_blob_store(
    settings: Settings,
    listener: TcpListener,
    wrap: impl FnOnce(Arc<dyn BlobStore>) -> Arc<dyn BlobStore> + Send,
) -> Result<Running, StartError> {
    let store = open_store(&settings).await?;
    let keys = prepare(&store).await?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::DataDir {
            path: "listener".into(),
            source,
        })?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let blobs = start_blobs_wrapped(&store, &settings, wrap)?;
    let receipts = Signer::load(&store).await?;
    let state = AppState::new(store.clone(), keys, settings, blobs.clone(), receipts);
    let task = tokio::spawn(serve(listener, state, async move {
        let _ = rx.await;
    }));
    Ok(Running {
        addr,
        store,
        blobs,
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
