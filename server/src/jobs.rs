//! Background work that every replica shares through the database, so that N stateless
//! replicas do each piece once and a killed replica's work is picked up by another:
//! - **periodic jobs** (the `jobs` table, `store/jobs.rs`): escalating overdue tasks and
//!   collecting unused photos. A replica claims a due job with a lease, runs it and sets the
//!   next due time; a replica that dies mid-run leaves the lease to expire and the job runs
//!   again elsewhere. Every job is safe to run twice (escalation marks a task once; collection
//!   deletes what is still unused).
//! - **photo processing**: the queue is the `blobs` rows in state `processing`, claimed the
//!   same way (`blobs/worker.rs`).
//!
//! Attendance has no job: a sheet is computed when it is read, from the events themselves.

use std::time::Duration;

use crate::blobs::Blobs;
use crate::clock;
use crate::config::Settings;
use crate::store::Store;

pub const ESCALATE_TASKS: &str = "escalate_tasks";
pub const COLLECT_PHOTOS: &str = "collect_photos";

/// How long a claim holds: far longer than any run takes, so a slow run is not started twice,
/// and short enough that a killed replica's job waits little.
const LEASE_MS: i64 = 10 * 60 * 1000;
/// How often a replica looks for due jobs.
const POLL: Duration = Duration::from_secs(15);

/// The jobs the settings ask for, with their intervals.
pub fn schedule(settings: &Settings) -> Vec<(&'static str, Duration)> {
    let mut jobs = vec![(COLLECT_PHOTOS, Duration::from_secs(3600))];
    if settings.monitoring.escalate_every_s > 0 {
        jobs.push((
            ESCALATE_TASKS,
            Duration::from_secs(settings.monitoring.escalate_every_s),
        ));
    }
    jobs
}

/// Runs the periodic jobs on the current runtime.
#[derive(Clone)]
pub struct Runner {
    store: Store,
    blobs: Blobs,
    /// This process among the replicas: what its leases are held under.
    node: String,
    jobs: Vec<(&'static str, Duration)>,
}

impl Runner {
    pub fn new(store: Store, blobs: Blobs, jobs: Vec<(&'static str, Duration)>) -> Self {
        Runner {
            store,
            blobs,
            node: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            jobs,
        }
    }

    /// Registers the jobs (a job another replica registered and this one does not run is
    /// left alone) and looks for due ones every [`POLL`] from now on.
    pub fn spawn(self) {
        tokio::spawn(async move {
            if let Err(e) = self.register().await {
                tracing::error!(error = %e, "registering the jobs failed");
            }
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = self.run_due().await {
                    tracing::warn!(error = %e, "looking for due jobs failed; will look again");
                }
            }
        });
    }

    pub async fn register(&self) -> Result<(), crate::store::StoreError> {
        for (name, every) in &self.jobs {
            let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX);
            self.store
                .ensure_job(name, every_ms, clock::now_ms())
                .await?;
        }
        Ok(())
    }

    /// Claims and runs due jobs until none is left; the number run.
    pub async fn run_due(&self) -> Result<usize, crate::store::StoreError> {
        let mut ran = 0;
        let known: Vec<&str> = self.jobs.iter().map(|(n, _)| *n).collect();
        while let Some(name) = self
            .store
            .claim_job(&self.node, &known, clock::now_ms(), LEASE_MS)
            .await?
        {
            let started = std::time::Instant::now();
            let outcome = self.run(&name).await;
            let error = outcome.as_ref().err().map(String::as_str);
            match error {
                None => {
                    tracing::info!(job = %name, ms = started.elapsed().as_millis() as u64, "job done")
                }
                Some(e) => tracing::error!(job = %name, error = %e, "job failed"),
            }
            if !self
                .store
                .finish_job(&name, &self.node, clock::now_ms(), error)
                .await?
            {
                tracing::warn!(job = %name, "the job's lease ran out before it finished");
            }
            ran += 1;
        }
        Ok(ran)
    }

    async fn run(&self, name: &str) -> Result<(), String> {
        match name {
            // It logs what it escalated itself.
            ESCALATE_TASKS => crate::cases::escalate::escalate(&self.store, clock::now_ms())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            COLLECT_PHOTOS => self
                .blobs
                .collect(clock::now_ms())
                .await
                .map(|c| {
                    tracing::info!(
                        photos = c.photos,
                        uploads = c.uploads,
                        "collected unused photos"
                    )
                })
                .map_err(|e| e.to_string()),
            // A job a newer version registered: leave it to the replicas that know it.
            other => Err(format!("this server version does not know the job {other}")),
        }
    }
}
