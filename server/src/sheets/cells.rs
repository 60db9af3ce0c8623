//! Bytes → a grid of text cells per sheet, whatever the file was: XLSX, XLS or CSV in UTF-8,
//! GB18030 (what Chinese Excel and WPS save as "CSV") or UTF-16 ("Unicode text"). Row numbers
//! are the ones the spreadsheet shows, so a cadre told "line 14" finds row 14.

use std::io::Cursor;

use calamine::{Data, Reader, Xls, Xlsx};

use super::FileError;
use super::text;

/// What a cell held before it became text: the checks of number-like columns need to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
    /// A number beyond 2^53: a spreadsheet keeps 15 significant digits, so digits were lost
    /// (an 18-digit ID card typed into a number cell).
    LossyNumber,
    /// `#N/A`, `#VALUE!` and the like.
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub text: String,
    pub kind: Kind,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell {
            text: s.into(),
            kind: Kind::Text,
        }
    }

    pub fn is_blank(&self) -> bool {
        self.kind != Kind::Error && text::clean(&self.text).is_empty()
    }
}

#[derive(Debug)]
pub struct Row {
    /// 1-based, as the spreadsheet shows it.
    pub line: usize,
    pub cells: Vec<Cell>,
}

#[derive(Debug)]
pub struct Sheet {
    pub name: String,
    pub rows: Vec<Row>,
}

#[derive(Debug)]
pub struct Book {
    pub sheets: Vec<Sheet>,
    /// CSV only: the text encoding found.
    pub encoding: Option<&'static str>,
}

const ZIP: &[u8] = b"PK\x03\x04";
const OLE: &[u8] = &[0xd0, 0xcf, 0x11, 0xe0];
/// Integers beyond this are not exact in a spreadsheet's 64-bit floats.
const EXACT_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Reads every sheet. The format is told by the content, not the name: offices rename files.
pub fn read(bytes: &[u8]) -> Result<Book, FileError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(FileError::Empty);
    }
    if bytes.starts_with(ZIP) {
        let book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
            .map_err(|e| FileError::NotSpreadsheet(format!("a ZIP file but not XLSX ({e})")))?;
        return workbook(book);
    }
    if bytes.starts_with(OLE) {
        let book: Xls<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
            .map_err(|e| FileError::NotSpreadsheet(format!("an OLE file but not XLS ({e})")))?;
        return workbook(book);
    }
    let (text, encoding) = decode(bytes)?;
    Ok(Book {
        sheets: vec![csv(&text)],
        encoding: Some(encoding),
    })
}

fn workbook<'a, R: Reader<Cursor<&'a [u8]>>>(mut book: R) -> Result<Book, FileError>
where
    R::Error: std::fmt::Display,
{
    let mut sheets = Vec::new();
    let mut failed = None;
    for name in book.sheet_names() {
        // Chart sheets and broken sheets are passed over; only a workbook with no readable
        // sheet is an error.
        match book.worksheet_range(&name) {
            Ok(range) => sheets.push(sheet(name, &range)),
            Err(e) => failed = Some(e.to_string()),
        }
    }
    if sheets.is_empty() {
        return Err(match failed {
            Some(e) => FileError::NotSpreadsheet(format!("no sheet could be read ({e})")),
            None => FileError::Empty,
        });
    }
    Ok(Book {
        sheets,
        encoding: None,
    })
}

fn sheet(name: String, range: &calamine::Range<Data>) -> Sheet {
    // A range starts at its first used cell, not at A1.
    let (top, left) = range.start().unwrap_or((0, 0));
    let rows = range
        .rows()
        .enumerate()
        .map(|(i, cells)| Row {
            line: top as usize + i + 1,
            cells: std::iter::repeat_n(Cell::text(""), left as usize)
                .chain(cells.iter().map(cell))
                .collect(),
        })
        .collect();
    Sheet { name, rows }
}

fn cell(d: &Data) -> Cell {
    match d {
        Data::Empty => Cell::text(""),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::text(s.clone()),
        Data::Int(i) => Cell {
            text: i.to_string(),
            kind: Kind::Number,
        },
        Data::Float(f) => number(*f),
        Data::Bool(b) => Cell::text(if *b { "TRUE" } else { "FALSE" }),
        Data::DateTime(dt) if dt.is_datetime() => {
            let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
            let mut text = format!("{y:04}-{mo:02}-{d:02}");
            if (h, mi, s) != (0, 0, 0) {
                text.push_str(&format!(" {h:02}:{mi:02}:{s:02}"));
            }
            Cell::text(text)
        }
        Data::DateTime(dt) => number(dt.as_f64()),
        Data::Error(e) => Cell {
            text: e.to_string(),
            kind: Kind::Error,
        },
    }
}

/// Integers without `.0`; fractions to the 15 significant digits a spreadsheet shows, so a
/// computed `6543.499999999999` reads as `6543.5`.
fn number(f: f64) -> Cell {
    if !f.is_finite() {
        return Cell {
            text: f.to_string(),
            kind: Kind::Error,
        };
    }
    if f.fract() == 0.0 {
        let kind = if f.abs() > EXACT_LIMIT {
            Kind::LossyNumber
        } else {
            Kind::Number
        };
        return Cell {
            text: format!("{f:.0}"),
            kind,
        };
    }
    let shown: f64 = format!("{f:.14e}").parse().unwrap_or(f);
    Cell {
        text: shown.to_string(),
        kind: Kind::Number,
    }
}

/// The text of a CSV file and the encoding it was in.
fn decode(bytes: &[u8]) -> Result<(String, &'static str), FileError> {
    if let Some(rest) = bytes.strip_prefix(b"\xef\xbb\xbf") {
        return std::str::from_utf8(rest)
            .map(|s| (s.to_owned(), "UTF-8"))
            .map_err(|_| FileError::Encoding);
    }
    if bytes.starts_with(b"\xff\xfe") {
        let (text, _, bad) = encoding_rs::UTF_16LE.decode(bytes);
        return if bad {
            Err(FileError::Encoding)
        } else {
            Ok((text.into_owned(), "UTF-16LE"))
        };
    }
    // Text never holds NUL; a PDF, an image or an unknown binary does.
    if bytes.contains(&0) {
        return Err(FileError::NotSpreadsheet(
            "binary content; send XLSX, XLS or CSV".into(),
        ));
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok((s.to_owned(), "UTF-8"));
    }
    encoding_rs::GB18030
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|s| (s.into_owned(), "GB18030"))
        .ok_or(FileError::Encoding)
}

/// CSV as RFC 4180 has it (quotes, doubled quotes, line breaks inside quotes), one record
/// per spreadsheet row. Written here rather than with the csv crate, which skips blank lines
/// and so would shift every row number below one.
fn csv(text: &str) -> Sheet {
    let delim = delimiter(text);
    let mut rows = Vec::new();
    let mut row: Vec<Cell> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut end_row = |row: &mut Vec<Cell>, field: &mut String| {
        row.push(Cell::text(std::mem::take(field)));
        rows.push(Row {
            line: rows.len() + 1,
            cells: std::mem::take(row),
        });
    };
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            // A quote opens a quoted field only at its start; elsewhere it is a character.
            '"' if field.is_empty() => quoted = true,
            c if c == delim => row.push(Cell::text(std::mem::take(&mut field))),
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                end_row(&mut row, &mut field);
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        end_row(&mut row, &mut field);
    }
    Sheet {
        name: String::new(),
        rows,
    }
}

/// Comma, unless the first lines hold more tabs (a "text" export) or semicolons.
fn delimiter(text: &str) -> char {
    let head: String = text.lines().take(20).collect();
    let count = |c| head.matches(c).count();
    let (commas, tabs, semis) = (count(','), count('\t'), count(';'));
    if tabs > commas && tabs >= semis {
        '\t'
    } else if semis > commas {
        ';'
    } else {
        ','
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(book: &Book) -> Vec<(usize, Vec<String>)> {
        book.sheets[0]
            .rows
            .iter()
            .map(|r| (r.line, r.cells.iter().map(|c| c.text.clone()).collect()))
            .collect()
    }

    #[test]
    fn csv_rows_are_spreadsheet_rows_blank_lines_and_quoted_breaks_included() {
        let text = "a,b\n\n\"x\ny\",z\nc,\"d \"\"q\"\"\"\r\n\r\ne,f";
        let book = read(text.as_bytes()).unwrap();
        assert_eq!(book.encoding, Some("UTF-8"));
        let got: Vec<usize> = lines(&book).iter().map(|(l, _)| *l).collect();
        assert_eq!(got, [1, 2, 3, 4, 5, 6]);
        assert_eq!(lines(&book)[2].1, ["x\ny", "z"]);
        assert_eq!(lines(&book)[3].1, ["c", "d \"q\""]);
        assert_eq!(lines(&book)[5].1, ["e", "f"]);
    }

    #[test]
    fn encodings_are_told_apart() {
        let (gbk, _, _) = encoding_rs::GB18030.encode("户编号,姓名\n1,马德福\n");
        let book = read(&gbk).unwrap();
        assert_eq!(book.encoding, Some("GB18030"));
        assert_eq!(lines(&book)[1].1, ["1", "马德福"]);
        let bom = [b"\xef\xbb\xbf".as_slice(), "户编号\t姓名\n".as_bytes()].concat();
        let book = read(&bom).unwrap();
        assert_eq!(lines(&book)[0].1, ["户编号", "姓名"]);
        assert!(matches!(read(b"\x81\x30\xff"), Err(FileError::Encoding)));
        assert!(matches!(
            read(b"%PDF\0\x01"),
            Err(FileError::NotSpreadsheet(_))
        ));
        assert!(matches!(read(b" \n"), Err(FileError::Empty)));
        assert!(matches!(
            read(b"PK\x03\x04junk"),
            Err(FileError::NotSpreadsheet(_))
        ));
    }

    #[test]
    fn numbers_read_as_a_spreadsheet_shows_them() {
        assert_eq!(number(3.0).text, "3");
        assert_eq!(number(6543.499999999999).text, "6543.5");
        assert_eq!(number(0.1 + 0.2).text, "0.3");
        assert_eq!(number(640422100201.0).kind, Kind::Number);
        let id = number(640422198506120312.0);
        assert_eq!(id.kind, Kind::LossyNumber);
        assert_eq!(number(13900000000.0).text, "13900000000");
    }
}
