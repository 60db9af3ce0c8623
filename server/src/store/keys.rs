//! Secrets every replica must share, kept in the database so that replicas need no shared
//! file and a fresh install needs no setup.

use rand::RngCore;

use super::{Result, Store, execute, fetch_scalar};

impl Store {
    /// Returns the named secret, creating a random 32-byte one on first use. Replicas racing
    /// to create it all end up reading the same row.
    pub async fn server_secret(&self, name: &str, now_ms: i64) -> Result<Vec<u8>> {
        let mut fresh = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut fresh);
        self.remember(name, fresh, now_ms).await
    }

    /// Stores `value` under `name` unless a value is already there; returns the stored one.
    pub async fn remember(&self, name: &str, fresh: Vec<u8>, now_ms: i64) -> Result<Vec<u8>> {
        execute!(
            self.writer(),
            "INSERT INTO server_keys (name, secret, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING",
            name,
            fresh,
            now_ms,
        )?;
        Ok(fetch_scalar!(
            self.writer(),
            fetch_one,
            Vec<u8>,
            "SELECT secret FROM server_keys WHERE name = $1",
            name,
        )?)
    }
}
