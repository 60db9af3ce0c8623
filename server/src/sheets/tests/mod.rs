//! Files written by the tests themselves: XLSX through rust_xlsxwriter (merged title rows,
//! number cells), CSV in UTF-8 and GB18030.

mod checks;
mod layouts;
mod mappings;
mod round_trip;

use fieldsync_protocol::registry::idcard;
use rust_xlsxwriter::{Format, Workbook};

use super::{BadRow, Household, Roster, read};

/// A valid ID-card number from its first 17 digits.
pub fn id(first17: &str) -> String {
    idcard::with_check(first17).expect("17 digits")
}

/// The same number with its check digit changed.
pub fn mistyped(id: &str) -> String {
    let last = if id.ends_with('1') { '2' } else { '1' };
    format!("{}{last}", &id[..17])
}

/// A cell of a test workbook.
#[derive(Clone, Debug)]
pub enum X {
    T(String),
    N(f64),
}

impl From<&str> for X {
    fn from(s: &str) -> X {
        X::T(s.to_owned())
    }
}

impl From<String> for X {
    fn from(s: String) -> X {
        X::T(s)
    }
}

pub fn row(cells: &[&str]) -> Vec<X> {
    cells.iter().map(|c| X::from(*c)).collect()
}

/// A sheet of a test workbook: its name, an optional title merged over the header's width
/// (row 1), and its rows below.
pub type TestSheet<'a> = (&'a str, Option<&'a str>, Vec<Vec<X>>);

pub fn xlsx(sheets: &[TestSheet]) -> Vec<u8> {
    let mut book = Workbook::new();
    for (name, title, rows) in sheets {
        let sheet = book.add_worksheet();
        sheet.set_name(*name).expect("sheet name");
        let mut r = 0;
        if let Some(title) = title {
            let width = rows.first().map_or(1, Vec::len).max(2) as u16;
            sheet
                .merge_range(0, 0, 0, width - 1, title, &Format::new())
                .expect("merge");
            r = 1;
        }
        for cells in rows {
            for (c, cell) in cells.iter().enumerate() {
                let c = c as u16;
                match cell {
                    X::T(s) if s.is_empty() => {}
                    X::T(s) => {
                        sheet.write_string(r, c, s).expect("write");
                    }
                    X::N(n) => {
                        sheet.write_number(r, c, *n).expect("write");
                    }
                }
            }
            r += 1;
        }
    }
    book.save_to_buffer().expect("xlsx")
}

pub fn csv_text(rows: &[Vec<String>]) -> String {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    for r in rows {
        w.write_record(r).expect("csv");
    }
    String::from_utf8(w.into_inner().expect("csv")).expect("utf-8")
}

pub fn strings(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|c| (*c).to_owned()).collect())
        .collect()
}

pub fn read_csv(rows: &[&[&str]]) -> Roster {
    read(csv_text(&strings(rows)).as_bytes(), "roster.csv", None).expect("read")
}

pub fn household(roster: &Roster, no: &str) -> Household {
    roster
        .households()
        .find(|h| h.household_no == no)
        .unwrap_or_else(|| panic!("no household {no} in {roster:#?}"))
}

pub fn bad_at(roster: &Roster, line: usize) -> Vec<&BadRow> {
    roster.bad_rows.iter().filter(|b| b.line == line).collect()
}
