//! Support for the test suites and the benchmark: a throwaway database on either engine, made
//! fresh and removed on drop; test photos made at run time ([`photo`]). The server itself never
//! uses this module.

pub mod link;
pub mod photo;

use std::path::{Path, PathBuf};

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use uuid::Uuid;

use crate::store::Store;

/// A database that exists for one test (or one benchmark run), with a data directory of its
/// own (for the data key and photos; on SQLite the database file lives there too).
pub struct ScratchDatabase {
    /// The URL to give the server (`FIELDSYNC_DATABASE_URL`).
    pub url: String,
    dir: PathBuf,
    postgres: Option<(String, String)>,
}

impl ScratchDatabase {
    /// A PostgreSQL database when the environment variable `var` names a server (a run meant
    /// for PostgreSQL never falls back: an unreachable server is an error), else SQLite in a
    /// fresh temporary directory.
    pub async fn from_env(var: &str, prefix: &str) -> Result<ScratchDatabase, String> {
        match Self::postgres_from_env(var, prefix).await? {
            Some(db) => Ok(db),
            None => Self::sqlite(prefix).map_err(|e| format!("temporary directory: {e}")),
        }
    }

    /// A PostgreSQL database when `var` names a server, `None` when it is unset or empty.
    pub async fn postgres_from_env(
        var: &str,
        prefix: &str,
    ) -> Result<Option<ScratchDatabase>, String> {
        match std::env::var(var) {
            Ok(url) if url.starts_with("postgres") => Self::postgres(&url, prefix)
                .await
                .map(Some)
                .map_err(|e| format!("{var} is set but PostgreSQL is not usable: {e}")),
            Ok(other) if !other.is_empty() => {
                Err(format!("{var} must be a postgres:// URL, got {other:?}"))
            }
            _ => Ok(None),
        }
    }

    /// SQLite in a fresh temporary directory.
    pub fn sqlite(prefix: &str) -> std::io::Result<ScratchDatabase> {
        let dir = scratch_dir(prefix)?;
        Ok(ScratchDatabase {
            url: Store::sqlite_url(&dir),
            dir,
            postgres: None,
        })
    }

    /// A new database `<prefix>_<uuid>` on the PostgreSQL server of `admin_url`.
    pub async fn postgres(admin_url: &str, prefix: &str) -> Result<ScratchDatabase, sqlx::Error> {
        let name = format!("{prefix}_{}", Uuid::now_v7().simple());
        let mut c = PgConnection::connect(admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut c)
            .await?;
        let _ = c.close().await;
        let dir = scratch_dir(prefix).map_err(sqlx::Error::Io)?;
        Ok(ScratchDatabase {
            url: with_database(admin_url, &name),
            dir,
            postgres: Some((admin_url.to_owned(), name)),
        })
    }

    /// A PostgreSQL database for a benchmark on the server `FIELDSYNC_BENCH_DATABASE_URL`
    /// names (default the local one); `None`, with a notice, when there is none to use.
    pub async fn bench_postgres(name: &str) -> Option<ScratchDatabase> {
        let admin = std::env::var("FIELDSYNC_BENCH_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        match ScratchDatabase::postgres(&admin, name).await {
            Ok(db) => Some(db),
            Err(e) => {
                eprintln!("PostgreSQL at {admin} unusable ({e}): PostgreSQL figures skipped");
                None
            }
        }
    }

    /// The data directory to give the server (`FIELDSYNC_DATA_DIR`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn scratch_dir(prefix: &str) -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        match &self.postgres {
            None => {}
            Some((admin_url, name)) => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop may run inside an async runtime, which must not block: use a thread with
                // a runtime of its own.
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    rt.block_on(async move {
                        if let Ok(mut c) = PgConnection::connect(&admin_url).await {
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut c).await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// Replaces the database name (the path) of a PostgreSQL URL.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn with_database_replaces_the_path() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://h/db?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }
}

/// Peak memory of this process, for benchmarks: Linux's `VmHWM` (the high-water mark of the
/// resident set), which `reset_peak` lowers to the current resident set first.
pub mod memory {
    /// Resets the peak to the current resident set and returns it, in KiB. Where the kernel
    /// does not allow it, the peak stays where it was (said on stderr).
    pub fn reset_peak() -> u64 {
        if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
            eprintln!("cannot reset the peak ({e}): growth is measured from the earlier peak");
        }
        peak_kib()
    }

    /// `VmHWM` of this process, in KiB (0 where there is no `/proc`).
    pub fn peak_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }
}

/// S3 settings for a fresh bucket on the S3-protocol test server `FIELDSYNC_TEST_S3_ENDPOINT`
/// names (moto in `.ci/run`), the bucket created; `None`, with a notice, when none is named.
pub async fn s3_test_bucket(prefix: &str) -> Option<crate::config::S3Settings> {
    let Ok(endpoint) = std::env::var("FIELDSYNC_TEST_S3_ENDPOINT") else {
        eprintln!("FIELDSYNC_TEST_S3_ENDPOINT is not set: S3 test skipped");
        return None;
    };
    let s3 = crate::config::S3Settings {
        endpoint: Some(endpoint),
        region: "us-east-1".into(),
        bucket: format!("{prefix}-{}", uuid::Uuid::now_v7().simple()),
        prefix: "photos/".into(),
        access_key_id: "test".into(),
        secret_access_key: "test".to_owned().into(),
        path_style: true,
    };
    crate::blobs::S3Store::new(&crate::blobs::s3_settings(&s3))
        .create_bucket()
        .await
        .expect("the test bucket should be creatable");
    Some(s3)
}

/// Runs a benchmark on SQLite (in a temp dir) and then, when one is usable, on PostgreSQL
/// ([`ScratchDatabase::bench_postgres`]); what each run gave, in that order. `name` names the
/// scratch databases.
pub async fn on_each_engine<T>(
    name: &str,
    run: impl AsyncFn(&'static str, &ScratchDatabase) -> T,
) -> Vec<T> {
    let mut all = Vec::new();
    let sqlite = ScratchDatabase::sqlite(&format!("fieldsync-bench-{name}")).expect("temp dir");
    all.push(run("sqlite", &sqlite).await);
    drop(sqlite);
    if let Some(db) = ScratchDatabase::bench_postgres(&format!("fieldsync_bench_{name}")).await {
        all.push(run("postgres", &db).await);
    }
    all
}

/// Lets the SQLite file of `store` grow by no more than `pages` further pages (`None`: as far
/// as SQLite allows), as a full disk would: SQLite then fails writes with `SQLITE_FULL`. The
/// limit (`PRAGMA max_page_count`) belongs to the write connection, so a test keeping the disk
/// "full" sets it again after a failure may have replaced that connection. No-op on PostgreSQL.
pub async fn limit_sqlite_growth(store: &Store, pages: Option<u64>) -> Result<(), sqlx::Error> {
    let crate::store::Engine::Sqlite(pool) = store.writer() else {
        return Ok(());
    };
    let mut conn = pool.acquire().await?;
    let limit = match pages {
        Some(extra) => {
            let now: i64 = sqlx::query_scalar("PRAGMA page_count")
                .fetch_one(&mut *conn)
                .await?;
            u64::try_from(now).unwrap_or(0) + extra
        }
        None => u64::from(u32::MAX - 1),
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA max_page_count = {limit}"
    )))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
