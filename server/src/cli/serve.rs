//! `fieldsync serve` and `fieldsync migrate`: the commands that bring the database up to date.
//! `serve` migrates before it listens, so a new release needs no separate step; `migrate` does
//! only that and exits.

use anyhow::Context;
use tokio::net::TcpListener;

use crate::app;
use crate::clock;
use crate::config::Settings;
use crate::state::AppState;

pub(super) async fn serve(settings: Settings) -> anyhow::Result<()> {
    let store = app::open_store(&settings).await?;
    let keys = app::prepare(&store).await?;
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        database = %settings.database_url_redacted(),
        version = crate::http::SERVER_VERSION,
        "fieldsync serving"
    );
    let blobs = app::start_blobs(&store, &settings)?;
    blobs
        .store()
        .check()
        .await
        .with_context(|| format!("photo store ({})", blobs.store().name()))?;
    let receipts = crate::receipts::Signer::load(&store).await?;
    if clock::test_offset_ms() != 0 {
        tracing::warn!(
            offset_s = clock::test_offset_ms() / 1000,
            "{} is set: this server runs on a shifted clock (tests only)",
            clock::TEST_OFFSET_VAR
        );
    }
    let state = AppState::new(store.clone(), keys, settings, blobs, receipts);
    app::serve(listener, state, app::shutdown_signal()).await?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

pub(super) async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = app::open_store(settings).await?;
    app::prepare(&store).await?;
    println!(
        "database {} is up to date",
        settings.database_url_redacted()
    );
    Ok(())
}
