//! The baseline of the write benchmarks: the same rows written without sync (no HTTP, no
//! merge, no log), so that the cost of the sync stack shows as a ratio.

// Only some benchmarks compare with raw inserts.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Instant;

use fieldsync_protocol::Hlc;
use fieldsync_protocol::merge::FieldMeta;
use fieldsync_server::store::StampsOf;

use serde_json::Value;
use uuid::Uuid;

/// How the rows are written: by how many clients at once, how many rows a transaction (one
/// multi-row `INSERT`), how many transactions each, and what they hold.
pub struct Shape {
    pub clients: usize,
    pub rows_per_commit: usize,
    pub commits_per_client: usize,
    pub scope: &'static str,
    pub fields: Value,
}

/// Writes the rows without sync into a copy of the records table (its indexes included), each
/// client committing its transactions one after the other, durably (`synchronous=FULL` on
/// SQLite, a WAL flush per commit on PostgreSQL): rows per second.
pub async fn rows_per_s(url: &str, engine: &str, shape: &Shape) -> f64 {
    let (clients, batch, scope) = (shape.clients, shape.rows_per_commit, shape.scope);
    let commits = shape.commits_per_client;
    let rows_per_task = batch * commits;
    let pool_size = clients as u32;
    let fields = shape.fields.to_string();
    // The stamps the server writes for a new record: one for each of its fields.
    let stamp = FieldMeta {
        version: 1,
        hlc: Hlc::zero(Uuid::nil()),
        shared: false,
    };
    let stamps: BTreeMap<String, FieldMeta> = shape
        .fields
        .as_object()
        .into_iter()
        .flat_map(|f| f.keys())
        .map(|k| (k.clone(), stamp))
        .collect();
    let meta = serde_json::to_string(&StampsOf(&stamps)).expect("stamps");
    let started;
    if engine == "postgres" {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(pool_size)
            .connect(url)
            .await
            .expect("pool");
        for sql in [
            "DROP TABLE IF EXISTS raw_records",
            "CREATE TABLE raw_records (LIKE records INCLUDING ALL)",
        ] {
            sqlx::query(sql).execute(&pool).await.expect(sql);
        }
        started = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..clients {
            let (pool, fields, meta) = (pool.clone(), fields.clone(), meta.clone());
            tasks.push(tokio::spawn(async move {
                for b in 0..commits {
                    let mut tx = pool.begin().await.expect("begin");
                    let mut qb = sqlx::QueryBuilder::<sqlx::Postgres>::new("INSERT INTO raw_records (id, entity, scope, version, seq, deleted, fields, meta, gps, created_at, updated_at, created_by, updated_by) ");
                    qb.push_values(0..batch, |mut row, i| {
                        row.push_bind(Uuid::now_v7()).push_bind("household").push_bind(scope).push_bind(1i64)
                            .push_bind(((t * 1_000_000) + b * batch + i) as i64).push_bind(false)
                            .push_bind(sqlx::types::Json(serde_json::from_str::<Value>(&fields).unwrap_or_default()))
                            // A `json` column (migration 0023), bound as text like the server binds it.
                            .push_bind(meta.clone()).push_unseparated("::json")
                            .push_bind(None::<sqlx::types::Json<Value>>).push_bind(0i64).push_bind(0i64).push_bind(Uuid::nil()).push_bind(Uuid::nil());
                    });
                    qb.build().execute(&mut *tx).await.expect("insert");
                    tx.commit().await.expect("commit");
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
    } else {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                url.parse::<sqlx::sqlite::SqliteConnectOptions>()
                    .expect("url")
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal),
            )
            .await
            .expect("pool");
        // A copy of the records table with the indexes a write pays for.
        for sql in [
            "DROP TABLE IF EXISTS raw_records",
            "CREATE TABLE raw_records AS SELECT * FROM records WHERE 0",
            "CREATE UNIQUE INDEX raw_seq ON raw_records (seq)",
            "CREATE INDEX raw_scope ON raw_records (scope, seq)",
            "CREATE UNIQUE INDEX raw_id ON raw_records (id)",
        ] {
            sqlx::query(sql).execute(&pool).await.expect(sql);
        }
        started = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..clients {
            let (pool, fields, meta) = (pool.clone(), fields.clone(), meta.clone());
            tasks.push(tokio::spawn(async move {
                for b in 0..commits {
                    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.expect("begin");
                    let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO raw_records (id, entity, scope, version, seq, deleted, fields, meta, gps, created_at, updated_at, created_by, updated_by) ");
                    qb.push_values(0..batch, |mut row, i| {
                        row.push_bind(Uuid::now_v7()).push_bind("household").push_bind(scope).push_bind(1i64)
                            .push_bind(((t * 1_000_000) + b * batch + i) as i64).push_bind(false)
                            .push_bind(fields.clone()).push_bind(meta.clone())
                            .push_bind(None::<String>).push_bind(0i64).push_bind(0i64).push_bind(Uuid::nil()).push_bind(Uuid::nil());
                    });
                    qb.build().execute(&mut *tx).await.expect("insert");
                    tx.commit().await.expect("commit");
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
    }
    let rows = clients * rows_per_task;
    let per_s = rows as f64 / started.elapsed().as_secs_f64();
    eprintln!("   raw insert: {rows} rows, {per_s:.0} rows/s");
    per_s
}
