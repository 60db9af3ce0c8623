//! The reading as a whole: the sheets that have a header, their rows sorted into data,
//! title, blank and totals rows, and the data rows grouped into households.
//!
//! A county's file is hundreds of thousands of rows, and a row's values in registry form take
//! several times its text. So the cells stay packed ([`cells::Sheet`]) and a data row is
//! parsed when it is needed, then let go: once alone (its own checks, the duplicates across
//! the file, its household's number), once with the rest of its household (the household's
//! checks), and again whenever the household is asked for ([`Households::get`]). Parsing is
//! deterministic, so each time gives the same household; what needs the whole file (the
//! duplicates) is remembered from the first pass.

use std::collections::HashMap;

use super::cells::{self, Sheet};
use super::group::{self, Duplicates};
use super::parse::{self, Parsed};
use super::{BadRow, FileError, Household, Mapping, Roster, Skipped, Village, header};

/// Reads a roster. The format is told from the content; `file_name` only words messages.
pub fn read(bytes: &[u8], file_name: &str, mapping: Option<&Mapping>) -> Result<Roster, FileError> {
    if looks_like_markup(bytes) {
        return Err(FileError::NotSpreadsheet(format!(
            "{file_name} is a web page or XML file; open it in Excel or WPS and save it as XLSX"
        )));
    }
    let book = cells::read(bytes)?;
    let encoding = book.encoding;
    let mut sheets: Vec<(Sheet, header::Header)> = book
        .sheets
        .into_iter()
        .filter_map(|s| {
            let head = header::find(&s, mapping)?;
            Some((s, head))
        })
        .collect();
    if sheets.is_empty() {
        return Err(FileError::NoHeader);
    }
    // Household sheets first: their rows lead a household's data (see `group`).
    sheets.sort_by_key(|(_, h)| h.is_person_sheet());
    let names = if sheets.len() > 1 {
        sheets.iter().map(|(s, _)| s.name.clone()).collect()
    } else {
        Vec::new()
    };
    let mut file = Households {
        sheets,
        names,
        mapping: mapping.cloned(),
        rows: Vec::new(),
        duplicates: HashMap::new(),
        entries: Vec::new(),
    };

    let mut scan = Scan::default();
    for index in 0..file.sheets.len() {
        scan.sheet(&mut file, index);
    }
    if file.rows.is_empty() {
        return Err(FileError::NoRows);
    }
    let mut problems = scan.problems;
    for no in scan.order {
        let ids = scan.groups.remove(&no).unwrap_or_default();
        let mut rows = file.parse_rows(&ids);
        if let Some(h) = file.household(&no, &mut rows) {
            file.entries.push(Entry {
                no,
                rows: ids,
                village: h.village,
            });
        }
        problems.extend(rows.into_iter().flat_map(|r| r.problems));
    }
    problems.sort_by_key(|p| (p.sheet, p.line));
    let bad_rows = problems
        .into_iter()
        .map(|p| BadRow {
            line: p.line,
            column: p.column,
            reason: match file.names.get(p.sheet) {
                Some(name) => format!("sheet {name:?}: {}", p.reason),
                None => p.reason,
            },
        })
        .collect();
    Ok(Roster {
        households: file,
        bad_rows,
        skipped: scan.skipped,
        unknown_columns: scan.unknown_columns,
        encoding,
        rows_read: scan.rows_read,
    })
}

/// The households of a file read, kept as the file's packed cells and which rows make each.
#[derive(Debug)]
pub struct Households {
    sheets: Vec<(Sheet, header::Header)>,
    /// The sheets' names when there are several (reasons then name the sheet).
    names: Vec<String>,
    mapping: Option<Mapping>,
    /// The data rows (rows below a header that are neither blank nor totals), in file order.
    rows: Vec<DataRow>,
    /// Rows found to repeat an earlier person: the earlier row, the key's column, its name.
    duplicates: HashMap<u32, Vec<(u32, header::Target, &'static str)>>,
    /// The households taken, in the order of their first row.
    entries: Vec<Entry>,
}

#[derive(Clone, Copy, Debug)]
struct DataRow {
    sheet: u32,
    /// Index among the sheet's rows.
    row: u32,
    line: u32,
}

#[derive(Debug)]
struct Entry {
    /// The group key: 户编号, or the marked 系统户ID.
    no: String,
    rows: Vec<u32>,
    village: Village,
}

impl Households {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn village(&self, i: usize) -> &Village {
        &self.entries[i].village
    }

    /// Household `i`, read again from the file.
    pub fn get(&self, i: usize) -> Option<Household> {
        let entry = self.entries.get(i)?;
        let mut rows = self.parse_rows(&entry.rows);
        self.household(&entry.no, &mut rows)
    }

    fn parse(&self, id: u32) -> Parsed {
        let d = self.rows[id as usize];
        let (sheet, head) = &self.sheets[d.sheet as usize];
        parse::row(
            d.sheet as usize,
            &sheet.row(d.row as usize),
            head,
            self.mapping.as_ref(),
        )
    }

    /// The rows `ids`, parsed, with what the first pass found of them.
    fn parse_rows(&self, ids: &[u32]) -> Vec<Parsed> {
        ids.iter()
            .map(|&id| {
                let mut row = self.parse(id);
                for &(first, target, what) in self.duplicates.get(&id).into_iter().flatten() {
                    group::mark_duplicate(&mut row, target, what, &self.at(first));
                }
                row
            })
            .collect()
    }

    fn household(&self, no: &str, rows: &mut [Parsed]) -> Option<Household> {
        let indices: Vec<usize> = (0..rows.len()).collect();
        let at = |r: &Parsed| self.place(r.sheet, r.line);
        group::household(no, &indices, rows, &at)
    }

    /// Where data row `id` is, as reasons name it.
    fn at(&self, id: u32) -> String {
        let d = self.rows[id as usize];
        self.place(d.sheet as usize, d.line as usize)
    }

    fn place(&self, sheet: usize, line: usize) -> String {
        match self.names.get(sheet) {
            Some(name) => format!("line {line} of sheet {name:?}"),
            None => format!("line {line}"),
        }
    }
}

/// The first pass: rows sorted, data rows judged alone, households gathered.
#[derive(Default)]
struct Scan {
    skipped: Vec<Skipped>,
    unknown_columns: Vec<String>,
    rows_read: usize,
    /// Problems of rows that belong to no household.
    problems: Vec<parse::Problem>,
    duplicates: Duplicates,
    /// Group keys in the order of their first row, and the data rows of each.
    order: Vec<String>,
    groups: HashMap<String, Vec<u32>>,
}

impl Scan {
    fn sheet(&mut self, file: &mut Households, index: usize) {
        let (sheet, head) = &file.sheets[index];
        let mapping = file.mapping.as_ref();
        let prefix = |s: String| match file.names.get(index) {
            Some(name) => format!("sheet {name:?}: {s}"),
            None => s,
        };
        for u in &head.unknown {
            if !self.unknown_columns.contains(u) {
                self.unknown_columns.push(u.clone());
            }
        }
        let mut blank: Option<(usize, usize)> = None;
        for i in 0..sheet.len() {
            let row = sheet.row(i);
            let what = if parse::is_blank(&row) {
                blank = Some(blank.map_or((row.line, 1), |(first, n)| (first, n + 1)));
                continue;
            } else if i < head.index {
                Some("title row")
            } else if i == head.index {
                None
            } else if i < head.index + head.height {
                Some("second header row")
            } else {
                let why = parse::skip(&row, head, mapping);
                if why.is_none() {
                    self.rows_read += usize::from(head.is_person_sheet());
                    let parsed = parse::row(index, &row, head, mapping);
                    let id = u32::try_from(file.rows.len()).unwrap_or(u32::MAX);
                    file.rows.push(DataRow {
                        sheet: index as u32,
                        row: i as u32,
                        line: row.line as u32,
                    });
                    let key_of = |first: u32, target| group::person_key(&file.parse(first), target);
                    let found = self.duplicates.check(id, &parsed, &key_of);
                    match parsed.group_key() {
                        Some(no) => {
                            if !found.is_empty() {
                                file.duplicates.insert(id, found);
                            }
                            self.group(no, id);
                        }
                        None => {
                            let mut parsed = parsed;
                            for (first, target, what) in found {
                                group::mark_duplicate(&mut parsed, target, what, &file.at(first));
                            }
                            self.problems.extend(parsed.problems);
                        }
                    }
                }
                why
            };
            if let Some((line, n)) = blank.take() {
                self.skipped.push(blank_rows(line, n, &prefix));
            }
            if let Some(why) = what {
                self.skipped.push(Skipped {
                    line: row.line,
                    why: prefix(why.to_owned()),
                });
            }
        }
        // Blank rows after the last row are the sheet's end, not rows.
    }

    fn group(&mut self, no: String, id: u32) {
        if let Some(ids) = self.groups.get_mut(&no) {
            ids.push(id);
        } else {
            self.order.push(no.clone());
            self.groups.insert(no, vec![id]);
        }
    }
}

fn blank_rows(line: usize, n: usize, prefix: &dyn Fn(String) -> String) -> Skipped {
    let why = if n == 1 {
        "blank row".to_owned()
    } else {
        format!("{n} blank rows, to line {}", line + n - 1)
    };
    Skipped {
        line,
        why: prefix(why),
    }
}

/// HTML or XML saved under a spreadsheet's name (some systems export tables so).
fn looks_like_markup(bytes: &[u8]) -> bool {
    let rest = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    rest.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'<')
}
