//! The `fieldsync` binary.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    fieldsync_server::cli::run().await
}
