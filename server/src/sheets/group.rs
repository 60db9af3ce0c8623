//! Rows → households. Rows of one household need not be adjacent; a household's values are
//! taken from its household row (household sheet), then its 户主 row, then its other rows in
//! order: the first filled value wins, and a row saying otherwise is bad. A household without
//! a 户主 or a village, or whose 户主 or household row is bad, is dropped with all its rows,
//! each told why.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::header::Target;
use super::parse::{HouseholdCell, HouseholdKey, OWN_ID_KEY, Parsed, Problem};
use super::{Household, Person, Village};

/// Groups the rows, in order: household sheets first, then member sheets, each by line.
/// `sheets` names the sheets when there are several, for reasons pointing at another row.
pub fn households(mut rows: Vec<Parsed>, sheets: &[String]) -> (Vec<Household>, Vec<Problem>) {
    let at = |r: &Parsed| match sheets.get(r.sheet) {
        Some(name) => format!("line {} of sheet {name:?}", r.line),
        None => format!("line {}", r.line),
    };
    duplicates(&mut rows, &at);

    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if let Some(no) = r.group_key() {
            groups
                .entry(no.clone())
                .or_insert_with(|| {
                    order.push(no.clone());
                    Vec::new()
                })
                .push(i);
        }
    }
    let mut households = Vec::new();
    for no in order {
        let members = &groups[&no];
        if let Some(h) = household(&no, members, &mut rows, &at) {
            households.push(h);
        }
    }
    let mut problems: Vec<Problem> = rows.into_iter().flat_map(|r| r.problems).collect();
    problems.sort_by_key(|p| (p.sheet, p.line));
    (households, problems)
}

/// The same person twice: by 人编号, ID card or record id. The later row is bad.
fn duplicates(rows: &mut [Parsed], at: &dyn Fn(&Parsed) -> String) {
    let mut seen: HashMap<(Target, String), String> = HashMap::new();
    for r in rows.iter_mut() {
        let Some(p) = &r.person else { continue };
        let keys = [
            (Target::PersonNo, p.person_no.clone(), "人编号"),
            (
                Target::Person("id_card"),
                p.fields
                    .get("id_card")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                "ID-card number",
            ),
            (Target::PersonRecordId, p.record_id.clone(), "系统人员ID"),
        ];
        let mut found = Vec::new();
        for (target, key, what) in keys {
            let Some(key) = key else { continue };
            match seen.get(&(target, key.clone())) {
                Some(first) => found.push((
                    p.columns.get(&target).cloned(),
                    format!("same {what} as {first}"),
                )),
                None => {
                    seen.insert((target, key), at(r));
                }
            }
        }
        for (column, reason) in found {
            r.problem(column.as_deref(), reason);
        }
    }
}

fn is_head(r: &Parsed) -> bool {
    r.person
        .as_ref()
        .and_then(|p| p.fields.get("relation"))
        .is_some_and(|v| v == "head")
}

/// One household from its rows (indices into `rows`), or `None` when it is dropped.
fn household(
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
