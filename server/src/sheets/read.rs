//! The reading as a whole: the sheets that have a header, their rows sorted into data,
//! title, blank and totals rows, and the data rows grouped into households.

use super::{BadRow, FileError, Mapping, Roster, Skipped, cells, group, header, parse};

/// Reads a roster. The format is told from the content; `file_name` only words messages.
pub fn read(bytes: &[u8], file_name: &str, mapping: Option<&Mapping>) -> Result<Roster, FileError> {
    if looks_like_markup(bytes) {
        return Err(FileError::NotSpreadsheet(format!(
            "{file_name} is a web page or XML file; open it in Excel or WPS and save it as XLSX"
        )));
    }
    let book = cells::read(bytes)?;
    let encoding = book.encoding;
    // Owned: each sheet's rows are let go as they are parsed, so the grid of cells and the
    // parsed rows are not both whole in memory.
    let mut sheets: Vec<(cells::Sheet, header::Header)> = book
        .sheets
        .into_iter()
        .filter_map(|s| {
            let head = header::find(&s.rows, mapping)?;
            Some((s, head))
        })
        .collect();
    if sheets.is_empty() {
        return Err(FileError::NoHeader);
    }
    // Household sheets first: their rows lead a household's data (see `group`).
    sheets.sort_by_key(|(_, h)| h.is_person_sheet());
    let named = sheets.len() > 1;
    let names: Vec<String> = sheets.iter().map(|(s, _)| s.name.clone()).collect();

    let mut rows = Rows::default();
    for (index, (sheet, head)) in sheets.into_iter().enumerate() {
        let name = sheet.name.clone();
        let prefix = |s: String| {
            if named {
                format!("sheet {name:?}: {s}")
            } else {
                s
            }
        };
        rows.sheet(index, sheet, &head, mapping, &prefix);
    }
    let Rows {
        parsed,
        skipped,
        unknown_columns,
        rows_read,
    } = rows;
    if parsed.is_empty() {
        return Err(FileError::NoRows);
    }
    let (households, problems) = group::households(parsed, if named { &names } else { &[] });
    let bad_rows = problems
        .into_iter()
        .map(|p| BadRow {
            line: p.line,
            column: p.column,
            reason: if named {
                format!(
                    "sheet {:?}: {}",
                    names.get(p.sheet).map_or("", String::as_str),
                    p.reason
                )
            } else {
                p.reason
            },
        })
        .collect();
    Ok(Roster {
        households,
        bad_rows,
        skipped,
        unknown_columns,
        encoding,
        rows_read,
    })
}

/// The rows of the sheets read, sorted.
#[derive(Default)]
struct Rows {
    parsed: Vec<parse::Parsed>,
    skipped: Vec<Skipped>,
    unknown_columns: Vec<String>,
    rows_read: usize,
}

impl Rows {
    fn sheet(
        &mut self,
        index: usize,
        sheet: cells::Sheet,
        head: &header::Header,
        mapping: Option<&Mapping>,
        prefix: &dyn Fn(String) -> String,
    ) {
        for u in &head.unknown {
            if !self.unknown_columns.contains(u) {
                self.unknown_columns.push(u.clone());
            }
        }
        let mut blank: Option<(usize, usize)> = None;
        for (i, row) in sheet.rows.into_iter().enumerate() {
            let row = &row;
            let what = if parse::is_blank(row) {
                blank = Some(blank.map_or((row.line, 1), |(first, n)| (first, n + 1)));
                continue;
            } else if i < head.index {
                Some("title row")
            } else if i == head.index {
                None
            } else if i < head.index + head.height {
                Some("second header row")
            } else {
                let why = parse::skip(row, head, mapping);
                if why.is_none() {
                    self.rows_read += usize::from(head.is_person_sheet());
                    self.parsed.push(parse::row(index, row, head, mapping));
                }
                why
            };
            if let Some((line, n)) = blank.take() {
                self.skipped.push(blank_rows(line, n, prefix));
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
