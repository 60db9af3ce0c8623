//! One spreadsheet row → what it says about a household and a person, in registry codes, with
//! every problem found in it. Rows are judged alone here; `group` judges them together.

use std::collections::HashMap;
use std::sync::Arc;

use fieldsync_protocol::Op;
use fieldsync_protocol::registry::idcard::{self, IdCardError};
use fieldsync_protocol::registry::{
    EntityDef, FieldDef, FieldType, HOUSEHOLD, MEMBER, Personal, validate_fields,
};
use serde_json::{Map, Number, Value};

use super::cells::{Cell, Kind, Row};
use super::header::{self, Header, Target};
use super::mapping::Mapping;
use super::{text, words};
use crate::clock;

/// Longest township or village name taken (the registry has no field for names).
const MAX_NAME_CHARS: usize = 50;

/// Marks a group key that is a 系统户ID rather than a 户编号 (no 户编号 contains it).
pub const OWN_ID_KEY: &str = "系统户ID ";

/// A household-level value's key: the household's own columns, or a registry field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HouseholdKey {
    RecordId,
    VillageCode,
    Township,
    Village,
    Field(&'static str),
}

#[derive(Debug)]
pub struct HouseholdCell {
    pub key: HouseholdKey,
    pub value: Value,
    /// The header as written.
    pub column: Arc<str>,
}

#[derive(Debug)]
pub struct PersonCells {
    pub person_no: Option<String>,
    pub record_id: Option<String>,
    pub fields: Map<String, Value>,
    /// Headers as written of the columns `group` names in its reasons, by target.
    pub columns: Arc<HashMap<Target, Arc<str>>>,
}

#[derive(Debug)]
pub struct Problem {
    /// Index of the sheet among those read.
    pub sheet: usize,
    pub line: usize,
    pub column: Option<String>,
    pub reason: String,
}

#[derive(Debug)]
pub struct Parsed {
    pub sheet: usize,
    pub line: usize,
    pub household_no: Option<String>,
    pub household: Vec<HouseholdCell>,
    /// `None` for a row of a household sheet, or a household without members.
    pub person: Option<PersonCells>,
    pub problems: Vec<Problem>,
}

impl Parsed {
    /// The household's fieldsync id (`系统户ID`), when the row carries one.
    pub fn own_id(&self) -> Option<&str> {
        self.household
            .iter()
            .find(|c| c.key == HouseholdKey::RecordId)
            .and_then(|c| c.value.as_str())
    }

    /// What the row's household is grouped by: its 户编号, or else its 系统户ID (a household a
    /// phone registered, exported by fieldsync, has no national number yet).
    pub fn group_key(&self) -> Option<String> {
        self.household_no
            .clone()
            .or_else(|| self.own_id().map(|id| format!("{OWN_ID_KEY}{id}")))
    }

    pub fn is_bad(&self) -> bool {
        !self.problems.is_empty()
    }

    pub fn problem(&mut self, column: Option<&str>, reason: impl Into<String>) {
        self.problems.push(Problem {
            sheet: self.sheet,
            line: self.line,
            column: column.map(str::to_owned),
            reason: reason.into(),
        });
    }
}

pub fn is_blank(row: &Row) -> bool {
    row.cells.iter().all(Cell::is_blank)
}

/// Why a non-blank row below the header is no data row, if it is not.
pub fn skip(row: &Row, head: &Header, mapping: Option<&Mapping>) -> Option<&'static str> {
    let texts: Vec<String> = row.cells.iter().map(|c| text::compact(&c.text)).collect();
    let at = |t: Target| {
        head.column(t)
            .and_then(|(i, _)| texts.get(i))
            .filter(|s| !s.is_empty())
    };
    let totals = |t: &String| ["合计", "总计", "小计"].iter().any(|w| t.starts_with(w));
    // A person row has its 户编号; a totals row has none, or the word in its place.
    if texts.iter().any(totals) && at(Target::HouseholdNo).is_none_or(totals) {
        return Some("totals row");
    }
    if let Some(no) = at(Target::HouseholdNo)
        && header::target(no, mapping) == Some(Target::HouseholdNo)
    {
        return Some("repeated header row");
    }
    if at(Target::Person("name")).is_some() {
        return None;
    }
    let mut filled = texts.iter().filter(|t| !t.is_empty());
    // Signature lines under the table, wherever their first cell falls.
    let footer = [
        "填表",
        "填报",
        "制表",
        "审核",
        "负责人",
        "注:",
        "说明",
        "备注:",
    ];
    if filled
        .clone()
        .next()
        .is_some_and(|t| footer.iter().any(|w| t.starts_with(w)))
    {
        return Some("footer row");
    }
    if at(Target::HouseholdNo).is_none()
        && filled.all(|t| t.replace(',', "").parse::<f64>().is_ok())
    {
        return Some("numbers only (totals or column numbers)");
    }
    None
}

/// Reads one data row.
pub fn row(sheet: usize, row: &Row, head: &Header, mapping: Option<&Mapping>) -> Parsed {
    let mut p = Parsed {
        sheet,
        line: row.line,
        household_no: None,
        household: Vec::new(),
        person: None,
        problems: Vec::new(),
    };
    let mut person = PersonCells {
        person_no: None,
        record_id: None,
        fields: Map::new(),
        columns: head.person_columns.clone(),
    };
    let mut person_cells = false;
    for (i, column) in head.columns.iter().enumerate() {
        let Some((target, written)) = column else {
            continue;
        };
        let Some(cell) = row.cells.get(i).filter(|c| !c.is_blank()) else {
            continue;
        };
        if cell.kind == Kind::Error {
            p.problem(
                Some(written),
                format!("the cell holds a spreadsheet error ({})", cell.text),
            );
            continue;
        }
        person_cells |= target.is_person();
        let got = match *target {
            Target::HouseholdNo => number_text(cell, &HOUSEHOLD, "household_no").map(|s| {
                p.household_no = Some(s);
                None
            }),
            Target::PersonNo => number_text(cell, &MEMBER, "person_no").map(|s| {
                person.person_no = Some(s);
                None
            }),
            Target::HouseholdRecordId => {
                record_id(cell).map(|s| Some((HouseholdKey::RecordId, Value::String(s))))
            }
            Target::PersonRecordId => record_id(cell).map(|s| {
                person.record_id = Some(s);
                None
            }),
            Target::VillageCode => {
                village_code(cell).map(|s| Some((HouseholdKey::VillageCode, Value::String(s))))
            }
            Target::Township => name(cell).map(|s| Some((HouseholdKey::Township, s))),
            Target::VillageName => name(cell).map(|s| Some((HouseholdKey::Village, s))),
            Target::Household(f) => {
                field(&HOUSEHOLD, f, cell, mapping).map(|v| v.map(|v| (HouseholdKey::Field(f), v)))
            }
            Target::Person(f) => field(&MEMBER, f, cell, mapping).map(|v| {
                if let Some(v) = v {
                    person.fields.insert(f.to_owned(), v);
                }
                None
            }),
            Target::Ignore => Ok(None),
        };
        match got {
            Ok(Some((key, value))) => p.household.push(HouseholdCell {
                key,
                value,
                column: written.clone(),
            }),
            Ok(None) => {}
            Err(reason) => p.problem(Some(written), reason),
        }
    }
    birth_date_from_id_card(&mut person.fields);
    let name_column = head.column(Target::Person("name")).map(|(_, w)| w);
    // A household a phone registered has no 户编号 yet; our own export names it by its 系统户ID.
    if p.household_no.is_none() && p.own_id().is_none() {
        let column = head.column(Target::HouseholdNo).map(|(_, w)| w);
        p.problem(column, "missing 户编号");
    }
    if head.is_person_sheet() {
        let has_name = person.fields.contains_key("name");
        // A household without members is written as one row with the person columns empty.
        let household_only = !has_name && !person_cells && !p.household.is_empty();
        if !has_name && !household_only {
            p.problem(name_column, "missing 姓名");
        }
        if !household_only {
            p.person = Some(person);
        }
    }
    p
}

/// 户编号, 人编号: digits kept as text. As a number a spreadsheet keeps 15 digits only.
fn number_text(cell: &Cell, entity: &EntityDef, name: &str) -> Result<String, String> {
    let s = text::compact(&cell.text);
    if lost_digits(cell, &s) {
        return Err("stored as a number and lost digits; format the column as text".into());
    }
    if let Some(f) = entity.field(name) {
        registry_check(entity, f, Value::String(s.clone()))?;
    }
    Ok(s)
}

fn lost_digits(cell: &Cell, compact: &str) -> bool {
    // `6.40422E+17`: what Excel writes to CSV for a long number it holds as a number.
    let scientific = compact.contains("E+")
        && compact
            .replace("E+", "")
            .replace('.', "")
            .bytes()
            .all(|b| b.is_ascii_digit());
    cell.kind == Kind::LossyNumber || scientific
}

fn record_id(cell: &Cell) -> Result<String, String> {
    uuid::Uuid::parse_str(&text::compact(&cell.text))
        .map(|u| u.to_string())
        .map_err(|_| "not a fieldsync record id".into())
}

fn village_code(cell: &Cell) -> Result<String, String> {
    let s = text::compact(&cell.text);
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s)
    } else {
        Err(format!("{s:?} is not a 12-digit village code"))
    }
}

fn name(cell: &Cell) -> Result<Value, String> {
    let s = text::clean(&cell.text);
    if s.chars().count() > MAX_NAME_CHARS {
        return Err(format!("longer than {MAX_NAME_CHARS} characters"));
    }
    Ok(Value::String(s))
}

/// A registry field's value from its cell; `Ok(None)` when the cell means "nothing" (健康
/// in 健康状况).
fn field(
    entity: &EntityDef,
    name: &str,
    cell: &Cell,
    mapping: Option<&Mapping>,
) -> Result<Option<Value>, String> {
    let Some(def) = entity.field(name) else {
        return Err(format!("{name} is not a field of the {}", entity.name));
    };
    let sensitive = sensitive(def);
    let shown = |s: &str| {
        if sensitive {
            String::new()
        } else {
            format!(" {s:?}")
        }
    };
    let value = match def.ty {
        FieldType::Text { .. } => {
            let s = text::clean(&cell.text);
            if name == "illness" && ["健康", "无"].contains(&s.as_str()) {
                return Ok(None);
            }
            Value::String(s)
        }
        FieldType::Integer { .. } => {
            // `4人`, `2024年`: a unit typed after the number.
            let s = text::compact(&cell.text);
            let s = s.trim_end_matches(['人', '口', '年']);
            let n = s.parse::<i64>().ok().or_else(|| {
                let f = s.parse::<f64>().ok()?;
                (f.fract() == 0.0 && f.abs() < 1e15).then_some(f as i64)
            });
            Value::from(
                n.ok_or_else(|| format!("not a whole number{}", shown(&text::clean(&cell.text))))?,
            )
        }
        FieldType::Decimal { .. } => decimal(&cell.text)
            .ok_or_else(|| format!("not a number{}", shown(&text::compact(&cell.text))))?,
        FieldType::Bool | FieldType::Enum(_) => words::code(name, def.ty, &cell.text, mapping)
            .ok_or_else(|| {
                let known = words::known(name);
                let known = if known.is_empty() {
                    String::new()
                } else {
                    format!("; known: {}", known.join(", "))
                };
                format!("unknown word{}{known}", shown(&text::clean(&cell.text)))
            })?,
        FieldType::Date => {
            let s = text::compact(&cell.text);
            let d = text::date(&s)
                .or_else(|| serial_date(cell, &s))
                .ok_or_else(|| format!("not a date{}", shown(&s)))?;
            Value::String(clock::iso(d))
        }
        FieldType::Phone | FieldType::IdCard
            if NOTHING.contains(&text::compact(&cell.text).as_str()) =>
        {
            return Ok(None);
        }
        FieldType::Phone => Value::String(phone(&cell.text)),
        FieldType::IdCard => Value::String(id_card(cell)?),
        _ => return Err(format!("{name} cannot be read from a spreadsheet")),
    };
    registry_check(entity, def, value.clone())?;
    Ok(Some(value))
}

/// What offices write in an ID-card or phone cell for "none" (a child without a card yet).
const NOTHING: &[&str] = &["无", "暂无", "没有", "/", "-", "—", "--"];

/// A date cell formatted as a number shows Excel's day count (31210 for 1985-06-12).
fn serial_date(cell: &Cell, s: &str) -> Option<time::Date> {
    let days: i64 = s.parse().ok().filter(|d| (367..=73_050).contains(d))?;
    let epoch = time::Date::from_calendar_date(1899, time::Month::December, 30).ok()?;
    (cell.kind == Kind::Number).then(|| epoch.checked_add(time::Duration::days(days)))?
}

/// Kinds of personal data a reason never repeats: it is shown on screens and kept in logs.
fn sensitive(def: &FieldDef) -> bool {
    matches!(
        def.personal,
        Personal::IdCard | Personal::Phone | Personal::Health | Personal::Income
    )
}

/// The registry's own check of one value (lengths, ranges, shapes), in its words.
fn registry_check(entity: &EntityDef, def: &FieldDef, value: Value) -> Result<(), String> {
    let mut one = Map::new();
    one.insert(def.name.to_owned(), value);
    validate_fields(entity, Op::Update, &one).map_err(|e| {
        if sensitive(def)
            && matches!(
                def.ty,
                FieldType::Integer { .. } | FieldType::Decimal { .. } | FieldType::Enum(_)
            )
        {
            "not an allowed value".to_owned()
        } else {
            e.message
        }
    })
}

/// Money and coordinates: `12,345.6`, `￥800`, `800元`. Whole numbers stay integers; more
/// than six decimals are a computed cell's float artefacts, not data.
fn decimal(s: &str) -> Option<Value> {
    let s = text::compact(s).replace([',', '￥', '¥'], "");
    let s = s.strip_suffix('元').unwrap_or(&s);
    if let Ok(n) = s.parse::<i64>() {
        return Some(Value::from(n));
    }
    let f = s.parse::<f64>().ok().filter(|f| f.is_finite())?;
    Number::from_f64((f * 1e6).round() / 1e6).map(Value::Number)
}

/// Spaces and dashes inside a mobile number are dropped; a landline keeps its dash.
fn phone(s: &str) -> String {
    let s = text::compact(s);
    let s = s.strip_prefix("+86").unwrap_or(&s);
    let digits: String = s.chars().filter(|c| *c != '-').collect();
    if digits.len() == 11 && digits.starts_with('1') {
        digits
    } else {
        s.to_owned()
    }
}

fn id_card(cell: &Cell) -> Result<String, String> {
    let s = text::compact(&cell.text).to_ascii_uppercase();
    if lost_digits(cell, &s) || (cell.kind == Kind::Number && s.len() > 15) {
        return Err("ID-card number stored as a number; format the column as text".into());
    }
    if s.len() == 15 && s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("an old 15-digit ID-card number; the 18-digit one is needed".into());
    }
    idcard::validate(&s).map_err(|e| {
        match e {
            IdCardError::Shape => "ID-card number: needs 18 characters, 17 digits and a digit or X",
            IdCardError::BirthDate => "ID-card number: the birth date in it is not a real date",
            IdCardError::CheckDigit => {
                "ID-card number: the check digit does not match; a digit was mistyped"
            }
        }
        .to_owned()
    })?;
    Ok(s)
}

/// The birth date written into a valid ID card, when the sheet gives none.
fn birth_date_from_id_card(fields: &mut Map<String, Value>) {
    if fields.contains_key("birth_date") {
        return;
    }
    let Some(id) = fields.get("id_card").and_then(Value::as_str) else {
        return;
    };
    if let Some(d) = id.get(6..14).and_then(idcard::birth_date) {
        fields.insert("birth_date".into(), Value::String(clock::iso(d)));
    }
}
