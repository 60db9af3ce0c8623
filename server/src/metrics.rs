//! Prometheus metrics of one process, in the text exposition format, without a metrics crate:
//! request counts and latencies by route (the route template, never a path with ids), push
//! results by status, and, read from the database at scrape time, the state every replica
//! shares (sync head, records, conflicts, the photo queue). Labels hold no personal data.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use fieldsync_protocol::push::Status;

/// Upper bounds of the latency buckets, in seconds.
pub const SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Upper bounds of the pull-lag buckets, in changes.
pub const CHANGES: &[f64] = &[0.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0];

#[derive(Clone, Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations at or below each bound (not cumulative; summed when rendered).
    counts: Vec<u64>,
    count: u64,
    sum: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new(SECONDS)
    }
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            count: 0,
            sum: 0.0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            self.counts[i] += 1;
        }
        self.count += 1;
        self.sum += value;
    }

    /// The `_bucket`, `_sum` and `_count` lines of series `name` with `labels` (`a="b"` or
    /// empty).
    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, n) in self.bounds.iter().zip(&self.counts) {
            cumulative += n;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {}", braces(labels), self.sum);
        let _ = writeln!(out, "{name}_count{} {}", braces(labels), self.count);
    }
}

/// A histogram that several tasks observe into.
#[derive(Debug)]
pub struct SharedHistogram(Mutex<Histogram>);

impl SharedHistogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        SharedHistogram(Mutex::new(Histogram::new(bounds)))
    }

    pub fn observe(&self, value: f64) {
        if let Ok(mut h) = self.0.lock() {
            h.observe(value);
        }
    }

    pub fn snapshot(&self) -> Option<Histogram> {
        self.0.lock().ok().map(|h| h.clone())
    }
}

const STATUSES: [Status; 5] = [
    Status::Applied,
    Status::Merged,
    Status::Conflict,
    Status::Rejected,
    Status::Duplicate,
];

/// The process's counters.
#[derive(Debug)]
pub struct Metrics {
    /// (route, method, status) → count.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// route → latency.
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// Mutation results, in the order of [`STATUSES`].
    push: [AtomicU64; 5],
    /// How many changes of its villages a phone had not yet received when it pulled (steady pulls after the first sync).
    pull_lag: SharedHistogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Mutex::default(),
            latency: Mutex::default(),
            push: Default::default(),
            pull_lag: SharedHistogram::new(CHANGES),
        }
    }
}

/// What the database says at scrape time, and what other parts of the process measured.
#[derive(Debug, Default)]
pub struct Shared {
    pub sync: crate::store::SyncStats,
    pub jobs: Vec<crate::store::JobRow>,
    /// Jobs due and not held by a live lease.
    pub jobs_due: i64,
    /// Seconds from claiming a photo to having it stored, in this process.
    pub photo_processing: Option<Histogram>,
    /// What this process's push committers did.
    pub push_groups: crate::sync::group::GroupCounts,
}

impl Metrics {
    pub fn observe_request(&self, route: &str, method: &str, status: u16, secs: f64) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((route.to_owned(), method.to_owned(), status))
                .or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            l.entry(route.to_owned()).or_default().observe(secs);
        }
    }

    pub fn observe_pull_lag(&self, changes: i64) {
        self.pull_lag.observe(changes.max(0) as f64);
    }

    pub fn count_results(&self, statuses: impl Iterator<Item = Status>) {
        for s in statuses {
            if let Some(i) = STATUSES.iter().position(|x| *x == s) {
                self.push[i].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The exposition text.
    pub fn render(&self, shared: &Shared) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP fieldsync_http_requests_total Requests answered, by route template, method and status."
        );
        let _ = writeln!(out, "# TYPE fieldsync_http_requests_total counter");
        if let Ok(r) = self.requests.lock() {
            for ((route, method, status), n) in r.iter() {
                let _ = writeln!(
                    out,
                    "fieldsync_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP fieldsync_http_request_duration_seconds Time to answer, by route template."
        );
        let _ = writeln!(
            out,
            "# TYPE fieldsync_http_request_duration_seconds histogram"
        );
        if let Ok(l) = self.latency.lock() {
            for (route, h) in l.iter() {
                h.write(
                    &mut out,
                    "fieldsync_http_request_duration_seconds",
                    &format!("route=\"{route}\""),
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP fieldsync_pull_lag_changes How many changes of its villages a phone had not yet received when it pulled (steady pulls after the first sync)."
        );
        let _ = writeln!(out, "# TYPE fieldsync_pull_lag_changes histogram");
        if let Some(h) = self.pull_lag.snapshot() {
            h.write(&mut out, "fieldsync_pull_lag_changes", "");
        }
        if let Some(h) = &shared.photo_processing {
            let _ = writeln!(
                out,
                "# HELP fieldsync_photo_processing_seconds Time to strip, thumbnail and store one photo, in this process."
            );
            let _ = writeln!(out, "# TYPE fieldsync_photo_processing_seconds histogram");
            h.write(&mut out, "fieldsync_photo_processing_seconds", "");
        }
        let _ = writeln!(
            out,
            "# HELP fieldsync_push_mutations_total Pushed mutations, by the result they got."
        );
        let _ = writeln!(out, "# TYPE fieldsync_push_mutations_total counter");
        for (s, n) in STATUSES.iter().zip(&self.push) {
            let _ = writeln!(
                out,
                "fieldsync_push_mutations_total{{status=\"{}\"}} {}",
                s.as_str(),
                n.load(Ordering::Relaxed)
            );
        }
        for (name, help, value) in [
            (
                "fieldsync_push_groups_total",
                "Groups of pushes committed together by this process.",
                shared.push_groups.groups,
            ),
            (
                "fieldsync_push_group_pushes_total",
                "Pushes in those groups, and pulls noting their contact with them (divided by the groups: the mean group size).",
                shared.push_groups.pushes,
            ),
            (
                "fieldsync_push_groups_split_total",
                "Groups run again push by push after database trouble (each push failed alone).",
                shared.push_groups.split,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {value}");
        }
        for (name, help, value) in [
            (
                "fieldsync_sync_head_seq",
                "The newest sequence number: how far pulls can go.",
                shared.sync.head_seq,
            ),
            (
                "fieldsync_records",
                "Records stored, all villages.",
                shared.sync.records,
            ),
            (
                "fieldsync_mutations",
                "Mutations logged.",
                shared.sync.mutations,
            ),
            (
                "fieldsync_conflicts",
                "Conflict records, resolved or not.",
                shared.sync.conflicts,
            ),
            (
                "fieldsync_conflicts_open",
                "Conflict records waiting for a reviewer.",
                shared.sync.open_conflicts,
            ),
            (
                "fieldsync_photos_waiting",
                "Uploaded photos waiting to be processed (the job queue).",
                shared.sync.photos_waiting,
            ),
            (
                "fieldsync_jobs_due",
                "Periodic jobs due and not held by any replica (should stay near 0).",
                shared.jobs_due,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {value}");
        }
        for (name, kind, help, value) in [
            (
                "fieldsync_job_runs_total",
                "counter",
                "Runs of each periodic job by all replicas together (the same on every replica: take max, not sum).",
                (|j: &crate::store::JobRow| j.runs) as fn(&crate::store::JobRow) -> i64,
            ),
            (
                "fieldsync_job_failures_total",
                "counter",
                "Failed runs of each periodic job by all replicas together (the same on every replica: take max, not sum).",
                |j| j.failures,
            ),
            (
                "fieldsync_job_last_finished_timestamp_seconds",
                "gauge",
                "When each periodic job last finished (0: never).",
                |j| j.last_finished_at.unwrap_or(0) / 1000,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for j in &shared.jobs {
                let _ = writeln!(out, "{name}{{job=\"{}\"}} {}", j.name, value(j));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_counts_and_buckets_what_was_observed() {
        let m = Metrics::default();
        m.observe_request("/v1/sync/push", "POST", 200, 0.02);
        m.observe_request("/v1/sync/push", "POST", 200, 0.3);
        m.observe_request("/v1/sync/pull", "GET", 401, 0.001);
        m.count_results([Status::Applied, Status::Applied, Status::Conflict].into_iter());
        m.observe_pull_lag(0);
        m.observe_pull_lag(250);
        let text = m.render(&Shared {
            sync: crate::store::SyncStats {
                open_conflicts: 4,
                ..Default::default()
            },
            ..Shared::default()
        });
        assert!(text.contains(
            "fieldsync_http_requests_total{route=\"/v1/sync/push\",method=\"POST\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "fieldsync_http_request_duration_seconds_bucket{route=\"/v1/sync/push\",le=\"0.025\"} 1"
        ));
        assert!(text.contains(
            "fieldsync_http_request_duration_seconds_bucket{route=\"/v1/sync/push\",le=\"0.5\"} 2"
        ));
        assert!(text.contains("fieldsync_push_mutations_total{status=\"applied\"} 2"));
        assert!(text.contains("fieldsync_push_mutations_total{status=\"conflict\"} 1"));
        assert!(text.contains("fieldsync_conflicts_open 4"));
        assert!(text.contains("fieldsync_pull_lag_changes_bucket{le=\"0\"} 1"));
        assert!(text.contains("fieldsync_pull_lag_changes_bucket{le=\"100\"} 1"));
        assert!(text.contains("fieldsync_pull_lag_changes_bucket{le=\"1000\"} 2"));
        assert!(text.contains("fieldsync_pull_lag_changes_count 2"));
    }
}
