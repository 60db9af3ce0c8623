//! Secrets every replica must share, kept in the database so that replicas need no shared
//! file and a fresh install needs no setup.

use rand::RngCore;

use super::{Result, Store, execute, fetch_as, fetch_scalar};

impl Store {
    /// Returns the named secret, creating a random 32-byte one on first use. Replicas racing
    /// to create it all end up reading the same row.
    pub async fn server_secret(&self, name: &str, now_ms: i64) -> Result<Vec<u8>> {
        let mut fresh = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut fresh);
        self.remember(name, fresh, now_ms).await
    }

    /// The named secret and when it was made, if there is one.
    pub async fn server_secret_at(&self, name: &str) -> Result<Option<(Vec<u8>, i64)>> {
        Ok(fetch_as!(
            self.writer(),
            fetch_optional,
            (Vec<u8>, i64),
            "SELECT secret, created_at FROM server_keys WHERE name = $1",
            name,
        )?)
    }

    /// Replaces the named secret with a new random one, keeping the old one as
    /// `{name}-previous` (and dropping the one kept before). One transaction: replicas starting
    /// meanwhile see the old pair or the new one.
    pub async fn rotate_secret(&self, name: &str, now_ms: i64) -> Result<()> {
        let mut fresh = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut fresh);
        let previous = format!("{name}-previous");
        let mut tx = self.begin().await?;
        execute!(
            tx.conn(),
            "DELETE FROM server_keys WHERE name = $1",
            &previous
        )?;
        execute!(
            tx.conn(),
            "UPDATE server_keys SET name = $2 WHERE name = $1",
            name,
            &previous,
        )?;
        execute!(
            tx.conn(),
            "INSERT INTO server_keys (name, secret, created_at) VALUES ($1, $2, $3)",
            name,
            fresh,
            now_ms,
        )?;
        tx.commit().await
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
