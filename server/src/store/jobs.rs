//! The `jobs` table: periodic work that one replica at a time runs when it is due (see
//! `crate::jobs`). A claim is a lease: the claimer's name and a time it holds until.

use super::{Engine, Result, Store, execute, fetch_as};

/// A job as `admin jobs` and the metrics show it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct JobRow {
    pub name: String,
    pub every_ms: i64,
    pub next_run_at: i64,
    pub locked_by: Option<String>,
    pub locked_until: Option<i64>,
    pub runs: i64,
    pub failures: i64,
    pub last_started_at: Option<i64>,
    pub last_finished_at: Option<i64>,
    pub last_error: Option<String>,
}

impl JobRow {
    /// Due and not held by a live lease: what a replica looking now would claim.
    pub fn is_due(&self, now_ms: i64) -> bool {
        self.next_run_at <= now_ms && self.locked_until.is_none_or(|t| t < now_ms)
    }
}

impl Store {
    /// Registers a periodic job, or changes its interval; a new job is due at once.
    pub async fn ensure_job(&self, name: &str, every_ms: i64, now_ms: i64) -> Result<()> {
        execute!(
            self.writer(),
            "INSERT INTO jobs (name, every_ms, next_run_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET every_ms = excluded.every_ms",
            name,
            every_ms,
            now_ms,
        )?;
        Ok(())
    }

    /// Claims the most overdue of the `known` jobs that is due and not held by a live lease,
    /// for `node` until `now_ms + lease_ms`. Only known jobs: during a rolling upgrade an older
    /// replica must leave a newer job to the replicas that can run it. On PostgreSQL, replicas
    /// claiming at the same moment skip each other's locked rows instead of queueing behind
    /// them, and the condition is checked again on the locked row, so a job claimed a moment
    /// ago is not claimed twice.
    pub async fn claim_job(
        &self,
        node: &str,
        known: &[&str],
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Option<String>> {
        let until = now_ms.saturating_add(lease_ms);
        // The engines differ in how the known names are passed and in row locking only.
        let claim = |known_names: &str, lock: &str| {
            format!(
                "UPDATE jobs SET locked_by = $1, locked_until = $2, last_started_at = $3,
                     runs = runs + 1
                 WHERE name = (SELECT name FROM jobs
                               WHERE next_run_at <= $3
                                 AND (locked_until IS NULL OR locked_until < $3)
                                 AND {known_names}
                               ORDER BY next_run_at LIMIT 1 {lock})
                 RETURNING name"
            )
        };
        Ok(match self.writer() {
            Engine::Sqlite(p) => {
                let known = serde_json::to_string(known).unwrap_or_default();
                sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(claim(
                    "name IN (SELECT value FROM json_each($4))",
                    "",
                )))
                .bind(node)
                .bind(until)
                .bind(now_ms)
                .bind(known)
                .fetch_optional(p)
                .await?
            }
            Engine::Postgres(p) => {
                sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(claim(
                    "name = ANY($4)",
                    "FOR UPDATE SKIP LOCKED",
                )))
                .bind(node)
                .bind(until)
                .bind(now_ms)
                .bind(known)
                .fetch_optional(p)
                .await?
            }
        })
    }

    /// Ends `node`'s run of a job: due again `every_ms` after now, the lease released, the
    /// error kept (or cleared). False when the lease had already passed to another replica:
    /// then that replica's run decides.
    pub async fn finish_job(
        &self,
        name: &str,
        node: &str,
        now_ms: i64,
        error: Option<&str>,
    ) -> Result<bool> {
        let n = execute!(
            self.writer(),
            "UPDATE jobs SET next_run_at = $3 + every_ms, locked_by = NULL, locked_until = NULL,
                 last_finished_at = $3, last_error = $4,
                 failures = failures + CASE WHEN $4 IS NULL THEN 0 ELSE 1 END
             WHERE name = $1 AND locked_by = $2",
            name,
            node,
            now_ms,
            error,
        )?;
        Ok(n == 1)
    }

    /// Makes a job due now (`admin run-job`): the next replica to look runs it.
    pub async fn make_job_due(&self, name: &str, now_ms: i64) -> Result<bool> {
        let n = execute!(
            self.writer(),
            "UPDATE jobs SET next_run_at = $2 WHERE name = $1",
            name,
            now_ms,
        )?;
        Ok(n == 1)
    }

    pub async fn jobs(&self) -> Result<Vec<JobRow>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            JobRow,
            "SELECT name, every_ms, next_run_at, locked_by, locked_until, runs, failures,
                    last_started_at, last_finished_at, last_error
             FROM jobs ORDER BY name",
        )?)
    }
}
