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

use fieldsync_protocol::push::{ClientInfo, MutationResult, Status};
use serde_json::Value;
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
const PUSH_SIZE: usize = 1_000;

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
        let mut report = Report {
            dry_run: self.dry_run,
            encoding: roster.encoding,
            rows_read: roster.rows_read,
            unknown_columns: roster.unknown_columns.clone(),
            skipped: roster
                .skipped
                .iter()
                .map(|s| (s.line, s.why.clone()))
                .collect(),
            lines: Vec::new(),
        };
        for b in &roster.bad_rows {
            let reason = match &b.column {
                Some(c) => format!("{c}: {}", b.reason),
                None => b.reason.clone(),
            };
            report.push(bad("", b.line, "", "", reason));
        }
        let mut by_village: BTreeMap<String, Vec<&Household>> = BTreeMap::new();
        for h in &roster.households {
            match places.resolve(&h.village) {
                Ok(code) if self.actor.villages.contains(&code) => {
                    by_village.entry(code).or_default().push(h);
                }
                Ok(code) => {
                    let why = format!("village {code} is outside the villages you may import to");
                    bad_household(&mut report, &code, h, &why);
                }
                Err(why) => bad_household(&mut report, "", h, &why),
            }
        }
        let total: usize = by_village.values().map(Vec::len).sum();
        let mut done = 0;
        progress(done, total);
        let keys = StoreKeys(self.store);
        for (village, households) in &by_village {
            let existing = Existing {
                records: self.store.roster_records(village).await?,
                id_cards: self.store.village_id_card_index(village).await?,
            };
            let plan = plan::village(
                village,
                households,
                &existing,
                &keys,
                self.actor.device_id,
                self.rules.now_ms,
            );
            drop(existing);
            for r in plan.refused {
                report.push(bad(village, r.line, "", "", r.reason));
            }
            for m in plan.missing {
                report.push(Line {
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
                });
            }
            let mut batch: Vec<RecordPlan> = Vec::new();
            for h in plan.households {
                batch.extend(h.records);
                done += 1;
                if batch.iter().filter(|r| r.mutation.is_some()).count() >= PUSH_SIZE {
                    self.apply(village, std::mem::take(&mut batch), &mut report)
                        .await?;
                    progress(done, total);
                }
            }
            self.apply(village, batch, &mut report).await?;
            progress(done, total);
        }
        Ok(report)
    }

    /// Pushes the planned records' mutations (a dry run only reports them), then remembers
    /// what was written.
    async fn apply(
        &self,
        village: &str,
        records: Vec<RecordPlan>,
        report: &mut Report,
    ) -> Result<(), ServiceError> {
        if records.is_empty() {
            return Ok(());
        }
        let mutations: Vec<Value> = records.iter().filter_map(|r| r.mutation.clone()).collect();
        let results: HashMap<Uuid, MutationResult> = if self.dry_run || mutations.is_empty() {
            HashMap::new()
        } else {
            push::push(
                self.store,
                self.actor,
                self.rules,
                mutations,
                &ClientInfo::default(),
            )
            .await?
            .into_iter()
            .filter_map(|r| r.mutation_id.map(|id| (id, r)))
            .collect()
        };
        let mut baselines = Vec::new();
        for r in records {
            let line = |outcome: Outcome, fields: Vec<String>, reason: String| Line {
                village: village.to_owned(),
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
                            report.push(line(Outcome::Bad, Vec::new(), why));
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
            report.push(line(outcome, fields, String::new()));
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
