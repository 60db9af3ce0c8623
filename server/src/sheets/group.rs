//! Rows → households. Rows of one household need not be adjacent; a household's values are
//! taken from its household row (household sheet), then its 户主 row, then its other rows in
//! order: the first filled value wins, and a row saying otherwise is bad. A household without
//! a 户主 or a village, or whose 户主 or household row is bad, is dropped with all its rows,
//! each told why.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{Map, Value};

use super::header::Target;
use super::parse::{HouseholdCell, HouseholdKey, OWN_ID_KEY, Parsed};
use super::{Household, Person, Village};

/// The keys that name a person, with how a reason words each.
const PERSON_KEYS: [(Target, &str); 3] = [
    (Target::PersonNo, "人编号"),
    (Target::Person("id_card"), "ID-card number"),
    (Target::PersonRecordId, "系统人员ID"),
];

/// A person row's value of `target` among [`PERSON_KEYS`].
pub fn person_key(r: &Parsed, target: Target) -> Option<String> {
    let p = r.person.as_ref()?;
    match target {
        Target::PersonNo => p.person_no.clone(),
        Target::PersonRecordId => p.record_id.clone(),
        Target::Person(field) => p.fields.get(field)?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// The same person twice in a file, by 人编号, ID card or record id: the later row is bad.
/// Rows come one at a time, in file order; what is kept of each is a hash of its keys and
/// its number among the rows (a county's file has a million keys), and a hash that matches
/// is told apart from a true duplicate by the earlier row's key, read again.
#[derive(Debug, Default)]
pub struct Duplicates {
    hashed: HashMap<u64, u32>,
    /// Keys whose hash an other key had first (next to never).
    exact: HashMap<(Target, String), u32>,
}

impl Duplicates {
    /// Notes row `id`'s keys; for each seen before, the earlier row's id, the column (its
    /// target) and what the key is called. `key_of(earlier, target)` reads an earlier row's key.
    pub fn check(
        &mut self,
        id: u32,
        row: &Parsed,
        key_of: &dyn Fn(u32, Target) -> Option<String>,
    ) -> Vec<(u32, Target, &'static str)> {
        let mut found = Vec::new();
        for (target, what) in PERSON_KEYS {
            let Some(key) = person_key(row, target) else {
                continue;
            };
            let exact = (target, key);
            if let Some(&first) = self.exact.get(&exact) {
                found.push((first, target, what));
                continue;
            }
            let mut hasher = DefaultHasher::new();
            exact.hash(&mut hasher);
            match self.hashed.get(&hasher.finish()) {
                None => {
                    self.hashed.insert(hasher.finish(), id);
                }
                Some(&first) if key_of(first, target).as_ref() == Some(&exact.1) => {
                    found.push((first, target, what));
                }
                Some(_) => {
                    self.exact.insert(exact, id);
                }
            }
        }
        found
    }
}

/// Marks a row as the duplicate of an earlier one (see [`Duplicates::check`]); `first` is
/// where the earlier row is, as a reason words it.
pub fn mark_duplicate(row: &mut Parsed, target: Target, what: &str, first: &str) {
    let column = row
        .person
        .as_ref()
        .and_then(|p| p.columns.get(&target).cloned());
    row.problem(column.as_deref(), format!("same {what} as {first}"));
}

fn is_head(r: &Parsed) -> bool {
    r.person
        .as_ref()
        .and_then(|p| p.fields.get("relation"))
        .is_some_and(|v| v == "head")
}

/// One household from its rows (indices into `rows`), or `None` when it is dropped. The
/// household's problems are added to its rows.
pub fn household(
    no: &str,
    indices: &[usize],
    rows: &mut [Parsed],
    at: &dyn Fn(&Parsed) -> String,
) -> Option<Household> {
    let household_rows: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|&i| rows[i].person.is_none())
        .collect();
    let heads: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|&i| is_head(&rows[i]))
        .collect();
    for &later in heads.iter().skip(1) {
        let first = at(&rows[heads[0]]);
        let column = relation_column(&rows[later]);
        rows[later].problem(
            column.as_deref(),
            format!("a second 户主 in 户编号 {no} (the first is on {first})"),
        );
    }
    let head = heads.first().copied();
    let lead_bad = household_rows
        .iter()
        .chain(&head)
        .copied()
        .find(|&i| rows[i].is_bad());
    if let Some(bad) = lead_bad {
        drop_for_lead(no, bad, head, indices, rows, at);
        return None;
    }

    // Household values: household rows, the 户主 row, then the rest in order.
    let mut merged: Vec<(HouseholdCell, String)> = Vec::new();
    let others = indices
        .iter()
        .copied()
        .filter(|i| !household_rows.contains(i) && Some(*i) != head);
    for i in household_rows.iter().copied().chain(head).chain(others) {
        if rows[i].is_bad() {
            continue;
        }
        let mut cells = head_cells(&rows[i]);
        cells.append(&mut rows[i].household.drain(..).collect());
        let clashes: Vec<(String, String)> = cells
            .iter()
            .filter_map(|c| {
                let (first, first_at) = merged.iter().find(|(m, _)| m.key == c.key)?;
                (first.value != c.value).then(|| {
                    let source = if first.column == c.column {
                        first_at.clone()
                    } else {
                        format!("{} on {first_at}", first.column)
                    };
                    (
                        c.column.to_string(),
                        format!("{} differs from {source}", c.column),
                    )
                })
            })
            .collect();
        if clashes.is_empty() {
            let here = at(&rows[i]);
            for c in cells {
                if !merged.iter().any(|(m, _)| m.key == c.key) {
                    merged.push((c, here.clone()));
                }
            }
        }
        for (column, reason) in clashes {
            rows[i].problem(Some(&column), reason);
        }
    }
    // The 户主 row may have disagreed with the household row.
    if let Some(bad) = head.filter(|&h| rows[h].is_bad()) {
        drop_for_lead(no, bad, head, indices, rows, at);
        return None;
    }
    let get = |key: HouseholdKey| {
        merged
            .iter()
            .find(|(c, _)| c.key == key)
            .map(|(c, _)| &c.value)
    };
    let as_string = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);

    if get(HouseholdKey::Field("head_name")).is_none() {
        let column = indices.iter().find_map(|&i| relation_column(&rows[i]));
        drop_all(
            indices,
            rows,
            column.as_deref(),
            &format!("no 户主 row for 户编号 {no}"),
        );
        return None;
    }
    let village = match (
        as_string(get(HouseholdKey::VillageCode)),
        as_string(get(HouseholdKey::Village)),
    ) {
        (Some(code), _) => Village::Code(code),
        (None, Some(village)) => Village::Named {
            township: as_string(get(HouseholdKey::Township)),
            village,
        },
        (None, None) => {
            let reason = format!("no village for 户编号 {no}: 行政区划代码 and 行政村 are empty");
            drop_all(indices, rows, None, &reason);
            return None;
        }
    };
    let fields: Map<String, Value> = merged
        .iter()
        .filter_map(|(c, _)| match c.key {
            HouseholdKey::Field(f) => Some((f.to_owned(), c.value.clone())),
            _ => None,
        })
        .collect();
    let record_id = as_string(get(HouseholdKey::RecordId));
    let line = indices
        .iter()
        .find(|&&i| rows[i].person.is_some())
        .or(indices.first())
        .map_or(0, |&i| rows[i].line);
    let members = indices
        .iter()
        .filter_map(|&i| {
            if rows[i].is_bad() {
                return None;
            }
            // Taken, not copied: a county's file is hundreds of thousands of rows, and the
            // row is not read again once its person is made.
            let p = rows[i].person.take()?;
            Some(Person {
                line: rows[i].line,
                person_no: p.person_no,
                record_id: p.record_id,
                fields: p.fields,
            })
        })
        .collect();
    Some(Household {
        line,
        household_no: if no.starts_with(OWN_ID_KEY) {
            String::new()
        } else {
            no.to_owned()
        },
        record_id,
        village,
        fields,
        members,
    })
}

/// The head's name and ID card as household values of the 户主 row.
fn head_cells(r: &Parsed) -> Vec<HouseholdCell> {
    let Some(p) = r.person.as_ref().filter(|_| is_head(r)) else {
        return Vec::new();
    };
    [("name", "head_name"), ("id_card", "head_id_card")]
        .into_iter()
        .filter_map(|(from, to)| {
            Some(HouseholdCell {
                key: HouseholdKey::Field(to),
                value: p.fields.get(from)?.clone(),
                column: p.columns.get(&Target::Person(from))?.clone(),
            })
        })
        .collect()
}

fn relation_column(r: &Parsed) -> Option<String> {
    r.person
        .as_ref()?
        .columns
        .get(&Target::Person("relation"))
        .map(|c| c.to_string())
}

/// Drops a household whose household row or 户主 row is bad.
fn drop_for_lead(
    no: &str,
    bad: usize,
    head: Option<usize>,
    indices: &[usize],
    rows: &mut [Parsed],
    at: &dyn Fn(&Parsed) -> String,
) {
    let what = if Some(bad) == head {
        "户主 row"
    } else {
        "household row"
    };
    let reason = format!(
        "户编号 {no} is not imported: its {what} ({}) is bad",
        at(&rows[bad])
    );
    drop_all(indices, rows, None, &reason);
}

/// Reports every row of a dropped household not already reported.
fn drop_all(indices: &[usize], rows: &mut [Parsed], column: Option<&str>, reason: &str) {
    for &i in indices {
        if !rows[i].is_bad() {
            rows[i].problem(column, reason);
        }
    }
}
