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
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Debug, Default)]
struct Histogram {
    /// Observations at or below each bound (not cumulative; summed when rendered).
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.counts[i] += 1;
        }
        self.count += 1;
        self.sum += secs;
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
#[derive(Debug, Default)]
pub struct Metrics {
    /// (route, method, status) → count.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// route → latency.
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// Mutation results, in the order of [`STATUSES`].
    push: [AtomicU64; 5],
}

/// What the database says at scrape time (one query).
pub type Shared = crate::store::SyncStats;

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
                let mut cumulative = 0;
                for (bound, n) in BUCKETS.iter().zip(h.counts) {
                    cumulative += n;
                    let _ = writeln!(
                        out,
                        "fieldsync_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                    );
                }
                let _ = writeln!(
                    out,
                    "fieldsync_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "fieldsync_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "fieldsync_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count
                );
            }
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
                "fieldsync_sync_head_seq",
                "The newest sequence number: how far pulls can go.",
                shared.head_seq,
            ),
            (
                "fieldsync_records",
                "Records stored, all villages.",
                shared.records,
            ),
            ("fieldsync_mutations", "Mutations logged.", shared.mutations),
            (
                "fieldsync_conflicts",
                "Conflict records, resolved or not.",
                shared.conflicts,
            ),
            (
                "fieldsync_conflicts_open",
                "Conflict records waiting for a reviewer.",
                shared.open_conflicts,
            ),
            (
                "fieldsync_photos_waiting",
                "Uploaded photos waiting to be processed (the job queue).",
                shared.photos_waiting,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {value}");
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
        let text = m.render(&Shared {
            open_conflicts: 4,
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
    }
}
