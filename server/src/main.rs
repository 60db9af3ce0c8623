//! The `fieldsync` binary.

// glibc's allocator spent about a sixth of the push path's CPU in the benchmark; mimalloc
// handles the many small JSON allocations of a sync server better.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    fieldsync_server::cli::run().await
}
