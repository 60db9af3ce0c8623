//! What an import does to one village: each household and person of the file matched with
//! the record it already is (by the national number, then fieldsync's own id from an export,
//! then the ID-card number's keyed hash), and the mutation that brings the record to the file.
//! Pure: the records, the keyed hashes and the device come in, so every rule is unit-tested.
//!
//! The rule that keeps cadres' corrections: the import sends only the fields whose value in
//! the file changed since the import last wrote them (it remembers a keyed hash of each value
//! it wrote), so the same file imported twice changes nothing, and a phone's correction of a
//! field the file did not change stands. A field the file changed that a phone wrote last
//! (corrected since the last import, or typed on a phone before the household was ever
//! imported) is sent on a base version just before the phone's write: the push's merge sees
//! the concurrent edit it is and keeps both values as a conflict for review, never a silent
//! overwrite.

use std::collections::{BTreeMap, HashMap};

use fieldsync_protocol::Op;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::openrosa::ids::{derived_in, group_of};
use crate::sheets::{Household, Person};
use crate::store::RosterRecord;

/// The keyed hashes an import needs: of a value it writes, and of an ID-card number.
pub trait Keys {
    fn digest(&self, field: &str, value: &Value) -> String;
    fn blind(&self, id_card: &str) -> Vec<u8>;
}

/// A village's records as they stand, and the keyed ID-card index over them.
pub struct Existing {
    pub records: Vec<RosterRecord>,
    pub id_cards: Vec<(Vec<u8>, Uuid)>,
}

/// What the import does to one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    New,
    Changed,
    Unchanged,
}

/// One household or person of the file, matched and compared.
#[derive(Clone, Debug)]
pub struct RecordPlan {
    pub entity: &'static str,
    pub record_id: Uuid,
    /// The file's line.
    pub line: usize,
    /// 户编号 or 人编号 (empty when the file gives none).
    pub number: String,
    pub change: Change,
    /// The record's version before the import (0 for a new one).
    pub version: i64,
    /// The fields sent (all of them for a new record).
    pub fields: Vec<String>,
    /// Fields sent that a phone changed since: the push will keep both values as a conflict.
    pub would_conflict: Vec<String>,
    /// The mutation to push, unless nothing changes.
    pub mutation: Option<Value>,
    /// The keyed hashes of every value the file gives, to remember once the push is through.
    pub digests: BTreeMap<String, String>,
    /// The record's remembered hashes are these already: nothing to note.
    pub noted: bool,
}

/// A household's records: the household first, then its people, pushed together.
#[derive(Clone, Debug)]
pub struct HouseholdPlan {
    pub records: Vec<RecordPlan>,
}

/// A record an earlier import wrote that the file no longer has: reported, never deleted.
#[derive(Clone, Debug)]
pub struct Missing {
    pub entity: String,
    pub record_id: Uuid,
    pub number: String,
}

/// A row the plan cannot take (it would match a record another row already took).
#[derive(Clone, Debug)]
pub struct Refused {
    pub line: usize,
    pub reason: String,
}

#[derive(Clone, Debug, Default)]
pub struct VillagePlan {
    pub households: Vec<HouseholdPlan>,
    pub missing: Vec<Missing>,
    pub refused: Vec<Refused>,
}

/// Numbers as one kind (5230 and 5230.0 are the same income), so that a value read from a
/// spreadsheet compares equal to the same value a phone sent.
fn normal(value: &Value) -> Value {
    match value.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9e15 => json!(f as i64),
        Some(f) => json!(f),
        None => value.clone(),
    }
}

fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields.get(name).and_then(Value::as_str)
}

/// The records of a village, indexed the ways a row may name them.
struct Index<'a> {
    by_id: HashMap<Uuid, &'a RosterRecord>,
    households_by_no: HashMap<&'a str, Uuid>,
    /// (household, 人编号) → person.
    people_by_no: HashMap<(Uuid, &'a str), Uuid>,
    by_blind: HashMap<&'a [u8], Vec<Uuid>>,
}

impl<'a> Index<'a> {
    fn new(existing: &'a Existing) -> Index<'a> {
        let mut index = Index {
            by_id: HashMap::new(),
            households_by_no: HashMap::new(),
            people_by_no: HashMap::new(),
            by_blind: HashMap::new(),
        };
        for r in &existing.records {
            index.by_id.insert(r.id, r);
            match r.entity.as_str() {
                "household" => {
                    if let Some(no) = text(&r.fields.0, "household_no") {
                        index.households_by_no.insert(no, r.id);
                    }
                }
                _ => {
                    if let (Some(h), Some(no)) = (r.household_id, text(&r.fields.0, "person_no")) {
                        index.people_by_no.insert((h, no), r.id);
                    }
                }
            }
        }
        for (blind, id) in &existing.id_cards {
            index
                .by_blind
                .entry(blind.as_slice())
                .or_default()
                .push(*id);
        }
        index
    }

    fn record(&self, id: Uuid, entity: &str) -> Option<&'a RosterRecord> {
        self.by_id.get(&id).copied().filter(|r| r.entity == entity)
    }

    fn household(&self, h: &Household, keys: &dyn Keys) -> Option<&'a RosterRecord> {
        let own = h
            .record_id
            .as_deref()
            .and_then(|s| Uuid::parse_str(s).ok())
            .and_then(|id| self.record(id, "household"));
        let numbered = || {
            self.households_by_no
                .get(h.household_no.as_str())
                .and_then(|id| self.record(*id, "household"))
        };
        let by_head = || {
            let number = text(&h.fields, "head_id_card")?;
            self.by_blind
                .get(keys.blind(number).as_slice())?
                .iter()
                .find_map(|id| self.record(*id, "household"))
        };
        own.or_else(numbered).or_else(by_head)
    }

    fn person(&self, household: Uuid, p: &Person, keys: &dyn Keys) -> Option<&'a RosterRecord> {
        let belongs = |r: &&RosterRecord| r.household_id == Some(household);
        let own = p
            .record_id
            .as_deref()
            .and_then(|s| Uuid::parse_str(s).ok())
            .and_then(|id| self.record(id, "member"))
            .filter(belongs);
        let numbered = || {
            let no = p.person_no.as_deref()?;
            self.people_by_no
                .get(&(household, no))
                .and_then(|id| self.record(*id, "member"))
        };
        let by_card = || {
            let number = text(&p.fields, "id_card")?;
            self.by_blind
                .get(keys.blind(number).as_slice())?
                .iter()
                .find_map(|id| self.record(*id, "member").filter(belongs))
        };
        own.or_else(numbered).or_else(by_card)
    }
}

/// Plans the households of one village.
pub fn village(
    code: &str,
    households: &[Household],
    existing: &Existing,
    keys: &dyn Keys,
    device: Uuid,
    now_ms: i64,
) -> VillagePlan {
    let index = Index::new(existing);
    // A new record's id sorts by its village (a village code is a 12-digit number), and its
    // people's and mutations' ids beside it: a village's rows land together in every index.
    let group = code.parse::<u64>().unwrap_or_default();
    let mut plan = VillagePlan::default();
    let mut taken: HashMap<Uuid, usize> = HashMap::new();
    let mut stamp = Stamp {
        device,
        now_ms,
        counter: 0,
    };
    for h in households {
        let matched = index.household(h, keys);
        let household_id = matched.map_or_else(
            || {
                let own = h.record_id.as_deref().unwrap_or_default();
                derived_in(group, "roster-household", &[code, &h.household_no, own])
            },
            |r| r.id,
        );
        if let Some(first) = taken.insert(household_id, h.line) {
            plan.refused.push(Refused {
                line: h.line,
                reason: format!(
                    "the same household as line {first} (same 户编号 or head's ID-card number)"
                ),
            });
            continue;
        }
        let mut fields = h.fields.clone();
        if !h.household_no.is_empty() {
            fields.insert("household_no".into(), json!(h.household_no));
        }
        let mut records = vec![record(
            Target {
                entity: "household",
                id: household_id,
                line: h.line,
                number: h.household_no.clone(),
                create_with: ("village_code", json!(code)),
            },
            &fields,
            matched,
            keys,
            &mut stamp,
        )];
        for p in &h.members {
            let matched = index.person(household_id, p, keys);
            let number = p.person_no.clone().unwrap_or_default();
            let id = matched.map_or_else(
                || {
                    let who = match (&p.person_no, text(&p.fields, "id_card")) {
                        (Some(no), _) => format!("no:{no}"),
                        (None, Some(card)) => {
                            format!("card:{}", keys.digest("id_card", &json!(card)))
                        }
                        (None, None) => format!("name:{}", text(&p.fields, "name").unwrap_or("")),
                    };
                    derived_in(
                        group_of(household_id),
                        "roster-member",
                        &[&household_id.to_string(), &who],
                    )
                },
                |r| r.id,
            );
            if let Some(first) = taken.insert(id, p.line) {
                plan.refused.push(Refused {
                    line: p.line,
                    reason: format!("the same person as line {first}"),
                });
                continue;
            }
            let mut fields = p.fields.clone();
            if let Some(no) = &p.person_no {
                fields.insert("person_no".into(), json!(no));
            }
            records.push(record(
                Target {
                    entity: "member",
                    id,
                    line: p.line,
                    number,
                    create_with: ("household_id", json!(household_id)),
                },
                &fields,
                matched,
                keys,
                &mut stamp,
            ));
        }
        plan.households.push(HouseholdPlan { records });
    }
    plan.missing = existing
        .records
        .iter()
        .filter(|r| r.baseline_version.is_some() && !taken.contains_key(&r.id))
        .map(|r| Missing {
            entity: r.entity.clone(),
            record_id: r.id,
            number: text(&r.fields.0, "household_no")
                .or_else(|| text(&r.fields.0, "person_no"))
                .unwrap_or_default()
                .to_owned(),
        })
        .collect();
    plan
}

/// The import's clock: stamps after one another, on its own device.
struct Stamp {
    device: Uuid,
    now_ms: i64,
    counter: u32,
}

impl Stamp {
    fn next(&mut self) -> Value {
        self.counter += 1;
        json!({"wall_ms": self.now_ms, "counter": self.counter, "node": self.device})
    }
}

struct Target {
    entity: &'static str,
    id: Uuid,
    line: usize,
    number: String,
    /// The field a new record is created with besides the file's (its village, its household).
    create_with: (&'static str, Value),
}

fn record(
    target: Target,
    file: &Map<String, Value>,
    current: Option<&RosterRecord>,
    keys: &dyn Keys,
    stamp: &mut Stamp,
) -> RecordPlan {
    let file: BTreeMap<&str, Value> = file.iter().map(|(k, v)| (k.as_str(), normal(v))).collect();
    let digests: BTreeMap<String, String> = file
        .iter()
        .map(|(k, v)| ((*k).to_owned(), keys.digest(k, v)))
        .collect();
    let mut plan = RecordPlan {
        entity: target.entity,
        record_id: target.id,
        line: target.line,
        number: target.number,
        change: Change::Unchanged,
        version: current.map_or(0, |c| c.version),
        fields: Vec::new(),
        would_conflict: Vec::new(),
        mutation: None,
        noted: current
            .and_then(|c| c.digests.as_ref())
            .is_some_and(|d| d.0 == digests),
        digests,
    };
    let Some(current) = current else {
        let mut fields: Map<String, Value> = file
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let (name, value) = target.create_with;
        fields.insert(name.to_owned(), value);
        plan.change = Change::New;
        plan.fields = fields.keys().cloned().collect();
        plan.mutation = Some(mutation(&plan, Op::Create, None, fields, stamp));
        return plan;
    };
    let remembered = current.digests.as_ref().map(|d| &d.0);
    let mut send = Map::new();
    // The oldest version at which another device (a phone) last wrote a field being sent.
    let mut oldest_other: Option<u64> = None;
    for (name, value) in &file {
        let now = current.fields.0.get(*name).map(normal);
        if now.as_ref() == Some(value) {
            continue;
        }
        if let Some(before) = remembered
            && before.get(*name) == plan.digests.get(*name)
        {
            // The file still says what the import wrote: a phone changed it since, and the
            // phone's value stands.
            continue;
        }
        if let Some(fm) = current
            .meta
            .0
            .0
            .get(*name)
            .filter(|fm| fm.hlc.node != stamp.device)
        {
            plan.would_conflict.push((*name).to_owned());
            oldest_other = Some(oldest_other.map_or(fm.version, |v| v.min(fm.version)));
        }
        send.insert((*name).to_owned(), value.clone());
    }
    if !send.is_empty() {
        plan.change = Change::Changed;
        plan.fields = send.keys().cloned().collect();
        // Based just before the oldest of the phones' writes being met, so that the merge
        // sees each as the concurrent edit it is (and keeps both values); on the current
        // version when only the import's own earlier values change.
        let current_version = u64::try_from(current.version).unwrap_or(0);
        let base = oldest_other.map_or(current_version, |v| v.saturating_sub(1));
        plan.mutation = Some(mutation(&plan, Op::Update, Some(base), send, stamp));
    }
    plan
}

/// The mutation, with an id that is the same whenever the same change is planned on the same
/// version: an import stopped after its push and run again sends a duplicate, not a second edit.
fn mutation(
    plan: &RecordPlan,
    op: Op,
    base: Option<u64>,
    fields: Map<String, Value>,
    stamp: &mut Stamp,
) -> Value {
    let sorted: BTreeMap<&String, &Value> = fields.iter().collect();
    let body = serde_json::to_string(&sorted).unwrap_or_default();
    let base_text = base.map(|b| b.to_string()).unwrap_or_default();
    let id = plan.record_id.to_string();
    let mutation_id = derived_in(
        group_of(plan.record_id),
        "roster-mutation",
        &[&id, &base_text, &body],
    );
    json!({
        "mutation_id": mutation_id,
        "entity": plan.entity,
        "id": plan.record_id,
        "op": op.as_str(),
        "base_version": base,
        "fields": fields,
        "hlc": stamp.next(),
    })
}
