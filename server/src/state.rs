//! What every request shares: the store, the token keys, the settings, the photo store, the
//! receipt signer and the metrics. Below the front ends and the operations, so that each of
//! them can take it without importing the module that assembles the application.

use std::sync::Arc;

use crate::auth::TokenKeys;
use crate::blobs::Blobs;
use crate::config::Settings;
use crate::receipts::Signer;
use crate::store::Store;

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

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn keys(&self) -> &TokenKeys {
        &self.inner.keys
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }
}
