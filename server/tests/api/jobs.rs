//! Periodic jobs shared by replicas through the `jobs` table: one claim at a time, a dead
//! replica's job taken up after its lease, a stale finish ignored, only known jobs claimed;
//! and the runner over the real jobs, seen in `/metrics`.

use std::time::Duration;

use fieldsync_server::clock;
use fieldsync_server::jobs::{ESCALATE_TASKS, Runner};

use crate::helpers::*;

const LEASE: i64 = 60_000;

#[tokio::test]
async fn a_job_is_held_by_one_replica_and_taken_up_when_its_holder_dies() {
    let app = spawn_app().await;
    let store = &app.store;
    let now = clock::now_ms();
    store.ensure_job("test_job", 3_600_000, now).await.unwrap();

    // Replicas claiming at the same moment: exactly one gets it.
    let claims = futures_all(
        (0..8)
            .map(|i| {
                let store = store.clone();
                async move {
                    store
                        .claim_job(&format!("node-{i}"), &["test_job"], now, LEASE)
                        .await
                        .unwrap()
                }
            })
            .collect(),
    )
    .await;
    assert_eq!(claims.iter().flatten().count(), 1, "{claims:?}");
    let holder = claims.iter().position(Option::is_some).unwrap();
    let holder = format!("node-{holder}");

    // Held: nobody else gets it, however often they look.
    assert_eq!(
        store
            .claim_job("other", &["test_job"], now + LEASE - 1, LEASE)
            .await
            .unwrap(),
        None
    );
    // A replica that does not know the job never claims it.
    assert_eq!(
        store
            .claim_job("old-version", &["something_else"], now + 10 * LEASE, LEASE)
            .await
            .unwrap(),
        None
    );

    // The holder was killed: after its lease another replica runs the job.
    let later = now + LEASE + 1;
    assert_eq!(
        store
            .claim_job("other", &["test_job"], later, LEASE)
            .await
            .unwrap()
            .as_deref(),
        Some("test_job")
    );
    // The dead holder's late finish changes nothing; the new holder's counts.
    assert!(
        !store
            .finish_job("test_job", &holder, later + 5, None)
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_job("test_job", "other", later + 10, Some("boom"))
            .await
            .unwrap()
    );
    let job = store
        .jobs()
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.name == "test_job")
        .unwrap();
    assert_eq!(job.runs, 2);
    assert_eq!(job.failures, 1);
    assert_eq!(job.last_error.as_deref(), Some("boom"));
    assert_eq!(job.next_run_at, later + 10 + 3_600_000);
    assert_eq!(job.locked_by, None);

    // Not due again until its interval has passed.
    assert_eq!(
        store
            .claim_job("other", &["test_job"], later + 20, LEASE)
            .await
            .unwrap(),
        None
    );
    assert!(store.make_job_due("test_job", later + 30).await.unwrap());
    assert!(
        store
            .claim_job("other", &["test_job"], later + 30, LEASE)
            .await
            .unwrap()
            .is_some()
    );
}

async fn futures_all<F: std::future::Future + Send + 'static>(futures: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn the_runner_runs_due_jobs_once_and_metrics_show_them() {
    // The server's own runner does not escalate here, so this test's runner is the only one.
    let app = spawn_app_with(|s| s.monitoring.escalate_every_s = 0).await;
    let runner = Runner::new(
        app.store.clone(),
        app.blobs.clone(),
        vec![(ESCALATE_TASKS, Duration::from_secs(3600))],
    );
    runner.register().await.unwrap();
    assert_eq!(runner.run_due().await.unwrap(), 1);
    assert_eq!(runner.run_due().await.unwrap(), 0, "not due again yet");
    assert!(
        app.store
            .make_job_due(ESCALATE_TASKS, clock::now_ms())
            .await
            .unwrap()
    );
    assert_eq!(runner.run_due().await.unwrap(), 1);

    let text = reqwest::get(format!("{}/metrics", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("fieldsync_job_runs_total{job=\"escalate_tasks\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("fieldsync_job_failures_total{job=\"escalate_tasks\"} 0"),
        "{text}"
    );
    assert!(text.contains("fieldsync_jobs_due 0"), "{text}");
}
