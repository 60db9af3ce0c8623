//! What every request shares: the store, the token keys, the settings, the photo store, the
//! receipt signer, the metrics and the push committer. Below the front ends and the
//! operations, so that each of them can take it without importing the module that assembles
//! the application.

use std::sync::Arc;

use crate::auth::TokenKeys;
use crate::blobs::Blobs;
use crate::config::Settings;
use crate::receipts::Signer;
use crate::store::Store;
use crate::sync::group::Committer;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    keys: TokenKeys,
    settings: Settings,
    blobs: Blobs,
    receipts: Signer,
    metrics: crate::metrics::Metrics,
    /// The callers of sessions that pushed before (`service::caller::SessionCache`).
    sessions: crate::service::caller::SessionCache,
    /// Started with the first push (it needs the runtime `new` may be called outside of).
    committer: std::sync::OnceLock<Committer>,
}

impl AppState {
    pub fn new(
        store: Store,
        keys: TokenKeys,
        settings: Settings,
        blobs: Blobs,
        receipts: Signer,
    ) -> Self {
        AppState {
            inner: Arc::new(Inner {
                store,
                keys,
                settings,
                blobs,
                receipts,
                metrics: crate::metrics::Metrics::default(),
                sessions: crate::service::caller::SessionCache::default(),
                committer: std::sync::OnceLock::new(),
            }),
        }
    }

    pub fn receipts(&self) -> &Signer {
        &self.inner.receipts
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.metrics
    }

    pub fn blobs(&self) -> &Blobs {
        &self.inner.blobs
    }

    pub fn sessions(&self) -> &crate::service::caller::SessionCache {
        &self.inner.sessions
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Where pushes are committed, in groups (`crate::sync::group`). Call from within the
    /// runtime.
    pub fn committer(&self) -> &Committer {
        self.inner
            .committer
            .get_or_init(|| Committer::start(self.inner.store.clone()))
    }

    pub fn keys(&self) -> &TokenKeys {
        &self.inner.keys
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }
}
