//! Bringing a county's households and people in from the office's spreadsheets (`crate::sheets`
//! reads the file), for the command line and the console alike.
//!
//! The import writes as a device of its own through the push pipeline, never around it: the
//! same validation, encryption at rest, audit, versions and conflicts as a phone's edits, and
//! the phones of each village pull what it wrote. `plan.rs` decides what each row does to its
//! record; this module resolves villages, pushes a household with its people at a time, and
//! remembers what it wrote (`roster_baselines`). Stopping it midway loses nothing: every push
//! is committed before the next, a mutation's id is the same whenever the same change is
//! planned again, and a record it wrote is found again by its national number.

pub mod places;
pub mod plan;
pub mod report;
pub mod runs;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fieldsync_protocol::push::{ClientInfo, MutationResult, Status};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::task::AbortOnDropHandle;
use uuid::Uuid;

use self::places::Places;
use self::plan::{Existing, Keys, RecordPlan};
use self::report::{Line, Outcome, Report};
use super::ServiceError;
use crate::sheets::{Household, Roster};
use crate::store::{Baseline, Store};
use crate::sync::Actor;
use crate::sync::push::{self, PushRules};

/// Mutations per push: big enough that a commit is paid for hundreds of records, small enough
/// that a stop loses little and memory stays flat.
const PUSH_SIZE: usize = 2_000;

/// Planned records waiting to be pushed, with their village.
#[derive(Default)]
struct Batch {
    records: Vec<(String, RecordPlan)>,
    /// How many of them have a mutation to push.
    mutations: usize,
    /// The households they make.
    households: usize,
}

/// An import run: who, where, and whether to write.
pub struct Import<'a> {
    pub store: &'a Store,
    /// The user and the import device the import writes as; its villages bound what it may
    /// write.
    pub actor: &'a Actor,
    pub rules: &'a PushRules,
    pub dry_run: bool,
}

struct StoreKeys<'a>(&'a Store);

impl Keys for StoreKeys<'_> {
    fn digest(&self, field: &str, value: &Value) -> String {
        self.0.roster_digest(field, value)
    }

    fn blind(&self, id_card: &str) -> Vec<u8> {
        self.0.key().blind(id_card)
    }
}

fn bad(village: &str, line: usize, entity: &str, number: &str, reason: String) -> Line {
    Line {
        village: village.to_owned(),
        line,
        entity: entity.to_owned(),
        number: number.to_owned(),
        outcome: Outcome::Bad,
        fields: Vec::new(),
        reason,
    }
}

/// Reports a whole household (and its people) as bad for one reason.
fn bad_household(report: &mut Report, village: &str, h: &Household, reason: &str) {
    report.push(bad(
        village,
        h.line,
        "household",
        &h.household_no,
        reason.to_owned(),
    ));
    for p in &h.members {
        let number = p.person_no.as_deref().unwrap_or_default();
        let why = format!("its household (line {}) was not imported: {reason}", h.line);
        report.push(bad(village, p.line, "member", number, why));
    }
}

impl Import<'_> {
    /// Runs the import of a file already read; `progress` hears households done of the total.
    pub async fn run(
        &self,
        roster: &Roster,
        places: &Places,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<Report, ServiceError> {
        let mut report = Report::new(
            self.dry_run,
            roster.encoding,
            roster.rows_read,
            roster.unknown_columns.clone(),
            roster
                .skipped
                .iter()
                .map(|s| (s.line, s.why.clone()))
                .collect(),
        );
        for b in &roster.bad_rows {
            let reason = match &b.column {
                Some(c) => format!("{c}: {}", b.reason),
                None => b.reason.clone(),
            };
            report.push(bad("", b.line, "", "", reason));
        }
        // Households by village, as their numbers in the file: a village's households are
        // read from the file when its turn comes, so no more than one village's are in memory.
        let mut by_village: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for i in 0..roster.len() {
            let (code, why) = match places.resolve(roster.village(i)) {
                Ok(code) if self.actor.villages.contains(&code) => {
                    by_village.entry(code).or_default().push(i);
                    continue;
                }
                Ok(code) => {
                    let why = format!("village {code} is outside the villages you may import to");
                    (code, why)
                }
                Err(why) => (String::new(), why),
            };
            if let Some(h) = roster.household(i) {
                bad_household(&mut report, &code, &h, &why);
            }
        }
        let total: usize = by_village.values().map(Vec::len).sum();
        progress(0, total);
        // Planning (reading the file, comparing, hashing) and pushing (sealing, writing) each
        // take about half the work: a task of its own pushes full batches, in order, while
        // this one plans the next village. The channel holds one batch: with the one being
        // pushed and the one being filled, no more than three are in memory.
        let (to_pusher, batches) = mpsc::channel::<Work>(1);
        let done = Arc::new(AtomicUsize::new(0));
        let pusher = Pusher {
            store: self.store.clone(),
            actor: self.actor.clone(),
            rules: self.rules.clone(),
            dry_run: self.dry_run,
            report,
            done: done.clone(),
        };
        let pushing = AbortOnDropHandle::new(tokio::spawn(pusher.run(batches)));
        let planned = self.plan_all(&by_village, roster, &to_pusher, &done, total, progress);
        let planned = planned.await;
        drop(to_pusher);
        // The pusher's error comes first: a failed push also ends the planning (its channel
        // closes), and that is not the cause.
        let report = pushing.await.map_err(ServiceError::internal)??;
        planned?;
        progress(done.load(Ordering::Relaxed), total);
        Ok(report)
    }

    /// Plans village after village and hands the pusher what it is to push and report.
    async fn plan_all(
        &self,
        by_village: &BTreeMap<String, Vec<usize>>,
        roster: &Roster,
        pusher: &mpsc::Sender<Work>,
        done: &AtomicUsize,
        total: usize,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<(), ServiceError> {
        let keys = StoreKeys(self.store);
        let send = |work: Work| async move {
            // A closed channel means the pusher failed: its error is the one to report.
            pusher
                .send(work)
                .await
                .map_err(|_| ServiceError::internal("the import's pushes stopped"))
        };
        // Pushes span villages: a commit's cost is mostly the index pages it rewrites, and a
        // bigger batch rewrites each of them for more records.
        let mut batch = Batch::default();
        for (village, numbers) in by_village {
            let households: Vec<Household> = numbers
                .iter()
                .filter_map(|&i| roster.household(i))
                .collect();
            let existing = Existing {
                records: self.store.roster_records(village).await?,
                id_cards: self.store.village_id_card_index(village).await?,
            };
            let plan = plan::village(
                village,
                &households,
                &existing,
                &keys,
                self.actor.device_id,
                self.rules.now_ms,
            );
            drop((households, existing));
            let mut lines: Vec<Line> = plan
                .refused
                .into_iter()
                .map(|r| bad(village, r.line, "", "", r.reason))
                .collect();
            lines.extend(plan.missing.into_iter().map(|m| Line {
                village: village.clone(),
                line: 0,
                entity: m.entity,
                number: m.number,
                outcome: Outcome::Missing,
                fields: Vec::new(),
                reason: format!(
                    "record {} is no longer in the file; it was kept",
                    m.record_id
                ),
            }));
            if !lines.is_empty() {
                send(Work::Lines(lines)).await?;
            }
            for h in plan.households {
                batch.mutations += h.records.iter().filter(|r| r.mutation.is_some()).count();
                batch
                    .records
                    .extend(h.records.into_iter().map(|r| (village.clone(), r)));
                batch.households += 1;
                // Unchanged records push nothing but are reported and noted: a re-import
                // holds no more of them at a time than an import holds changed ones.
                if batch.mutations >= PUSH_SIZE || batch.records.len() >= PUSH_SIZE * 2 {
                    send(Work::Batch(std::mem::take(&mut batch))).await?;
                }
            }
            progress(done.load(Ordering::Relaxed), total);
        }
        send(Work::Batch(batch)).await
    }
}

/// What the planning hands the pusher, in the order the report is to have it.
enum Work {
    Lines(Vec<Line>),
    Batch(Batch),
}

/// The task that pushes the planned batches and keeps the report.
struct Pusher {
    store: Store,
    actor: Actor,
    rules: PushRules,
    dry_run: bool,
    report: Report,
    /// Households pushed so far.
    done: Arc<AtomicUsize>,
}

impl Pusher {
    async fn run(mut self, mut work: mpsc::Receiver<Work>) -> Result<Report, ServiceError> {
        while let Some(w) = work.recv().await {
            match w {
                Work::Lines(lines) => lines.into_iter().for_each(|l| self.report.push(l)),
                Work::Batch(b) => {
                    self.apply(b.records).await?;
                    self.done.fetch_add(b.households, Ordering::Relaxed);
                }
            }
        }
        Ok(self.report)
    }

    /// Pushes the planned records' mutations (a dry run only reports them), then remembers
    /// what was written.
    async fn apply(&mut self, records: Vec<(String, RecordPlan)>) -> Result<(), ServiceError> {
        if records.is_empty() {
            return Ok(());
        }
        let mutations: Vec<Value> = records
            .iter()
            .filter_map(|(_, r)| r.mutation.clone())
            .collect();
        let results: HashMap<Uuid, MutationResult> = if self.dry_run || mutations.is_empty() {
            HashMap::new()
        } else {
            push::push(
                &self.store,
                &self.actor,
                &self.rules,
                mutations,
                &ClientInfo::default(),
            )
            .await?
            .into_iter()
            .filter_map(|r| r.mutation_id.map(|id| (id, r)))
            .collect()
        };
        let mut baselines = Vec::new();
        for (village, r) in records {
            let line = |outcome: Outcome, fields: Vec<String>, reason: String| Line {
                village: village.clone(),
                line: r.line,
                entity: r.entity.to_owned(),
                number: r.number.clone(),
                outcome,
                fields,
                reason,
            };
            let id = r
                .mutation
                .as_ref()
                .and_then(|m| m.get("mutation_id"))
                .and_then(Value::as_str);
            let result = id
                .and_then(|s| Uuid::parse_str(s).ok())
                .and_then(|id| results.get(&id));
            let outcome = match (r.change, result) {
                (plan::Change::Unchanged, _) => Outcome::Unchanged,
                // A dry run: what the push would do.
                (_, None) if !r.would_conflict.is_empty() => Outcome::Conflict,
                (plan::Change::New, None) => Outcome::New,
                (plan::Change::Changed, None) => Outcome::Changed,
                (_, Some(res)) => {
                    let status = match res.status {
                        Status::Duplicate => res.original_status.unwrap_or(Status::Applied),
                        s => s,
                    };
                    match status {
                        Status::Rejected => {
                            let why = res
                                .error
                                .as_ref()
                                .map_or_else(|| "refused".to_owned(), |e| e.message.clone());
                            self.report.push(line(Outcome::Bad, Vec::new(), why));
                            continue;
                        }
                        Status::Conflict => Outcome::Conflict,
                        _ if r.change == plan::Change::New => Outcome::New,
                        _ => Outcome::Changed,
                    }
                }
            };
            let fields = match outcome {
                Outcome::Conflict => match result {
                    Some(res) if !res.conflicts.is_empty() => {
                        let mut f: Vec<String> =
                            res.conflicts.iter().map(|c| c.field.clone()).collect();
                        f.dedup();
                        f
                    }
                    _ => r.would_conflict.clone(),
                },
                // A new record's fields are all the file gives: not worth a list per row
                // (a county's first import is half a million of them).
                Outcome::Unchanged | Outcome::New => Vec::new(),
                _ => r.fields.clone(),
            };
            self.report.push(line(outcome, fields, String::new()));
            // An unchanged record whose values the import already remembers needs no note.
            let remembered = r.noted && outcome == Outcome::Unchanged;
            if !self.dry_run && !remembered {
                let version = result
                    .and_then(|res| res.version)
                    .and_then(|v| i64::try_from(v).ok())
                    .unwrap_or(r.version);
                baselines.push(Baseline {
                    record_id: r.record_id,
                    version,
                    digests: r.digests,
                });
            }
        }
        if !baselines.is_empty() {
            self.store
                .put_roster_baselines(&baselines, self.rules.now_ms)
                .await?;
        }
        Ok(())
    }
}
