//! A PostgreSQL database per test when `FIELDSYNC_TEST_DATABASE_URL` names a server, created and
//! dropped exactly as the server's own suite does (`server/tests/api/helpers.rs`). A run meant
//! for PostgreSQL never falls back to SQLite: an unreachable server fails the test.

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use uuid::Uuid;

pub struct Database {
    admin_url: String,
    name: String,
    /// The URL of the test's own database, for `FIELDSYNC_DATABASE_URL`.
    pub url: String,
}

impl Database {
    /// A fresh database, or `None` when the tests run on SQLite.
    pub async fn from_env() -> Option<Database> {
        let admin_url = match std::env::var("FIELDSYNC_TEST_DATABASE_URL") {
            Ok(url) if url.starts_with("postgres") => url,
            Ok(other) if !other.is_empty() => {
                panic!("FIELDSYNC_TEST_DATABASE_URL must be a postgres:// URL, got {other:?}")
            }
            _ => return None,
        };
        let name = format!("fieldsync_e2e_{}", Uuid::now_v7().simple());
        let mut c = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("FIELDSYNC_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
        });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut c)
            .await
            .expect("the test database should be creatable");
        let _ = c.close().await;
        Some(Database {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime; a thread with its own runtime may block.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime should build");
            rt.block_on(async move {
                if let Ok(mut c) = PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut c)
                    .await;
                }
            });
        })
        .join();
    }
}

/// Replaces the database name (the path) of a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
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
