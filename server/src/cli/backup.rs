//! `admin backup` and `admin restore`: the database and every stored object (photos,
//! thumbnails) into one directory, and back.
//!
//! The database comes first (SQLite: `VACUUM INTO`, a consistent copy while the server runs;
//! PostgreSQL: `pg_dump` in its custom format), then the objects, which are content-addressed
//! and never change, so objects copied after the snapshot cover every photo it names (only
//! photos collected meanwhile can be missing, and nothing names those). The data key is not
//! in the backup: keep it apart (`FIELDSYNC_DATA_KEY` or `data_dir/data.key`); a restored
//! database only opens with the key it was written with.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::app;
use crate::blobs::Blobs;
use crate::config::Settings;
use crate::store::{Kind, Store};

#[derive(Serialize, Deserialize)]
struct Manifest {
    format: u32,
    engine: String,
    created_at_ms: i64,
    server_version: String,
    objects: Vec<Object>,
}

#[derive(Serialize, Deserialize)]
struct Object {
    key: String,
    size: u64,
}

const SQLITE_FILE: &str = "database.sqlite";
const PG_FILE: &str = "database.pgdump";

fn blobs_of(store: &Store, settings: &Settings) -> anyhow::Result<Blobs> {
    Ok(Blobs::open(
        store.clone(),
        &settings.blobs,
        &app::photo_dir(settings),
        &settings.data_dir,
    )?)
}

/// Object keys are the store's own (`originals/ab/ab12…`), checked by the store's rules, so
/// a doctored manifest cannot write outside the backup.
fn object_path(dir: &Path, key: &str) -> anyhow::Result<PathBuf> {
    crate::blobs::check_key(key)?;
    Ok(dir.join("objects").join(key))
}

pub(super) async fn backup(store: &Store, settings: &Settings, out: &Path) -> anyhow::Result<()> {
    if out.exists()
        && std::fs::read_dir(out)
            .with_context(|| format!("{}", out.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty: back up into a new directory",
            out.display()
        );
    }
    std::fs::create_dir_all(out.join("objects"))
        .with_context(|| format!("cannot create {}", out.display()))?;
    let engine = match store.kind() {
        Kind::Sqlite => {
            let file = out.join(SQLITE_FILE);
            store.vacuum_into(&file).await?;
            "sqlite"
        }
        Kind::Postgres => {
            let file = out.join(PG_FILE);
            let status = tokio::process::Command::new("pg_dump")
                .arg("--format=custom")
                .arg("--no-owner")
                .arg(format!("--file={}", file.display()))
                .arg(format!("--dbname={}", settings.database_url()))
                .status()
                .await
                .context("pg_dump could not be started (install the PostgreSQL client)")?;
            if !status.success() {
                bail!("pg_dump failed ({status})");
            }
            "postgres"
        }
    };
    let blobs = blobs_of(store, settings)?;
    let mut objects = Vec::new();
    for listed in blobs.store().list("").await? {
        let path = object_path(out, &listed.key)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if blobs.store().fetch_to_file(&listed.key, &path).await? {
            objects.push(Object {
                key: listed.key,
                size: listed.size,
            });
        }
    }
    let manifest = Manifest {
        format: 1,
        engine: engine.to_owned(),
        created_at_ms: crate::clock::now_ms(),
        server_version: crate::http::SERVER_VERSION.to_owned(),
        objects,
    };
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?,
    )?;
    println!(
        "backed up the {engine} database and {} objects into {}",
        manifest.objects.len(),
        out.display()
    );
    Ok(())
}

/// Restores into the configured database and object store. The server must be stopped; the
/// database is replaced.
pub(super) async fn restore(settings: &Settings, from: &Path) -> anyhow::Result<()> {
    let manifest: Manifest = serde_json::from_str(
        &std::fs::read_to_string(from.join("manifest.json"))
            .with_context(|| format!("{} holds no backup (manifest.json)", from.display()))?,
    )
    .context("manifest.json is not a fieldsync backup manifest")?;
    if manifest.format != 1 {
        bail!(
            "backup format {} is not one this server reads",
            manifest.format
        );
    }
    let postgres = settings.database_url.is_some();
    match (manifest.engine.as_str(), postgres) {
        ("sqlite", false) => {
            let target = settings.data_dir.join("fieldsync.db");
            std::fs::create_dir_all(&settings.data_dir)?;
            for suffix in ["-wal", "-shm"] {
                let side = PathBuf::from(format!("{}{suffix}", target.display()));
                if side.exists() {
                    std::fs::remove_file(&side)?;
                }
            }
            std::fs::copy(from.join(SQLITE_FILE), &target)
                .with_context(|| format!("cannot write {}", target.display()))?;
        }
        ("postgres", true) => {
            let status = tokio::process::Command::new("pg_restore")
                .arg("--clean")
                .arg("--if-exists")
                .arg("--no-owner")
                .arg("--single-transaction")
                .arg(format!("--dbname={}", settings.database_url()))
                .arg(from.join(PG_FILE))
                .status()
                .await
                .context("pg_restore could not be started (install the PostgreSQL client)")?;
            if !status.success() {
                bail!("pg_restore failed ({status})");
            }
        }
        (engine, _) => bail!(
            "this backup is of a {engine} database; configure the same kind of database to restore it"
        ),
    }
    // Opening the store checks the data key against the restored database.
    let store = app::open_store(settings).await?;
    app::prepare(&store).await?;
    let blobs = blobs_of(&store, settings)?;
    for o in &manifest.objects {
        let path = object_path(from, &o.key)?;
        blobs
            .store()
            .put_file(&o.key, &path)
            .await
            .with_context(|| format!("object {}", o.key))?;
    }
    store.close().await;
    println!(
        "restored the {} database and {} objects from {}",
        manifest.engine,
        manifest.objects.len(),
        from.display()
    );
    Ok(())
}
